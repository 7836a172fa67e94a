"""`spiking-mcc convert`: ANN (.npz or .onnx) -> spiking network, accuracy vs time steps."""

from __future__ import annotations

import argparse

from conversion import defaults
from spiking_mcc.commands.common import (
    add_out_argument,
    add_seed_argument,
    finite_float,
    print_table,
    timesteps_type,
)
from spiking_mcc.commands.convert_mcc import add_mcc_arguments, run_mcc
from spiking_mcc.errors import ParameterError
from spiking_mcc.limits import bounds_text

HELP = "convert a trained ANN (.npz/.onnx) to a spiking network; accuracy, spikes and events vs T"

THRESHOLDS = ("max", "percentile", "channel", "distribution")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="trained ANN: spiking-mcc sequential-v1 .npz or .onnx")
    parser.add_argument("--data", default="digits",
                        help="digits | avdigits | PATH.npz with x, y [, x_calib] (default: digits)")
    steps = ",".join(str(t) for t in defaults.TIMESTEPS)
    parser.add_argument("--timesteps", type=timesteps_type, default=steps,
                        help=f"comma-separated distinct time steps T, each in {bounds_text('timesteps')} "
                             f"(default: {steps})")
    parser.add_argument("--threshold", default=defaults.THRESHOLD, choices=THRESHOLDS,
                        help="threshold method: max, percentile, channel (per-channel percentile) or "
                             "distribution (Datta & Beerel 2022, fitted per T); "
                             f"default {defaults.THRESHOLD}")
    parser.add_argument("--percentile", type=finite_float, default=defaults.PERCENTILE,
                        help=f"percentile for percentile/channel (default {defaults.PERCENTILE})")
    parser.add_argument("--granularity", default=defaults.GRANULARITY, choices=("layer", "channel"),
                        help="distribution-aware fit per layer (paper) or per channel/neuron "
                             f"(default {defaults.GRANULARITY})")
    parser.add_argument("--init-membrane", type=finite_float, default=defaults.INIT_MEMBRANE_FRACTION,
                        help="initial membrane as a fraction of the threshold, in [0, 1) "
                             f"(default: {defaults.INIT_MEMBRANE_FRACTION})")
    parser.add_argument("--encoding", default=defaults.ENCODING, choices=("analog", "poisson"),
                        help=f"input encoding (default: {defaults.ENCODING}; analog: the input drives "
                             "layer 1 directly)")
    parser.add_argument("--readout", default=defaults.READOUT, choices=("membrane", "counts"),
                        help="output readout: accumulated membrane or spike counts "
                             f"(default {defaults.READOUT})")
    parser.add_argument("--reset", default=defaults.RESET, choices=("subtract", "zero"),
                        help=f"reset after a spike (default: {defaults.RESET})")
    parser.add_argument("--leak", type=finite_float, default=defaults.LEAK,
                        help=f"membrane leak per step, [0, 1) (default {defaults.LEAK})")
    parser.add_argument("--samples", type=int, default=None, help="evaluate only the first N test samples")
    add_seed_argument(parser)
    add_out_argument(parser, "results/convert")
    add_mcc_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from conversion.pipeline import convert_and_evaluate

    timesteps = args.timesteps
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
    print(f"test samples ({summary['n_test']}): {summary['data_origin']['test']}")
    print(f"calibration samples ({summary['n_calibration']}): {summary['data_origin']['calibration']}")
    print(f"ANN accuracy {summary['ann_accuracy']:.4f} on {summary['n_test']} test samples "
          f"({summary['data']}); threshold: {summary['threshold']}")
    print_table(rows)
    print(f"wrote {args.out}/convert.json, model.nir, accuracy_vs_T.png")
    return 0
