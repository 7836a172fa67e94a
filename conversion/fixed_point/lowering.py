r"""A converted network -> the real-valued chain of population layers that the quantiser and Lava run.

Between two ReLU populations (or from the input to the first one, or from the last one to the
output) a chain may hold one weighted layer (Dense or Conv2d) plus any of AvgPool2d and Flatten
(BatchNorm is folded by the importers). All of them are linear (affine), so each such segment is one
connection matrix :math:`M` (neurons out x neurons in, C-order flattening) and one bias, found with the
graph's own numpy nodes (:func:`conversion.ops.apply_linear`): the unit basis of the segment's input
pushed through them without biases, and a zero input with biases:

.. math::

    M_{:,j} = f_{\mathrm{lin}}(e_j), \qquad b = f(0).

A convolution becomes its (sparse, zero-padded) Toeplitz matrix and average pooling of spikes folds
into the next layer's weights (a pooled spike of population q reaches layer l with weight
:math:`W_l / (k_h k_w)`); the result is exact in real arithmetic, and the fixed-point engine and Lava's
``Dense`` then run the same integer matrix, so they agree bit for bit (docs/loihi.md). Max pooling is
not linear and has no form here.

The chain is then rescaled so every threshold is 1 and every spike is worth 1 (unit form):
:math:`W' = W\,\mathrm{scale}_{prev} / v_{th}`, :math:`b' = b / v_{th}`, per neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion import ops
from conversion.fixed_point.float_reference import FloatLayer, FloatNetwork
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError

LINEAR_NODES = (Dense, Conv2d, AvgPool2d, Flatten)
WEIGHTED_NODES = (Dense, Conv2d)
# Largest connection matrix one segment may lower to (entries, float64 while it is built: 128 MiB).
# The project's own bound, far above the digits CNN (512 x 64 and 64 x 512) and below the memory of a
# small machine; a larger convolution needs a native convolution connection (not provided).
MAX_LOWERED_ENTRIES = 2 ** 24


@dataclass(frozen=True, eq=False)
class Segment:
    """One population layer of the lowered chain: `nodes` (the linear nodes, in order) map the
    previous population (or the input) to `population` (a ReLU node, or None for the output).
    weight (n_out, n_in) and bias (n_out,) in the units of the converted network (before the unit
    rescaling); `name` is the weighted node's; `kinds` the nodes' class names."""

    name: str
    nodes: tuple[str, ...]
    population: str | None
    weight: np.ndarray
    bias: np.ndarray
    kinds: tuple[str, ...] = ()

    @property
    def convolutional(self) -> bool:
        """True when the matrix comes from a convolution or pooling (structural zeros, shared weights)."""
        return any(kind in ("Conv2d", "AvgPool2d") for kind in self.kinds)


def _segment_matrix(snn: SpikingNetwork, nodes: list[str], source: str) -> tuple[np.ndarray, np.ndarray]:
    graph = snn.graph
    in_shape = graph.shapes[source] if source in graph.shapes else graph.inputs[source]
    n_in = int(np.prod(in_shape))
    widest = max(int(np.prod(graph.shapes[n])) for n in nodes)
    if n_in * max(widest, n_in) > MAX_LOWERED_ENTRIES:
        raise ModelError(f"layer '{nodes[-1]}': as a connection matrix this segment needs "
                         f"{n_in * max(widest, n_in)} entries ({n_in} inputs x {widest} outputs), above the "
                         f"limit {MAX_LOWERED_ENTRIES} of the Loihi path (Conv2d and pooling are lowered to "
                         f"Dense matrices, docs/loihi.md)")
    basis = {source: np.eye(n_in).reshape((n_in,) + tuple(in_shape))}
    zero = {source: np.zeros((1,) + tuple(in_shape))}
    for name in nodes:
        basis[name] = ops.apply_linear(graph, name, basis, with_bias=False)
        zero[name] = ops.apply_linear(graph, name, zero, with_bias=True)
    return basis[nodes[-1]].reshape(n_in, -1).T, zero[nodes[-1]].reshape(-1)


def lower(snn: SpikingNetwork) -> list[Segment]:
    """The segments of a converted chain, input to output. Raises ModelError naming the layer for a
    graph that is not a chain of such segments (max pooling, Add, two-point units, two weighted layers
    without a ReLU between them, a ReLU straight after another one)."""
    graph = snn.graph
    if not graph.is_chain():
        raise ModelError("the Loihi path needs a single chain of layers (no Add, no two-point units)")
    segments: list[Segment] = []
    pending: list[str] = []
    source = next(iter(graph.inputs))

    def close(population: str | None) -> None:
        nonlocal source
        weighted = [n for n in pending if isinstance(graph.nodes[n], WEIGHTED_NODES)]
        last = population or (pending[-1] if pending else source)
        if not weighted:
            raise ModelError(f"layer '{last}': a population of the Loihi path needs a Dense or Conv2d layer "
                             f"before it")
        if len(weighted) > 1:
            raise ModelError(f"layer '{weighted[0]}': a hidden Dense/Conv2d layer needs a ReLU (spiking "
                             f"population) before '{weighted[1]}'")
        weight, bias = _segment_matrix(snn, pending, source)
        segments.append(Segment(name=weighted[0], nodes=tuple(pending), population=population, weight=weight,
                                bias=bias, kinds=tuple(type(graph.nodes[n]).__name__ for n in pending)))
        pending.clear()
        source = population or source

    for name, node in graph.layers_in_order():
        if isinstance(node, ReLU):
            close(name)
        elif isinstance(node, MaxPool2d):
            raise ModelError(f"layer '{name}' (MaxPool2d): max pooling has no linear form on Loihi; use "
                             f"average pooling (docs/loihi.md)")
        elif isinstance(node, LINEAR_NODES):
            pending.append(name)
        else:
            raise ModelError(f"layer '{name}' ({type(node).__name__}) is not supported on Loihi: a chain of "
                             f"Dense/Conv2d (+ AvgPool2d, Flatten) + ReLU layers")
    if pending:
        close(None)
    return segments


def unit_weights(snn: SpikingNetwork, segments: list[Segment]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per segment (weight, bias) rescaled so every threshold is 1 and every spike is worth 1; the output
    layer keeps v_th = 1, so its accumulated membrane ranks the classes as the float one's."""
    graph = snn.graph
    out = []
    scale_prev = np.asarray(snn.input_scale if snn.encoding == "poisson" else 1.0)
    in_shape = next(iter(graph.inputs.values()))
    for seg in segments:
        pop = seg.population
        v_th = np.asarray(snn.v_th[pop]) if pop else np.asarray(1.0)
        col = np.broadcast_to(scale_prev, in_shape).reshape(-1)
        row = np.broadcast_to(v_th, graph.shapes[pop]).reshape(-1) if pop else \
            np.broadcast_to(v_th, (seg.weight.shape[0],))
        out.append((seg.weight * col[None, :] / row[:, None], seg.bias / row))
        scale_prev = np.asarray(snn.output_scale[pop]) if pop else np.asarray(1.0)
        in_shape = graph.shapes[pop] if pop else (seg.weight.shape[0],)
    return out


def float_network(snn: SpikingNetwork, segments: list[Segment] | None = None) -> FloatNetwork:
    """A converted chain (`conversion.ir.SpikingNetwork`, analog encoding) in the unit form the quantiser
    and Lava use: every hidden threshold 1, every spike worth 1; the output layer is a membrane
    accumulator (readout "membrane") or spikes at `output_v_th` (readout "counts"). `segments`: the
    chain's :func:`lower` when the caller has it already."""
    if snn.encoding != "analog":
        raise ModelError(f"the Lava/Loihi path supports analog input encoding only, got {snn.encoding!r}")
    segments = lower(snn) if segments is None else segments
    layers = []
    for k, (seg, (w, b)) in enumerate(zip(segments, unit_weights(snn, segments))):
        last = k == len(segments) - 1
        spiking = not last or snn.readout == "counts"
        v_th = 1.0 if (seg.population is not None or not last) else float(snn.output_v_th)
        layers.append(FloatLayer(name=seg.population or seg.name, weight=w, bias=b, v_th=v_th,
                                 dv=float(snn.leak), spiking=spiking))
    v_init = tuple(snn.init_membrane_fraction * layer.v_th if layer.spiking else 0.0 for layer in layers)
    return FloatNetwork(layers=tuple(layers), reset=snn.reset, readout=snn.readout, v_init=v_init)
