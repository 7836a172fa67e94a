"""The one place that saves and restores the Brian2 globals the project touches.

A library call must leave a user's Brian2 session as it found it. The project's Brian2 runs change three
process-wide globals: the code-generation target (`prefs.codegen.target`), the default clock's step
(`defaultclock.dt`) and numpy's global random state (`brian2.seed` seeds it, and Brian2's runtime targets
draw `randn()`/`rand()` from it). `brian_state()` snapshots all three and puts them back on exit, also
when the run raises; it is a context manager and, like every `contextlib.contextmanager`, a decorator:

    with brian_state(target="numpy", seed=3):      # set for this block only
        network.run(100 * ms)

    @brian_state()                                 # whatever the function sets is undone afterwards
    def simulate(...): ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from spiking_mcc.errors import ParameterError

TARGETS = ("numpy", "cython")


@contextlib.contextmanager
def brian_state(target: str | None = None, seed: int | None = None) -> Iterator[None]:
    """Save prefs.codegen.target, defaultclock.dt and numpy's global RNG state; restore them on exit.

    target: code-generation target for the block ('numpy' or 'cython'; None leaves it as it is).
    seed: seed Brian2 (and so numpy's global RNG) for the block; None leaves it as it is.
    """
    import brian2 as b2

    if target is not None and target not in TARGETS:
        raise ParameterError(f"Brian2 code-generation target must be one of {list(TARGETS)}, got {target!r}")
    saved_target = b2.prefs.codegen.target
    saved_dt = b2.defaultclock.dt
    saved_rng = np.random.get_state()
    try:
        if target is not None:
            b2.prefs.codegen.target = target
        if seed is not None:
            b2.seed(seed)
        yield
    finally:
        b2.prefs.codegen.target = saved_target
        b2.defaultclock.dt = saved_dt
        np.random.set_state(saved_rng)
