"""Quantise a converted Dense chain to Loihi's integer limits, and range-check integer networks.

Lava does not check its fixed-point parameters, and a bad one can hang its runtime, so every value is
checked here, before any Lava object exists. Per layer the quantiser picks one integer scale A
(membrane units, before the << 6, per real unit): weights become 8-bit mantissas times 2**weight_exp,
the threshold becomes round(A * v_th), the bias round(64 * A * b) split into a 13-bit mantissa and a
3-bit exponent. It takes the largest weight exponent whose worst-case current and membrane still fit
24 bits (finest threshold/bias resolution) and reports the relative error of each quantity.
"""

from __future__ import annotations

import numpy as np

from conversion.fixed_point import (
    ACT_SHIFT,
    UV_HALF,
    FixedPointLayer,
    FixedPointNetwork,
    FloatNetwork,
)
from spiking_mcc.errors import HardwareLimitError

# Loihi 1 limits (Davies et al. 2018; Lava 0.10.0 lava/proc/lif/models.py, lava/proc/dense/models.py,
# lava/utils/weightutils.py). name: (low, high) inclusive.
LIMITS = {
    "weight_mant": (-256, 254),      # 8-bit mantissa, mixed sign: even integers only
    "weight_exp": (-7, 7),
    "bias_mant": (-4096, 4095),      # 13-bit signed
    "bias_exp": (0, 7),              # 3-bit unsigned
    "vth_mant": (1, 2 ** 17 - 1),    # 17-bit, compared as vth << 6
    "du": (0, 4095),                 # 12-bit
    "dv": (0, 4095),
    "u": (-UV_HALF + 1, UV_HALF - 1),  # 24-bit state
    "v": (-UV_HALF + 1, UV_HALF - 1),
    "input": (0, 255),               # graded input spike payload (8 bits)
}
WEIGHT_MANT_SPAN = (256, 254)        # |most negative|, most positive mantissa


def _fail(layer: str, parameter: str, value, limit: tuple) -> HardwareLimitError:
    return HardwareLimitError(f"layer '{layer}': {parameter} = {value} outside the Loihi limit "
                              f"[{limit[0]}, {limit[1]}]")


def _check_range(layer: str, parameter: str, values, limit_key: str | None = None) -> None:
    low, high = LIMITS[limit_key or parameter]
    arr = np.asarray(values)
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise HardwareLimitError(f"layer '{layer}': {parameter} contains NaN/Inf")
    if arr.min() < low:
        raise _fail(layer, parameter, arr.min(), (low, high))
    if arr.max() > high:
        raise _fail(layer, parameter, arr.max(), (low, high))


def worst_case_activation(weight_mant: np.ndarray, weight_exp: int, input_max: int) -> tuple[int, int]:
    """(most negative, most positive) Dense output for inputs in [0, input_max]."""
    pos = np.clip(weight_mant, 0, None).sum(axis=1) * input_max
    neg = np.clip(weight_mant, None, 0).sum(axis=1) * input_max
    shift = (lambda a: np.left_shift(a, weight_exp)) if weight_exp > 0 else \
        (lambda a: np.right_shift(a, -weight_exp))
    return int(shift(neg).min(initial=0)), int(shift(pos).max(initial=0))


def check_limits(net: FixedPointNetwork, timesteps: int) -> None:
    """Range-check every parameter and the worst-case u/v of `net` for `timesteps` steps.

    Raises HardwareLimitError naming layer, parameter, limit and value. Call before building Lava."""
    _check_range("input", "input_bits range", [0, 2 ** net.input_bits - 1], "input")
    input_max = 2 ** net.input_bits - 1
    for i, layer in enumerate(net.layers):
        name = layer.name
        w = layer.weight_mant
        _check_range(name, "weight_mant", w)
        if np.any(w % 2):
            raise HardwareLimitError(f"layer '{name}': weight_mant must be even (8-bit mixed-sign mantissa), "
                                     f"got odd value {int(w[w % 2 != 0][0])}")
        _check_range(name, "weight_exp", layer.weight_exp)
        _check_range(name, "bias_mant", layer.bias_mant)
        _check_range(name, "bias_exp", layer.bias_exp)
        _check_range(name, "du", layer.du)
        _check_range(name, "dv", layer.dv)
        spiking = i < net.n_populations
        if spiking:
            _check_range(name, "vth_mant", layer.vth_mant)
        low, high = worst_case_activation(w, layer.weight_exp, input_max if i == 0 else 1)
        u_low, u_high = low << ACT_SHIFT, high << ACT_SHIFT
        _check_range(name, "worst-case current u", [u_low, u_high], "u")
        bias = layer.effective_bias
        if spiking:
            # v never exceeds threshold + one step of drive (it spikes and resets first)
            v_high = layer.effective_vth + u_high + int(bias.max(initial=0))
            _check_range(name, "worst-case membrane v", v_high, "v")
        else:
            drive = max(abs(u_low + int(bias.min(initial=0))), abs(u_high + int(bias.max(initial=0))))
            _check_range(name, f"worst-case accumulated membrane over {timesteps} steps",
                         drive * timesteps, "v")


def _even_mantissa(weight: np.ndarray, factor: float) -> np.ndarray:
    mant = 2 * np.rint(weight * factor / 2)
    return np.clip(mant, -WEIGHT_MANT_SPAN[0], WEIGHT_MANT_SPAN[1]).astype(np.int64)


def _split_bias(bias_units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer bias (membrane units) -> (mantissa, exponent) per neuron, smallest exponent that fits."""
    low, high = LIMITS["bias_mant"]
    mant = np.rint(bias_units).astype(np.int64)
    exp = np.zeros(mant.shape, np.int64)
    for e in range(1, LIMITS["bias_exp"][1] + 1):
        over = (mant < low) | (mant > high)
        mant = np.where(over, np.rint(bias_units / 2 ** e).astype(np.int64), mant)
        exp = np.where(over, e, exp)
    return mant, exp


def _quantize_layer(layer, index: int, n_pop: int, input_scale: float, input_max: int, timesteps: int,
                    v_init_fraction: float):
    name = layer.name
    w = np.asarray(layer.weight, dtype=np.float64)
    if not np.all(np.isfinite(w)) or not np.all(np.isfinite(layer.bias)):
        raise HardwareLimitError(f"layer '{name}': weights/bias contain NaN/Inf")
    pos, neg = max(w.max(initial=0), 0.0), max(-w.min(initial=0), 0.0)
    spans = [s / m for s, m in zip(WEIGHT_MANT_SPAN[::-1], (pos, neg)) if m > 0]
    mant_per_real = min(spans) if spans else 1.0
    weight_mant = _even_mantissa(w, mant_per_real)
    spiking = index < n_pop
    in_scale = input_scale if index == 0 else 1.0
    last_error = None
    for weight_exp in range(LIMITS["weight_exp"][1], LIMITS["weight_exp"][0] - 1, -1):
        scale = mant_per_real * in_scale * 2.0 ** weight_exp
        vth_mant = int(np.rint(scale * layer.v_th)) if spiking else 1
        bias_mant, bias_exp = _split_bias(np.asarray(layer.bias) * scale * 2 ** ACT_SHIFT)
        dv = int(np.rint(layer.dv * 4096))
        candidate = FixedPointLayer(name=name, weight_mant=weight_mant, weight_exp=weight_exp,
                                    bias_mant=bias_mant, bias_exp=bias_exp, vth_mant=max(vth_mant, 1),
                                    du=4095, dv=min(dv, 4095), scale=scale, spiking=spiking)
        if spiking and vth_mant > LIMITS["vth_mant"][1]:
            last_error = _fail(name, "vth_mant", vth_mant, LIMITS["vth_mant"])
            continue
        try:
            probe = FixedPointNetwork(layers=(candidate,), input_scale=1.0,
                                      input_bits=int(np.log2(input_max + 1)),
                                      readout="counts" if spiking else "membrane")
            check_limits(probe, timesteps)
        except HardwareLimitError as err:
            last_error = err
            continue
        if spiking and vth_mant < 1:
            raise HardwareLimitError(f"layer '{name}': threshold {layer.v_th:g} rounds to vth_mant 0 even "
                                     f"with weight_exp {weight_exp}; weights too large relative to threshold")
        v_init = (int(np.rint(v_init_fraction * vth_mant)) << ACT_SHIFT) if spiking else 0
        return candidate, v_init, _layer_error(layer, candidate, mant_per_real, spiking)
    raise last_error


def _rel(err: np.ndarray, ref: np.ndarray) -> float:
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(err) / norm) if norm > 0 else float(np.linalg.norm(err))


def _layer_error(layer, fixed: FixedPointLayer, mant_per_real: float, spiking: bool) -> dict:
    weight_eff = fixed.weight_mant / mant_per_real
    bias_eff = fixed.effective_bias / (fixed.scale * 2 ** ACT_SHIFT)
    report = {
        "layer": fixed.name,
        "weight_exp": fixed.weight_exp,
        "scale": fixed.scale,
        "weight_rel_rms_error": _rel(weight_eff - layer.weight, layer.weight),
        "bias_rel_rms_error": _rel(bias_eff - layer.bias, layer.bias),
        "max_bias_exp": int(fixed.bias_exp.max(initial=0)),
    }
    if spiking:
        report["vth_mant"] = int(fixed.vth_mant)
        report["vth_rel_error"] = abs(fixed.vth_mant / fixed.scale - layer.v_th) / layer.v_th
    return report


def quantize_network(net: FloatNetwork, timesteps: int, input_max: float = 1.0,
                     input_bits: int = 8) -> FixedPointNetwork:
    """Quantise a real-valued chain (`conversion.fixed_point.FloatNetwork`) for Loihi.

    input_max: largest real input value (mapped to 2**input_bits - 1); timesteps: the window length
    (bounds the accumulated output membrane). Raises HardwareLimitError when no weight exponent fits.
    """
    if not np.isfinite(input_max) or input_max <= 0:
        raise HardwareLimitError(f"input: input_max must be finite and > 0, got {input_max}")
    if not 1 <= input_bits <= 8:
        raise HardwareLimitError(f"input: input_bits = {input_bits} outside the graded-spike limit [1, 8]")
    input_top = 2 ** input_bits - 1
    input_scale = input_top / float(input_max)
    n_pop = net.n_populations
    v_init = net.v_init or (0.0,) * len(net.layers)
    layers, inits, errors = [], [], []
    for i, layer in enumerate(net.layers):
        fixed, v0, err = _quantize_layer(layer, i, n_pop, input_scale, input_top if i == 0 else 1, timesteps,
                                         v_init[i] / layer.v_th if i < n_pop else 0.0)
        layers.append(fixed)
        inits.append(v0)
        errors.append(err)
    result = FixedPointNetwork(layers=tuple(layers), input_scale=input_scale, input_bits=input_bits,
                               reset=net.reset, readout=net.readout, v_init=tuple(inits),
                               quantisation_error=errors)
    check_limits(result, timesteps)
    return result
