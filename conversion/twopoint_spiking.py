r"""The spiking two-point (two-compartment) unit of converted MCC networks, and its calibration.

Discrete time, step t = 1..T, all samples and units of a layer at once. A two-point unit has

- a basal/somatic compartment that integrates its receptive-field current R_t (bias + analog input at
  layer 0, or the weighted spikes of the previous layer):  :math:`U_R(t) = U_R(t-1) + R_t`;
- an apical compartment that integrates its context current C_t (the weighted context spikes of the
  same layer, below):  :math:`U_C(t) = U_C(t-1) + C_t`;
- a soma whose membrane potential is the integrated drive of the transfer law, with the compartments'
  running means :math:`\bar R_t = U_R(t)/t`, :math:`\bar C_t = U_C(t)/t` as its arguments:

  .. math::  V_s(t) = t\,f_{law}(\bar R_t, \bar C_t) + f_0\,\theta - \theta\,N_s(t-1)

  It spikes when :math:`V_s(t) \ge \theta` (at most once per step) and :math:`N_s` counts the spikes, so
  the reset is by subtraction of :math:`\theta`. Equivalently the soma integrates the drive
  :math:`I_t = t f(\bar R_t, \bar C_t) - (t-1) f(\bar R_{t-1}, \bar C_{t-1})`: the apical potential
  modulates the somatic gain (Kay & Phillips: :math:`t f = U_R\,[k_1 + (1-k_1)\,e^{k_2 \bar R \bar C}]`).
  For constant R and C, :math:`I_t = f(R, C)` and the count after T steps is
  :math:`N_s(T) = \mathrm{clip}(\lfloor T f(R, C)/\theta + f_0 \rfloor, 0, T)`, the same T-step quantiser
  :math:`q_T` as an IF neuron with reset by subtraction
  (:func:`conversion.thresholds.spiking_quantise`); the unit's output value is
  :math:`\beta N_s / T \approx \mathrm{relu}(f(R, C))` clipped at :math:`\beta`. For the ``point`` law
  :math:`V_s = U_R + f_0\theta - \theta N_s`: exactly a plain IF neuron integrating R.
- The context signal Q = relu(R) (see :mod:`spiking_mcc.mcc.network`) is carried by receptive-field
  spikes: the basal compartment is also an IF neuron with its own threshold :math:`\theta_Q`,
  :math:`V_Q(t) = U_R(t) + f_0 \theta_Q - \theta_Q N_Q(t-1)`, spike when :math:`V_Q \ge \theta_Q`; each
  spike carries the value :math:`\beta_Q`. In the IR it is the ReLU population ``{s}{l}_q`` after the
  Dense ``{s}{l}_r`` that shares the unit's receptive-field weights.

Order within one step, layer by layer: R_t arrives (the previous layer already spiked in this step), both
streams' receptive-field spikes, their context currents C_t into the apical compartments, then the
somata spike and drive the next layer in the same step (no synaptic delay, as in :mod:`conversion.engine`).
The running means are what make the rate follow the law when R and C arrive as spike trains: a law
applied to the instantaneous currents f(R_t, C_t) would average a nonlinearity over 0/1 spikes (tested:
25-36 % rate error for kp and coop where the running means give < 0.5 %).

Calibration (:func:`calibrate`): per population a threshold :math:`\theta` (``v_th``) and output value
:math:`\beta` (``output_scale``) from calibration data: ``distribution`` (default; Datta & Beerel 2022)
fits (alpha, beta) of :math:`q_T` per population in graph order on pre-activations of the network whose
earlier populations already output their quantised values, on R for receptive-field populations and on
A = f(R, C) for two-point populations; ``percentile`` / ``max`` use the q-th percentile / maximum of the
positive ANN pre-activations for both alpha and beta; ``channel`` the percentile per unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion import ops
from conversion.ir import Add, Dense, Graph, ReLU, SpikingNetwork, TwoPoint
from conversion.thresholds import DEFAULT_PERCENTILE, fit_distribution, spiking_quantise
from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.twopoint.transfer import transfer

METHODS = ("distribution", "percentile", "channel", "max")
GRANULARITIES = ("layer", "channel")
LAW_ALIASES = {"cooperation": "coop"}  # the IR's default law name -> spiking_mcc.twopoint.transfer name
SUPPORTED_NODES = (Dense, ReLU, TwoPoint, Add)


def law_function(law: str):
    """f(R, C) of a two-point law named as in spiking_mcc.twopoint.transfer (or an IR alias)."""
    name = LAW_ALIASES.get(law, law)
    return lambda r, c: transfer(name, r, c)


for _law in ("kp", "coop", "additive", "point", "cooperation"):
    ops.TWO_POINT_LAWS.setdefault(_law, law_function(_law))


# -- pure step functions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TwoPointState:
    """State of a two-point population: integrated R and C (N, n), somatic spike counts (N, n), steps."""

    u_r: np.ndarray
    u_c: np.ndarray
    n_spikes: np.ndarray
    steps: int = 0

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> TwoPointState:
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape), 0)


def soma_potential(state: TwoPointState, law: str, v_th: np.ndarray | float,
                   init_fraction: float = 0.0) -> np.ndarray:
    """V_s = t f(U_R/t, U_C/t) + f0 theta - theta N_s (t = state.steps >= 1)."""
    t = state.steps
    drive = t * law_function(law)(state.u_r / t, state.u_c / t)
    return drive + (init_fraction - state.n_spikes) * v_th


def two_point_step(state: TwoPointState, r_current: np.ndarray, c_current: np.ndarray, law: str,
                   v_th: np.ndarray | float, init_fraction: float = 0.0) -> tuple[TwoPointState, np.ndarray]:
    """One step: integrate R into the basal and C into the apical compartment, then the soma spikes where
    V_s >= theta. Returns (new state, spikes as float 0/1); the input state is not modified."""
    moved = TwoPointState(state.u_r + r_current, state.u_c + c_current, state.n_spikes, state.steps + 1)
    spikes = (soma_potential(moved, law, v_th, init_fraction) >= v_th).astype(np.float64)
    return TwoPointState(moved.u_r, moved.u_c, moved.n_spikes + spikes, moved.steps), spikes


def unit_rate(law: str, r: np.ndarray, c: np.ndarray, v_th: float, timesteps: int,
              init_fraction: float = 0.0) -> np.ndarray:
    """Firing rate (spikes per step) of two-point units under constant currents R, C for T steps."""
    r, c = np.broadcast_arrays(np.asarray(r, dtype=np.float64), np.asarray(c, dtype=np.float64))
    state = TwoPointState.zeros(r.shape)
    for _ in range(timesteps):
        state, _ = two_point_step(state, r, c, law, v_th, init_fraction)
    return state.n_spikes / timesteps


# -- graph checks and the rate (ANN) forward pass --------------------------------------------------------
def check_graph(graph: Graph) -> None:
    """The spiking MCC engines run Dense, ReLU, TwoPoint and Add nodes; every TwoPoint feeds one ReLU."""
    for name, node in graph.layers_in_order():
        if not isinstance(node, SUPPORTED_NODES):
            raise ModelError(f"layer '{name}': {type(node).__name__} is not supported by the two-point "
                             f"spiking engines (Dense, ReLU, TwoPoint, Add)")
        if isinstance(node, TwoPoint):
            after = graph.successors(name)
            if len(after) != 1 or not isinstance(graph.nodes[after[0]], ReLU):
                raise ModelError(f"layer '{name}': a two-point layer must feed exactly one ReLU population, "
                                 f"got {after}")
            if LAW_ALIASES.get(node.law, node.law) not in ("kp", "coop", "additive", "point"):
                raise ModelError(f"layer '{name}': unknown two-point law '{node.law}'")
        if isinstance(node, ReLU) and node.max is not None:
            raise ModelError(f"layer '{name}': clipped ReLU is not supported by the two-point engines")
    if len(graph.outputs) != 1:
        raise ModelError(f"the two-point engines need exactly one output, got {graph.outputs}")


def check_inputs(graph: Graph, inputs: dict[str, np.ndarray], where: str = "data") -> dict[str, np.ndarray]:
    """Inputs per graph input name -> float arrays (N, features); DataError naming the array if not."""
    missing = [k for k in graph.inputs if k not in inputs]
    if missing:
        raise DataError(f"{where}: missing input array(s) {missing}; the model expects {list(graph.inputs)}")
    out, n_samples = {}, None
    for name, shape in graph.inputs.items():
        x = np.asarray(inputs[name], dtype=np.float64)
        n_features = int(np.prod(shape))
        if x.ndim != 2 or x.shape[1] != n_features:
            raise DataError(f"{where} '{name}': samples have shape {x.shape[1:]} but the model input "
                            f"'{name}' expects ({n_features},)")
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where} '{name}': contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")
        if n_samples is not None and len(x) != n_samples:
            raise DataError(f"{where} '{name}': {len(x)} samples, but other inputs have {n_samples}")
        n_samples = len(x)
        out[name] = x
    if not n_samples:
        raise DataError(f"{where}: no samples")
    return out


def ann_forward(graph: Graph, inputs: dict[str, np.ndarray], quantiser=None) -> tuple[dict, dict]:
    """Rate (ANN) forward pass of a multi-input graph: (values, pre-activations of every ReLU).

    quantiser(name, pre) -> output replaces a ReLU population's output (used by calibration)."""
    values: dict[str, np.ndarray] = dict(inputs)
    pre: dict[str, np.ndarray] = {}
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, ReLU):
            pre[name] = values[graph.predecessors(name)[0]]
            values[name] = np.maximum(pre[name], 0.0) if quantiser is None else quantiser(name, pre[name])
        else:
            values[name] = ops.apply_linear(graph, name, values)
    return values, pre


def ann_predict(graph: Graph, inputs: dict[str, np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """Class predictions of the rate network (argmax of the output)."""
    inputs = check_inputs(graph, inputs)
    n = len(next(iter(inputs.values())))
    out = graph.outputs[0]
    preds = [ann_forward(graph, {k: v[i:i + batch_size] for k, v in inputs.items()})[0][out].argmax(axis=1)
             for i in range(0, n, batch_size)]
    return np.concatenate(preds)


# -- calibration ------------------------------------------------------------------------------------------
def _positive_quantile(values: np.ndarray, q: float) -> float:
    positive = values[values > 0]
    return float(np.percentile(positive, q)) if positive.size else 1.0


def calibrate(graph: Graph, inputs_calib: dict[str, np.ndarray], method: str = "distribution",
              timesteps: int = 16, percentile: float = DEFAULT_PERCENTILE, init_fraction: float = 0.5,
              granularity: str = "layer") -> SpikingNetwork:
    """Thresholds (theta = alpha) and output values (beta) of every population -> SpikingNetwork.

    method: distribution (fitted for `timesteps`, sequentially), percentile, channel, max. granularity
    applies to distribution: one (alpha, beta) per population ("layer") or per unit ("channel")."""
    if method not in METHODS:
        raise ParameterError(f"threshold method must be one of {list(METHODS)}, got {method!r}")
    if granularity not in GRANULARITIES:
        raise ParameterError(f"granularity must be one of {list(GRANULARITIES)}, got {granularity!r}")
    if not 0 < percentile <= 100:
        raise ParameterError(f"percentile must be in (0, 100], got {percentile}")
    if int(timesteps) < 1:
        raise ParameterError(f"timesteps must be >= 1, got {timesteps}")
    check_graph(graph)
    inputs_calib = check_inputs(graph, inputs_calib, "calibration data")
    v_th: dict[str, np.ndarray] = {}
    scale: dict[str, np.ndarray] = {}

    def fitted(name: str, pre: np.ndarray) -> np.ndarray:
        if granularity == "channel":
            fits = [fit_distribution(pre[:, j], timesteps, None, init_fraction) for j in range(pre.shape[1])]
            alpha, beta = np.array([f.alpha for f in fits]), np.array([f.beta for f in fits])
        else:
            fit = fit_distribution(pre, timesteps, None, init_fraction)
            alpha, beta = np.asarray(fit.alpha), np.asarray(fit.beta)
        v_th[name], scale[name] = alpha, beta
        return spiking_quantise(pre, alpha, beta, timesteps, init_fraction)

    if method == "distribution":
        ann_forward(graph, inputs_calib, quantiser=fitted)
    else:
        _, pre = ann_forward(graph, inputs_calib)
        for name, values in pre.items():
            q = 100.0 if method == "max" else percentile
            level = np.asarray(_positive_quantile(values, q))
            if method == "channel":  # per unit; a unit silent on the calibration set gets the layer's value
                level = np.array([_positive_quantile(v, q) if np.any(v > 0) else float(level)
                                  for v in values.T])
            v_th[name], scale[name] = level, level.copy()
    return SpikingNetwork(graph, v_th, scale, reset="subtract", init_membrane_fraction=init_fraction,
                          encoding="analog", readout="membrane", threshold_method=method)
