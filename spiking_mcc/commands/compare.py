"""`spiking-mcc compare`: the MCC vs point-neuron study (docs/mcc.md): accountings, claims, noise, damage."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, print_table
from spiking_mcc.commands.train import add_law_argument
from spiking_mcc.mcc.network import CONTEXT_SOURCES

HELP = "compare the MCC network with the point-neuron baseline: every accounting, the paper's claims, damage"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="fewer epochs, thresholds and damage fractions (under 2 minutes)")
    add_law_argument(parser, "the attenuating law")
    parser.add_argument("--context", choices=CONTEXT_SOURCES, default="sent",
                        help="context source of the `mcc` model: outputs already sent by the previous layer, "
                             "or an extra broadcast of relu(R) (default: sent, docs/mcc.md)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/compare")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.mcc.study import claims_rows, run_compare, summary_rows

    report = run_compare(args.out, quick=args.quick, seed=args.seed, law=args.law,
                         context_source=args.context)
    print(f"After training, mean +- sd over {len(report['seeds'])} seed(s), per test sample "
          "(compare.json 'accounting'):")
    print_table(summary_rows(report))
    print("The paper's claims (yes / partly / no: the rules in docs/mcc.md):")
    print_table(claims_rows(report))
    print(f"wrote {args.out}/compare.json ({report['wall_time_s']:.0f} s)")
    return 0
