r"""Loihi's integer arithmetic, bit-exact with Lava 0.10.0's ``fixed_pt`` Dense and LIF models
(``lava/proc/dense/models.py``, ``lava/proc/lif/models.py``).

Per population layer, integers throughout, one time step:

.. math::

    a_t &= (W_m s_t) \cdot 2^{e_w}  \quad\text{(left shift, or arithmetic right shift for } e_w < 0)\\
    u_t &= \mathrm{wrap}_{24}\big(\mathrm{rnd}(u_{t-1}(4096 - du - 1) / 4096) + a_t \cdot 2^6\big)\\
    v_t &= \mathrm{clip}_{24}\big(\mathrm{rnd}(v_{t-1}(4096 - dv) / 4096) + u_t + b_m 2^{e_b}\big)\\
    z_t &= v_t > v_{th} \cdot 2^6, \qquad v_t \leftarrow 0 \text{ (reset "zero") or }
           v_t - v_{th} 2^6 \text{ (reset "subtract")}

where rnd truncates towards zero (sign times magnitude right-shifted by 12), wrap_24 folds values
beyond :math:`\pm 2^{23}` back (Lava's rule) and clip_24 saturates at :math:`\pm(2^{23}-1)`.
The functions take any layer object with the fields of
:class:`conversion.fixed_point.network.FixedPointLayer`.
"""

from __future__ import annotations

import numpy as np

UV_BITS = 24                     # u, v state width (Lava AbstractPyLifModelFixed.uv_bitwidth)
UV_HALF = 2 ** (UV_BITS - 1)     # 2**23
DECAY_SHIFT = 12                 # du, dv are 12-bit fractions of 4096
DECAY_UNITY = 2 ** DECAY_SHIFT
ACT_SHIFT = 6                    # synaptic input is left-shifted by 6 (MSB alignment)
VTH_SHIFT = 6                    # threshold is compared as vth << 6
DS_OFFSET = 1                    # Loihi 1 1-bit offset added to du (so du = 4095 means "no memory")
DM_OFFSET = 0                    # ... and to dv


def shift_by_exponent(values: np.ndarray, exponent: int) -> np.ndarray:
    """values * 2**exponent as Loihi does it: left shift, or arithmetic right shift for exponent < 0."""
    if exponent > 0:
        return np.left_shift(values, exponent)
    return np.right_shift(values, -exponent)


def dense_activation(layer, s_in: np.ndarray) -> np.ndarray:
    """Lava Dense fixed_pt: (W_m s) << weight_exp, arithmetic right shift for negative exponents."""
    return shift_by_exponent(s_in @ layer.weight_mant.T, layer.weight_exp)


def decay(state: np.ndarray, factor: int) -> np.ndarray:
    """state * factor / 4096, truncated towards zero (Lava: sign * (|x| >> 12))."""
    prod = state * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), DECAY_SHIFT)


def wrap_current(u: np.ndarray) -> np.ndarray:
    """Lava's 24-bit wrap of the current u: > 2**23 -> - 2**24, <= -2**23 -> + 2**24."""
    wrapped = np.where(u > UV_HALF, u - 2 * UV_HALF, u)
    return np.where(wrapped <= -UV_HALF, u + 2 * UV_HALF, wrapped)


def lif_step(layer, u: np.ndarray, v: np.ndarray, activation: np.ndarray,
             reset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bit-accurate LIF update; returns (u, v, spikes bool). Arrays (batch, neurons) int64."""
    u = wrap_current(decay(u, DECAY_UNITY - (layer.du + DS_OFFSET)) + np.left_shift(activation, ACT_SHIFT))
    v = decay(v, DECAY_UNITY - (layer.dv + DM_OFFSET)) + u + layer.effective_bias
    v = np.clip(v, -UV_HALF + 1, UV_HALF - 1)
    spikes = v > layer.effective_vth
    if reset == "zero":
        v = np.where(spikes, 0, v)
    else:
        v = v - spikes * layer.effective_vth
    return u, v, spikes
