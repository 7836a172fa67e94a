"""NeuroBench's metrics of a converted network, under NeuroBench's names and definitions (docs/energy.md,
"NeuroBench metrics"), computed from the IR graph, the input samples and the engine's per-layer results.

NeuroBench (2.3.0, ``neurobench.metrics``) hooks every Linear/Conv layer at every forward call (one time
step) and every neuron layer; per sample:

- ``Effective_ACs`` / ``Effective_MACs``: at every step, the (input, weight) pairs of a layer with both
  non-zero (zero inputs, conv padding, zero weights and the bias cost nothing); an AC when the layer's
  input is binary (spikes), a MAC otherwise (the analog first layer at *every* step; a layer behind
  average pooling of spikes, whose input is fractional).
- ``Dense``: every synapse at every step: all (input, weight) pairs, zeros included, T times; conv windows
  count only the taps that land on the real input (no padding).
- ``ActivationSparsity``: the fraction of zero outputs of the neuron layers over all steps and samples.
- ``MembraneUpdates``: per neuron layer, every neuron at the first step plus, at each later step, the
  neurons whose membrane changed.
- ``ConnectionSparsity``: the fraction of zero weights of the Linear/Conv layers (biases not counted).
- ``Footprint``: bytes of the parameters, here weights and biases at 4 bytes (float32, as a PyTorch
  rebuild stores them); snnTorch's per-layer neuron buffers (beta, threshold) are not counted.

Neuron layers: every spiking population, and the output layer only when it spikes (readout "counts"),
as NeuroBench counts only activation modules; a membrane readout is an integrator, not a neuron layer.
Binary input is decided from the structure (NeuroBench decides from the values of each call: all in
{0, 1, -1}): spikes reaching a layer directly, through Flatten or through gated max pooling are binary;
through average pooling, a sum, or from the analog input they are not, unless the input samples
themselves are all 0 / +-1 (as NeuroBench would see them).
"""

from __future__ import annotations

import numpy as np

from conversion import engine
from conversion.engine import SimulationResult
from conversion.fixed_point.lowering import Segment, lower
from conversion.ir import Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError

FLOAT_BYTES = 4
METRICS = ("Effective_ACs", "Effective_MACs", "Dense", "ActivationSparsity", "MembraneUpdates",
           "ConnectionSparsity", "Footprint")


def binary_input(graph: Graph, layer: str, x: np.ndarray, encoding: str) -> bool:
    """Whether the values arriving at weighted `layer` are spikes (0/1 per neuron): NeuroBench's AC test."""
    current = graph.predecessors(layer)
    while len(current) == 1:
        source = current[0]
        if source in graph.inputs:
            values = np.asarray(x)
            return encoding == "poisson" or bool(np.all(np.isin(values, (-1.0, 0.0, 1.0))))
        node = graph.nodes[source]
        if isinstance(node, ReLU):
            return True
        if not isinstance(node, (Flatten, MaxPool2d)):
            return False  # average pooling, batch norm, a linear output: fractional values
        current = graph.predecessors(source)
    return False  # an Add of several sources: counts up to the number of operands


def _valid_taps(size: int, kernel: int, stride: int, pad: int, out: int) -> int:
    """(output position, tap) pairs along one axis that land on the real input (not the padding)."""
    positions = np.arange(out)[:, None] * stride + np.arange(kernel)[None, :] - pad
    return int(np.count_nonzero((positions >= 0) & (positions < size)))


def dense_synapses(graph: Graph, layer: str) -> int:
    """Every (input, weight) pair of one forward call of `layer`, zeros included, no conv padding."""
    node = graph.nodes[layer]
    if isinstance(node, Dense):
        return int(node.weight.size)
    if not isinstance(node, Conv2d):
        raise ModelError(f"layer '{layer}': NeuroBench's synaptic operations are defined here for Dense and "
                         f"Conv2d layers, got {type(node).__name__}")
    out_c, in_c, kh, kw = node.weight.shape
    _, h, w = graph.input_shape(layer)
    _, oh, ow = graph.shapes[layer]
    (sh, sw), (ph, pw) = node.stride, node.padding
    return out_c * in_c * _valid_taps(h, kh, sh, ph, oh) * _valid_taps(w, kw, sw, pw, ow)


def neuron_layers(net: SpikingNetwork) -> list[str]:
    """The layers NeuroBench hooks as neuron layers: the populations, plus the output when it spikes."""
    return net.graph.populations() + ([net.graph.outputs[0]] if net.readout == "counts" else [])


def metrics(net: SpikingNetwork, x: np.ndarray, result: SimulationResult) -> dict:
    """NeuroBench's metrics per sample for one T of `result` (float-engine output on inputs `x`)."""
    missing = [m for m in net.graph.weighted_layers() if m not in result.nonzero_synops]
    if missing:
        raise ModelError(f"layer '{missing[0]}': the simulation result has no per-step synaptic operations "
                         "(run engine.simulate with neurobench=True, float mode)")
    return from_counts(net, x, result.timesteps,
                       {m: float(np.mean(v)) for m, v in result.nonzero_synops.items()},
                       {p: float(np.mean(v)) for p, v in result.spikes.items()},
                       {p: float(np.mean(v)) for p, v in result.membrane_updates.items()})


def from_lava_counts(net: SpikingNetwork, x: np.ndarray, timesteps: int,
                     neuron_counts: list[np.ndarray], segments: list[Segment] | None = None) -> dict:
    """NeuroBench's metrics of an analog-input network on the Loihi path from Lava's spike counts per
    neuron (summed over the samples x, one array per population of the lowered chain,
    ``conversion.fixed_point.lowering``; `segments`: that lowering when the caller has it). Lava returns no
    membranes: MembraneUpdates None."""
    graph = net.graph
    segments = lower(net) if segments is None else segments
    fanouts = engine.fanout_maps(graph)
    x = np.asarray(x).reshape(len(x), -1)
    first, input_name = segments[0].name, next(iter(graph.inputs))
    operations = {first: timesteps * float(np.mean((x != 0) @ np.ravel(fanouts[first][input_name])))}
    spikes = {}
    for k, segment in enumerate(segments):
        if segment.population is not None:
            spikes[segment.population] = float(np.sum(neuron_counts[k])) / len(x)
        if k > 0:
            synapses = np.ravel(fanouts[segment.name][segments[k - 1].population])
            operations[segment.name] = float(np.ravel(neuron_counts[k - 1]) @ synapses) / len(x)
    return from_counts(net, x, timesteps, operations, spikes, None)


def from_counts(net: SpikingNetwork, x: np.ndarray, timesteps: int, operations: dict[str, float],
                spikes: dict[str, float], membrane_updates: dict[str, float] | None) -> dict:
    """NeuroBench's metrics per sample from per-layer counts per sample: `operations` (non-zero input x
    non-zero weight pairs over all steps, per weighted layer), `spikes` and `membrane_updates` (per neuron
    layer; None or a missing layer: that metric is None)."""
    graph = net.graph
    layers = graph.weighted_layers()
    t = timesteps
    ac = mac = 0.0
    by_layer = {}
    for layer in layers:
        ops = operations[layer]
        spiking = binary_input(graph, layer, x, net.encoding)
        by_layer[layer] = {"operations": ops, "kind": "AC" if spiking else "MAC",
                           "dense": t * dense_synapses(graph, layer)}
        if spiking:
            ac += ops
        else:
            mac += ops
    hooked = neuron_layers(net)
    sparsity = None
    if all(p in spikes for p in hooked):
        outputs = sum(int(np.prod(graph.shapes[p])) for p in hooked) * t
        sparsity = 1.0 - sum(spikes[p] for p in hooked) / outputs if outputs else 0.0
    updates = None
    if membrane_updates is not None and all(p in membrane_updates for p in hooked):
        updates = sum(membrane_updates[p] for p in hooked)
    weights = [graph.nodes[layer].weight for layer in layers]
    biases = [graph.nodes[layer].bias for layer in layers]
    n_weights = sum(w.size for w in weights)
    return {
        "timesteps": t,
        "Effective_ACs": ac,
        "Effective_MACs": mac,
        "Dense": float(sum(v["dense"] for v in by_layer.values())),
        "ActivationSparsity": sparsity,
        "MembraneUpdates": updates,
        "ConnectionSparsity": float(sum(w.size - np.count_nonzero(w) for w in weights) / n_weights),
        "Footprint": FLOAT_BYTES * int(n_weights + sum(b.size for b in biases)),
        "neuron_layers": hooked,
        "layers": by_layer,
    }


def report(net: SpikingNetwork, x: np.ndarray, results: list[SimulationResult]) -> list[dict]:
    """:func:`metrics` for every T (the ``neurobench`` list of convert.json); a network the metrics are not
    defined for here (two-point layers) gives one entry per T with the reason instead of numbers."""
    x = np.asarray(x)
    try:
        return [metrics(net, x, r) for r in results]
    except ModelError as err:
        return [{"timesteps": r.timesteps, "error": str(err)} for r in results]
