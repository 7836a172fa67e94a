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
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []  # signals received since handle_signals() was entered, in order
_depth = 0  # nesting of handle_signals() blocks in this process

# Test hook (README.md, "What `make demo` produces"): SPIKING_MCC_PAUSE_AT=start pauses any subcommand
# once its --out folder is held; =STAGE pauses `run` after that stage. Tests signal it at that moment.
PAUSE_ENV = "SPIKING_MCC_PAUSE_AT"
PAUSE_LIMIT_S = 300.0


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

    Re-entrant: an inner block (e.g. run_pipeline inside the CLI) keeps the outer one's handlers and
    record. A signal that is ignored when the block starts (SIGHUP under nohup, SIGINT of a background
    job) stays ignored. Only the main thread can install handlers; elsewhere this is a no-op context."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    previous = {signum: signal.getsignal(signum) for signum in HANDLED_SIGNALS}
    _received.clear()
    _depth += 1
    try:
        for signum, handler in previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, _record)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        _received.clear()
        _depth -= 1


def pause_if_asked(point: str) -> None:
    """If SPIKING_MCC_PAUSE_AT names `point`: say so on stderr, then wait until a handled signal arrives
    (at most PAUSE_LIMIT_S). Gives a test a moment at which the command is certainly still running
    with its handlers installed; does nothing outside handle_signals()."""
    if os.environ.get(PAUSE_ENV) != point or not _depth:
        return
    print(f"spiking-mcc: paused at '{point}' ({PAUSE_ENV})", file=sys.stderr, flush=True)
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while not _received and time.monotonic() < deadline:
        time.sleep(0.02)
