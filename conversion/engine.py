r"""Batched numpy spiking engine for converted networks (float mode; ``mode="fixed"`` delegates to
:mod:`conversion.fixed_point`).

Samples stream through in batches of `batch_size` (memory grows with the batch, not the data set); all
samples of a batch run at once, in float32 by default (``dtype="float64"`` for double; spike counts are
int32, the readout accumulates in float64); each time step walks the graph in topological order. Linear
nodes (Dense, Conv2d, pooling, Flatten, Add) act on the values arriving from before (the analog input or
spikes times the output scale of their population); every ReLU population is a layer of
integrate-and-fire neurons (:func:`if_step`; spike where V > v_th, :func:`fire_and_reset`, the rule of
every engine, docs/conversion.md); the output node accumulates its input current (readout "membrane") or
spikes (readout "counts"). Nodes that see only the constant analog input are computed once per batch.

The inner loop is a few small functions (:func:`fire_and_reset`, :func:`if_step`, :func:`poisson_spikes`)
that tests call with hand-made arrays. Synaptic events are spikes times fan-out (the number of non-zero
synapses from each presynaptic neuron into the receiving weighted layer, through pooling/flatten), per
sample.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np

from conversion import ops
from conversion.ir import (
    Add,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    MaxPool2d,
    ReLU,
    SpikingNetwork,
    TwoPoint,
)
from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.limits import check_int, check_seed

MAXPOOL_MODES = ("gated", "avg")
MODES = ("float", "fixed")
DTYPES = ("float32", "float64")
# float32 gives the spike counts of float64 on the tests' networks (tests/test_conversion_precision.py)
DEFAULT_DTYPE = "float32"
DEFAULT_BATCH_SIZE = 512


# -- pure step functions ------------------------------------------------------------------------------
def fire_and_reset(v: np.ndarray, v_th: np.ndarray | float, reset: str = "subtract") -> np.ndarray:
    r"""The threshold rule of every engine (Loihi's): spike where :math:`V > v_{th}` (strictly; a membrane
    exactly at threshold waits for the next step), then reset `v` **in place**: :math:`V \mathrel{-}= v_{th}`
    ("subtract") or :math:`V = 0` ("zero"). Returns the spikes as a bool array."""
    fired = v > v_th
    if reset == "subtract":
        v -= fired * v_th  # v - 1 * v_th where fired, v - 0 elsewhere: exact either way
    else:
        v *= ~fired
    return fired


def if_step(v: np.ndarray, current: np.ndarray, v_th: np.ndarray | float, leak: float = 0.0,
            reset: str = "subtract") -> tuple[np.ndarray, np.ndarray]:
    r"""One integrate-and-fire update: :math:`V \leftarrow (1-\mathrm{leak}) V + I`, then
    :func:`fire_and_reset` (spike where :math:`V > v_{th}`). Returns (new membrane, spikes as float 0/1 of
    the membrane's dtype); inputs are not modified."""
    v = (1.0 - leak) * v + current if leak else v + current
    return v, fire_and_reset(v, v_th, reset).astype(v.dtype)


def poisson_spikes(rate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli spikes with per-step probability `rate` (clipped to [0, 1]) as float 0/1."""
    return (rng.random(rate.shape) < np.clip(rate, 0.0, 1.0)).astype(np.float64)


def accumulate_readout(total: np.ndarray, output_value: np.ndarray, leak: float = 0.0) -> np.ndarray:
    """Readout membrane: the running sum of the output layer's input current (leaky when `leak` > 0:
    a non-spiking leaky integrator, NIR's LI read out by membrane)."""
    return (1.0 - leak) * total + output_value if leak else total + output_value


def predict_from_readout(membrane: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """argmax of the accumulated membrane, or of spike counts with the membrane breaking ties."""
    if counts is None:
        return membrane.argmax(axis=1)
    span = np.abs(membrane).max(axis=1, keepdims=True) + 1e-12
    return (counts + 0.5 * (membrane / span + 1.0) / 2.0).argmax(axis=1)


# -- fan-out ------------------------------------------------------------------------------------------
def _scatter_windows(d: np.ndarray, in_shape: tuple, kernel, stride, padding, per_window: np.ndarray):
    """Adjoint of a windowed op on one sample: add per_window(c, oy, ox, ky, kx) into input positions."""
    c, h, w = in_shape
    ph, pw = padding
    index = np.arange(c * (h + 2 * ph) * (w + 2 * pw)).reshape(1, c, h + 2 * ph, w + 2 * pw)
    win_index = ops.windows(index, kernel, stride, (0, 0))[0]
    fan = np.zeros(index.size)
    np.add.at(fan, win_index.ravel(), np.broadcast_to(per_window, win_index.shape).ravel())
    return fan.reshape(c, h + 2 * ph, w + 2 * pw)[:, ph:ph + h, pw:pw + w]


def _synapse_counts(graph: Graph, name: str, source: str) -> np.ndarray:
    """Number of non-zero synapses from each neuron of `source` into weighted layer `name`."""
    node = graph.nodes[name]
    in_shape = graph.shapes[source]
    if isinstance(node, Dense):
        return (node.weight != 0).sum(axis=0).astype(np.float64).reshape(in_shape)
    if isinstance(node, TwoPoint):
        weight = node.context_weights.get(source, node.rf_weight)
        return (weight != 0).sum(axis=0).astype(np.float64).reshape(in_shape)
    per_tap = (node.weight != 0).sum(axis=0).astype(np.float64)  # (C, kh, kw)
    oh, ow = graph.shapes[name][1:]
    per_window = np.broadcast_to(per_tap[:, None, None], (in_shape[0], oh, ow) + node.kernel)
    return _scatter_windows(None, in_shape, node.kernel, node.stride, node.padding, per_window)


def _pass_back(graph: Graph, name: str, downstream: np.ndarray) -> np.ndarray:
    """Carry per-output fan-out back through a pass-through node to its input positions."""
    node = graph.nodes[name]
    in_shape = graph.input_shape(name)
    if isinstance(node, Flatten):
        return downstream.reshape(in_shape)
    if isinstance(node, (AvgPool2d, MaxPool2d)):
        per_window = np.broadcast_to(downstream[..., None, None], downstream.shape + node.kernel)
        return _scatter_windows(None, in_shape, node.kernel, node.stride, node.padding, per_window)
    return downstream  # Add, BatchNorm: elementwise


def fanout_maps(graph: Graph) -> dict[str, dict[str, np.ndarray]]:
    """layer name -> {source population or input -> synapse count per source neuron (source shape)}."""
    maps: dict[str, dict[str, np.ndarray]] = {}
    for layer in graph.weighted_layers():
        found: dict[str, np.ndarray] = {}
        stack = [(s, _synapse_counts(graph, layer, s)) for s in graph.predecessors(layer)]
        while stack:
            source, fan = stack.pop()
            if source in graph.inputs or isinstance(graph.nodes[source], (ReLU, Dense, Conv2d, TwoPoint)):
                found[source] = found.get(source, 0) + fan
            else:
                stack.extend((p, _pass_back(graph, source, fan)) for p in graph.predecessors(source))
        maps[layer] = found
    return maps


def population_of(graph: Graph, layer: str) -> str | None:
    """The ReLU population a weighted layer drives (through pooling/flatten/add), or None for the output."""
    current = layer
    while True:
        successors = graph.successors(current)
        if not successors:
            return None
        nxt = successors[0]
        if isinstance(graph.nodes[nxt], ReLU):
            return nxt
        if isinstance(graph.nodes[nxt], (Dense, Conv2d, TwoPoint)):
            return None
        current = nxt


# -- results ------------------------------------------------------------------------------------------
@dataclass
class SimulationResult:
    """Engine output for one T. Per-sample arrays have shape (N,); rates/errors are dataset means."""

    timesteps: int
    predictions: np.ndarray
    readout: np.ndarray
    spikes: dict[str, np.ndarray]
    synaptic_events: dict[str, np.ndarray]
    firing_rate: dict[str, float]
    activation_error: dict[str, float]
    analog_macs: dict[str, float] = field(default_factory=dict)
    # NeuroBench's per-step counts (conversion/neurobench.py), per sample: non-zero inputs x their non-zero
    # synapses summed over steps (per weighted layer); membrane updates (per population and spiking output)
    nonzero_synops: dict[str, np.ndarray] = field(default_factory=dict)
    membrane_updates: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def spikes_per_sample(self) -> float:
        return float(sum(np.mean(v) for v in self.spikes.values()))

    @property
    def synaptic_events_per_sample(self) -> float:
        return float(sum(np.mean(v) for v in self.synaptic_events.values()))

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == np.asarray(labels)))


def dense_macs(graph: Graph, layer: str) -> float:
    """Multiply-accumulates per sample of a weighted layer run as an ANN."""
    node = graph.nodes[layer]
    if isinstance(node, Dense):  # structural zeros (a stream reading its slice of the input) cost nothing
        return float(np.count_nonzero(node.weight))
    if isinstance(node, TwoPoint):
        return float(node.rf_weight.size + sum(w.size for w in node.context_weights.values()))
    out_c, oh, ow = graph.shapes[layer]
    return float(oh * ow * node.weight.size)


# -- simulation ---------------------------------------------------------------------------------------
def _constant_nodes(graph: Graph, analog: bool) -> set[str]:
    constant = set(graph.inputs) if analog else set()
    for name in graph.order:
        node = graph.nodes[name]
        if not isinstance(node, ReLU) and all(p in constant for p in graph.predecessors(name)):
            constant.add(name)
    return constant


def _cast(value, dtype: np.dtype):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    return value


def cast_graph(graph: Graph, dtype: np.dtype) -> Graph:
    """A shallow copy of `graph` whose nodes hold their float arrays (weights, biases, BatchNorm maps) in
    `dtype`, so that the engine's linear nodes run in that precision; the original graph is untouched."""
    if np.dtype(dtype) == np.float64:
        return graph
    cast = copy.copy(graph)
    nodes = {}
    for name, node in graph.nodes.items():
        clone = copy.copy(node)
        for attr, value in vars(node).items():
            setattr(clone, attr, _cast(value, dtype))
        nodes[name] = clone
    cast.nodes = nodes
    return cast


def _validate(net: SpikingNetwork, timesteps, mode: str, maxpool: str, batch_size, dtype) -> list[int]:
    steps = sorted({int(t) for t in np.atleast_1d(timesteps)})
    if not steps or steps[0] < 1:
        raise ParameterError(f"timesteps must be integers >= 1, got {timesteps}")
    check_int(steps[-1], "timesteps", "timesteps")
    check_batch_size(batch_size)
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")
    if maxpool not in MAXPOOL_MODES:
        raise ParameterError(f"maxpool must be one of {MAXPOOL_MODES}, got {maxpool!r}")
    if str(dtype) not in DTYPES and getattr(dtype, "__name__", None) not in DTYPES:
        raise ParameterError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if mode == "fixed" and net.layer_leak:
        raise ParameterError(f"mode 'fixed' has one leak per network; per-layer leaks {net.layer_leak} need "
                             "mode 'float'")
    if any(isinstance(n, BatchNorm) for n in net.graph.nodes.values()):
        warnings.warn("graph has unfolded BatchNorm nodes; run as per-step affine maps", stacklevel=3)
    return steps


def check_batch_size(batch_size) -> int:
    """Samples simulated at once: an integer >= 1 (memory grows with it, not with the data set)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _linear_tail(graph: Graph, net: SpikingNetwork, constant: set[str], spiking: set[str]) -> set[str]:
    """The nodes between the last spiking populations and the output that only carry, linearly, what
    reaches a non-leaky membrane readout: Dense, Conv2d, average pooling, Flatten, Add or BatchNorm nodes
    that see spikes and feed only each other up to the output. Their running sum over steps is an affine
    map A of the summed spike values, sum_t A(s_t) = A(S_T) + (T - 1) A(0), so the snapshot computes it
    once (:func:`_tail_output`) instead of every step. Empty for a "counts" or leaky readout, or when
    anything else (max pooling, two-point units) feeds the tail. `spiking`: the nodes with spike counts
    (populations, a Poisson-encoded input)."""
    output = graph.outputs[0]
    if net.readout != "membrane" or net.layer_leak.get(output, 0.0) or output in constant:
        return set()
    linear = (Dense, Conv2d, AvgPool2d, Flatten, BatchNorm, Add)
    tail: set[str] = set()
    for name in reversed(graph.order):
        node = graph.nodes[name]
        if name in constant or not isinstance(node, linear):
            continue
        if name == output or (graph.successors(name) and all(s in tail for s in graph.successors(name))):
            tail.add(name)
    if output not in tail:
        return set()
    for name in tail:
        if any(p not in tail and p not in constant and p not in spiking for p in graph.predecessors(name)):
            return set()
    return tail


@dataclass
class _Plan:
    """What one simulation needs beyond the network: the graph in the engine's dtype, the constant
    nodes, per-population thresholds/output values/leaks in that dtype, the fan-out maps, the linear
    tail read out at snapshots (:func:`_linear_tail`), the populations whose spike values a node
    outside the tail reads every step and, with NeuroBench's counts, each counted layer's synapses per
    input neuron and the layers whose non-zero inputs are counted every step (not fed directly by spikes
    or a constant)."""

    graph: Graph
    dtype: np.dtype
    constant: set[str]
    v_th: dict[str, np.ndarray]
    scale: dict[str, np.ndarray]
    leak: dict[str, float]
    fanouts: dict
    maxpool: str
    tail: set[str]
    stepped_values: set[str]
    synapses_in: dict[str, np.ndarray]
    stepped_synops: set[str]


def _plan(net: SpikingNetwork, dtype, maxpool: str, neurobench: bool = False) -> _Plan:
    graph = net.graph
    dtype = np.dtype(dtype)
    pops = graph.populations()
    constant = _constant_nodes(graph, net.encoding == "analog")
    spiking = set(pops) | (set() if net.encoding == "analog" else set(graph.inputs))
    counted = [m for m in graph.weighted_layers() if neurobench and not isinstance(graph.nodes[m], TwoPoint)]
    synapses_in = {m: _synapse_counts(graph, m, graph.predecessors(m)[0]).ravel() for m in counted}
    stepped_synops = {m for m in counted if graph.predecessors(m)[0] not in spiking | constant}
    tail = _linear_tail(graph, net, constant, spiking)
    if tail & stepped_synops:
        tail = set()  # NeuroBench counts that layer's non-zero inputs every step: they must be computed
    stepped = {p for p in pops if p == graph.outputs[0] or any(s not in tail for s in graph.successors(p))}
    return _Plan(cast_graph(graph, dtype), dtype, constant,
                 {p: np.asarray(net.v_th[p], dtype) for p in pops},
                 {p: np.asarray(net.output_scale[p], dtype) for p in pops},
                 {p: float(net.layer_leak.get(p, net.leak)) for p in pops}, fanout_maps(graph), maxpool,
                 tail, stepped, synapses_in, stepped_synops)


def _spike_value(net: SpikingNetwork, source: str) -> np.ndarray:
    """The value one spike of `source` carries (a population's output scale, a Poisson input's scale)."""
    return np.asarray(net.output_scale[source] if source in net.output_scale else net.input_scale, np.float64)


def _tail_output(net: SpikingNetwork, plan: _Plan, summed: dict[str, np.ndarray] | None, cache: dict,
                 n: int) -> np.ndarray:
    """The linear tail (:func:`_linear_tail`) in float64 on its inputs from outside it: the summed spike
    values of its spiking sources (`summed`: counts as float64 (n, -1); None: no spikes, one row) and the
    constants each step saw. The readout after t steps is the output for S_t plus (t - 1) times that for
    no spikes: sum_t A(s_t) = A(S_t) + (t - 1) A(0)."""
    graph = net.graph
    values: dict[str, np.ndarray] = {}
    for name in graph.order:
        if name not in plan.tail:
            continue
        for source in graph.predecessors(name):
            if source in values:
                continue
            if source in plan.constant:
                values[source] = np.asarray(cache[source], np.float64)
            elif summed is None:
                values[source] = np.zeros((1,) + graph.shapes[source])
            else:
                spikes = summed[source].reshape((n,) + graph.shapes[source])
                values[source] = spikes * _spike_value(net, source)
        values[name] = ops.apply_linear(graph, name, values)
    return values[graph.outputs[0]]


def _run_batch(net: SpikingNetwork, plan: _Plan, x: np.ndarray, steps: list[int],
               rng: np.random.Generator, neurobench: bool = False) -> list[dict]:
    """Simulate one batch x (n, *input shape, float64) for max(steps) steps; a snapshot per T in steps.
    Membranes, currents and spike values are in plan.dtype; spike counts are int32, the readout float64
    (per step, or from the linear tail at each snapshot)."""
    graph, dtype = plan.graph, plan.dtype
    input_name = next(iter(graph.inputs))
    output = graph.outputs[0]
    analog = net.encoding == "analog"
    n = len(x)
    x_cast = x.astype(dtype)
    cache: dict[str, np.ndarray] = {input_name: x_cast} if analog else {}
    pops = graph.populations()
    membrane = {p: np.full((n,) + graph.shapes[p], 0, dtype) + net.init_membrane_fraction * plan.v_th[p]
                for p in pops}
    counts = {p: np.zeros((n,) + graph.shapes[p], np.int32) for p in pops}
    gates = {m: np.zeros((n,) + graph.input_shape(m), dtype) for m in graph.order
             if isinstance(graph.nodes[m], MaxPool2d) and m not in plan.constant}
    if not analog:
        counts[input_name] = np.zeros(x.shape, np.int32)
    readout = np.zeros((n,) + graph.shapes[output])
    out_v = np.full((n,) + graph.shapes[output], net.init_membrane_fraction * net.output_v_th, dtype)
    out_th = dtype.type(net.output_v_th)
    out_counts = np.zeros(readout.shape, np.int32) if net.readout == "counts" else None
    out_leak = net.layer_leak.get(output, 0.0) if out_counts is None else 0.0
    # NeuroBench's non-zero synaptic operations: a layer fed directly by spikes or by a constant has them
    # from the counts at each snapshot (_spike_synops); the plan's stepped_synops are counted every step
    synapses_in = plan.synapses_in
    nonzero_synops = {m: np.zeros(n) for m in synapses_in}
    changed = {p: np.zeros(n) for p in pops + ([output] if out_counts is not None else [])
               if neurobench}
    snapshots = []
    ann = silent = None
    for t in range(1, steps[-1] + 1):
        values: dict[str, np.ndarray] = {}
        if analog:
            values[input_name] = x_cast
        else:
            fired = poisson_spikes(x / net.input_scale, rng) > 0
            counts[input_name] += fired
            values[input_name] = fired * dtype.type(net.input_scale)
        for name in graph.order:
            node = graph.nodes[name]
            if name in cache:
                values[name] = cache[name]
            elif name in plan.tail:
                continue
            elif isinstance(node, ReLU):
                before, leak = membrane[name], plan.leak[name]
                current = values[graph.predecessors(name)[0]]
                if neurobench and t > 1:  # a new membrane array: the old one stays to compare with
                    v = (before * dtype.type(1.0 - leak) if leak else before) + current
                else:
                    v = before
                    if leak:
                        v *= dtype.type(1.0 - leak)
                    v += current
                fired = fire_and_reset(v, plan.v_th[name], net.reset)
                if neurobench:
                    changed[name] += _changed(before, v, t)
                    membrane[name] = v
                counts[name] += fired
                if name in plan.stepped_values:
                    values[name] = fired * plan.scale[name]
            elif name in gates:
                incoming = values[graph.predecessors(name)[0]]
                if plan.maxpool == "avg":
                    values[name] = ops.avgpool2d(incoming, AvgPool2d(node.kernel, node.stride, node.padding))
                else:
                    gates[name] += incoming
                    values[name] = ops.gated_maxpool2d(incoming, gates[name], node)
            else:
                values[name] = ops.apply_linear(graph, name, values)
                if name in plan.constant:
                    cache[name] = values[name]
            if name in plan.stepped_synops:
                incoming = values[graph.predecessors(name)[0]] != 0
                nonzero_synops[name] += incoming.reshape(n, -1) @ synapses_in[name]
        if not plan.tail:
            readout = accumulate_readout(readout, values[output], out_leak)
        if out_counts is not None:
            before = out_v
            out_v = (1.0 - net.layer_leak.get(output, net.leak)) * out_v + values[output]
            out_counts += fire_and_reset(out_v, out_th, net.reset)
            if neurobench:
                changed[output] += _changed(before, out_v, t)
        if t in steps:
            if ann is None:  # the ANN's values on this batch, for the activation error
                ann = {p: a.reshape(n, -1) for p, a in ops.forward(net.graph, x).items() if p in membrane}
                ann = {p: (a, float(np.dot(a.ravel(), a.ravel()))) for p, a in ann.items()}
            flat = {k: c.reshape(n, -1).astype(np.float64) for k, c in counts.items()}  # once per snapshot
            if plan.tail:
                silent = silent if silent is not None else _tail_output(net, plan, None, cache, n)
                readout = _tail_output(net, plan, flat, cache, n) + (t - 1) * silent
            synops = {m: nonzero_synops[m] + _spike_synops(net, plan, m, t, flat, cache, synapses_in[m])
                      for m in synapses_in}
            updates = {k: v.copy() for k, v in changed.items()}
            snapshots.append(_snapshot(net, t, ann, readout, out_counts, flat, plan.fanouts)
                             | {"nonzero_synops": synops, "membrane_updates": updates})
    return snapshots


def _changed(before: np.ndarray, after: np.ndarray, t: int) -> np.ndarray | int:
    """NeuroBench's membrane updates of step t per sample: every neuron at step 1, later the neurons whose
    membrane changed (`after` a new array, `before` the previous step's)."""
    if t == 1:
        return int(np.prod(after.shape[1:]))
    return (after != before).reshape(len(after), -1).sum(axis=1, dtype=np.int32)


def _spike_synops(net: SpikingNetwork, plan: _Plan, layer: str, t: int, flat: dict, cache: dict,
                  synapses: np.ndarray) -> np.ndarray:
    """Non-zero inputs x their synapses over t steps for a layer fed directly by spikes (`flat`: spike
    counts as float64 (n, -1), of the neurons whose spike value is non-zero) or by a constant (t x its
    non-zero entries); 0 for any other layer (counted every step in :func:`_run_batch`)."""
    source = net.graph.predecessors(layer)[0]
    if source in flat:
        carries = np.broadcast_to(_spike_value(net, source) != 0, net.graph.shapes[source]).ravel()
        return (flat[source] if carries.all() else flat[source] * carries) @ synapses
    if source in plan.constant:
        return t * (cache[source] != 0).reshape(len(cache[source]), -1) @ synapses
    return 0.0


def _snapshot(net: SpikingNetwork, t: int, ann: dict, readout, out_counts, flat, fanouts) -> dict:
    """One T's per-sample figures from the counts so far. ann: population -> (ANN values (n, -1), their
    squared norm); flat: spike counts as float64 (n, -1) per population (and Poisson input)."""
    graph = net.graph
    n = len(readout)
    flat_readout = readout.reshape(n, -1)
    flat_counts = None if out_counts is None else out_counts.reshape(n, -1).astype(np.float64)
    predictions = predict_from_readout(flat_readout, flat_counts)
    spikes = {p: c.sum(axis=1) for p, c in flat.items()}  # integers: exact in float64
    if flat_counts is not None:
        spikes[graph.outputs[0]] = flat_counts.sum(axis=1)
    events = {}
    for layer, sources in fanouts.items():
        total = np.zeros(n)
        for source, fan in sources.items():
            if source in flat:
                total += flat[source] @ np.asarray(fan, np.float64).ravel()
        events[layer] = total
    error_terms = {}
    for p in graph.populations():
        values, norm = ann[p]
        scale = np.broadcast_to(np.asarray(net.output_scale[p], np.float64), graph.shapes[p]).ravel()
        difference = (values - flat[p] * (scale / t)).ravel()
        error_terms[p] = (float(np.dot(difference, difference)), norm)
    return {"t": t, "predictions": predictions, "readout": flat_readout.copy(), "spikes": spikes,
            "events": events, "counts_total": {p: float(c.sum()) for p, c in flat.items()},
            "error_terms": error_terms}


def simulate(net: SpikingNetwork, x: np.ndarray, timesteps: int | list[int], seed: int = 0,
             batch_size: int = DEFAULT_BATCH_SIZE, mode: str = "float", maxpool: str = "gated",
             progress: bool = False, dtype: str = DEFAULT_DTYPE,
             neurobench: bool = False) -> list[SimulationResult]:
    """Run the converted network on x (N, features or input shape) for max(timesteps) steps and return
    one SimulationResult per requested T (read out after T steps of the same run). neurobench: also count
    per step what NeuroBench's metrics need (`nonzero_synops`, `membrane_updates`; conversion/neurobench.py),
    float mode only; off by default (it adds 10-35 % to the simulation of the digits CNN and MLP:
    every membrane is compared with its previous value each step).

    Samples stream through in batches of `batch_size`: the engine's memory grows with the batch size,
    not with N (the results hold per-sample scalars only). dtype: "float32" (default) or "float64" for
    membranes, currents and weights (docs/conversion.md, "Precision")."""
    check_seed(seed)
    steps = _validate(net, timesteps, mode, maxpool, batch_size, dtype)
    if mode == "fixed":
        return _simulate_fixed(net, x, steps, batch_size=batch_size)
    graph = net.graph
    if maxpool == "avg" and any(isinstance(n, MaxPool2d) for n in graph.nodes.values()):
        warnings.warn("max pooling replaced by average pooling in the spiking network", stacklevel=2)
    x = ops.check_input(graph, x)
    if net.encoding == "poisson" and x.size and x.min() < 0:
        raise DataError(f"Poisson rate encoding needs inputs >= 0, got min {x.min():.4g}; use analog")
    rng = np.random.default_rng(seed)
    plan = _plan(net, dtype, maxpool, neurobench)
    batches = range(0, len(x), batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=f"simulate T<={steps[-1]}", unit="batch", leave=False)
    per_batch = [_run_batch(net, plan, x[i:i + batch_size], steps, rng, neurobench) for i in batches]
    return [_merge(net, [b[k] for b in per_batch], len(x), plan.fanouts) for k in range(len(steps))]


def _merge(net: SpikingNetwork, parts: list[dict], n_samples: int, fanouts: dict) -> SimulationResult:
    graph = net.graph
    t = parts[0]["t"]
    cat = lambda key: {k: np.concatenate([p[key][k] for p in parts]) for k in parts[0][key]}  # noqa: E731
    rates = {}
    for p in graph.populations():
        n_neurons = int(np.prod(graph.shapes[p]))
        rates[p] = sum(part["counts_total"][p] for part in parts) / (n_samples * n_neurons * t)
    errors = {}
    for p in graph.populations():
        num = sum(part["error_terms"][p][0] for part in parts)
        den = sum(part["error_terms"][p][1] for part in parts)
        errors[p] = float(np.sqrt(num / den)) if den > 0 else 0.0
    analog_macs = {}
    if net.encoding == "analog":
        analog_macs = {layer: dense_macs(graph, layer) for layer, src in fanouts.items()
                       if any(s in graph.inputs for s in src)}
    return SimulationResult(t, np.concatenate([p["predictions"] for p in parts]),
                            np.concatenate([p["readout"] for p in parts]), cat("spikes"), cat("events"),
                            rates, errors, analog_macs, cat("nonzero_synops"), cat("membrane_updates"))


def _simulate_fixed(snn: SpikingNetwork, x: np.ndarray, steps: list[int], batch_size: int = 512) -> list:
    """``simulate(mode="fixed")``: lower the converted chain to connection matrices (Dense, Conv2d,
    average pooling, Flatten between ReLU populations: ``conversion.fixed_point.lowering``), quantise it
    for max(steps) and run it bit-exactly as Lava would (:mod:`conversion.fixed_point`); one
    SimulationResult per T.

    Graphs without a Loihi form (max pooling, Add, two-point units) raise ModelError naming the layer.
    The fixed-point path is deterministic (no seed)."""
    from conversion.fixed_point.lowering import float_network, lower
    from conversion.fixed_point.network import readout_to_real
    from conversion.fixed_point.quantiser import quantize_network
    from conversion.fixed_point.simulate import simulate_fixed_steps

    graph = snn.graph
    x = ops.check_input(graph, x).reshape(len(x), -1)
    fixed = quantize_network(float_network(snn), max(steps), input_max=float(snn.input_scale),
                             input_min=min(0.0, float(x.min(initial=0.0))))
    results = simulate_fixed_steps(fixed, x, steps, batch_size=batch_size)
    names = [layer.name for layer in fixed.layers]
    chain = [(graph.nodes[segment.name], segment.population) for segment in lower(snn)]
    fanouts = fanout_maps(graph)
    n_pops = len(chain) - 1
    ordered = list(zip(sorted(set(steps)), results))
    terms = np.zeros((len(ordered), n_pops, 2))  # activation error: sum (ann - estimate)^2, sum ann^2
    for start in range(0, len(x), batch_size):  # the ANN pass in batches: memory bounded by batch_size
        ann = ops.forward(graph, x[start:start + batch_size])
        for k, (t, res) in enumerate(ordered):
            for i, counts in enumerate(res.spike_counts[:n_pops]):
                pop = names[i]
                estimate = ((counts[start:start + batch_size] / t).reshape(ann[pop].shape)
                            * np.broadcast_to(snn.output_scale[pop], graph.shapes[pop]))
                terms[k, i] += (np.sum((ann[pop] - estimate) ** 2), np.sum(ann[pop] ** 2))
    out = []
    for k, (t, res) in enumerate(ordered):
        spikes = {names[i]: c.sum(axis=1).astype(np.float64) for i, c in enumerate(res.spike_counts)}
        events, rates, errors = {}, {}, {}
        for i, ((dense, _), counts) in enumerate(zip(chain[1:], res.spike_counts)):
            events[dense.name] = counts @ np.asarray(fanouts[dense.name][names[i]], float).ravel()
        for i, counts in enumerate(res.spike_counts[:n_pops]):
            pop = names[i]
            rates[pop] = float(counts.sum() / counts.size / t)
            num, denom = terms[k, i]
            errors[pop] = float(np.sqrt(num / denom)) if denom > 0 else 0.0
        out.append(SimulationResult(t, res.predictions, readout_to_real(fixed, res.output), spikes, events,
                                    rates, errors, {chain[0][0].name: dense_macs(graph, chain[0][0].name)}))
    return out
