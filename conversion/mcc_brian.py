r"""Brian2 simulation of a converted two-point (MCC) network, equation level, all samples in one group each.

Each population of two-point units (:mod:`conversion.twopoint_unit`, built by
:mod:`conversion.mcc_hardware`) becomes one NeuronGroup of N_samples x n units (index = sample * n + unit)
with the unit's float equations (1 activation unit = 1 mV, one engine step = ``tau_step`` = dt = 1 ms, so
Euler integration of a constant current is exact):

.. code-block:: text

    duR/dt = I_ff / tau_step : volt      basal/somatic integrator (bias + analog drive at layer 0)
    uC : volt                            apical integrator (context synapses add to it)
    dk/dt = 1 / tau_step : 1             steps elapsed
    C_bar = uC / (max(k - 1, 1) * v_unit)                     apical mean over the t - 1 context steps
    G = gain_lut(clip(floor(C_bar / lut_step + 0.5) + L/2, 0, L - 1) * lut_dt)   gain table lookup
    v_soma = uR * G + (f0 - n_soma) * theta : volt            soma, reset by subtraction (n_soma += 1)
    v_rf = uR + (f0 - n_rf) * theta_rf : volt                 receptive-field spikes (event "rf")

with threshold ``v_soma > theta`` and a custom event ``rf`` when ``v_rf > theta_rf``. Synapses add ``w``
to ``uR`` (receptive field, on ``spike`` of the previous layer), to ``uC`` (context, on ``rf``, with a
one-step delay: the engine's and Lava's context of step t is the rf spikes of step t - 1) or to the
readout group's ``v`` (classifier). Within a step every object runs in the ``groups`` slot, ordered layer
by layer: compartments integrate, rf spikes, context synapses, somatic spikes, feed-forward synapses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from conversion.ir import SpikingNetwork
from conversion.mcc_engine import validate_timesteps
from conversion.mcc_hardware import UnitNetwork, from_spiking
from conversion.twopoint_spiking import check_inputs
from conversion.twopoint_unit import LUT_SIZE, LUT_STEP
from spiking_mcc.brian_state import brian_state
from spiking_mcc.errors import ParameterError
from spiking_mcc.interrupts import check_interrupted

STEP_MS = 1.0  # one engine time step = tau_step = dt
CODEGEN_TARGETS = ("numpy", "cython")
TWO_POINT_EQUATIONS = """
duR/dt = I_ff / tau_step : volt
uC : volt
dk/dt = 1 / tau_step : 1
C_bar = uC / (clip(k - 1, 1, inf) * v_unit) : 1
G = gain_lut(clip(floor(C_bar / lut_step + 0.5) + lut_half, 0, lut_last) * lut_dt) : 1
v_soma = uR * G + (f0 - n_soma) * theta : volt
v_rf = uR + (f0 - n_rf) * theta_rf : volt
I_ff : volt (constant)
theta : volt (constant)
theta_rf : volt (constant)
n_soma : 1
n_rf : 1
"""
READOUT_EQUATIONS = """
dv/dt = I_ff / tau_step : volt
I_ff : volt (constant)
"""
# Order of the stages of one layer inside the `groups` slot (layer l uses 10 l + stage).
STAGE = {"integrate": 0, "rf_threshold": 1, "rf_reset": 2, "context": 3, "threshold": 4, "reset": 5,
         "feedforward": 6}


@dataclass
class BrianMCCResult:
    """Per requested T: predictions (N,), readout (N, classes), spikes per population (N,); wall times:
    build_s (groups and synapses), run_s (all segments, including code generation)."""

    timesteps: list[int]
    predictions: list[np.ndarray]
    readout: list[np.ndarray]
    spikes: list[dict[str, np.ndarray]]
    n_synapses: int
    build_s: float
    run_s: float

    def accuracy(self, labels: np.ndarray) -> list[float]:
        return [float(np.mean(p == np.asarray(labels))) for p in self.predictions]


def _block_synapses(b2, pre, post, weight: np.ndarray, n_samples: int, target: str, event: str, name: str,
                    clock, delay=None):
    """One copy of weight (n_post, n_pre) per sample, non-zero entries only; w in volt."""
    post_idx, pre_idx = np.nonzero(weight)
    n_post, n_pre = weight.shape
    synapses = b2.Synapses(pre, post, "w : volt", on_pre=f"{target}_post += w", on_event=event, clock=clock,
                           name=name)
    synapses.connect(i=((np.arange(n_samples) * n_pre)[:, None] + pre_idx).ravel(),
                     j=((np.arange(n_samples) * n_post)[:, None] + post_idx).ravel())
    synapses.w = np.tile(weight[post_idx, pre_idx], n_samples) * b2.mV
    if delay is not None:
        synapses.delay = delay
    return synapses


def _schedule(obj, when_order: int) -> None:
    obj.when, obj.order = "groups", when_order


@brian_state()  # restores the code-generation target it sets below
def simulate_brian2(net: SpikingNetwork, inputs: dict[str, np.ndarray], timesteps: int | list[int],
                    codegen_target: str = "numpy") -> BrianMCCResult:
    """Run the converted two-point network in Brian2 on inputs {name: (N, features)}; read out after
    every requested T (one run, in segments)."""
    import brian2 as b2

    if codegen_target not in CODEGEN_TARGETS:
        raise ParameterError(f"codegen_target must be one of {list(CODEGEN_TARGETS)}, got {codegen_target!r}")
    steps = validate_timesteps(timesteps)
    inputs = check_inputs(net.graph, inputs)
    units: UnitNetwork = from_spiking(net, steps[-1])
    n_samples = len(next(iter(inputs.values())))
    started = time.perf_counter()
    b2.start_scope()
    b2.prefs.codegen.target = codegen_target
    clock = b2.Clock(dt=STEP_MS * b2.ms)
    lut_dt = 1.0 * b2.second
    namespace = {"tau_step": STEP_MS * b2.ms, "v_unit": b2.mV, "f0": net.init_membrane_fraction,
                 "lut_step": LUT_STEP, "lut_half": LUT_SIZE // 2, "lut_last": LUT_SIZE - 1, "lut_dt": lut_dt}
    groups, objects = {}, []
    for u in units.units:
        p = u.params
        group = b2.NeuronGroup(n_samples * u.n, TWO_POINT_EQUATIONS, threshold="v_soma > theta",
                               reset="n_soma += 1", method="euler",
                               events={"rf": "v_rf > theta_rf"} if u.rf_pop else None, clock=clock,
                               namespace={**namespace, "gain_lut": b2.TimedArray(p.gain, dt=lut_dt)},
                               name=u.name)
        drive = np.broadcast_to(p.bias, (n_samples, u.n))
        if u.rf.source in units.inputs:
            drive = drive + inputs[u.rf.source] @ u.rf.weight.T
        group.I_ff = drive.ravel() * b2.mV
        group.theta = np.tile(np.broadcast_to(p.vth_s, (u.n,)), n_samples) * b2.mV
        group.theta_rf = np.tile(np.broadcast_to(p.vth_q, (u.n,)), n_samples) * b2.mV
        base = 10 * u.depth
        _schedule(group.state_updater, base + STAGE["integrate"])
        _schedule(group.thresholder["spike"], base + STAGE["threshold"])
        _schedule(group.resetter["spike"], base + STAGE["reset"])
        if u.rf_pop:
            group.run_on_event("rf", "n_rf += 1")
            _schedule(group.thresholder["rf"], base + STAGE["rf_threshold"])
            _schedule(group.resetter["rf"], base + STAGE["rf_reset"])
        groups[u.name] = group
        objects.append(group)
    soma_of = {u.soma: u for u in units.units}
    rf_of = {u.rf_pop: u for u in units.units if u.rf_pop}
    n_synapses = 0
    for u in units.units:
        links = [] if u.rf.source in units.inputs else [
            (soma_of[u.rf.source], u.rf.weight, "uR", "spike", STAGE["feedforward"], None)]
        links += [(rf_of[syn.source], syn.weight, "uC", "rf", STAGE["context"], clock.dt)
                  for syn in u.context]
        for k, (pre, weight, target, event, stage, delay) in enumerate(links):
            synapses = _block_synapses(b2, groups[pre.name], groups[u.name], weight, n_samples, target, event,
                                       f"{u.name}_in{k}", clock, delay)
            _schedule(synapses.pre, 10 * pre.depth + stage)
            n_synapses += len(synapses)
            objects.append(synapses)
    n_classes = units.readout.sources[0].weight.shape[0]
    readout = b2.NeuronGroup(n_samples * n_classes, READOUT_EQUATIONS, method="euler", clock=clock,
                             namespace=namespace, name="readout")
    readout.I_ff = np.tile(units.readout.bias, n_samples) * b2.mV
    _schedule(readout.state_updater, -1)
    objects.append(readout)
    for k, syn in enumerate(units.readout.sources):
        pre = soma_of[syn.source]
        synapses = _block_synapses(b2, groups[pre.name], readout, syn.weight, n_samples, "v", "spike",
                                   f"readout_synapses{k}", clock)
        _schedule(synapses.pre, 10 * pre.depth + STAGE["feedforward"])
        n_synapses += len(synapses)
        objects.append(synapses)
    network = b2.Network(*objects)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    predictions, readouts_out, spikes = [], [], []
    done = 0
    for t in steps:
        check_interrupted()  # a safe point: SIGINT/SIGTERM/SIGHUP stop here (spiking_mcc.interrupts)
        network.run((t - done) * STEP_MS * b2.ms, namespace={})
        done = t
        values = np.asarray(readout.v[:] / b2.mV).reshape(n_samples, n_classes)
        readouts_out.append(values)
        predictions.append(values.argmax(axis=1))
        counts = {u.soma: np.asarray(groups[u.name].n_soma[:]).reshape(n_samples, -1).sum(axis=1)
                  for u in units.units}
        counts |= {u.rf_pop: np.asarray(groups[u.name].n_rf[:]).reshape(n_samples, -1).sum(axis=1)
                   for u in units.units if u.rf_pop}
        spikes.append(counts)
    return BrianMCCResult(steps, predictions, readouts_out, spikes, n_synapses, build_s,
                          time.perf_counter() - started)
