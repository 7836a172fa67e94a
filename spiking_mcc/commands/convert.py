"""`spiking-mcc convert`: ANN (.npz or .onnx) -> spiking network, accuracy vs time steps."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, parse_int_list, print_table
from spiking_mcc.commands.convert_mcc import add_mcc_arguments, run_mcc
from spiking_mcc.errors import ParameterError

HELP = "convert a trained ANN (.npz/.onnx) to a spiking network; accuracy, spikes and events vs T"

THRESHOLDS = ("max", "percentile", "channel", "distribution", "uniform")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="trained ANN: spiking-mcc sequential-v1 .npz or .onnx")
    parser.add_argument("--data", default="digits",
                        help="digits | avdigits | PATH.npz with x, y [, x_calib] (default: digits)")
    parser.add_argument("--timesteps", default="1,2,4,8,16,32",
                        help="comma-separated time steps T (default: 1,2,4,8,16,32)")
    parser.add_argument("--threshold", default="distribution", choices=THRESHOLDS,
                        help="threshold method: max, percentile (99.9), channel (per-channel percentile) or "
                             "distribution (Datta & Beerel 2022, fitted per T; default) or uniform (their "
                             "uniform-assumption baseline: threshold = clip ceiling, docs/lowlatency.md)")
    parser.add_argument("--percentile", type=float, default=99.9, help="percentile for percentile/channel")
    parser.add_argument("--granularity", default="channel", choices=("layer", "channel"),
                        help="distribution-aware fit per layer (paper) or per channel/neuron (default)")
    parser.add_argument("--init-membrane", type=float, default=0.5,
                        help="initial membrane as a fraction of the threshold, in [0, 1) (default: 0.5)")
    parser.add_argument("--encoding", default="analog", choices=("analog", "poisson"),
                        help="input encoding (default: analog, the input drives layer 1 directly)")
    parser.add_argument("--readout", default="membrane", choices=("membrane", "counts"),
                        help="output readout: accumulated membrane (default) or spike counts")
    parser.add_argument("--reset", default="subtract", choices=("subtract", "zero"),
                        help="reset after a spike (default: subtract)")
    parser.add_argument("--leak", type=float, default=0.0, help="membrane leak per step, [0, 1) (default 0)")
    parser.add_argument("--samples", type=int, default=None, help="evaluate only the first N test samples")
    add_seed_argument(parser)
    add_out_argument(parser, "results/convert")
    add_mcc_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from conversion.pipeline import convert_and_evaluate

    timesteps = parse_int_list(args.timesteps, "timesteps", minimum=1)
    if not 0.0 <= args.init_membrane < 1.0:
        raise ParameterError(f"--init-membrane: allowed range [0, 1), got {args.init_membrane}")
    if not 0.0 <= args.leak < 1.0:
        raise ParameterError(f"--leak: allowed range [0, 1), got {args.leak}")
    if not 0.0 < args.percentile <= 100.0:
        raise ParameterError(f"--percentile: allowed range (0, 100], got {args.percentile}")
    from conversion.importers.mcc import is_mcc_file

    if is_mcc_file(args.model, "mcc"):  # two-point MCC file: two-compartment units (convert_mcc.json)
        return run_mcc(args, timesteps)
    summary = convert_and_evaluate(
        args.model, args.data, timesteps, args.threshold, args.out, seed=args.seed, samples=args.samples,
        percentile=args.percentile, granularity=args.granularity, init_membrane_fraction=args.init_membrane,
        encoding=args.encoding, readout=args.readout, reset=args.reset, leak=args.leak, progress=True)
    for note in summary["notes"]:
        print(f"note: {note}")
    rows = [{"T": e["timesteps"], "accuracy": e["accuracy"], "loss (points)": e["accuracy_loss_points"],
             "spikes/sample": e["spikes_per_sample"], "syn. events/sample": e["synaptic_events_per_sample"]}
            for e in summary["snn"]]
    print(f"ANN accuracy {summary['ann_accuracy']:.4f} on {summary['n_test']} test samples "
          f"({summary['data']}); threshold: {summary['threshold']}")
    print_table(rows)
    print(f"wrote {args.out}/convert.json, model.nir, accuracy_vs_T.png")
    return 0
