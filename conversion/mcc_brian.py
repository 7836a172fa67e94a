r"""Brian2 simulation of a converted two-point (MCC) network, equation level, all samples in one group each.

Each two-point population (a TwoPoint node and the ReLU soma after it) becomes one NeuronGroup of
N_samples x n units (index = sample * n + unit) with the equations of
:mod:`conversion.twopoint_spiking` (1 activation unit = 1 mV of compartment potential, one engine step =
``tau_step`` = dt = 1 ms, so Euler integration of a constant current is exact):

.. code-block:: text

    duR/dt = I_ff / tau_step   : volt   basal compartment: integrated receptive-field drive
    duC/dt = I_ctx / tau_step  : volt   apical compartment: integrated context drive
    dk/dt  = 1 / tau_step      : 1      steps elapsed
    R_bar = uR / (k * v_unit)  : 1      running means of R and C
    C_bar = uC / (k * v_unit)  : 1
    A = f_law(R_bar, C_bar)    : 1      rate transfer law (table LAW_EXPRESSIONS)
    v_soma = k * A * v_unit + (f0 - n_soma) * theta        : volt
    v_rf = uR + (f0 - n_rf) * theta_rf                     : volt

with threshold ``v_soma >= theta`` (event ``spike``, reset ``n_soma += 1``: reset by subtraction) and a
custom event ``rf`` when ``v_rf >= theta_rf`` (``n_rf += 1``): the receptive-field spikes that carry
Q = relu(R) to the apical compartments. I_ff is the bias (plus the constant analog drive W x at layer 0).
Synapses add ``w`` to ``uR`` (feed-forward, on ``spike``, w = W_R * beta of the source), to ``uC``
(context, on ``rf``, w = M * beta_Q) or to the readout group's ``v`` (classifier). Within a step every
object runs in the ``groups`` slot, ordered layer by layer: compartments integrate, rf spikes, context
synapses, somatic spikes, feed-forward synapses: the numpy engine's order (no synaptic delay).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from conversion.ir import Add, Dense, Graph, ReLU, SpikingNetwork, TwoPoint
from conversion.mcc_engine import shared_receptive_fields, soma_populations, validate_timesteps
from conversion.twopoint_spiking import LAW_ALIASES, check_graph, check_inputs
from spiking_mcc.brian_state import brian_state
from spiking_mcc.errors import ModelError, ParameterError
from spiking_mcc.twopoint.transfer import COOP_CEILING, KP_EXPONENT_MAX, KP_K1, KP_K2

STEP_MS = 1.0  # one engine time step = tau_step = dt
CODEGEN_TARGETS = ("numpy", "cython")
LAW_EXPRESSIONS = {  # f(R_bar, C_bar) in Brian2 syntax, constants from spiking_mcc.twopoint.transfer
    "kp": "R_bar * (kp_k1 + (1 - kp_k1) * exp(clip(kp_k2 * R_bar * C_bar, -kp_z_max, kp_z_max)))",
    "coop": "clip(R_bar**2 + 2*R_bar + C_bar * (1 + abs(R_bar)), 0, coop_max)",
    "additive": "R_bar + C_bar",
    "point": "R_bar",
}
LAW_CONSTANTS = {"kp_k1": KP_K1, "kp_k2": KP_K2, "kp_z_max": KP_EXPONENT_MAX, "coop_max": COOP_CEILING}
TWO_POINT_EQUATIONS = """
duR/dt = I_ff / tau_step : volt
duC/dt = I_ctx / tau_step : volt
dk/dt = 1 / tau_step : 1
R_bar = uR / (k * v_unit) : 1
C_bar = uC / (k * v_unit) : 1
A = {law} : 1
v_soma = k * A * v_unit + (f0 - n_soma) * theta : volt
v_rf = uR + (f0 - n_rf) * theta_rf : volt
I_ff : volt (constant)
I_ctx : volt (constant)
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


def _layout(graph: Graph) -> tuple[list[str], dict[str, int], dict[str, str], list[str]]:
    """(TwoPoint nodes, their layer depth, rf population -> TwoPoint, readout Dense nodes); ModelError
    if the graph is not a two-point layout (see conversion.importers.mcc)."""
    check_graph(graph)
    shared = shared_receptive_fields(graph)
    somata = soma_populations(graph)
    rf_pop = {graph.successors(d)[0]: tp for d, tp in shared.items()}
    two_points = [n for n, node in graph.layers_in_order() if isinstance(node, TwoPoint)]
    depth: dict[str, int] = {}
    for tp in two_points:
        source = graph.rf_source(tp)
        depth[tp] = 0 if source in graph.inputs else depth[somata[source]] + 1
        for s in graph.nodes[tp].context_weights:
            if s not in rf_pop or depth.get(rf_pop[s], depth[tp]) != depth[tp]:
                raise ModelError(f"layer '{tp}': context source '{s}' must be a receptive-field population "
                                 "of the same layer for the Brian2 engine")
    readouts = []
    for name, node in graph.layers_in_order():
        if isinstance(node, Dense) and name not in shared:
            source = graph.predecessors(name)[0]
            if source not in somata or graph.successors(name) not in ([graph.outputs[0]], []):
                raise ModelError(f"layer '{name}': the Brian2 engine supports Dense layers only as the "
                                 "readout of two-point populations")
            readouts.append(name)
        elif isinstance(node, ReLU) and name not in somata and name not in rf_pop:
            raise ModelError(f"layer '{name}': ReLU population outside a two-point unit")
        elif isinstance(node, Add) and name != graph.outputs[0]:
            raise ModelError(f"layer '{name}': Add is supported only as the output")
    return two_points, depth, rf_pop, readouts


def _block_synapses(b2, pre, post, weight: np.ndarray, n_samples: int, target: str, event: str, name: str,
                    clock):
    """One copy of weight (n_post, n_pre) per sample, non-zero entries only; w in volt."""
    post_idx, pre_idx = np.nonzero(weight)
    n_post, n_pre = weight.shape
    synapses = b2.Synapses(pre, post, "w : volt", on_pre=f"{target}_post += w", on_event=event, clock=clock,
                           name=name)
    synapses.connect(i=((np.arange(n_samples) * n_pre)[:, None] + pre_idx).ravel(),
                     j=((np.arange(n_samples) * n_post)[:, None] + post_idx).ravel())
    synapses.w = np.tile(weight[post_idx, pre_idx], n_samples) * b2.mV
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
    graph = net.graph
    two_points, depth, rf_pop, readouts = _layout(graph)
    inputs = check_inputs(graph, inputs)
    n_samples = len(next(iter(inputs.values())))
    somata = {tp: pop for pop, tp in soma_populations(graph).items()}
    own_rf = {tp: pop for pop, tp in rf_pop.items()}
    started = time.perf_counter()
    b2.start_scope()
    b2.prefs.codegen.target = codegen_target
    clock = b2.Clock(dt=STEP_MS * b2.ms)
    namespace = {"tau_step": STEP_MS * b2.ms, "v_unit": b2.mV, "f0": net.init_membrane_fraction,
                 **LAW_CONSTANTS}
    groups, objects = {}, []
    for tp in two_points:
        node = graph.nodes[tp]
        n = node.rf_weight.shape[0]
        law = LAW_ALIASES.get(node.law, node.law)
        has_rf = tp in own_rf
        group = b2.NeuronGroup(n_samples * n, TWO_POINT_EQUATIONS.format(law=LAW_EXPRESSIONS[law]),
                               threshold="v_soma >= theta", reset="n_soma += 1", method="euler",
                               events={"rf": "v_rf >= theta_rf"} if has_rf else None, clock=clock,
                               namespace=namespace, name=tp)
        source = graph.rf_source(tp)
        drive = inputs[source] @ node.rf_weight.T + node.rf_bias if source in graph.inputs else \
            np.broadcast_to(node.rf_bias, (n_samples, n))
        group.I_ff = drive.ravel() * b2.mV
        context_bias = np.zeros(n) if node.context_bias is None else node.context_bias
        group.I_ctx = np.tile(context_bias, n_samples) * b2.mV
        group.theta = np.tile(np.broadcast_to(net.v_th[somata[tp]], (n,)), n_samples) * b2.mV
        theta_rf = net.v_th[own_rf[tp]] if has_rf else 1.0
        group.theta_rf = np.tile(np.broadcast_to(theta_rf, (n,)), n_samples) * b2.mV
        base = 10 * depth[tp]
        _schedule(group.state_updater, base + STAGE["integrate"])
        _schedule(group.thresholder["spike"], base + STAGE["threshold"])
        _schedule(group.resetter["spike"], base + STAGE["reset"])
        if has_rf:
            group.run_on_event("rf", "n_rf += 1")
            _schedule(group.thresholder["rf"], base + STAGE["rf_threshold"])
            _schedule(group.resetter["rf"], base + STAGE["rf_reset"])
        groups[tp] = group
        objects.append(group)
    n_synapses = 0
    for tp in two_points:
        node = graph.nodes[tp]
        source = graph.rf_source(tp)
        links = [] if source in graph.inputs else [
            (groups[somata_tp], node.rf_weight * _beta(net, source, node.rf_weight.shape[1]), "uR", "spike",
             10 * depth[somata_tp] + STAGE["feedforward"])
            for somata_tp in [soma_populations(graph)[source]]]
        links += [(groups[rf_pop[s]], w * _beta(net, s, w.shape[1]), "uC", "rf",
                   10 * depth[tp] + STAGE["context"]) for s, w in node.context_weights.items()]
        for k, (pre, weight, target, event, order) in enumerate(links):
            synapses = _block_synapses(b2, pre, groups[tp], weight, n_samples, target, event, f"{tp}_in{k}",
                                        clock)
            _schedule(synapses.pre, order)
            n_synapses += len(synapses)
            objects.append(synapses)
    n_classes = graph.shapes[graph.outputs[0]][0]
    readout = b2.NeuronGroup(n_samples * n_classes, READOUT_EQUATIONS, method="euler", clock=clock,
                             namespace=namespace, name="readout")
    readout.I_ff = np.tile(sum(graph.nodes[r].bias for r in readouts), n_samples) * b2.mV
    _schedule(readout.state_updater, -1)
    objects.append(readout)
    for r in readouts:
        source = graph.predecessors(r)[0]
        tp = soma_populations(graph)[source]
        weight = graph.nodes[r].weight * _beta(net, source, graph.nodes[r].weight.shape[1])
        synapses = _block_synapses(b2, groups[tp], readout, weight, n_samples, "v", "spike", f"{r}_synapses",
                                   clock)
        _schedule(synapses.pre, 10 * depth[tp] + STAGE["feedforward"])
        n_synapses += len(synapses)
        objects.append(synapses)
    network = b2.Network(*objects)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    predictions, readouts_out, spikes = [], [], []
    done = 0
    for t in steps:
        network.run((t - done) * STEP_MS * b2.ms, namespace={})
        done = t
        values = np.asarray(readout.v[:] / b2.mV).reshape(n_samples, n_classes)
        readouts_out.append(values)
        predictions.append(values.argmax(axis=1))
        counts = {somata[tp]: np.asarray(g.n_soma[:]).reshape(n_samples, -1).sum(axis=1)
                  for tp, g in groups.items()}
        counts |= {own_rf[tp]: np.asarray(g.n_rf[:]).reshape(n_samples, -1).sum(axis=1)
                   for tp, g in groups.items() if tp in own_rf}
        spikes.append(counts)
    return BrianMCCResult(steps, predictions, readouts_out, spikes, n_synapses, build_s,
                          time.perf_counter() - started)


def _beta(net: SpikingNetwork, population: str, n: int) -> np.ndarray:
    """Value carried by one spike of each neuron of `population` (row vector to scale weight columns)."""
    return np.broadcast_to(net.output_scale[population], (n,))[None, :]
