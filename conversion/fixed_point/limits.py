"""Loihi 1's parameter limits and the range checks of a fixed-point network against them (values and
worst-case u/v over a window). Lava checks none of them and a bad value can hang its runtime, so
these run before any Lava object exists."""

from __future__ import annotations

import numpy as np

from conversion.fixed_point.arithmetic import ACT_SHIFT, UV_HALF, shift_by_exponent
from conversion.fixed_point.network import FixedPointNetwork
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


def limit_error(layer: str, parameter: str, value, limit: tuple) -> HardwareLimitError:
    """The error for `parameter` of `layer` at `value`, outside the inclusive `limit` (low, high)."""
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
        raise limit_error(layer, parameter, arr.min(), (low, high))
    if arr.max() > high:
        raise limit_error(layer, parameter, arr.max(), (low, high))


def worst_case_activation(weight_mant: np.ndarray, weight_exp: int, input_max: int) -> tuple[int, int]:
    """(most negative, most positive) Dense output for inputs in [0, input_max]."""
    pos = np.clip(weight_mant, 0, None).sum(axis=1) * input_max
    neg = np.clip(weight_mant, None, 0).sum(axis=1) * input_max
    return (int(shift_by_exponent(neg, weight_exp).min(initial=0)),
            int(shift_by_exponent(pos, weight_exp).max(initial=0)))


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
