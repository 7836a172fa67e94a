"""Small reference ANNs trained in numpy (seeded) on the digits data, for conversion tests and demos.

- ``digits-mlp``: 64 -> Dense 128 -> ReLU -> Dense 10 (about 97-98% test accuracy).
- ``digits-cnn``: (1, 8, 8) -> Conv 3x3 8 ch (pad 1) -> ReLU -> AvgPool 2 -> Flatten -> Dense 64 -> ReLU
  -> Dense 10.

Training: softmax cross-entropy, Adam, mini-batches, He initialisation, a small L2 penalty. Models are
saved in the ``spiking-mcc/sequential-v1`` format (:mod:`conversion.importers.npz`) and can be written
to ONNX with :func:`conversion.importers.onnx_writer.write_onnx_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion import ops
from conversion.importers.npz import write_npz_model
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, ReLU
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import ParameterError
from spiking_mcc.nn_math import softmax_cross_entropy
from spiking_mcc.optim import Adam


@dataclass(frozen=True)
class TrainingConfig:
    """Optimiser settings (Adam: Kingma & Ba 2015 defaults for the moment decays)."""

    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 2e-3
    l2: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


def mlp(seed: int = 0, sizes: tuple[int, ...] = (64, 128, 10)) -> Graph:
    """He-initialised Dense/ReLU chain with the given layer sizes."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weight = rng.normal(0, np.sqrt(2.0 / n_in), (n_out, n_in))
        layers.append(Dense(weight, np.zeros(n_out), name=f"fc{i + 1}"))
        if i < len(sizes) - 2:
            layers.append(ReLU(name=f"relu{i + 1}"))
    return Graph.sequential((sizes[0],), layers)


def small_cnn(seed: int = 0, channels: int = 8, hidden: int = 64,
              input_shape: tuple[int, int, int] = (1, 8, 8), n_classes: int = 10) -> Graph:
    """(C, H, W) -> conv 3x3 (pad 1) -> ReLU -> avgpool 2 -> flatten -> dense -> ReLU -> dense n_classes."""
    rng = np.random.default_rng(seed)
    c_in, h, w = input_shape
    n_flat = channels * (h // 2) * (w // 2)
    layers = [
        Conv2d(rng.normal(0, np.sqrt(2.0 / (9 * c_in)), (channels, c_in, 3, 3)), np.zeros(channels), 1, 1,
               name="conv1"),
        ReLU(name="relu1"),
        AvgPool2d(2, name="pool1"),
        Flatten(name="flatten"),
        Dense(rng.normal(0, np.sqrt(2.0 / n_flat), (hidden, n_flat)), np.zeros(hidden), name="fc1"),
        ReLU(name="relu2"),
        Dense(rng.normal(0, np.sqrt(2.0 / hidden), (n_classes, hidden)), np.zeros(n_classes), name="fc2"),
    ]
    return Graph.sequential(tuple(input_shape), layers)


def _col2im(grad_windows: np.ndarray, x_shape: tuple, kernel, stride, padding) -> np.ndarray:
    """Adjoint of ops.windows: scatter-add window gradients (N, C, OH, OW, kh, kw) back to (N, C, H, W)."""
    n, c, h, w = x_shape
    (ph, pw) = padding
    index = np.arange(c * (h + 2 * ph) * (w + 2 * pw)).reshape(1, c, h + 2 * ph, w + 2 * pw)
    win_index = ops.windows(index, kernel, stride, (0, 0))[0]  # (C, OH, OW, kh, kw)
    grad = np.zeros((n, c * (h + 2 * ph) * (w + 2 * pw)))
    for i in range(n):
        np.add.at(grad[i], win_index.ravel(), grad_windows[i].ravel())
    grad = grad.reshape(n, c, h + 2 * ph, w + 2 * pw)
    return grad[:, :, ph:ph + h, pw:pw + w]


def backward_node(graph: Graph, name: str, x: np.ndarray, grad: np.ndarray
                  ) -> tuple[np.ndarray | None, tuple | None]:
    """Backward of one non-ReLU node of a chain: (d loss / d input or None at the graph input, parameter
    gradients (weight, bias) or None), given its input x and d loss / d output."""
    node = graph.nodes[name]
    first = graph.predecessors(name)[0] in graph.inputs
    if isinstance(node, Dense):
        return grad @ node.weight, (grad.T @ x, grad.sum(axis=0))
    if isinstance(node, Conv2d):
        win = ops.windows(x, node.kernel, node.stride, node.padding)
        params = (np.tensordot(grad, win, axes=([0, 2, 3], [0, 2, 3])), grad.sum(axis=(0, 2, 3)))
        if first:
            return None, params
        grad_win = np.tensordot(grad, node.weight, axes=([1], [0])).transpose(0, 3, 1, 2, 4, 5)
        return _col2im(grad_win, x.shape, node.kernel, node.stride, node.padding), params
    if isinstance(node, Flatten):
        return grad.reshape(x.shape), None
    if isinstance(node, AvgPool2d):
        kh, kw = node.kernel
        grad_win = np.broadcast_to((grad / (kh * kw))[..., None, None], grad.shape + (kh, kw))
        return _col2im(np.ascontiguousarray(grad_win), x.shape, node.kernel, node.stride, node.padding), None
    raise ParameterError(f"layer '{name}': the reference trainer does not support {type(node).__name__}")


def _backward(graph: Graph, values: dict, grad_out: np.ndarray,
              clip_grads: dict | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Gradients of (weight, bias) per weighted node for a chain graph, given d loss / d output. With
    clip_grads, also d loss / d max of every clipped ReLU (exact: clip(x, 0, mu) has slope 1 in mu
    where x >= mu), stored there by name."""
    grads = {}
    grad = grad_out
    for name in reversed(graph.order):
        node = graph.nodes[name]
        x = values[graph.predecessors(name)[0]]
        if isinstance(node, ReLU):
            if clip_grads is not None and node.max is not None:
                clip_grads[name] = np.sum(grad * (x >= node.max))
            grad = grad * (x > 0) * (x < node.max if node.max is not None else 1)
            continue
        grad, params = backward_node(graph, name, x, grad)
        if params is not None:
            grads[name] = params
    return grads


def loss_and_gradients(graph: Graph, x: np.ndarray, y: np.ndarray, l2: float = 0.0,
                       clip_decay: float | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy (+ l2/2 |W|^2, + clip_decay/2 mu^2 per clipped ReLU when clip_decay is
    given, PACT's regulariser) of a chain graph on (x, y) and its gradients: "{layer}.weight",
    "{layer}.bias" and, with clip_decay, "{relu}.max"."""
    values = ops.forward(graph, x)
    logits = values[graph.outputs[0]]
    loss, prob = softmax_cross_entropy(logits, y)
    clip_grads = {} if clip_decay is not None else None
    grads = {}
    for name, (gw, gb) in _backward(graph, values, prob / len(y), clip_grads).items():
        weight = graph.nodes[name].weight
        loss += 0.5 * l2 * float(np.sum(weight * weight))
        grads[f"{name}.weight"] = gw + l2 * weight
        grads[f"{name}.bias"] = gb
    for name, g in (clip_grads or {}).items():
        mu = graph.nodes[name].max
        loss += 0.5 * clip_decay * mu * mu
        grads[f"{name}.max"] = np.atleast_1d(g + clip_decay * mu)
    return loss, grads


def train(graph: Graph, x: np.ndarray, y: np.ndarray, seed: int = 0,
          config: TrainingConfig = TrainingConfig(), clip_decay: float | None = None) -> Graph:
    """Train a chain graph in place with softmax cross-entropy and Adam; returns the graph. With
    clip_decay, the ceiling of every clipped ReLU is trained too (PACT-style, kept > 0)."""
    rng = np.random.default_rng(seed)
    x = ops.check_input(graph, x, "training data")
    layers = {n: graph.nodes[n] for n in graph.weighted_layers()}
    params = {f"{n}.{part}": getattr(layer, part)
              for n, layer in layers.items() for part in ("weight", "bias")}
    clipped = [n for n in graph.order if isinstance(graph.nodes[n], ReLU) and graph.nodes[n].max is not None]
    if clip_decay is not None:
        params.update({f"{n}.max": np.array([graph.nodes[n].max]) for n in clipped})
    optimiser = Adam(params, config.learning_rate, config.beta1, config.beta2, config.eps)
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            _, grads = loss_and_gradients(graph, x[idx], y[idx], config.l2, clip_decay)
            optimiser.step(params, grads)
            if clip_decay is not None:
                for n in clipped:
                    params[f"{n}.max"] = np.maximum(params[f"{n}.max"], 1e-3)
                    graph.nodes[n].max = float(params[f"{n}.max"][0])
    return graph


REFERENCE_MODELS = {
    "digits-mlp": (mlp, TrainingConfig(epochs=40)),
    "digits-cnn": (small_cnn, TrainingConfig(epochs=20)),
}


def train_reference(kind: str = "digits-mlp", seed: int = 0) -> tuple[Graph, float]:
    """Train a reference model on the digits split of `seed`; returns (graph, test accuracy)."""
    if kind not in REFERENCE_MODELS:
        raise ParameterError(f"reference model must be one of {sorted(REFERENCE_MODELS)}, got {kind!r}")
    build, config = REFERENCE_MODELS[kind]
    split = load_digits_split(seed=seed)
    graph = train(build(seed), split.x_train, split.y_train, seed=seed, config=config)
    accuracy = float(np.mean(ops.predict(graph, split.x_test) == split.y_test))
    return graph, accuracy


def save_reference(path: str | os.PathLike, kind: str = "digits-mlp", seed: int = 0) -> tuple[Path, float]:
    """Train and save a reference model as sequential-v1 .npz; returns (path, test accuracy)."""
    graph, accuracy = train_reference(kind, seed)
    written = write_npz_model(path, graph, trained_on=f"digits seed={seed}", test_accuracy=accuracy,
                              classes=np.arange(10))
    return written, accuracy
