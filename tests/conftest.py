"""Shared test set-up: headless plotting, a tiny CLI runner."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture
def cli():
    """Run the CLI in-process: cli(['cells', '--out', d]) -> (exit_code)."""
    from spiking_mcc.cli import main

    return main
