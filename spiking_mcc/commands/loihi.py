"""`spiking-mcc loihi MODEL --data digits --samples 200 --timesteps 8 --mode fixed --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, finite_float, print_table

HELP = "run a converted network as Lava processes (Loihi fixed or float point) and compare with the engine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="trained model file: .npz sequential-v1 or .onnx (a Dense/ReLU chain), or an "
                             "MCC file from `spiking-mcc train --model mcc` (two-point units, "
                             "docs/twopoint_unit.md)")
    parser.add_argument("--data", default="digits",
                        help="data set: digits, avdigits, PATH.npz, IDX or WAV folder (default: digits)")
    parser.add_argument("--samples", type=int, default=200, help="test samples to run (default: 200)")
    parser.add_argument("--timesteps", type=int, default=8, help="time steps per sample (default: 8)")
    parser.add_argument("--mode", choices=("fixed", "float"), default="fixed",
                        help="Lava ProcessModels: bit-accurate Loihi fixed point or floating point")
    parser.add_argument("--threshold", default=None,
                        help="threshold method for conversion: max, percentile, channel, distribution "
                             "(default: percentile for Dense chains, distribution for MCC files)")
    parser.add_argument("--timeout-s", type=finite_float, default=300.0,
                        help="kill the Lava run after this many seconds (default: 300)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/loihi")


def run(args: argparse.Namespace) -> int:
    from loihi_targets.pipeline import run_loihi

    report = run_loihi(args.model, args.data, args.samples, args.timesteps, args.mode, args.out,
                       seed=args.seed, threshold=args.threshold, timeout_s=args.timeout_s, progress=True)
    print_table([{
        "mode": report["mode"], "samples": report["samples"], "T": report["timesteps"],
        "acc_lava": report["accuracy_lava"], "acc_engine": report["accuracy_engine"],
        "counts_equal": report["spike_counts_equal"], "cores": report["cores_used"],
        "intercore_spikes": report["intercore_spikes"], "wall_s": report["wall_s"],
    }])
    print(f"wrote {Path(args.out) / 'loihi.json'}")
    return 0
