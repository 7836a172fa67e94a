r"""The spiking two-point unit: one definition, float and Loihi-style integer arithmetic.

A unit has two compartments and realises the rate law ``gain`` (:data:`spiking_mcc.twopoint.transfer.
UNIT_LAW`, A = R g(C)) with integer adds, shifts, comparisons, multiplies and two small lookup tables,
no per-step exp or division. Local step t = 1..T of a sample (state reset at t = 1):

.. math::

    U_R(t) &= U_R(t-1) + R_t                         && \text{basal/somatic integrator (R + bias)}\\
    U_C(t) &= U_C(t-1) + C_t \;(t \ge 2),\; U_C(1) = 0 && \text{apical integrator (context)}\\
    k(t)   &= \mathrm{clip}\big(\lfloor U_C(t)\,\rho[t-1] / \Delta + \tfrac12 \rfloor + L/2,\; 0,\; L-1\big)
                                                       && \text{apical state} \to \text{table index}\\
    V_Q(t) &= U_R(t) + o_Q(t-1), \quad q_t = V_Q > \theta_Q, \quad o_Q \mathrel{-}= \theta_Q q_t
                                                       && \text{receptive-field spikes (carry Q)}\\
    V_s(t) &= U_R(t)\,G[k(t)] + o_s(t-1), \quad s_t = V_s > \theta_s, \quad o_s \mathrel{-}= \theta_s s_t
                                                       && \text{soma: gain-modulated, reset by subtraction}

with :math:`o(0) = f_0\theta`, :math:`\rho[n] = 1/n` (:math:`\rho[0] = 0`) the reciprocal table indexed by
the number of context steps received, :math:`\Delta` = ``LUT_STEP`` and :math:`G[k] = g((k - L/2)\Delta)`
the gain table (:func:`gain_table`). The context current C_t a unit receives at step t is the weighted
receptive-field spikes of step t - 1 (one synaptic step, as a Lava ``Dense`` delays by one step), which
is why the apical mean divides by t - 1 and the context of step 1 is discarded. For constant R and C,
:math:`V_s(t) = t R g(C) + f_0\theta - \theta N_s` from t = 2 on, so the count after T steps is the
T-step quantiser of A = R g(C) (:func:`conversion.thresholds.spiking_quantise`, up to one spike from step 1
and the table's resolution): the rate follows relu(R g(C)); measured errors in ``docs/twopoint_unit.md``.
Law ``point`` is the same unit with G = 1 (context ignored). Other laws have no such table form:
:func:`check_law` refuses them.

Fixed point (``ctx_shift`` given): R_t enters as the Lava ``Dense`` output ``a`` (no MSB shift: the
integrator spans the whole window, so it keeps the 6 bits of headroom) plus the integer bias (13-bit
mantissa << 3-bit exponent), thresholds are 17-bit integers, G is Q8 (256 = gain 1),
the product is an arithmetic right shift by ``GAIN_SHIFT``, :math:`\rho[n] = \mathrm{rint}(2^{16}/n)` and
one table step is :math:`2^{\text{ctx\_shift}}` units of :math:`U_C \rho / 2^{16}`, so the index is
``(U_C * rho[t-1] + half) >> (RECIP_SHIFT + ctx_shift)``. The quantiser (:mod:`conversion.mcc_hardware`)
bounds every state to 24 bits before a run. The threshold comparison is ``>`` everywhere (float engine,
fixed engine, Brian2, Lava).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spiking_mcc.errors import ModelError
from spiking_mcc.twopoint.transfer import UNIT_LAW, gain_with_grad

REALISED_LAWS = (UNIT_LAW, "point")  # laws the unit realises exactly (point: G = 1)
LUT_SIZE = 256                       # entries of the gain table (8-bit index)
CONTEXT_SPAN = 4.0                   # the table covers mean C in [-4, 4): g(+-4) is within 0.1 % of 0, 2
LUT_STEP = 2 * CONTEXT_SPAN / LUT_SIZE  # 1/32: g' <= 1, so the index rounding costs |dg| <= 1/64
GAIN_SHIFT = 8                       # Q8 gain table (256 = gain 1, 512 = GAIN_MAX)
RECIP_SHIFT = 16                     # reciprocal table rho[n] = rint(2**16 / n)
ACT_SHIFT = 6                        # the readout accumulates a << 6 + bias (Loihi's MSB alignment)
MAX_TIMESTEPS = 1024                 # rho's rounding stays below 0.8 % of one table step up to here


def check_law(law: str, where: str = "model") -> str:
    """`law` if the unit realises it, else ModelError (one line, naming where)."""
    if law not in REALISED_LAWS:
        raise ModelError(f"{where}: the spiking two-point unit realises the laws {list(REALISED_LAWS)} "
                         f"(one gain table on the apical state); law {law!r} has no such form - retrain "
                         f"with `spiking-mcc train --model mcc --law {UNIT_LAW}`")
    return law


def gain_table(law: str = UNIT_LAW) -> np.ndarray:
    """G[k] = g((k - L/2) * LUT_STEP), float (LUT_SIZE,); all ones for law point."""
    check_law(law)
    if law == "point":
        return np.ones(LUT_SIZE)
    return gain_with_grad((np.arange(LUT_SIZE) - LUT_SIZE // 2) * LUT_STEP)[0]


def gain_table_fixed(law: str = UNIT_LAW) -> np.ndarray:
    """The gain table in Q8 integers (int64)."""
    return np.rint(gain_table(law) * (1 << GAIN_SHIFT)).astype(np.int64)


def reciprocal_table(timesteps: int, fixed: bool) -> np.ndarray:
    """rho[n] for n = 0..T-1: 1/n (float) or rint(2**16 / n) (int64); rho[0] = 0."""
    n = np.arange(int(timesteps), dtype=np.float64)
    with np.errstate(divide="ignore"):
        recip = np.where(n > 0, 1.0 / np.maximum(n, 1), 0.0)
    return np.rint(recip * (1 << RECIP_SHIFT)).astype(np.int64) if fixed else recip


@dataclass(frozen=True, eq=False)
class UnitParams:
    """Parameters of one population of units, in the arithmetic of its engine.

    bias, vth_q, vth_s, v_init_q, v_init_s: broadcastable to (neurons,) (real, or integer U_R units);
    gain: G (float or Q8 int); reciprocal: rho (length >= T); ctx_shift: None for float arithmetic, the
    context index shift for fixed point."""

    bias: np.ndarray
    vth_q: np.ndarray
    vth_s: np.ndarray
    v_init_q: np.ndarray
    v_init_s: np.ndarray
    gain: np.ndarray
    reciprocal: np.ndarray
    ctx_shift: int | None = None

    @property
    def fixed(self) -> bool:
        return self.ctx_shift is not None


@dataclass
class UnitState:
    """u_r, u_c: the two integrators; o_q, o_s: threshold offsets (f0 theta minus theta per spike)."""

    u_r: np.ndarray
    u_c: np.ndarray
    o_q: np.ndarray
    o_s: np.ndarray


def reset_state(params: UnitParams, shape: tuple[int, ...]) -> UnitState:
    """The state at the start of a sample (every array of `shape`, the params' number type)."""
    dtype = np.int64 if params.fixed else np.float64
    return UnitState(np.zeros(shape, dtype), np.zeros(shape, dtype),
                     np.broadcast_to(params.v_init_q, shape).astype(dtype),
                     np.broadcast_to(params.v_init_s, shape).astype(dtype))


def table_index(params: UnitParams, u_c: np.ndarray, t: int) -> np.ndarray:
    """k(t): the gain-table index of the apical state after t steps (t - 1 context steps)."""
    rho = params.reciprocal[t - 1]
    if params.fixed:
        shift = RECIP_SHIFT + params.ctx_shift
        index = (u_c * rho + (1 << (shift - 1))) >> shift
    else:
        index = np.floor(u_c * rho / LUT_STEP + 0.5)
    return np.clip(index + LUT_SIZE // 2, 0, LUT_SIZE - 1).astype(np.int64)


def unit_step(params: UnitParams, state: UnitState, a_rf: np.ndarray, a_ctx: np.ndarray,
              t: int) -> tuple[UnitState, np.ndarray, np.ndarray]:
    """One local step t >= 1 (state reset before t = 1): returns (new state, q spikes, soma spikes) as
    bool arrays. a_rf: receptive-field input (real current, or Dense output a before the shift); a_ctx:
    context input (discarded at t = 1). The input state is not modified."""
    if params.fixed:
        u_r = np.asarray(state.u_r, np.int64) + np.asarray(a_rf, np.int64) + params.bias
        u_c = np.asarray(state.u_c, np.int64) + np.asarray(a_ctx, np.int64) if t > 1 else \
            np.zeros(np.shape(state.u_c), np.int64)
        soma = (u_r * params.gain[table_index(params, u_c, t)]) >> GAIN_SHIFT
    else:
        u_r = state.u_r + a_rf + params.bias
        u_c = state.u_c + a_ctx if t > 1 else np.zeros_like(state.u_c)
        soma = u_r * params.gain[table_index(params, u_c, t)]
    q = u_r + state.o_q > params.vth_q
    s = soma + state.o_s > params.vth_s
    return UnitState(u_r, u_c, state.o_q - q * params.vth_q, state.o_s - s * params.vth_s), q, s


def float_params(theta_q, theta_s, bias, f0: float, timesteps: int, law: str = UNIT_LAW) -> UnitParams:
    """Float parameters of a population: thresholds and bias in real units, initial offsets f0 theta."""
    theta_q, theta_s = np.asarray(theta_q, float), np.asarray(theta_s, float)
    return UnitParams(np.asarray(bias, float), theta_q, theta_s, f0 * theta_q, f0 * theta_s, gain_table(law),
                      reciprocal_table(timesteps, fixed=False))


def unit_rate(r: np.ndarray, c: np.ndarray, theta: float, timesteps: int, init_fraction: float = 0.5,
              law: str = UNIT_LAW) -> np.ndarray:
    """Soma spikes per step of units under constant currents R (bias) and C (context) for T steps."""
    r, c = np.broadcast_arrays(np.asarray(r, float), np.asarray(c, float))
    params = float_params(theta, theta, r, init_fraction, timesteps, law)
    state = reset_state(params, r.shape)
    count = np.zeros(r.shape)
    for t in range(1, timesteps + 1):
        state, _, spikes = unit_step(params, state, 0.0, c, t)
        count += spikes
    return count / timesteps
