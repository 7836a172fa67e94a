"""Train the MLP with sgd, mini-batch GD, exact truncated SVD or streaming batch eigenupdates.

All methods share the forward/backward pass (vectorised over a batch, weights fixed during
the batch) and the learning rate eta; they differ in how the batch gradient
G = (1/n) sum_j delta_j x_j^T of each layer (a x b, bias column included) reaches the crossbar:

| method | update per batch (eta: learning rate) | rank-1 writes / batch | state floats / layer  |
|--------|---------------------------------------|-----------------------|-----------------------|
| sgd    | W -= eta delta_j x_j^T every sample   | 1 per sample (n = 1)  | 0                     |
| mbgd   | W -= eta G                            | n (one per sample)    | a b (accumulator)     |
| svd    | W -= eta sum_i<k s_i u_i v_i^T        | k                     | a b (G is decomposed) |
| sbe    | W -= eta sum_i<k sigma_i D^_i X^_i^T  | k                     | k (a + b + 1)         |

A "rank-1 device write" is one outer-product update of a whole crossbar (row and column
pulses at once), the unit Hoskins et al. 2019 count: mini-batch GD on a crossbar must apply its
rank-up-to-n batch gradient as n outer products (or hold an a x b accumulator and write every
device individually), SBE applies k. Counts are per layer; the totals sum the layers.
With a `CrossbarDevice`, every one of these writes goes through the device model (for mbgd
that is n sequential per-sample writes per batch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import LIMITS, check_int, check_seed
from spiking_mcc.sbe import estimator, mlp
from spiking_mcc.sbe.crossbar import CrossbarDevice

METHODS = ("sgd", "mbgd", "svd", "sbe")
LOW_RANK_METHODS = ("svd", "sbe")
# eta per method, tuned on digits (64-100-10) with the decay below (see README "SBE"); sgd
# steps after every sample, so it needs a smaller eta (at 1.0 its ReLUs die).
DEFAULT_LEARNING_RATE = 0.7
DEFAULT_SGD_LEARNING_RATE = 0.1
DEFAULT_LR_DECAY = 0.9  # eta of epoch e is learning_rate * lr_decay ** (e - 1)


@dataclass(frozen=True)
class TrainConfig:
    """One training run. batch_size is ignored by sgd (always 1); rank only matters to svd and sbe."""

    method: str = "sbe"
    batch_size: int = 32
    rank: int = 1
    epochs: int = 30
    learning_rate: float | None = None  # None: DEFAULT_SGD_LEARNING_RATE for sgd, else DEFAULT_LEARNING_RATE
    lr_decay: float = DEFAULT_LR_DECAY
    hidden: tuple[int, ...] = (100,)
    seed: int = 0
    device: CrossbarDevice | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ParameterError(f"method: must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("batch_size", "rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"{name.replace('_', ' ')}: must be an integer >= 1, got {value!r}")
        check_int(self.epochs, "epochs", "epochs")
        check_seed(self.seed)
        if self.learning_rate is None:
            default = DEFAULT_SGD_LEARNING_RATE if self.method == "sgd" else DEFAULT_LEARNING_RATE
            object.__setattr__(self, "learning_rate", default)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0.0):
            raise ParameterError(f"learning rate: must be a finite number > 0, got {self.learning_rate!r}")
        if not (math.isfinite(self.lr_decay) and 0.0 < self.lr_decay <= 1.0):
            raise ParameterError(f"lr decay: must lie in (0, 1], got {self.lr_decay!r}")
        if not self.hidden:
            raise ParameterError(f"hidden: at least one layer size, got {self.hidden!r}")
        for units in self.hidden:
            check_int(units, "hidden", "hidden_units")

    @property
    def effective_batch(self) -> int:
        return 1 if self.method == "sgd" else int(self.batch_size)

    @property
    def effective_rank(self) -> int | None:
        return int(self.rank) if self.method in LOW_RANK_METHODS else None


@dataclass
class TrainResult:
    """Trained weights (crossbar matrices, bias column last) and the per-epoch history."""

    config: TrainConfig
    weights: list[np.ndarray]
    history: list[dict] = field(default_factory=list)
    device_writes: list[int] = field(default_factory=list)
    state_floats: list[int] = field(default_factory=list)

    @property
    def test_accuracy(self) -> float:
        return self.history[-1]["test_accuracy"]

    def summary(self) -> dict:
        """The JSON record of this run."""
        return {
            "method": self.config.method,
            "batch": self.config.effective_batch,
            "rank": self.config.effective_rank,
            "learning_rate": self.config.learning_rate,
            "lr_decay": self.config.lr_decay,
            "epochs": self.config.epochs,
            "seed": self.config.seed,
            "test_accuracy": self.test_accuracy,
            "train_accuracy": self.history[-1]["train_accuracy"],
            "device_writes": int(sum(self.device_writes)),
            "device_writes_per_layer": list(self.device_writes),
            "state_floats": int(sum(self.state_floats)),
            "state_floats_per_layer": list(self.state_floats),
            "full_matrix_floats_per_layer": [int(w.size) for w in self.weights],
            "history": self.history,
        }


def layer_state_floats(method: str, n_out: int, n_in: int, rank: int) -> int:
    """Persistent update memory of one a x b layer (see the module table)."""
    if method == "sgd":
        return 0
    if method == "sbe":
        return estimator.state_floats(n_out, n_in, rank)
    return n_out * n_in


def _check_data(x: np.ndarray, y: np.ndarray, n_classes: int, name: str) -> None:
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise DataError(f"{name}: expected x (n, features) and y (n,) with n >= 1, "
                        f"got {x.shape} and {y.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"{name}: x holds NaN or infinite values")
    if y.min() < 0 or y.max() >= n_classes:
        raise DataError(f"{name}: labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")


def _check_finite(loss: float, errors: list[np.ndarray], epoch: int, batch: int, config: TrainConfig) -> None:
    bad = [i for i, e in enumerate(errors) if not np.isfinite(e).all()]
    if not math.isfinite(loss) or bad:
        where = f"layer {bad[0]}" if bad else "the loss"
        raise ParameterError(
            f"non-finite gradient in {where} at epoch {epoch}, batch {batch} (method {config.method}); "
            f"learning rate {config.learning_rate} is probably too large"
        )


def _apply(weights: np.ndarray, update: np.ndarray, device: CrossbarDevice | None,
           rng: np.random.Generator) -> np.ndarray:
    return weights + update if device is None else device.write(weights, update, rng)


def train_mlp(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    config: TrainConfig,
    n_classes: int | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train an MLP (inputs-hidden...-classes, ReLU, softmax cross-entropy) with config.method.

    Seeded: weight init, sample order and estimator/device noise come from independent streams
    of `config.seed`, so every method starts from the same weights and sees the same batches.
    Raises ParameterError on a rank a layer cannot hold or on a non-finite gradient.
    """
    x_train = np.asarray(x_train, dtype=float)
    x_test = np.asarray(x_test, dtype=float)
    y_train = np.asarray(y_train, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    n_classes = int(n_classes if n_classes is not None else max(y_train.max(), y_test.max()) + 1)
    _check_data(x_train, y_train, n_classes, "training data")
    _check_data(x_test, y_test, n_classes, "test data")
    if x_test.shape[1] != x_train.shape[1]:
        raise DataError(f"test data: {x_test.shape[1]} features, training data {x_train.shape[1]}")

    sizes = (x_train.shape[1], *(int(h) for h in config.hidden), n_classes)
    init_seq, order_seq, noise_seq = np.random.SeedSequence(config.seed).spawn(3)
    weights = mlp.init_weights(sizes, np.random.default_rng(init_seq))
    order_rng = np.random.default_rng(order_seq)
    noise_rng = np.random.default_rng(noise_seq)
    device = None if config.device is None or config.device.is_ideal else config.device
    if device is not None:
        weights = [device.quantize(w) for w in weights]

    method, rank = config.method, int(config.rank)
    states = []
    if method in LOW_RANK_METHODS:
        for index, w in enumerate(weights):
            estimator.check_rank(rank, w.shape[0], w.shape[1], layer=f"layer {index}")
        if method == "sbe":
            states = [estimator.init_state(w.shape[0], w.shape[1], rank, noise_rng) for w in weights]

    result = TrainResult(
        config=config,
        weights=weights,
        device_writes=[0] * len(weights),
        state_floats=[layer_state_floats(method, *w.shape, rank) for w in weights],
    )
    batch_size = config.effective_batch
    n_train = x_train.shape[0]
    epochs = range(1, config.epochs + 1)
    if progress:
        from tqdm import tqdm

        epochs = tqdm(epochs, desc=f"{method} b={batch_size}" + (f" k={rank}" if states or
                      method == "svd" else ""), unit="epoch", leave=False)
    for epoch in epochs:
        check_interrupted()  # a safe point: SIGINT/SIGTERM/SIGHUP stop here (spiking_mcc.interrupts)
        start = time.perf_counter()
        eta = config.learning_rate * config.lr_decay ** (epoch - 1)
        order = order_rng.permutation(n_train)
        loss_sum = 0.0
        for batch_index, begin in enumerate(range(0, n_train, batch_size)):
            rows = order[begin:begin + batch_size]
            loss, inputs, errors = mlp.backward(weights, x_train[rows], y_train[rows])
            _check_finite(loss, errors, epoch, batch_index, config)
            loss_sum += loss * rows.size
            n = rows.size
            for index in range(len(weights)):
                x_in, delta = inputs[index], errors[index]
                if method in ("sgd", "mbgd"):
                    if device is None:
                        weights[index] -= (eta / n) * (delta.T @ x_in)
                    else:
                        for j in range(n):
                            sample_update = -(eta / n) * np.outer(delta[j], x_in[j])
                            weights[index] = device.write(weights[index], sample_update, noise_rng)
                    result.device_writes[index] += n
                    continue
                if method == "svd":
                    left, singular, right = np.linalg.svd(delta.T @ x_in / n, full_matrices=False)
                    left, singular, right = left[:, :rank], singular[:rank], right[:rank]
                else:
                    state = estimator.stream_batch(states[index], x_in, delta)
                    left, singular, right = state.delta_hat.T, state.sigma, state.x_hat
                if device is None:
                    weights[index] -= eta * (left * singular) @ right
                else:
                    for i in range(rank):
                        weights[index] = device.write(
                            weights[index], -eta * singular[i] * np.outer(left[:, i], right[i]), noise_rng)
                result.device_writes[index] += rank
        seconds = time.perf_counter() - start
        result.history.append({
            "epoch": epoch,
            "loss": loss_sum / n_train,
            "train_accuracy": mlp.accuracy(weights, x_train, y_train),
            "test_accuracy": mlp.accuracy(weights, x_test, y_test),
            "device_writes": int(sum(result.device_writes)),
            "device_writes_per_layer": list(result.device_writes),
            "state_floats": int(sum(result.state_floats)),
            "seconds": seconds,
        })
    result.weights = weights
    return result


def plan_runs(methods: list[str], batches: list[int], ranks: list[int], learning_rate: float | None = None,
              sgd_learning_rate: float | None = None, **common) -> list[TrainConfig]:
    """One config per distinct run: sgd once, mbgd per batch size, svd/sbe per batch size and rank.

    learning_rate applies to mbgd/svd/sbe, sgd_learning_rate to sgd (None: the defaults)."""
    configs = []
    for method in methods:
        if method == "sgd":
            configs.append(TrainConfig(method=method, batch_size=1, learning_rate=sgd_learning_rate,
                                       **common))
            continue
        common_lr = dict(common, learning_rate=learning_rate)
        if method == "mbgd":
            configs.extend(TrainConfig(method=method, batch_size=b, **common_lr) for b in batches)
        else:
            configs.extend(TrainConfig(method=method, batch_size=b, rank=k, **common_lr)
                           for b in batches for k in ranks)
    return configs


def check_ranks(configs: list[TrainConfig], n_inputs: int, n_classes: int) -> None:
    """Raise ParameterError before any training if a low-rank run asks for more than a layer holds, or
    the network has more weights than LIMITS['sbe_weights']."""
    sizes = (n_inputs, *configs[0].hidden, n_classes) if configs else ()
    weights = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))
    limit = LIMITS["sbe_weights"]
    if weights > limit.maximum:
        raise ParameterError(f"hidden {list(sizes[1:-1])} on {n_inputs} inputs: {weights:,} weights, above "
                             f"{int(limit.maximum):,}; limit: {limit.reason}")
    for config in configs:
        if config.method in LOW_RANK_METHODS:
            for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                estimator.check_rank(config.rank, fan_out, fan_in + 1, layer=f"layer {index}")
