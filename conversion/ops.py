"""Batched numpy implementations of the IR's linear and pooling nodes, and the ANN forward pass.

Arrays carry a leading batch axis: (N, features) or (N, C, H, W). Convolution and pooling use a strided
window view of the zero-padded input (im2col without copies) and one tensordot.
"""

from __future__ import annotations

import numpy as np

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
    TwoPoint,
)
from spiking_mcc.errors import ModelError
from spiking_mcc.twopoint.transfer import LAWS, transfer

LAW_ALIASES = {"cooperation": "coop"}  # the IR's default law name -> spiking_mcc.twopoint.transfer name


def windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
            pad_value: float = 0.0) -> np.ndarray:
    """Sliding windows of x (N, C, H, W) -> view (N, C, OH, OW, kh, kw)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return view[:, :, ::sh, ::sw]


def conv2d(x: np.ndarray, layer: Conv2d, with_bias: bool = True) -> np.ndarray:
    """(N, C, H, W) -> (N, O, OH, OW)."""
    win = windows(x, layer.kernel, layer.stride, layer.padding)
    out = np.tensordot(win, layer.weight, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O)
    out = out.transpose(0, 3, 1, 2)
    if with_bias:
        out = out + layer.bias[None, :, None, None]
    return np.ascontiguousarray(out)


def dense(x: np.ndarray, layer: Dense, with_bias: bool = True) -> np.ndarray:
    out = x @ layer.weight.T
    return out + layer.bias if with_bias else out


def avgpool2d(x: np.ndarray, layer: AvgPool2d) -> np.ndarray:
    """Average pooling as kh x kw strided slices of the (zero-padded) input added up: every window at
    once per kernel tap, about 10x faster than a mean over the window view (issue 19)."""
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    total = None
    for i in range(kh):
        for j in range(kw):
            tap = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            total = tap.copy() if total is None else np.add(total, tap, out=total)
    return total / (kh * kw)


def maxpool2d(x: np.ndarray, layer: MaxPool2d) -> np.ndarray:
    return windows(x, layer.kernel, layer.stride, layer.padding, pad_value=-np.inf).max(axis=(-2, -1))


def gated_maxpool2d(value: np.ndarray, gate: np.ndarray, layer: MaxPool2d) -> np.ndarray:
    """Spike-gated max: per window pass `value` of the input whose `gate` (accumulated input) is largest."""
    n, c = value.shape[:2]
    win_value = windows(value, layer.kernel, layer.stride, layer.padding)
    win_gate = windows(gate, layer.kernel, layer.stride, layer.padding, pad_value=-np.inf)
    oh, ow = win_value.shape[2:4]
    flat_value = win_value.reshape(n, c, oh, ow, -1)
    winner = win_gate.reshape(n, c, oh, ow, -1).argmax(axis=-1)[..., None]
    return np.take_along_axis(flat_value, winner, axis=-1)[..., 0]


def two_point(node: TwoPoint, rf_input: np.ndarray, context_inputs: dict[str, np.ndarray]) -> np.ndarray:
    law = LAW_ALIASES.get(node.law, node.law)
    if law not in LAWS:
        raise ModelError(f"layer '{node.name}': unknown two-point law '{node.law}'; known: {list(LAWS)}")
    receptive = rf_input @ node.rf_weight.T + node.rf_bias
    context = sum(context_inputs[s] @ w.T for s, w in node.context_weights.items())
    if node.context_bias is not None:
        context = context + node.context_bias
    return transfer(law, receptive, np.broadcast_to(context, receptive.shape))


def relu(x: np.ndarray, node: ReLU) -> np.ndarray:
    return np.clip(x, 0.0, node.max) if node.max is not None else np.maximum(x, 0.0)


def apply_linear(graph: Graph, name: str, values: dict[str, np.ndarray],
                 with_bias: bool = True) -> np.ndarray:
    """Output of a non-ReLU node given the batched outputs of its predecessors."""
    node = graph.nodes[name]
    preds = graph.predecessors(name)
    if isinstance(node, Add):
        return sum(values[p] for p in preds)
    x = values[graph.rf_source(name)]
    if isinstance(node, Dense):
        return dense(x, node, with_bias)
    if isinstance(node, Conv2d):
        return conv2d(x, node, with_bias)
    if isinstance(node, AvgPool2d):
        return avgpool2d(x, node)
    if isinstance(node, MaxPool2d):
        return maxpool2d(x, node)
    if isinstance(node, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(node, BatchNorm):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * node.scale.reshape(shape) + node.shift.reshape(shape)
    if isinstance(node, TwoPoint):
        return two_point(node, x, {s: values[s] for s in node.context_weights})
    raise ModelError(f"layer '{name}': no numpy implementation for {type(node).__name__}")


def check_input(graph: Graph, x: np.ndarray, source: str = "data") -> np.ndarray:
    """Reshape (N, features) data to the graph's input shape; clear error if the feature size differs."""
    x = np.asarray(x, dtype=np.float64)
    shape = next(iter(graph.inputs.values()))
    n_features = int(np.prod(shape))
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != n_features:
        got = x.shape[1:] if x.ndim >= 2 else x.shape
        raise ModelError(f"{source}: samples have {int(np.prod(got))} features (shape {got}) but the model "
                         f"input '{next(iter(graph.inputs))}' expects {n_features} {shape}")
    if not np.all(np.isfinite(x)):
        raise ModelError(f"{source}: data contains NaN/Inf values")
    return x.reshape((x.shape[0],) + shape)


def check_finite(name: str, values: np.ndarray, source: str, first_sample: int = 0) -> None:
    """An activation that overflowed to inf or NaN raises ModelError naming the layer, the data and the
    first such sample (instead of a silent wrong accuracy or threshold)."""
    bad = ~np.isfinite(values)
    if bad.any():
        first = first_sample + int(np.argwhere(bad)[0][0])
        raise ModelError(f"layer '{name}': {int(bad.sum())} non-finite activation(s) (overflow to inf/NaN) "
                         f"on {source}, first in sample {first}; check the weights' scale")


def forward_values(graph: Graph, inputs: dict[str, np.ndarray], quantiser=None) -> tuple[dict, dict]:
    """ANN forward pass of a (multi-input) graph from batched inputs {input name: (N, *shape)}:
    (outputs of every node, pre-activations of every ReLU population). quantiser(name, pre) -> output
    replaces a population's ReLU (the sequential threshold fit uses it)."""
    values: dict[str, np.ndarray] = dict(inputs)
    pre: dict[str, np.ndarray] = {}
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, ReLU):
            pre[name] = values[graph.predecessors(name)[0]]
            values[name] = relu(pre[name], node) if quantiser is None else quantiser(name, pre[name])
        else:
            values[name] = apply_linear(graph, name, values)
    return values, pre


def forward(graph: Graph, x: np.ndarray, pre_activations: bool = False) -> dict[str, np.ndarray]:
    """ANN forward pass of a batch: node name -> output (N, *shape). With pre_activations, each ReLU
    population's entry is its input (the pre-activation) instead of its output."""
    values, pre = forward_values(graph, {next(iter(graph.inputs)): check_input(graph, x)})
    if pre_activations:
        values.update(pre)
    return values


def predict(graph: Graph, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class predictions (argmax of the first output) in batches."""
    out = graph.outputs[0]
    preds = [forward(graph, x[i:i + batch_size])[out].reshape(len(x[i:i + batch_size]), -1).argmax(axis=1)
             for i in range(0, len(x), batch_size)]
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)
