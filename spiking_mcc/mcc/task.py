"""Test material for a task where context has a job (docs/mcc.md): one modality blanked, incongruent pairs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

SPLIT_FIELDS = ("audio_train", "visual_train", "y_train", "audio_test", "visual_test", "y_test")


def blank_modality(data, modality: str) -> SimpleNamespace:
    """Copy of the train/test arrays of `data` with one modality ('audio' or 'visual') set to zero."""
    fields = {name: np.asarray(getattr(data, name)) for name in SPLIT_FIELDS}
    for split in ("train", "test"):
        key = f"{modality}_{split}"
        fields[key] = np.zeros_like(fields[key])
    return SimpleNamespace(**fields)


def incongruent_pairs(
    visual: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices pairing each sample's audio with the image of a sample of ANOTHER digit.

    Returns (image_index (n,), image_label (n,)): for sample i, visual[image_index[i]] shows image_label[i]
    != labels[i]. Images are drawn uniformly from the other digits' samples, seeded by `rng`."""
    labels = np.asarray(labels)
    n = len(labels)
    image_index = np.empty(n, dtype=np.int64)
    for i in range(n):
        others = np.flatnonzero(labels != labels[i])
        image_index[i] = others[rng.integers(len(others))]
    return image_index, labels[image_index]
