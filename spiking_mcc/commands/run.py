"""`spiking-mcc run`: the whole job on the embedded default data, with a report."""

from __future__ import annotations

import argparse
import sys

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, parse_str_list, print_table

HELP = ("the main job: cells -> train MCC and point -> convert -> Lava -> energy -> report.md/.html "
        "(use --quick for a small run)")


# The report's results table, narrowed to what fits a terminal.
TERMINAL_COLUMNS = ["model", "ANN accuracy (%)", "FPGA energy (uJ / sample)", "SNN T", "SNN accuracy (%)",
                    "SNN energy on loihi1 (J)", "same network as INT8 ANN (J)"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_out_argument(parser, default="results")
    add_seed_argument(parser)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (under 2 minutes); what the tests use")
    parser.add_argument("--stages", default=None, metavar="LIST",
                        help="comma-separated subset of stages to run (default: all); the report "
                             "covers whatever ran")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.pipeline import STAGES, run_pipeline
    from spiking_mcc.report import results_rows

    stages = None
    if args.stages is not None:
        stages = tuple(parse_str_list(args.stages, "stages", tuple(name for name, _, _ in STAGES)))
    argv = ["--out", str(args.out), "--seed", str(args.seed)] + (["--quick"] if args.quick else [])
    argv += ["--stages", args.stages] if args.stages is not None else []
    record = run_pipeline(args.out, quick=args.quick, seed=args.seed, stages=stages, argv=argv)
    print_table([{"stage": stage["name"], "status": stage["status"], "wall_s": stage["wall_s"]}
                 for stage in record["stages"]])
    print()
    print_table(results_rows(args.out), TERMINAL_COLUMNS)
    print(f"\nreport: {args.out}/report.md and {args.out}/report.html")
    failed = [stage for stage in record["stages"] if stage["status"] == "failed"]
    for stage in failed:
        print(f"spiking-mcc run: error: stage '{stage['name']}' failed: {stage['note']}", file=sys.stderr)
    return 1 if failed else 0
