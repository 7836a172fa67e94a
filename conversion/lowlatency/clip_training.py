r"""Stage 1 of Datta & Beerel 2022: train the DNN with a clipped ReLU whose ceiling :math:`\mu` is trainable
per layer (docs/lowlatency.md).

:math:`y = \mathrm{clip}(x, 0, \mu)` has the exact gradient :math:`\partial y / \partial \mu = 1` where
:math:`x \ge \mu` (0 elsewhere), so no straight-through estimate is needed for :math:`\mu`; the regulariser
:math:`\lambda \mu^2 / 2` (PACT, Choi et al. 2018) pulls the ceilings down so that the few large
activations do not set the SNN's threshold. The forward and backward passes, the loss and Adam are the
reference trainer's (:mod:`conversion.reference_models`, :mod:`spiking_mcc.optim`); this module builds the
models for a data set, sets the initial ceilings and runs the two trainings (plain ReLU, then clipped).
BatchNorm is folded into the preceding layer at import (:func:`conversion.ir.fold_batchnorm`), so the
trained graphs hold only Conv2d / AvgPool2d / Flatten / Dense / ReLU.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np

from conversion import ops
from conversion.ir import Graph, ReLU
from conversion.reference_models import TrainingConfig, mlp, small_cnn, train
from conversion.thresholds import calibration_pre_activations
from spiking_mcc.errors import DataError, ParameterError

MODELS = ("mlp", "cnn")
ANN_EPOCHS = {"mlp": 40, "cnn": 20}  # as the digits reference models (conversion/reference_models.py)
CLIP_DECAY = 5e-4  # lambda of the mu^2 / 2 penalty (PACT's order of magnitude)
INIT_PERCENTILE = 99.9  # initial ceiling: this percentile of the ReLU network's positive pre-activations


def build_model(kind: str, input_shape: tuple[int, ...], n_classes: int, seed: int = 0) -> Graph:
    """The MLP (features -> 128, or 256 above 256 features -> classes) or the small CNN (conv 3x3 8 ch,
    avgpool 2, dense 64) for one sample shape, He-initialised with `seed`."""
    if kind not in MODELS:
        raise ParameterError(f"--model must be one of {list(MODELS)}, got {kind!r}")
    n_features = int(np.prod(input_shape))
    if kind == "mlp":
        return mlp(seed, (n_features, 128 if n_features <= 256 else 256, n_classes))
    if len(input_shape) != 3 or input_shape[1] % 2 or input_shape[2] % 2:
        raise DataError(f"--model cnn needs image samples (channels, height, width) with even sides, got "
                        f"input shape {tuple(input_shape)}")
    return small_cnn(seed, input_shape=tuple(input_shape), n_classes=n_classes)


def set_initial_clips(graph: Graph, x_calib: np.ndarray, percentile: float = INIT_PERCENTILE) -> Graph:
    """A copy of `graph` whose every ReLU is clipped at the `percentile` of its positive pre-activations."""
    clipped = copy.deepcopy(graph)
    for name, values in calibration_pre_activations(graph, x_calib).items():
        positive = values[values > 0]
        clipped.nodes[name].max = float(np.percentile(positive, percentile)) if positive.size else 1.0
    return clipped


def clip_ceilings(graph: Graph) -> dict[str, float]:
    """name -> mu of every clipped ReLU."""
    return {n: node.max for n, node in graph.nodes.items() if isinstance(node, ReLU) and node.max is not None}


def default_clip_epochs(ann_epochs: int) -> int:
    """Clipped-ReLU training continues from the trained ANN for half its epochs."""
    return max(1, ann_epochs // 2)


def train_ann_and_clipped(kind: str, x_train: np.ndarray, y_train: np.ndarray, input_shape: tuple[int, ...],
                          n_classes: int, seed: int = 0, config: TrainingConfig | None = None,
                          clip_epochs: int | None = None, clip_decay: float = CLIP_DECAY
                          ) -> tuple[Graph, Graph]:
    """(plain ReLU ANN, clipped-ReLU ANN): the ANN trained from He initialisation, then a copy clipped at
    the INIT_PERCENTILE of its pre-activations and trained on with trainable ceilings for clip_epochs
    (default half the ANN's epochs)."""
    config = config or TrainingConfig(epochs=ANN_EPOCHS[kind])
    x_train = ops.check_input(build_model(kind, input_shape, n_classes, seed), x_train, "training data")
    ann = train(build_model(kind, input_shape, n_classes, seed), x_train, y_train, seed=seed, config=config)
    clipped = set_initial_clips(ann, x_train[:2000])
    epochs = default_clip_epochs(config.epochs) if clip_epochs is None else clip_epochs
    train(clipped, x_train, y_train, seed=seed + 1, config=replace(config, epochs=epochs),
          clip_decay=clip_decay)
    return ann, clipped
