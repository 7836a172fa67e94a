"""Training by explicit backpropagation (network.loss_and_grads), Adam, mini-batches, seeded.

Setups:
- `supervised`: every training label is used.
- `semi`: a stratified `labelled_fraction` (10%) of the training labels is kept; after
  `warmup_fraction` of the epochs, every epoch pseudo-labels the unlabelled samples whose predicted
  class probability is >= `pseudo_threshold` (Lee 2013, "Pseudo-label") and trains on them with
  weight `pseudo_weight`. An epoch is always ceil(n_train / batch_size) Adam steps, so both setups
  and both models get the same step budget per epoch.

Damage (resilience): at the start of epoch `damage.epoch` a random `damage.fraction` of the hidden
units of every layer and stream is silenced for the rest of training (output and context set to 0).
The silencing masks live in `TrainResult.masks` (pass them to `predict`/`accuracy`); they are not
part of the model file, which `save_network` writes for the intact network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import check_seed
from spiking_mcc.mcc.activity import count_transmissions, event_sums
from spiking_mcc.mcc.network import (
    Network,
    backward,
    check_inputs,
    fit_standardisation,
    forward,
    full_masks,
    init_network,
    predict,
)
from spiking_mcc.optim import Adam
from spiking_mcc.twopoint.transfer import UNIT_LAW

SETUPS = ("supervised", "semi")
N_CLASSES = 10  # spoken/handwritten digits 0-9


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters (defaults used by `train` and `compare`)."""

    hidden: tuple[int, ...] = (64, 32)
    batch_size: int = 32
    learning_rate: float = 1e-3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    activity_l1: float = 0.0  # weight of the mean-hidden-activity penalty
    labelled_fraction: float = 0.1  # semi-supervised only
    pseudo_threshold: float = 0.9
    pseudo_weight: float = 1.0
    warmup_fraction: float = 0.3
    context_source: str = "broadcast"  # MCC only: `broadcast` or `sent` (spiking_mcc.mcc.network)
    context_k: int = 0  # MCC only: 0 dense context wiring, k sparse local (k neighbours)


@dataclass(frozen=True)
class Damage:
    """Silence `fraction` of the hidden units of every layer/stream at the start of epoch `epoch`."""

    fraction: float
    epoch: int


@dataclass
class TrainResult:
    """A trained network and how it got there. history: one dict per epoch (loss, accuracies, ...)."""

    network: Network
    model: str
    setup: str
    law: str
    seed: int
    epochs: int
    test_accuracy: float
    history: list[dict[str, float]]
    masks: dict[str, np.ndarray]
    config: TrainConfig
    damage: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.network.params


def accuracy(net: Network, audio: np.ndarray, visual: np.ndarray, labels: np.ndarray,
             masks: dict[str, np.ndarray] | None = None, theta: float = 0.0) -> float:
    """Fraction of samples whose most probable class is the label."""
    if len(labels) == 0:
        return float("nan")
    return float(np.mean(predict(net, audio, visual, masks, theta).argmax(axis=1) == labels))


def damage_masks(net: Network, fraction: float, rng: np.random.Generator,
                 masks: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Copy of `masks` with round(fraction * n) more units silenced in every hidden layer and stream."""
    if not 0.0 <= fraction <= 1.0:
        raise ParameterError(f"damage fraction: must be in [0, 1], got {fraction}")
    out = {k: v.copy() for k, v in (masks or full_masks(net)).items()}
    for mask in out.values():
        alive = np.flatnonzero(mask)
        n_kill = min(int(round(fraction * len(mask))), len(alive))
        mask[rng.choice(alive, size=n_kill, replace=False)] = 0.0
    return out


def labelled_subset(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of a stratified random `fraction` of the samples (at least one per class present)."""
    if not 0.0 < fraction <= 1.0:
        raise ParameterError(f"labelled_fraction: must be in (0, 1], got {fraction}")
    chosen = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(idx, size=max(1, int(round(fraction * len(idx)))), replace=False))
    return np.sort(np.concatenate(chosen))


def train_model(model: str, setup: str, data, epochs: int, seed: int, law: str = UNIT_LAW,
                config: TrainConfig | None = None, damage: Damage | None = None,
                progress: bool = False) -> TrainResult:
    """Train an MCC (`model="mcc"`, two-point units with `law`) or point network on AV data.

    data: any object with audio_train (n, n_audio), visual_train (n, n_visual), y_train (n,), and the
    same *_test arrays (e.g. spiking_mcc.data.avdigits.AVDigits). Returns a TrainResult whose history
    has, per epoch, loss, train_accuracy (on the labelled pool), test_accuracy, n_pseudo, the accounting
    per test sample at theta = 0 after the epoch (active_neurons_per_sample, feedforward_events_per_sample,
    all_events_per_sample; transmissions_per_sample = all events) and the same three counted during the
    epoch's training forward passes (train_*_per_sample, per training sample presented; train_samples).
    """
    check_seed(seed)
    config = config or TrainConfig()
    if setup not in SETUPS:
        raise ParameterError(f"setup: expected one of {list(SETUPS)}, got {setup!r}")
    if int(epochs) < 1:
        raise ParameterError(f"epochs: must be >= 1, got {epochs}")
    if damage is not None and not 0 <= damage.epoch < epochs:
        raise ParameterError(f"damage epoch: must be in [0, {epochs}), got {damage.epoch}")
    a_tr, v_tr, y_tr = (np.asarray(data.audio_train), np.asarray(data.visual_train), np.asarray(data.y_train))
    a_te, v_te, y_te = (np.asarray(data.audio_test), np.asarray(data.visual_test), np.asarray(data.y_test))
    for name, x in (("audio_train", a_tr), ("visual_train", v_tr)):
        if x.ndim != 2 or x.shape[1] < 1:
            raise DataError(f"training data {name}: expected shape (n, features), got {x.shape}")
    net = init_network(model, a_tr.shape[1], v_tr.shape[1], config.hidden, N_CLASSES, law, seed,
                       config.context_source, config.context_k)
    check_inputs(net, a_tr, v_tr, y_tr, where="training")
    check_inputs(net, a_te, v_te, y_te, where="test")
    fit_standardisation(net, a_tr, v_tr)

    rng = np.random.default_rng(seed + 1)
    n_train = len(y_tr)
    labelled = (np.arange(n_train) if setup == "supervised"
                else labelled_subset(y_tr, config.labelled_fraction, rng))
    unlabelled = np.setdiff1d(np.arange(n_train), labelled)
    steps_per_epoch = int(np.ceil(n_train / config.batch_size))
    warmup_epochs = int(np.ceil(config.warmup_fraction * epochs))
    optimiser = Adam(net.params, config.learning_rate, config.adam_beta1, config.adam_beta2, config.adam_eps)
    masks = full_masks(net)
    damage_info: dict[str, Any] = {}
    history: list[dict[str, float]] = []

    epoch_iter = range(epochs)
    if progress:
        from tqdm import tqdm
        epoch_iter = tqdm(epoch_iter, desc=f"train {model}/{setup}", unit="epoch", leave=False)
    for epoch in epoch_iter:
        check_interrupted()  # a safe point: SIGINT/SIGTERM/SIGHUP stop here (spiking_mcc.interrupts)
        if damage is not None and epoch == damage.epoch:
            before = accuracy(net, a_te, v_te, y_te, masks)
            masks = damage_masks(net, damage.fraction, np.random.default_rng(seed + 2))
            damage_info = {"fraction": damage.fraction, "epoch": damage.epoch, "accuracy_before": before,
                           "accuracy_after": accuracy(net, a_te, v_te, y_te, masks)}
        pool_idx, pool_y, pool_w = labelled, y_tr[labelled], np.ones(len(labelled))
        n_pseudo = 0
        if setup == "semi" and epoch >= warmup_epochs and len(unlabelled):
            prob = predict(net, a_tr[unlabelled], v_tr[unlabelled], masks)
            confident = prob.max(axis=1) >= config.pseudo_threshold
            n_pseudo = int(confident.sum())
            pool_idx = np.concatenate([labelled, unlabelled[confident]])
            pool_y = np.concatenate([y_tr[labelled], prob[confident].argmax(axis=1)])
            pool_w = np.concatenate([np.ones(len(labelled)), np.full(n_pseudo, config.pseudo_weight)])
        order = _epoch_order(len(pool_idx), steps_per_epoch * config.batch_size, rng)
        losses = []
        training_events = {"active": 0.0, "ff": 0.0, "ctx": 0.0}
        for step in range(steps_per_epoch):
            pick = order[step * config.batch_size:(step + 1) * config.batch_size]
            idx = pool_idx[pick]
            fw = forward(net, a_tr[idx], v_tr[idx], masks)
            for name, by_layer in event_sums(net, fw).items():
                if name in training_events:
                    training_events[name] += sum(by_layer.values())
            loss, grads = backward(net, fw, pool_y[pick], pool_w[pick], config.activity_l1)
            optimiser.step(net.params, grads)
            losses.append(loss)
        presented = steps_per_epoch * config.batch_size
        train_acc = accuracy(net, a_tr[labelled], v_tr[labelled], y_tr[labelled], masks)
        activity = count_transmissions(net, a_te, v_te, masks=masks)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "train_accuracy": train_acc,
                        "test_accuracy": accuracy(net, a_te, v_te, y_te, masks), "n_pseudo": n_pseudo,
                        "transmissions_per_sample": activity.transmissions_per_sample,
                        "feedforward_transmissions_per_sample": activity.feedforward_per_sample,
                        "active_neurons_per_sample": activity.active_neurons_per_sample,
                        "feedforward_events_per_sample": activity.feedforward_per_sample,
                        "all_events_per_sample": activity.transmissions_per_sample,
                        "train_samples": presented,
                        "train_active_neurons_per_sample": training_events["active"] / presented,
                        "train_feedforward_events_per_sample": training_events["ff"] / presented,
                        "train_all_events_per_sample": (training_events["ff"] + training_events["ctx"])
                        / presented})
    return TrainResult(net, model, setup, net.law, seed, int(epochs), history[-1]["test_accuracy"], history,
                       masks, config, damage_info)


def _epoch_order(pool_size: int, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Indices into a pool for one epoch: shuffled passes over the pool, concatenated to n_draws."""
    passes = int(np.ceil(n_draws / pool_size))
    return np.concatenate([rng.permutation(pool_size) for _ in range(passes)])[:n_draws]


def silenced_fraction(masks: dict[str, np.ndarray]) -> float:
    """Fraction of hidden units silenced in `masks`."""
    total = sum(len(m) for m in masks.values())
    return float(sum((m == 0).sum() for m in masks.values()) / max(total, 1))


__all__ = ["SETUPS", "Adam", "Damage", "TrainConfig", "TrainResult", "accuracy", "damage_masks",
           "train_model"]
