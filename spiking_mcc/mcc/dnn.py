"""The conventional audio-visual DNN baseline of `compare` (docs/mcc.md): early fusion, ReLU MLP, Adam.

The two modalities' standardised inputs are concatenated and fed to a plain multilayer perceptron
(spiking_mcc.sbe.mlp: forward, backward, softmax cross-entropy) with as many hidden units as the
two-stream point control (2 x hidden per layer); it is tuned over DNN_LEARNING_RATES on a validation
split of the training set (the last DNN_VALIDATION_FRACTION of its rows) and then trained on all of it.
Accounting as for the two-stream networks (spiking_mcc.mcc.activity): a hidden unit with output > 0
is active and sends one feed-forward event per synapse to the next layer (or the classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spiking_mcc.mcc.network import STD_FLOOR_FRACTION
from spiking_mcc.optim import Adam
from spiking_mcc.sbe import mlp

DNN_LEARNING_RATES = (3e-4, 1e-3, 3e-3)
DNN_VALIDATION_FRACTION = 0.1


@dataclass
class DNNResult:
    """A trained early-fusion MLP: weights, input standardisation, per-epoch history, chosen lr."""

    weights: list[np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    learning_rate: float
    history: list[dict]
    validation: dict[str, float]

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"]


def _fused(audio: np.ndarray, visual: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(audio, dtype=np.float64), np.asarray(visual, dtype=np.float64)], axis=1)


def dnn_counts(weights: list[np.ndarray], x: np.ndarray) -> dict[str, float]:
    """Active neurons and feed-forward events per sample of the MLP on standardised inputs x."""
    inputs, _ = mlp.forward(weights, x)
    active = ff = 0.0
    for layer in range(1, len(weights)):
        on = inputs[layer][:, :-1] > 0.0  # the ReLU outputs that layer `layer` receives
        active += float(on.sum())
        ff += float(on.sum()) * weights[layer].shape[0]
    n = max(len(x), 1)
    return {
        "active_neurons_per_sample": active / n,
        "feedforward_events_per_sample": ff / n,
        "all_events_per_sample": ff / n,
    }


def _train(
    x_tr, y_tr, x_te, y_te, sizes, epochs, lr, batch_size, seed
) -> tuple[list[np.ndarray], list[dict]]:
    rng = np.random.default_rng(seed)
    weights = mlp.init_weights(sizes, rng)
    params = {str(i): w for i, w in enumerate(weights)}
    optimiser = Adam(params, lr)
    steps = int(np.ceil(len(y_tr) / batch_size))
    history = []
    for epoch in range(epochs):
        order = rng.permutation(len(y_tr))
        for step in range(steps):
            idx = order[step * batch_size : (step + 1) * batch_size]
            _, inputs, errors = mlp.backward(weights, x_tr[idx], y_tr[idx])
            optimiser.step(
                params, {str(i): e.T @ x / len(idx) for i, (x, e) in enumerate(zip(inputs, errors))}
            )
        history.append(
            {
                "epoch": epoch + 1,
                "test_accuracy": mlp.accuracy(weights, x_te, y_te),
                **dnn_counts(weights, x_te),
            }
        )
    return weights, history


def train_dnn(
    data,
    hidden: tuple[int, ...],
    epochs: int,
    seed: int,
    batch_size: int = 32,
    learning_rate: float | None = None,
) -> DNNResult:
    """Tune (unless `learning_rate` is given) and train the early-fusion MLP, hidden sizes 2 x `hidden`."""
    x_all = _fused(data.audio_train, data.visual_train)
    std = x_all.std(axis=0)
    mean, std = x_all.mean(axis=0), np.maximum(std, STD_FLOOR_FRACTION * max(float(std.mean()), 1e-12))
    x_tr = (x_all - mean) / std
    x_te = (_fused(data.audio_test, data.visual_test) - mean) / std
    y_tr, y_te = np.asarray(data.y_train), np.asarray(data.y_test)
    sizes = (x_tr.shape[1], *(2 * n for n in hidden), 10)
    validation = {}
    if learning_rate is None:
        cut = int(round(len(y_tr) * (1.0 - DNN_VALIDATION_FRACTION)))
        for lr in DNN_LEARNING_RATES:
            _, hist = _train(
                x_tr[:cut], y_tr[:cut], x_tr[cut:], y_tr[cut:], sizes, epochs, lr, batch_size, seed
            )
            validation[f"{lr:g}"] = hist[-1]["test_accuracy"]
        learning_rate = max(DNN_LEARNING_RATES, key=lambda lr: validation[f"{lr:g}"])
    weights, history = _train(x_tr, y_tr, x_te, y_te, sizes, epochs, learning_rate, batch_size, seed)
    return DNNResult(weights, mean, std, float(learning_rate), history, validation)
