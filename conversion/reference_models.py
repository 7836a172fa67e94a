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


def small_cnn(seed: int = 0, channels: int = 8, hidden: int = 64) -> Graph:
    """(1, 8, 8) -> conv 3x3 -> ReLU -> avgpool 2 -> flatten -> dense -> ReLU -> dense 10."""
    rng = np.random.default_rng(seed)
    n_flat = channels * 4 * 4
    layers = [
        Conv2d(rng.normal(0, np.sqrt(2.0 / 9), (channels, 1, 3, 3)), np.zeros(channels), 1, 1, name="conv1"),
        ReLU(name="relu1"),
        AvgPool2d(2, name="pool1"),
        Flatten(name="flatten"),
        Dense(rng.normal(0, np.sqrt(2.0 / n_flat), (hidden, n_flat)), np.zeros(hidden), name="fc1"),
        ReLU(name="relu2"),
        Dense(rng.normal(0, np.sqrt(2.0 / hidden), (10, hidden)), np.zeros(10), name="fc2"),
    ]
    return Graph.sequential((1, 8, 8), layers)


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


def _backward(graph: Graph, values: dict, grad_out: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Gradients of (weight, bias) per weighted node for a chain graph, given d loss / d output."""
    grads = {}
    grad = grad_out
    for name in reversed(graph.order):
        node = graph.nodes[name]
        x = values[graph.predecessors(name)[0]]
        if isinstance(node, Dense):
            grads[name] = (grad.T @ x, grad.sum(axis=0))
            grad = grad @ node.weight
        elif isinstance(node, Conv2d):
            win = ops.windows(x, node.kernel, node.stride, node.padding)
            grads[name] = (np.tensordot(grad, win, axes=([0, 2, 3], [0, 2, 3])), grad.sum(axis=(0, 2, 3)))
            if graph.predecessors(name)[0] not in graph.inputs:
                grad_win = np.tensordot(grad, node.weight, axes=([1], [0])).transpose(0, 3, 1, 2, 4, 5)
                grad = _col2im(grad_win, x.shape, node.kernel, node.stride, node.padding)
        elif isinstance(node, ReLU):
            grad = grad * (x > 0) * (x < node.max if node.max is not None else 1)
        elif isinstance(node, Flatten):
            grad = grad.reshape(x.shape)
        elif isinstance(node, AvgPool2d):
            kh, kw = node.kernel
            grad_win = np.broadcast_to((grad / (kh * kw))[..., None, None], grad.shape + (kh, kw))
            grad = _col2im(np.ascontiguousarray(grad_win), x.shape, node.kernel, node.stride, node.padding)
        else:
            raise ParameterError(f"layer '{name}': the reference trainer does not support "
                                 f"{type(node).__name__}")
    return grads


def train(graph: Graph, x: np.ndarray, y: np.ndarray, seed: int = 0,
          config: TrainingConfig = TrainingConfig()) -> Graph:
    """Train a chain graph in place with softmax cross-entropy and Adam; returns the graph."""
    rng = np.random.default_rng(seed)
    x = ops.check_input(graph, x, "training data")
    layers = {n: graph.nodes[n] for n in graph.weighted_layers()}
    params = {f"{n}.{part}": getattr(layer, part)
              for n, layer in layers.items() for part in ("weight", "bias")}
    optimiser = Adam(params, config.learning_rate, config.beta1, config.beta2, config.eps)
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            values = ops.forward(graph, x[idx])
            logits = values[graph.outputs[0]]
            prob = np.exp(logits - logits.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
            prob[np.arange(len(idx)), y[idx]] -= 1.0
            grads = {}
            for name, (gw, gb) in _backward(graph, values, prob / len(idx)).items():
                grads[f"{name}.weight"] = gw + config.l2 * layers[name].weight
                grads[f"{name}.bias"] = gb
            optimiser.step(params, grads)
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
