"""Network IR: small validated layer dataclasses, a graph of them, and the converted spiking network.

Shapes are per sample (no batch axis): dense tensors are ``(features,)``, images
``(channels, height, width)``.
Every node validates its own arrays at construction (shapes, finiteness) and raises
:class:`spiking_mcc.errors.ModelError` naming the node; :class:`Graph` checks that the shapes of connected
nodes agree and names both nodes when they do not. The IR knows nothing of engines.

A ``Graph`` is named nodes plus directed edges plus named inputs (with shapes) and outputs. A spiking
"population" is a :class:`ReLU` node: in the converted network it becomes a layer of integrate-and-fire
neurons whose input current is the output of the linear nodes before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spiking_mcc.errors import ModelError

Shape = tuple[int, ...]

RESET_MODES = ("subtract", "zero")
ENCODINGS = ("analog", "poisson")
READOUTS = ("membrane", "counts")


def _as_float_array(value, name: str, node: str, ndim: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ModelError(f"layer '{node}': {name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ModelError(f"layer '{node}': {name} contains {bad} NaN/Inf value(s); weights must be finite")
    return arr


def _pair(value, name: str, node: str, minimum: int) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).ravel()
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2 or np.any(arr < minimum):
        raise ModelError(f"layer '{node}': {name} must be one or two integers >= {minimum}, got {value!r}")
    return int(arr[0]), int(arr[1])


def _window_out(size: int, kernel: int, stride: int, pad: int, node: str, axis: str) -> int:
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        raise ModelError(f"layer '{node}': kernel {kernel} with padding {pad} does not fit input {axis} "
                         f"{size}")
    return out


def _expect_image(shape: Shape, node: str, source: str) -> Shape:
    if len(shape) != 3:
        raise ModelError(f"layer '{node}' expects a (channels, height, width) input but layer '{source}' "
                         f"gives shape {shape}")
    return shape


@dataclass(eq=False)
class Dense:
    r"""Affine layer: :math:`y = W x + b`. weight (out, in), bias (out,)."""

    weight: np.ndarray
    bias: np.ndarray
    name: str = "dense"

    def __post_init__(self):
        self.weight = _as_float_array(self.weight, "weight", self.name, ndim=2)
        self.bias = _as_float_array(self.bias, "bias", self.name, ndim=1)
        if self.bias.shape[0] != self.weight.shape[0]:
            raise ModelError(f"layer '{self.name}': bias has {self.bias.shape[0]} entries but weight has "
                             f"{self.weight.shape[0]} outputs")

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        n_in = int(np.prod(input_shape))
        if len(input_shape) != 1 or n_in != self.weight.shape[1]:
            raise ModelError(f"shape mismatch: layer '{source}' gives {input_shape} but layer '{self.name}' "
                             f"expects ({self.weight.shape[1]},)")
        return (self.weight.shape[0],)


@dataclass(eq=False)
class Conv2d:
    r"""2-D convolution (cross-correlation): :math:`y_{o,i,j} = b_o + \sum_{c,k,l} W_{o,c,k,l}\,
    x_{c,\,s_h i + k - p_h,\,s_w j + l - p_w}`, zero padding. weight (out_c, in_c, kh, kw), bias (out_c,)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    name: str = "conv"

    def __post_init__(self):
        self.weight = _as_float_array(self.weight, "weight", self.name, ndim=4)
        self.bias = _as_float_array(self.bias, "bias", self.name, ndim=1)
        if self.bias.shape[0] != self.weight.shape[0]:
            raise ModelError(f"layer '{self.name}': bias has {self.bias.shape[0]} entries but weight has "
                             f"{self.weight.shape[0]} output channels")
        self.stride = _pair(self.stride, "stride", self.name, 1)
        self.padding = _pair(self.padding, "padding", self.name, 0)

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[2]), int(self.weight.shape[3])

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        c, h, w = _expect_image(input_shape, self.name, source)
        if c != self.weight.shape[1]:
            raise ModelError(f"shape mismatch: layer '{source}' gives {c} channels but layer '{self.name}' "
                             f"expects {self.weight.shape[1]}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return (self.weight.shape[0], _window_out(h, kh, sh, ph, self.name, "height"),
                _window_out(w, kw, sw, pw, self.name, "width"))


@dataclass(eq=False)
class _Pool2d:
    kernel: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] = (0, 0)
    name: str = "pool"

    def __post_init__(self):
        self.kernel = _pair(self.kernel, "kernel", self.name, 1)
        self.stride = _pair(self.kernel if self.stride is None else self.stride, "stride", self.name, 1)
        self.padding = _pair(self.padding, "padding", self.name, 0)

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        c, h, w = _expect_image(input_shape, self.name, source)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return (c, _window_out(h, kh, sh, ph, self.name, "height"),
                _window_out(w, kw, sw, pw, self.name, "width"))


@dataclass(eq=False)
class AvgPool2d(_Pool2d):
    r"""Average pooling per channel: :math:`y_{c,i,j} = \frac{1}{k_h k_w}\sum_{k,l} x_{c, s_h i+k, s_w j+l}`
    (zero padding counted in the average)."""

    name: str = "avgpool"


@dataclass(eq=False)
class MaxPool2d(_Pool2d):
    r"""Max pooling per channel: :math:`y_{c,i,j} = \max_{k,l} x_{c, s_h i+k, s_w j+l}`. In a spiking
    network it becomes a spike-gated max (pass the spikes of the most active input) or an average."""

    name: str = "maxpool"


@dataclass(eq=False)
class Flatten:
    """Reshape (C, H, W) -> (C*H*W,) in C order."""

    name: str = "flatten"

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        return (int(np.prod(input_shape)),)


@dataclass(eq=False)
class BatchNorm:
    r"""Batch normalisation (inference): :math:`y = \gamma (x - \mu)/\sqrt{\sigma^2 + \epsilon} + \beta`
    per channel (axis 0). Importers fold it into the preceding Dense/Conv2d with :func:`fold_batchnorm`;
    a graph passed to an engine contains none."""

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5
    name: str = "batchnorm"

    def __post_init__(self):
        arrays = [_as_float_array(getattr(self, k), k, self.name, ndim=1)
                  for k in ("gamma", "beta", "mean", "var")]
        self.gamma, self.beta, self.mean, self.var = arrays
        if len({a.shape for a in arrays}) != 1:
            raise ModelError(f"layer '{self.name}': gamma, beta, mean, var must have equal lengths, got "
                             f"{[a.shape[0] for a in arrays]}")
        if np.any(self.var + self.eps <= 0):
            raise ModelError(f"layer '{self.name}': var + eps must be > 0")

    @property
    def scale(self) -> np.ndarray:
        return self.gamma / np.sqrt(self.var + self.eps)

    @property
    def shift(self) -> np.ndarray:
        return self.beta - self.mean * self.scale

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        if input_shape[0] != self.gamma.shape[0]:
            raise ModelError(f"shape mismatch: layer '{source}' gives {input_shape[0]} channels but layer "
                             f"'{self.name}' has {self.gamma.shape[0]}")
        return tuple(input_shape)


def fold_batchnorm(layer: Dense | Conv2d, bn: BatchNorm) -> Dense | Conv2d:
    """Return a copy of `layer` with `bn` folded in: W' = s W (per output), b' = s b + (beta - s mean)."""
    if layer.weight.shape[0] != bn.gamma.shape[0]:
        raise ModelError(f"cannot fold batch norm '{bn.name}' ({bn.gamma.shape[0]} channels) into layer "
                         f"'{layer.name}' ({layer.weight.shape[0]} outputs)")
    scale = bn.scale
    weight = layer.weight * scale.reshape((-1,) + (1,) * (layer.weight.ndim - 1))
    bias = layer.bias * scale + bn.shift
    if isinstance(layer, Conv2d):
        return Conv2d(weight, bias, layer.stride, layer.padding, name=layer.name)
    return Dense(weight, bias, name=layer.name)


@dataclass(eq=False)
class ReLU:
    r"""Rectifier, optionally clipped: :math:`y = \min(\max(x, 0), \mathrm{max})`. In the converted network
    each ReLU node is a population of integrate-and-fire neurons."""

    max: float | None = None
    name: str = "relu"

    def __post_init__(self):
        if self.max is not None:
            self.max = float(self.max)
            if not np.isfinite(self.max) or self.max <= 0:
                raise ModelError(f"layer '{self.name}': clip max must be finite and > 0, got {self.max}")

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        return tuple(input_shape)


@dataclass(eq=False)
class Add:
    """Residual sum of two or more inputs of equal shape: :math:`y = \\sum_k x_k`."""

    name: str = "add"

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        return tuple(input_shape)


@dataclass(eq=False)
class TwoPoint:
    r"""Two-point (two-compartment) unit layer. Receptive field :math:`R = W_R x + b_R` from the one
    feed-forward source; context :math:`C = \sum_s W_s c_s + b_C` from the named context sources;
    output :math:`y = f_{law}(R, C)` (the rate transfer law named by `law`, e.g. Kay & Phillips or
    Adeel's cooperation law). rf_weight (out, in), rf_bias (out,), context_weights[source] (out, in_source),
    context_bias (out,) or None."""

    rf_weight: np.ndarray
    rf_bias: np.ndarray
    context_weights: dict[str, np.ndarray] = field(default_factory=dict)
    law: str = "cooperation"
    context_bias: np.ndarray | None = None
    name: str = "twopoint"

    def __post_init__(self):
        self.rf_weight = _as_float_array(self.rf_weight, "rf_weight", self.name, ndim=2)
        self.rf_bias = _as_float_array(self.rf_bias, "rf_bias", self.name, ndim=1)
        n_out = self.rf_weight.shape[0]
        if self.rf_bias.shape[0] != n_out:
            raise ModelError(f"layer '{self.name}': rf_bias has {self.rf_bias.shape[0]} entries, "
                             f"expected {n_out}")
        weights = {}
        for source, w in self.context_weights.items():
            weights[str(source)] = _as_float_array(w, f"context weight from '{source}'", self.name, ndim=2)
            if weights[source].shape[0] != n_out:
                raise ModelError(f"layer '{self.name}': context weight from '{source}' has "
                                 f"{weights[source].shape[0]} outputs, expected {n_out}")
        self.context_weights = weights
        if self.context_bias is not None:
            self.context_bias = _as_float_array(self.context_bias, "context_bias", self.name, ndim=1)
            if self.context_bias.shape[0] != n_out:
                raise ModelError(f"layer '{self.name}': context_bias has {self.context_bias.shape[0]} "
                                 f"entries, expected {n_out}")
        if not isinstance(self.law, str) or not self.law:
            raise ModelError(f"layer '{self.name}': law must be a non-empty string, got {self.law!r}")

    def output_shape(self, input_shape: Shape, source: str = "input") -> Shape:
        if len(input_shape) != 1 or input_shape[0] != self.rf_weight.shape[1]:
            raise ModelError(f"shape mismatch: layer '{source}' gives {input_shape} but layer '{self.name}' "
                             f"expects receptive-field input ({self.rf_weight.shape[1]},)")
        return (self.rf_weight.shape[0],)

    def check_context(self, source: str, shape: Shape) -> None:
        expected = self.context_weights[source].shape[1]
        if len(shape) != 1 or shape[0] != expected:
            raise ModelError(f"shape mismatch: layer '{source}' gives {shape} but layer '{self.name}' "
                             f"expects context input ({expected},)")


Node = Dense | Conv2d | AvgPool2d | MaxPool2d | Flatten | BatchNorm | ReLU | Add | TwoPoint
WEIGHTED = (Dense, Conv2d, TwoPoint)


class Graph:
    """Named nodes + directed edges (source, target) + named inputs with per-sample shapes + outputs.

    Sources of edges may be node names or input names. Construction validates: unknown names, cycles,
    dangling nodes, operand counts (Add needs >= 2 inputs, TwoPoint one receptive-field source plus its
    named context sources, others exactly one) and shape agreement between connected nodes.
    """

    def __init__(self, nodes: dict[str, Node], edges: list[tuple[str, str]], inputs: dict[str, Shape],
                 outputs: list[str]):
        self.nodes = dict(nodes)
        self.edges = [(str(a), str(b)) for a, b in edges]
        self.inputs = {str(k): tuple(int(d) for d in v) for k, v in inputs.items()}
        self.outputs = [str(o) for o in outputs]
        self.notes: list[str] = []  # importer remarks, e.g. post-processing that was cut off
        for name, node in self.nodes.items():
            node.name = name
        self._validate_names()
        self.order = self._topological_order()
        self.shapes = self._infer_shapes()

    # -- construction helpers -------------------------------------------------------------------
    @classmethod
    def sequential(cls, input_shape: Shape, layers: list[Node], input_name: str = "input") -> Graph:
        """A chain: input -> layers[0] -> ... -> layers[-1] (the output). Duplicate names get a suffix."""
        if not layers:
            raise ModelError("a network needs at least one layer")
        nodes: dict[str, Node] = {}
        edges = []
        previous = input_name
        for layer in layers:
            name = layer.name
            k = 1
            while name in nodes or name == input_name:
                name = f"{layer.name}_{k}"
                k += 1
            nodes[name] = layer
            edges.append((previous, name))
            previous = name
        return cls(nodes, edges, {input_name: tuple(input_shape)}, [previous])

    def _validate_names(self) -> None:
        known = set(self.nodes) | set(self.inputs)
        clash = set(self.nodes) & set(self.inputs)
        if clash:
            raise ModelError(f"names used both as input and node: {sorted(clash)}")
        for a, b in self.edges:
            if a not in known:
                raise ModelError(f"edge ({a!r} -> {b!r}): unknown source '{a}'")
            if b not in self.nodes:
                raise ModelError(f"edge ({a!r} -> {b!r}): unknown target node '{b}'")
        if not self.inputs:
            raise ModelError("graph has no inputs")
        if not self.outputs:
            raise ModelError("graph has no outputs")
        for out in self.outputs:
            if out not in self.nodes:
                raise ModelError(f"output '{out}' is not a node")
        for name, node in self.nodes.items():
            preds = self.predecessors(name)
            if isinstance(node, Add):
                if len(preds) < 2:
                    raise ModelError(f"layer '{name}' (Add) needs at least 2 inputs, got {preds}")
            elif isinstance(node, TwoPoint):
                missing = [s for s in node.context_weights if s not in preds]
                rf = [p for p in preds if p not in node.context_weights]
                if missing:
                    raise ModelError(f"layer '{name}': context source(s) {missing} have no edge into it")
                if len(rf) != 1:
                    raise ModelError(f"layer '{name}' needs exactly one receptive-field source, got {rf}")
            elif len(preds) != 1:
                raise ModelError(f"layer '{name}' needs exactly one input, got {preds}")

    def _topological_order(self) -> list[str]:
        indegree = {n: len(self.predecessors(n)) for n in self.nodes}
        ready = [s for s in self.inputs]
        order: list[str] = []
        while ready:
            current = ready.pop(0)
            if current in self.nodes:
                order.append(current)
            for target in self.successors(current):
                indegree[target] -= 1
                if indegree[target] == 0:
                    ready.append(target)
        if len(order) != len(self.nodes):
            stuck = sorted(set(self.nodes) - set(order))
            raise ModelError(f"graph has a cycle or nodes unreachable from the inputs: {stuck}")
        return order

    def _infer_shapes(self) -> dict[str, Shape]:
        shapes: dict[str, Shape] = dict(self.inputs)
        for name in self.order:
            node = self.nodes[name]
            preds = self.predecessors(name)
            if isinstance(node, Add):
                first = shapes[preds[0]]
                for p in preds[1:]:
                    if shapes[p] != first:
                        raise ModelError(f"shape mismatch at '{name}': layer '{preds[0]}' gives {first} but "
                                         f"layer '{p}' gives {shapes[p]}")
                shapes[name] = first
            elif isinstance(node, TwoPoint):
                rf = self.rf_source(name)
                for source in node.context_weights:
                    node.check_context(source, shapes[source])
                shapes[name] = node.output_shape(shapes[rf], rf)
            else:
                shapes[name] = node.output_shape(shapes[preds[0]], preds[0])
        return shapes

    # -- queries ----------------------------------------------------------------------------------
    def predecessors(self, name: str) -> list[str]:
        return [a for a, b in self.edges if b == name]

    def successors(self, name: str) -> list[str]:
        return [b for a, b in self.edges if a == name]

    def rf_source(self, name: str) -> str:
        """The receptive-field (feed-forward) source of a TwoPoint node (or the single input of others)."""
        node = self.nodes[name]
        extra = node.context_weights if isinstance(node, TwoPoint) else {}
        return [p for p in self.predecessors(name) if p not in extra][0]

    def input_shape(self, name: str) -> Shape:
        """Shape of the (receptive-field) input of node `name`."""
        return self.shapes[self.rf_source(name)]

    @property
    def output_shape(self) -> Shape:
        return self.shapes[self.outputs[0]]

    def is_chain(self) -> bool:
        """True if the graph is one input -> a single path of single-input nodes -> one output."""
        return (len(self.inputs) == 1 and len(self.outputs) == 1
                and all(len(self.successors(n)) <= 1 for n in list(self.inputs) + self.order)
                and not any(isinstance(n, (Add, TwoPoint)) for n in self.nodes.values()))

    def layers_in_order(self) -> list[tuple[str, Node]]:
        """(name, node) pairs in topological order; for a chain that is input-to-output order."""
        return [(name, self.nodes[name]) for name in self.order]

    def __iter__(self) -> Iterator[tuple[str, Node]]:
        return iter(self.layers_in_order())

    def populations(self) -> list[str]:
        """Names of the ReLU nodes (spiking neuron populations), in order."""
        return [n for n in self.order if isinstance(self.nodes[n], ReLU)]

    def weighted_layers(self) -> list[str]:
        """Names of Dense/Conv2d/TwoPoint nodes, in order."""
        return [n for n in self.order if isinstance(self.nodes[n], WEIGHTED)]

    def describe(self) -> str:
        lines = [f"input {k}: {v}" for k, v in self.inputs.items()]
        lines += [f"{n}: {type(self.nodes[n]).__name__} -> {self.shapes[n]}" for n in self.order]
        return "\n".join(lines)


@dataclass(eq=False)
class SpikingNetwork:
    r"""A converted network: the graph plus the neuron parameters of each population (ReLU node).

    Population p integrates its input current :math:`I_t` (the graph's linear nodes applied to the spikes
    of the populations before it, each spike carrying the value `output_scale[q]` of its population q):
    :math:`V_t = (1 - \mathrm{leak})\,V_{t-1} + I_t`; it spikes when :math:`V_t \ge v_{th}[p]` and then
    resets by subtraction (:math:`V_t \mathrel{-}= v_{th}`) or to zero. :math:`V_0 =`
    `init_membrane_fraction` :math:`\cdot\, v_{th}`. The output node accumulates its current (readout
    "membrane") or spikes with threshold `output_v_th` (readout "counts").

    v_th / output_scale: per population, a scalar or an array broadcastable to the population shape
    (channel-wise: (C, 1, 1) for images, (n,) for dense).
    encoding: "analog" (input current = x every step) or "poisson" (input spikes with probability
    x / input_scale per step, each worth input_scale).
    """

    graph: Graph
    v_th: dict[str, np.ndarray]
    output_scale: dict[str, np.ndarray]
    reset: str = "subtract"
    leak: float = 0.0
    init_membrane_fraction: float = 0.0
    encoding: str = "analog"
    readout: str = "membrane"
    input_scale: float = 1.0
    output_v_th: float = 1.0
    threshold_method: str = "max"
    layer_leak: dict[str, float] = field(default_factory=dict)  # per population / output: overrides leak

    def __post_init__(self):
        pops = self.graph.populations()
        for key, table in (("v_th", self.v_th), ("output_scale", self.output_scale)):
            missing = [p for p in pops if p not in table]
            if missing:
                raise ModelError(f"{key} missing for population(s) {missing}")
            for p in pops:
                arr = np.asarray(table[p], dtype=np.float64)
                shape = self.graph.shapes[p]
                try:
                    np.broadcast_to(arr, shape)
                except ValueError:
                    raise ModelError(f"layer '{p}': {key} of shape {arr.shape} does not broadcast to the "
                                     f"population shape {shape}") from None
                if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                    raise ModelError(f"layer '{p}': {key} must be finite and > 0, got min {arr.min():.3g}")
                table[p] = arr
        if self.reset not in RESET_MODES:
            raise ModelError(f"reset must be one of {RESET_MODES}, got {self.reset!r}")
        if self.encoding not in ENCODINGS:
            raise ModelError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.readout not in READOUTS:
            raise ModelError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        if not 0.0 <= self.leak < 1.0:
            raise ModelError(f"leak must be in [0, 1), got {self.leak}")
        for name, value in self.layer_leak.items():
            if name not in pops and name not in self.graph.outputs:
                raise ModelError(f"layer_leak names '{name}', which is neither a population nor the output")
            if not 0.0 <= value < 1.0:
                raise ModelError(f"layer '{name}': leak must be in [0, 1), got {value}")
        if not 0.0 <= self.init_membrane_fraction < 1.0:
            raise ModelError(f"init_membrane_fraction must be in [0, 1), got {self.init_membrane_fraction}")
        for key in ("input_scale", "output_v_th"):
            value = getattr(self, key)
            if not np.isfinite(value) or value <= 0:
                raise ModelError(f"{key} must be finite and > 0, got {value}")

    def dense_chain(self) -> list[tuple[Dense, str | None]]:
        """For a Dense(+ReLU) chain: [(dense, population name or None for the output layer), ...].

        Raises ModelError if the graph is not such a chain (what Loihi-style quantisers support)."""
        if not self.graph.is_chain():
            raise ModelError("not a single chain of layers")
        chain: list[tuple[Dense, str | None]] = []
        for name, node in self.graph.layers_in_order():
            if isinstance(node, Dense):
                chain.append((node, None))
            elif isinstance(node, ReLU) and chain and chain[-1][1] is None:
                chain[-1] = (chain[-1][0], name)
            elif not isinstance(node, Flatten):
                raise ModelError(f"layer '{name}' ({type(node).__name__}) is not part of a Dense+ReLU chain")
        return chain

    def unit_threshold_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Dense+ReLU chain rescaled so every threshold is 1 and every spike is worth 1.

        Returns [(weight, bias), ...] per Dense layer: W' = W * scale_prev / v_th, b' = b / v_th (the
        output layer keeps v_th = 1, so its accumulated membrane ranks the classes as the float one's)."""
        out = []
        scale_prev = np.asarray(self.input_scale if self.encoding == "poisson" else 1.0)
        for dense, pop in self.dense_chain():
            v_th = np.asarray(self.v_th[pop]) if pop else np.asarray(1.0)
            col = np.broadcast_to(scale_prev, (dense.weight.shape[1],))
            row = np.broadcast_to(v_th, (dense.weight.shape[0],))
            out.append((dense.weight * col[None, :] / row[:, None], dense.bias / row))
            scale_prev = np.asarray(self.output_scale[pop]) if pop else np.asarray(1.0)
        return out
