"""An optional crossbar device model applied to every write: finite conductance levels, write noise.

Every write (one rank-1 outer-product update, or a per-sample update for sgd/mbgd) goes
through `CrossbarDevice.write`:

    programmed = update * (1 + write_noise * N(0, 1))     per device (cycle-to-cycle noise,
                                                            proportional to the pulse asked for)
    w          = clip(w + programmed, -w_max, w_max)
    w          = nearest of `levels` evenly spaced conductances in [-w_max, w_max]  (if levels)

Rounding to the nearest level means a change smaller than half a level step is lost, which is
the non-ideality that punishes many small writes (sgd, mini-batch as per-sample writes) more
than a few large ones (svd, sbe). A weight is a differential pair of conductances, hence the
symmetric range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spiking_mcc.errors import ParameterError


@dataclass(frozen=True)
class CrossbarDevice:
    """levels: number of conductance levels (>= 2) or None for continuous; write_noise: relative
    std of each programmed change (>= 0); w_max: weight range [-w_max, w_max] (> 0)."""

    levels: int | None = None
    write_noise: float = 0.0
    w_max: float = 1.0

    def __post_init__(self) -> None:
        if self.levels is not None and (isinstance(self.levels, bool) or not isinstance(self.levels, int)
                                        or self.levels < 2):
            raise ParameterError(f"device levels: must be an integer >= 2 (or none), got {self.levels!r}")
        if not (math.isfinite(self.write_noise) and self.write_noise >= 0.0):
            raise ParameterError(f"write noise: must be a finite number >= 0, got {self.write_noise!r}")
        if not (math.isfinite(self.w_max) and self.w_max > 0.0):
            raise ParameterError(f"device w_max: must be a finite number > 0, got {self.w_max!r}")

    @property
    def is_ideal(self) -> bool:
        return self.levels is None and self.write_noise == 0.0

    @property
    def level_step(self) -> float:
        """Weight difference between neighbouring levels (0 for a continuous device)."""
        return 0.0 if self.levels is None else 2.0 * self.w_max / (self.levels - 1)

    def quantize(self, weights: np.ndarray) -> np.ndarray:
        """Clip to the range and round to the nearest level."""
        clipped = np.clip(weights, -self.w_max, self.w_max)
        if self.levels is None:
            return clipped
        step = self.level_step
        return np.round((clipped + self.w_max) / step) * step - self.w_max

    def write(self, weights: np.ndarray, update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The weights after asking every device for `update` (same shape), non-idealities applied."""
        if self.write_noise > 0.0:
            update = update * (1.0 + self.write_noise * rng.standard_normal(update.shape))
        return self.quantize(weights + update)
