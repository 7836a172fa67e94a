"""The one table of input limits: what a command accepts before any work starts, with the reason for each.

Requests outside a limit are refused up front (ParameterError / DataError naming the parameter, the
limit and the value), so no run hangs for hours, exhausts memory, or crashes inside a library.
The CLI's argparse types (`spiking_mcc.commands.common`) and the Python entry points share these checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spiking_mcc.errors import ParameterError


@dataclass(frozen=True)
class Limit:
    """An inclusive range [minimum, maximum] of one input, and why it is there."""

    name: str
    minimum: float
    maximum: float
    reason: str


LIMITS: dict[str, Limit] = {limit.name: limit for limit in (
    Limit("seed", 0, 2**32 - 9,
          "numpy's RandomState, Brian2's seed() and scikit-learn's random_state take 32-bit unsigned seeds; "
          "the cell protocols derive seeds seed + 0..7"),
    Limit("timesteps", 1, 10_000,
          "simulation time grows linearly with T: 10,000 steps (300x the default largest T, 32) take "
          "the digits CNN ~3 min on its 450 test samples (8.8 s at T=500)"),
    Limit("dt_ms", 0.01, 0.5,
          "Euler steps per cell protocol are duration / dt, so 0.01 ms (10x finer than the 0.1 ms default) "
          "already takes ~10x the default run time; 0.5 ms is the coarsest step the protocols accept"),
    Limit("epochs", 1, 10_000, "training time grows linearly with epochs (defaults: train 20, sbe 30)"),
    Limit("hidden_units", 1, 10_000,
          "one hidden layer is a (units x inputs) float64 matrix plus SBE's low-rank state; 10,000 units "
          "of 10,000 inputs is 0.8 GB per matrix"),
    Limit("sbe_weights", 1, 2**25,
          "SBE training holds every weight matrix and its gradient in float64: 33.5 M weights is ~0.5 GB"),
    Limit("mapper_neurons", 1, 2**17,
          "the core mapper keeps a (sources x cores) table; the greedy mapper placed 131,000 neurons with "
          "16.8 M synapses in 17 s at a 0.95 GB peak"),
    Limit("mapper_cluster_neurons", 1, 2**15,
          "the cluster mapper's refinement grows about quadratically: 16,384 neurons take 26 s, 32,768 "
          "take 102 s; use the greedy mapper for larger networks"),
    Limit("mapper_synapses", 1, 2**24,
          "the core mapper holds every synapse in two sparse matrices plus build temporaries: 16.8 M "
          "synapses (with 131,000 neurons) peaked at 0.95 GB"),
    Limit("workload_count", 0, 2**53,
          "energy workload counts (neurons, MACs, events, spikes per inference) above 2**53 cannot be held "
          "exactly in float64 / JSON; no physical inference comes near it"),
)}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def bounds_text(name: str) -> str:
    """'[min, max]' of LIMITS[name], integers written out."""
    limit = LIMITS[name]
    return f"[{_number(limit.minimum)}, {_number(limit.maximum)}]"


def check_int(value, name: str, limit: str, where: str | None = None) -> int:
    """An integer (not bool) inside LIMITS[limit]; else ParameterError naming `where` (default `name`)."""
    bounds = LIMITS[limit]
    where = where or name
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{where}: must be an integer in {bounds_text(limit)}, got {value!r}")
    if not bounds.minimum <= value <= bounds.maximum:
        raise ParameterError(f"{where}: must be in {bounds_text(limit)}, got {value}; limit: {bounds.reason}")
    return int(value)


def check_seed(seed, name: str = "seed") -> int:
    """A seed every RNG of the project accepts (LIMITS['seed']); else ParameterError."""
    return check_int(seed, name, "seed")


def check_timesteps(values, name: str = "timesteps") -> list[int]:
    """A non-empty list of distinct integer time steps inside LIMITS['timesteps'], in the given order."""
    values = list(values) if not isinstance(values, (int, np.integer)) else [values]
    if not values:
        raise ParameterError(f"{name}: empty list")
    steps = [check_int(v, name, "timesteps") for v in values]
    repeated = sorted({t for t in steps if steps.count(t) > 1})
    if repeated:
        raise ParameterError(f"{name}: each T may appear once, {repeated} repeated in {steps}")
    return steps


def check_finite(value, name: str) -> float:
    """A finite real number (not NaN, not +-inf, not bool); else ParameterError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ParameterError(f"{name}: must be a finite number, got {value!r}")
    return float(value)
