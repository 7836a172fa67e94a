"""The quantiser: a real-valued chain (:class:`conversion.fixed_point.float_reference.FloatNetwork`) ->
Loihi integers within :data:`conversion.fixed_point.limits.LIMITS`.

Per layer one weight scale (the largest |weight| maps to the 8-bit mantissa span, even integers), the
largest weight exponent whose worst-case u/v fit, the threshold and bias in the same membrane units
(bias split into a 13-bit mantissa and a 3-bit exponent).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from conversion.fixed_point.arithmetic import ACT_SHIFT
from conversion.fixed_point.float_reference import FloatNetwork
from conversion.fixed_point.limits import LIMITS, WEIGHT_MANT_SPAN, check_limits, limit_error
from conversion.fixed_point.network import FixedPointLayer, FixedPointNetwork
from spiking_mcc.errors import HardwareLimitError


def _even_mantissa(weight: np.ndarray, factor: float) -> np.ndarray:
    mant = 2 * np.rint(weight * factor / 2)
    return np.clip(mant, -WEIGHT_MANT_SPAN[0], WEIGHT_MANT_SPAN[1]).astype(np.int64)


def split_bias(bias_units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        bias_mant, bias_exp = split_bias(np.asarray(layer.bias) * scale * 2 ** ACT_SHIFT)
        dv = int(np.rint(layer.dv * 4096))
        candidate = FixedPointLayer(name=name, weight_mant=weight_mant, weight_exp=weight_exp,
                                    bias_mant=bias_mant, bias_exp=bias_exp, vth_mant=max(vth_mant, 1),
                                    du=4095, dv=min(dv, 4095), scale=scale, spiking=spiking)
        if spiking and vth_mant > LIMITS["vth_mant"][1]:
            last_error = limit_error(name, "vth_mant", vth_mant, LIMITS["vth_mant"])
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
                     input_bits: int = 8, input_min: float = 0.0) -> FixedPointNetwork:
    """Quantise a real-valued chain (:class:`conversion.fixed_point.float_reference.FloatNetwork`) for Loihi.

    input_max / input_min: the range of real inputs; max(input_max, -input_min) maps to
    2**input_bits - 1; a negative input_min splits every input into [x+, x-] channels (signed_input).
    timesteps: the window length (bounds the accumulated output membrane). Raises HardwareLimitError
    when no weight exponent fits.
    """
    if not np.isfinite(input_max) or input_max <= 0:
        raise HardwareLimitError(f"input: input_max must be finite and > 0, got {input_max}")
    if not np.isfinite(input_min) or input_min > input_max:
        raise HardwareLimitError(f"input: input_min must be finite and <= input_max, got {input_min}")
    signed = input_min < 0
    if signed:
        first = net.layers[0]
        net = dataclasses.replace(net, layers=(dataclasses.replace(
            first, weight=np.concatenate([first.weight, -np.asarray(first.weight)], axis=1)),)
            + tuple(net.layers[1:]))
        input_max = max(input_max, -input_min)
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
                               quantisation_error=errors, signed_input=signed)
    check_limits(result, timesteps)
    return result
