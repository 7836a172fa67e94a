"""`spiking-mcc compare`: the MCC vs point-neuron study (accuracy, transmissions, energy, noise, damage)."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, print_table
from spiking_mcc.formatting import pct

HELP = "compare the MCC network with the point-neuron baseline: energy at equal accuracy, noise, damage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="fewer epochs, noise levels, thresholds and damage fractions (under 2 minutes)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/compare")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.mcc.study import run_compare, summary_rows

    report = run_compare(args.out, quick=args.quick, seed=args.seed)
    print_table(summary_rows(report))
    for setup, rows in report["equal_accuracy"].items():
        # cost = fewest transmissions per sample reaching the target accuracy (None: never reached)
        print_table([{"setup": setup, "target accuracy (%)": pct(r["target_accuracy"]),
                      "mcc/sample": r["mcc_per_sample"], "point/sample": r["point_per_sample"],
                      "point/mcc (all)": r["ratio_point_over_mcc_per_sample"],
                      "point/mcc (feed-forward)": r["ratio_point_over_mcc_per_feedforward"]} for r in rows])
    print(f"wrote {args.out}/compare.json ({report['wall_time_s']:.0f} s)")
    return 0
