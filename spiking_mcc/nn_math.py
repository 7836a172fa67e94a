"""Softmax and softmax cross-entropy: the one definition the numpy trainers share (MCC, SBE MLP)."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits (n, classes), shifted by the row maximum (overflow-free)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray,
                          sample_weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean (optionally sample-weighted) cross-entropy and its per-sample gradient w.r.t. the logits.

    loss = -mean_i w_i log softmax(logits_i)[labels_i]; the gradient row i is softmax(logits_i) - onehot_i
    (unweighted and not divided by n: the caller scales it)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(labels.shape[0])
    picked = log_prob[rows, labels]
    loss = float(-picked.mean()) if sample_weight is None else float(-(sample_weight * picked).mean())
    grad = np.exp(log_prob)
    grad[rows, labels] -= 1.0
    return loss, grad
