"""`spiking-mcc sweep`: a grid of convert or train runs on Dask distributed (docs/architecture.md)."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import add_out_argument, print_table
from spiking_mcc.formatting import pct

HELP = "run a grid of convert/train work (models x thresholds x T x seeds, laws x seeds) on Dask"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG",
                        help='sweep config (JSON): {"task": "convert"|"train", "grid": {name: [values]}, '
                             '"fixed": {name: value}}; see the README')
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running Dask scheduler (default: a LocalCluster on this machine)")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes of the LocalCluster, one thread each (default: 2)")
    add_out_argument(parser, "results/sweep")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.sweep import load_config, run_sweep

    summary = run_sweep(load_config(args.config), args.out, scheduler=args.scheduler, workers=args.workers)
    print_table([_percent_accuracies(row) for row in summary["cells"]])
    print(f"{summary['n_run']} cell(s) run, {summary['n_skipped']} already done; wrote {args.out}/sweep.json")
    return 1 if any(row["status"] != "done" for row in summary["cells"]) else 0


def _percent_accuracies(row: dict) -> dict:
    """A sweep.json cell row for the terminal: its accuracies (ann_accuracy, acc_T<t>, test_accuracy) in
    percent under a '(%)' header, as every table prints them; sweep.json keeps the fractions."""
    def is_accuracy(key: str) -> bool:
        return key.endswith("accuracy") or key.startswith("acc_T")
    return {(f"{key} (%)" if is_accuracy(key) else key): (pct(value) if is_accuracy(key) else value)
            for key, value in row.items()}
