"""Adam (Kingma & Ba 2015), shared by every numpy trainer in the project."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam over a dict of arrays, updated in place by `step`."""

    def __init__(self, params: dict[str, np.ndarray], learning_rate: float, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.b1 ** self.t, 1.0 - self.b2 ** self.t
        for key, g in grads.items():
            self.m[key] = self.b1 * self.m[key] + (1.0 - self.b1) * g
            self.v[key] = self.b2 * self.v[key] + (1.0 - self.b2) * g * g
            params[key] -= self.lr * (self.m[key] / c1) / (np.sqrt(self.v[key] / c2) + self.eps)
