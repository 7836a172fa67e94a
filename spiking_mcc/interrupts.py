"""SIGINT, SIGTERM and SIGHUP end a command cleanly, at a point where stopping is safe.

The handler only records the signal. Long work calls `check_interrupted()` at safe points (between
stages, epochs, time-step sweeps, while waiting on a Lava child), which raises `Interrupted`; the
code on the way out (atomic writers, the Lava runner's clean-up) then runs as for any exception, and
the CLI prints one line and exits 128 + the signal number. A second signal of the same kind while the
first is still being handled raises KeyboardInterrupt at once, so a stuck command can still be stopped.
Outside `handle_signals()` (e.g. in a user's Python session) nothing is installed and
`check_interrupted()` never raises.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []  # signals received since handle_signals() was entered, in order


class Interrupted(KeyboardInterrupt):
    """A handled signal arrived; raised by check_interrupted() at a safe point.

    A KeyboardInterrupt, not an Exception: `except Exception` (a stage recording a failure) must not
    swallow it, while `finally` blocks and `except BaseException` clean-ups run as for Ctrl-C."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def received_signal() -> int | None:
    """The first handled signal received inside handle_signals(), or None."""
    return _received[0] if _received else None


def check_interrupted() -> None:
    """Raise Interrupted if a handled signal has arrived; a no-op otherwise (cheap: call it often)."""
    if _received:
        raise Interrupted(_received[0])


def _record(signum: int, frame) -> None:
    if signum in _received:  # the same signal again: the user insists
        raise KeyboardInterrupt(f"signal {signum} received twice")
    _received.append(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Record SIGINT/SIGTERM/SIGHUP instead of dying; restore the previous handlers on exit.

    Only the main thread can install handlers; elsewhere this is a no-op context."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _record) for signum in HANDLED_SIGNALS}
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()
