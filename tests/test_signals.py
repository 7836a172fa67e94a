"""SIGINT, SIGTERM and SIGHUP end any subcommand with exit 128 + signum, one line on stderr, and no
temp file or half result (issue 11, "Signals and leftovers"). Each child is signalled at a moment it
reports itself (SPIKING_MCC_PAUSE_AT, or its progress bar), never after a sleep."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spiking_mcc.interrupts import Interrupted, check_interrupted, handle_signals, pause_if_asked

TIMEOUT_S = 120


def _default_signals() -> None:
    """In the child: the three signals at their default, even if the test runner ignores SIGHUP (nohup)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _start(argv: list[str], **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spiking_mcc.cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "MPLBACKEND": "Agg", **env},
                            preexec_fn=_default_signals)


def _read_until(proc: subprocess.Popen, text: str) -> str:
    """The child's stderr up to `text` (progress bars end with '\\r', not a newline)."""
    seen = b""
    while text.encode() not in seen:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            raise AssertionError(f"child ended before {text!r}: {seen.decode(errors='replace')[-2000:]}")
        seen += chunk
    return seen.decode(errors="replace")


def _finish(proc: subprocess.Popen, sig: int) -> str:
    proc.send_signal(sig)
    try:
        _, rest = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return rest.decode(errors="replace")


def _messages(stderr: str) -> list[str]:
    """stderr without progress-bar lines."""
    return [line for line in stderr.splitlines() if line.strip() and "%|" not in line]


def _no_temp_files(root: Path) -> None:
    temps = [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert not temps, temps


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from conversion.reference_models import save_reference

    path, _ = save_reference(tmp_path_factory.mktemp("model") / "mlp.npz", "digits-mlp", seed=0)
    return path


COMMANDS = {  # command -> (argv after the command, files it would have written)
    "convert": (["--timesteps", "2,4", "--samples", "100"], ["convert.json", "model.nir", "accuracy_vs_T.png"]
                ),
    "cells": (["--quick"], ["cells.json"]),
    "train": (["--epochs", "2"], ["mcc.npz", "train_mcc.json"]),
    "sbe": (["--epochs", "2", "--method", "sbe", "--batch", "32", "--rank", "1"], ["sbe.json"]),
}
CASES = [("convert", signal.SIGTERM), ("convert", signal.SIGHUP), ("convert", signal.SIGINT),
         ("cells", signal.SIGTERM), ("train", signal.SIGHUP), ("sbe", signal.SIGINT)]


@pytest.mark.parametrize("command, sig", CASES, ids=[f"{c}-{s.name}" for c, s in CASES])
def test_a_signal_ends_a_single_stage_command_with_one_line(tmp_path, model_file, command, sig):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    extra, results = COMMANDS[command]
    argv = [command, *([str(model_file)] if command == "convert" else []), *extra, "--out", str(out)]
    proc = _start(argv, SPIKING_MCC_PAUSE_AT="start")
    _read_until(proc, "paused at 'start'")
    rest = _finish(proc, sig)
    assert proc.returncode == 128 + sig
    assert _messages(rest) == [f"spiking-mcc {command}: interrupted by {sig.name}"], rest
    # stopped at the command's first safe point, before its results: none of them, not even half
    files = [p.name for p in out.rglob("*") if p.is_file() and not p.name.startswith(".spiking-mcc")]
    assert files == ["notes.txt"]
    assert not any((out / name).exists() for name in results)
    _no_temp_files(out)


def test_sigterm_stops_training_between_epochs(tmp_path):
    """10000 epochs would take hours: the epoch loop's safe point stops it within one epoch."""
    proc = _start(["train", "--epochs", "10000", "--out", str(tmp_path)])
    _read_until(proc, "train mcc/supervised")  # the epoch bar: the loop has started
    rest = _finish(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, rest[-2000:]
    assert _messages(rest) == ["spiking-mcc train: interrupted by SIGTERM"], rest[-2000:]
    assert not (tmp_path / "train_mcc.json").exists() and not (tmp_path / "mcc.npz").exists()
    _no_temp_files(tmp_path)


def test_handler_records_and_safe_point_raises_in_process():
    """The mechanism itself: the handler only records; check_interrupted raises; handlers come back;
    nested blocks share one record; outside a block nothing is installed and pausing is a no-op."""
    before = signal.getsignal(signal.SIGTERM)
    pause_if_asked("start")  # outside handle_signals: returns at once whatever the environment says
    with handle_signals():
        with handle_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            np.zeros(1)  # Python runs the handler: it must only record
        with pytest.raises(Interrupted) as caught:
            check_interrupted()
    assert caught.value.exit_code == 128 + signal.SIGTERM and isinstance(caught.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before
    check_interrupted()  # the record is cleared with the outer block


def test_an_ignored_signal_stays_ignored():
    """Under nohup SIGHUP is ignored: the command must keep running after a hang-up."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with handle_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            check_interrupted()
    finally:
        signal.signal(signal.SIGHUP, previous)
