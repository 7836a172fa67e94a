"""scikit-learn's bundled 8x8 handwritten digits, pixels scaled to [0, 1] (pixel / 16)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_FEATURES = 64
N_CLASSES = 10


@dataclass(frozen=True)
class Split:
    """A labelled train/test split. x_*: (n, features) float32 in [0, 1]; y_*: (n,) int64 in [0, 10)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split(seed: int = 0, test_fraction: float = 0.25) -> Split:
    """The 1,797 digit images, shuffled with `seed`, split stratified by label into train/test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(x_train, y_train, x_test, y_test)
