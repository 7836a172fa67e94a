"""The console script: help, subcommand discovery, one-line errors."""

import subprocess
import sys

from spiking_mcc.cli import COMMANDS, build_parser


def test_help_lists_subcommands_and_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "spiking_mcc.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    _, modules = build_parser()
    assert modules, "no subcommand registered"
    for name in modules:
        assert name in proc.stdout
    assert set(modules) <= set(COMMANDS)


def test_unknown_subcommand_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "spiking_mcc.cli", "frobnicate"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "invalid choice" in proc.stderr
