"""`spiking-mcc loihi MODEL --data digits --samples 200 --timesteps 8 --mode fixed --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, finite_float, print_table
from spiking_mcc.formatting import pct

HELP = "run a converted network as Lava processes (Loihi fixed or float point) and compare with the engine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="trained model file: .npz sequential-v1 or .onnx (a chain of Dense or Conv2d "
                             "+ ReLU layers, average pooling and Flatten between them; docs/loihi.md), an "
                             "MCC file from `spiking-mcc train --model mcc` (two-point units, "
                             "docs/twopoint_unit.md), or a spiking .nir graph, run as given "
                             "(docs/conversion.md, NIR)")
    parser.add_argument("--data", default="digits",
                        help="data set: digits, avdigits, PATH.npz, IDX or WAV folder (default: digits)")
    parser.add_argument("--samples", type=int, default=200, help="test samples to run (default: 200)")
    parser.add_argument("--timesteps", type=int, default=8, help="time steps per sample (default: 8)")
    parser.add_argument("--mode", choices=("fixed", "float"), default="fixed",
                        help="Lava ProcessModels: bit-accurate Loihi fixed point or floating point")
    parser.add_argument("--threshold", default=None,
                        help="threshold method for conversion: max, percentile, channel, distribution "
                             "(default: percentile for Dense/CNN chains, distribution for MCC files)")
    parser.add_argument("--timeout-s", type=finite_float, default=300.0,
                        help="kill the Lava run after this many seconds (default: 300)")
    parser.add_argument("--dt", type=float, default=None, help=".nir input: time step for r and tau")
    parser.add_argument("--reset", default=None, choices=("subtract", "zero"),
                        help=".nir input: reset override (default: metadata, else zero)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/loihi")


def run(args: argparse.Namespace) -> int:
    from loihi_targets.pipeline import run_loihi

    model = args.model
    if Path(model).suffix.lower() == ".nir":
        from conversion.importers.nir_import import read_nir_network

        model = read_nir_network(model, dt=args.dt, reset=args.reset).net
        if model.layer_leak:
            from spiking_mcc.errors import ParameterError

            raise ParameterError(f"{args.model}: per-layer leaks {model.layer_leak}; Lava runs one leak per "
                                 "network (use spiking-mcc convert for this graph)")
    elif args.dt is not None or args.reset is not None:
        from spiking_mcc.errors import ParameterError

        raise ParameterError("--dt and --reset apply to a .nir model only")
    report = run_loihi(model, args.data, args.samples, args.timesteps, args.mode, args.out,
                       seed=args.seed, threshold=args.threshold, timeout_s=args.timeout_s, progress=True)
    print_table([{
        "mode": report["mode"], "samples": report["samples"], "T": report["timesteps"],
        "Lava accuracy (%)": pct(report["accuracy_lava"]),
        "engine accuracy (%)": pct(report["accuracy_engine"]),
        "counts_equal": report["spike_counts_equal"], "cores": report["cores_used"],
        "intercore_spikes": report["intercore_spikes"], "wall_s": report["wall_s"],
    }])
    print(f"wrote {Path(args.out) / 'loihi.json'}")
    return 0
