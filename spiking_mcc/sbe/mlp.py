"""A plain multilayer perceptron (ReLU hidden layers, softmax cross-entropy) as crossbar matrices.

Each dense layer is one crossbar matrix W (a x b) with b = fan_in + 1: the last column is the
bias, driven by a constant input of 1 (the crossbar's bias row). Forward and backward passes
are vectorised over a batch; `backward` returns per-sample layer inputs x_j and errors
delta_j, from which every training method builds its update (the batch gradient is
(1/n) sum_j delta_j x_j^T).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spiking_mcc.io import save_npz
from spiking_mcc.nn_math import softmax_cross_entropy

SEQUENTIAL_FORMAT = "spiking-mcc/sequential-v1"


def init_weights(sizes: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """He-normal weights, zero bias column; sizes = (inputs, hidden..., classes)."""
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = np.zeros((fan_out, fan_in + 1))
        w[:, :fan_in] = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        weights.append(w)
    return weights


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def forward(weights: list[np.ndarray], x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Layer inputs (each with its bias 1 appended) and the output logits, for x (n, inputs)."""
    inputs = []
    activity = np.asarray(x, dtype=float)
    for index, w in enumerate(weights):
        layer_input = _with_bias(activity)
        inputs.append(layer_input)
        activity = layer_input @ w.T
        if index < len(weights) - 1:
            activity = np.maximum(activity, 0.0)
    return inputs, activity


def backward(
    weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Loss, per-layer inputs x_j (n, b) and per-layer errors delta_j = dloss_j/dz (n, a).

    The batch-mean gradient of layer l is errors[l].T @ inputs[l] / n.
    """
    inputs, logits = forward(weights, x)
    loss, delta = softmax_cross_entropy(logits, labels)
    errors = [delta]
    for index in range(len(weights) - 1, 0, -1):
        upstream = delta @ weights[index][:, :-1]
        delta = upstream * (inputs[index][:, :-1] > 0.0)  # ReLU derivative of the layer below
        errors.append(delta)
    errors.reverse()
    return loss, inputs, errors


def predict(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Predicted class per sample."""
    return forward(weights, x)[1].argmax(axis=1)


def accuracy(weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples classified correctly."""
    return float((predict(weights, x) == labels).mean())


def save_sequential(path: str | os.PathLike, weights: list[np.ndarray]) -> Path:
    """Write the MLP as a `spiking-mcc/sequential-v1` .npz (dense, relu, ..., dense) for conversion."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(SEQUENTIAL_FORMAT),
        "input_shape": np.array([weights[0].shape[1] - 1], dtype=np.int64),
    }
    index = 0
    for layer, w in enumerate(weights):
        arrays[f"layer{index}_kind"] = np.array("dense")
        arrays[f"layer{index}_weight"] = w[:, :-1].astype(np.float32)
        arrays[f"layer{index}_bias"] = w[:, -1].astype(np.float32)
        index += 1
        if layer < len(weights) - 1:
            arrays[f"layer{index}_kind"] = np.array("relu")
            index += 1
    arrays["n_layers"] = np.array(index, dtype=np.int64)
    return save_npz(path, **arrays)
