"""Brian2 simulation of a converted point-neuron network, all samples batched in one NeuronGroup per layer.

Each ReLU population Q with n_Q neurons becomes one NeuronGroup of N_samples x n_Q neurons (index =
sample * n_Q + neuron), and so does the output node. The linear nodes between populations (Dense,
Conv2d, AvgPool2d, Flatten, Add) are collapsed into one matrix A_PQ per (source population P, Q), read
off the graph by linearity (the linear nodes applied to a basis of P); A_PQ * output_scale_P becomes
block-diagonal Synapses (one copy per sample, built from index arrays). Everything the constant analog
input and the biases contribute is the per-neuron current I_bias. One time step (dt = 1 ms,
dimensionless v) runs, population by population in topological order, inside the ``thresholds`` slot:

.. math::

    v \\leftarrow (1 - \\mathrm{leak})\\,v + I_{bias}; \\quad
    \\text{spike if } v \\ge v_{th}; \\quad v \\leftarrow v - v_{th}\\ (\\text{or } 0); \\quad
    v_Q \\mathrel{+}= w \\text{ per spike (zero delay)}

which is the numpy engine's order (no synaptic delay between layers). The output group accumulates its
input (readout "membrane"). Max pooling (not linear) and two-point nodes are not supported here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from conversion import ops
from conversion.ir import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, ReLU, SpikingNetwork
from spiking_mcc.brian_state import brian_state
from spiking_mcc.errors import ModelError, ParameterError

DT_MS = 1.0  # one engine time step
LINEAR_NODES = (Dense, Conv2d, AvgPool2d, Flatten, Add)


@dataclass
class BrianResult:
    """Predictions (N,), accumulated output membrane (N, n_out), spike counts per population (N,) and
    wall times: build_s (objects), run_s (simulation incl. code generation on first run)."""

    predictions: np.ndarray
    readout: np.ndarray
    spikes: dict[str, np.ndarray]
    build_s: float
    run_s: float
    n_synapses: int = 0


def _currents(graph: Graph, given: dict[str, np.ndarray], with_bias: bool) -> dict[str, np.ndarray]:
    """Outputs of every linear node when the input and every population output are `given`."""
    values = dict(given)
    for name in graph.order:
        if not isinstance(graph.nodes[name], ReLU):
            values[name] = ops.apply_linear(graph, name, values, with_bias=with_bias)
    return values


def _drive_of(graph: Graph, name: str) -> str:
    """The node whose output is the input current of population / output `name`."""
    return graph.predecessors(name)[0] if isinstance(graph.nodes[name], ReLU) else name


def connection_matrices(graph: Graph, targets: list[str]) -> dict[tuple[str, str], np.ndarray]:
    """A[(P, Q)] (n_Q, n_P): the linear map from population P's output to the input current of Q."""
    pops = graph.populations()
    input_name = next(iter(graph.inputs))
    matrices = {}
    for source in pops:
        n_source = int(np.prod(graph.shapes[source]))
        given = {p: np.zeros((n_source,) + graph.shapes[p]) for p in pops}
        given[input_name] = np.zeros((n_source,) + graph.inputs[input_name])
        given[source] = np.eye(n_source).reshape((n_source,) + graph.shapes[source])
        values = _currents(graph, given, with_bias=False)
        for target in targets:
            matrix = values[_drive_of(graph, target)].reshape(n_source, -1).T
            if np.any(matrix):
                matrices[source, target] = matrix
    return matrices


def simulate_brian2(net: SpikingNetwork, x: np.ndarray, timesteps: int,
                    codegen_target: str = "numpy") -> BrianResult:
    """Run the converted network on x for `timesteps` steps in Brian2 (analog input, membrane readout)."""
    import brian2 as b2

    if net.encoding != "analog" or net.readout != "membrane":
        raise ParameterError("the Brian2 engine supports encoding='analog' with readout='membrane'")
    if codegen_target not in ("numpy", "cython"):
        raise ParameterError(f"codegen_target must be 'numpy' or 'cython', got {codegen_target!r}")
    if int(timesteps) < 1:
        raise ParameterError(f"timesteps must be >= 1, got {timesteps}")
    graph = net.graph
    unsupported = [f"'{n}' ({type(node).__name__})" for n, node in graph.nodes.items()
                   if not isinstance(node, (*LINEAR_NODES, ReLU))]
    if unsupported or len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ModelError(f"the Brian2 engine supports one input, one output and Dense/Conv2d/AvgPool2d/"
                         f"Flatten/Add/ReLU nodes; unsupported: {', '.join(unsupported) or 'inputs/outputs'}")
    if isinstance(graph.nodes[graph.outputs[0]], ReLU):
        raise ModelError(f"output '{graph.outputs[0]}' is a ReLU population; the readout must be linear")
    x = ops.check_input(graph, x)
    started = time.perf_counter()
    b2.start_scope()
    with brian_state(target=codegen_target):  # the target and defaultclock.dt are restored afterwards
        return _build_and_run(b2, net, x, int(timesteps), started)


def _build_and_run(b2, net: SpikingNetwork, x: np.ndarray, timesteps: int, started: float) -> BrianResult:
    graph = net.graph
    n_samples = len(x)
    output = graph.outputs[0]
    pops = graph.populations()
    targets = pops + [output]
    input_name = next(iter(graph.inputs))
    b2.defaultclock.dt = DT_MS * b2.ms
    # Constant part of every current: analog input and biases, populations silent.
    given = {p: np.zeros((n_samples,) + graph.shapes[p]) for p in pops}
    given[input_name] = x
    constant = _currents(graph, given, with_bias=True)
    matrices = connection_matrices(graph, targets)
    reset = "v -= v_th" if net.reset == "subtract" else "v = 0"
    update = f"v = (1 - {net.leak!r}) * v + I_bias" if net.leak else "v += I_bias"
    objects, groups, n_synapses = [], {}, 0
    for k, target in enumerate(targets):
        n = int(np.prod(graph.shapes[target]))
        order = 10 * (k + 1)
        if target == output:
            group = b2.NeuronGroup(n_samples * n, "v : 1\nI_bias : 1", method="exact", name="output")
        else:
            group = b2.NeuronGroup(n_samples * n, "v : 1\nv_th : 1\nI_bias : 1\ncount : 1",
                                   threshold="v > v_th", reset=f"{reset}\ncount += 1", method="exact",
                                   name=f"population_{k}")
            group.v_th = np.tile(np.broadcast_to(net.v_th[target], graph.shapes[target]).ravel(), n_samples)
            group.v = group.v_th[:] * net.init_membrane_fraction
            group.thresholder["spike"].when, group.thresholder["spike"].order = "thresholds", order + 1
            group.resetter["spike"].when, group.resetter["spike"].order = "thresholds", order + 2
        group.I_bias = constant[_drive_of(graph, target)].reshape(n_samples, -1).ravel()
        objects += [group, group.run_regularly(update, when="thresholds", order=order)]
        for source in pops[:k]:
            if (source, target) not in matrices:
                continue
            scale = np.broadcast_to(net.output_scale[source], graph.shapes[source]).ravel()
            weight = matrices[source, target] * scale[None, :]
            post, pre = np.nonzero(weight)
            n_pre = weight.shape[1]
            synapses = b2.Synapses(groups[source], group, "w : 1", on_pre="v_post += w",
                                   name=f"synapses_{pops.index(source)}_{k}")
            synapses.connect(i=((np.arange(n_samples) * n_pre)[:, None] + pre).ravel(),
                             j=((np.arange(n_samples) * n)[:, None] + post).ravel())
            synapses.w = np.tile(weight[post, pre], n_samples)
            synapses.pre.when, synapses.pre.order = "thresholds", order - 1
            objects.append(synapses)
            n_synapses += len(post) * n_samples
        groups[target] = group
    network = b2.Network(*objects)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    network.run(timesteps * DT_MS * b2.ms)
    run_s = time.perf_counter() - started
    readout = np.asarray(groups[output].v[:]).reshape(n_samples, -1)
    spikes = {p: np.asarray(groups[p].count[:]).reshape(n_samples, -1).sum(axis=1) for p in pops}
    return BrianResult(readout.argmax(axis=1), readout, spikes, build_s, run_s, n_synapses)
