"""Shared test set-up: headless plotting, a tiny CLI runner, and the quick runs several modules read."""

import os
import subprocess

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
from quick_run import RUN_TIMEOUT_S, quick_run_command  # noqa: E402


@pytest.fixture
def cli():
    """Run the CLI in-process: cli(['cells', '--out', d]) -> (exit_code)."""
    from spiking_mcc.cli import main

    return main


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory):
    """Two quick runs with seed 0, started together (the second one is only for the determinism check):
    (first folder, second folder, first run's stdout). Session-wide: the pipeline tests and the browser
    test of the report read the same runs, so the suite runs the pipeline once."""
    first, second = tmp_path_factory.mktemp("run_a"), tmp_path_factory.mktemp("run_b")
    procs = [subprocess.Popen(quick_run_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for out in (first, second)]
    outputs = [proc.communicate(timeout=2 * RUN_TIMEOUT_S) for proc in procs]
    for proc, (_, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr[-3000:]
    return first, second, outputs[0][0]
