"""`spiking-mcc convert`: ANN (.npz or .onnx) -> spiking network, accuracy vs time steps."""

from __future__ import annotations

import argparse

from conversion import defaults
from conversion.engine import DEFAULT_BATCH_SIZE
from spiking_mcc.commands.common import (
    add_out_argument,
    add_seed_argument,
    finite_float,
    print_table,
    timesteps_type,
)
from spiking_mcc.commands.convert_mcc import add_mcc_arguments, run_mcc
from spiking_mcc.errors import ParameterError
from spiking_mcc.formatting import pct
from spiking_mcc.limits import bounds_text

HELP = ("convert a trained ANN (.npz/.onnx) to a spiking network, or run a NIR graph (.nir) as given; "
        "accuracy, spikes and events vs T")

THRESHOLDS = ("max", "percentile", "channel", "distribution", "uniform")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="trained ANN: spiking-mcc sequential-v1 .npz or .onnx; or a spiking .nir graph "
                             "(docs/conversion.md, NIR)")
    parser.add_argument("--data", default="digits",
                        help="digits | avdigits | PATH.npz with x, y [, x_calib] (default: digits)")
    steps = ",".join(str(t) for t in defaults.TIMESTEPS)
    parser.add_argument("--timesteps", type=timesteps_type, default=steps,
                        help=f"comma-separated distinct time steps T, each in {bounds_text('timesteps')} "
                             f"(default: {steps})")
    parser.add_argument("--threshold", default=defaults.THRESHOLD, choices=THRESHOLDS,
                        help="threshold method: max, percentile, channel (per-channel percentile), "
                             "distribution (Datta & Beerel 2022, fitted per T) or uniform (their "
                             "uniform-assumption baseline: threshold = clip ceiling, docs/lowlatency.md); "
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
    parser.add_argument("--reset", default=None, choices=("subtract", "zero"),
                        help=f"reset after a spike (default: {defaults.RESET}; for a .nir input: the file's "
                             "reset_mode metadata, else zero as v_reset states)")
    parser.add_argument("--dt", type=finite_float, default=None,
                        help=".nir input: time step for r and tau (default: the file's dt metadata, else "
                             "1e-4 for LIF/LI, 1/r for IF; docs/conversion.md, NIR)")
    parser.add_argument("--nir-exact", action="store_true",
                        help="write model.nir exactly as NIR states it: simulate with reset to zero and "
                             "initial membrane 0 (default export: reset/initial membrane in metadata only)")
    parser.add_argument("--nir-pool", default="sum", choices=("sum", "avg"),
                        help="average pooling in model.nir as SumPool2d with 1/k^2 folded (Norse, sinabs; "
                             "default) or AvgPool2d (snnTorch, SpikingJelly)")
    parser.add_argument("--leak", type=finite_float, default=defaults.LEAK,
                        help=f"membrane leak per step, [0, 1) (default {defaults.LEAK})")
    parser.add_argument("--samples", type=int, default=None, help="evaluate only the first N test samples")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="test samples simulated at once; memory grows with it, not with the test set "
                             f"(default {DEFAULT_BATCH_SIZE})")
    add_seed_argument(parser)
    add_out_argument(parser, "results/convert")
    add_mcc_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from conversion.pipeline import convert_and_evaluate, plot_summary

    timesteps = args.timesteps
    if not 0.0 <= args.init_membrane < 1.0:
        raise ParameterError(f"--init-membrane: allowed range [0, 1), got {args.init_membrane}")
    if not 0.0 <= args.leak < 1.0:
        raise ParameterError(f"--leak: allowed range [0, 1), got {args.leak}")
    if not 0.0 < args.percentile <= 100.0:
        raise ParameterError(f"--percentile: allowed range (0, 100], got {args.percentile}")
    if args.batch_size < 1:
        raise ParameterError(f"--batch-size: must be >= 1, got {args.batch_size}")
    from pathlib import Path

    if Path(args.model).suffix.lower() == ".nir":
        return run_nir(args, timesteps)
    if args.dt is not None:
        raise ParameterError("--dt applies to a .nir model only")
    reset = args.reset or defaults.RESET
    if args.nir_exact:
        if args.reset == "subtract" or args.init_membrane not in (0.0, defaults.INIT_MEMBRANE_FRACTION):
            raise ParameterError("--nir-exact simulates reset to zero and initial membrane 0; drop --reset "
                                 "subtract / --init-membrane")
        reset, args.init_membrane = "zero", 0.0
    args.reset = reset
    from conversion.importers.mcc import is_mcc_file

    if is_mcc_file(args.model, "mcc"):  # two-point MCC file: two-compartment units (convert_mcc.json)
        return run_mcc(args, timesteps)
    summary = convert_and_evaluate(
        args.model, args.data, timesteps, args.threshold, args.out, seed=args.seed, samples=args.samples,
        percentile=args.percentile, granularity=args.granularity, init_membrane_fraction=args.init_membrane,
        encoding=args.encoding, readout=args.readout, reset=args.reset, leak=args.leak, progress=True,
        nir_exact=args.nir_exact, nir_pool=args.nir_pool, batch_size=args.batch_size)
    plot_summary(Path(args.out) / "accuracy_vs_T.png", summary)  # after convert.json is written
    for note in summary["notes"]:
        print(f"note: {note}")
    nir_entry = summary["nir"]
    if nir_entry.get("error"):
        print(f"warning: model.nir not written: {nir_entry['error']}")
    for item in nir_entry["lossy"]:
        print(f"warning: model.nir: {item} (see convert.json 'nir'; --nir-exact for an exact file)")
    rows = [{"T": e["timesteps"], "accuracy (%)": pct(e["accuracy"]),
             "loss (points)": e["accuracy_loss_points"],
             "spikes/sample": e["spikes_per_sample"], "syn. events/sample": e["synaptic_events_per_sample"]}
            for e in summary["snn"]]
    print(f"test samples ({summary['n_test']}): {summary['data_origin']['test']}")
    print(f"calibration samples ({summary['n_calibration']}): {summary['data_origin']['calibration']}")
    print(f"ANN accuracy {pct(summary['ann_accuracy'])} % on {summary['n_test']} test samples "
          f"({summary['data']}); threshold: {summary['threshold']}")
    print_table(rows)
    print(f"wrote {args.out}/convert.json, {'model.nir, ' if nir_entry['file'] else ''}accuracy_vs_T.png")
    return 0


# options of an ANN conversion, with their defaults: a .nir graph is simulated as given
ANN_ONLY = {"threshold": "distribution", "init_membrane": 0.5, "encoding": "analog", "readout": "membrane",
            "leak": 0.0, "nir_exact": False, "nir_pool": "sum"}


def run_nir(args: argparse.Namespace, timesteps: list[int]) -> int:
    """A .nir graph simulated as given (its thresholds are not re-fitted)."""
    from pathlib import Path

    from conversion.pipeline import evaluate_nir, plot_summary

    given = [f"--{k.replace('_', '-')}" for k, default in ANN_ONLY.items() if getattr(args, k) != default]
    if given:
        raise ParameterError(f"{', '.join(given)}: not applicable to a .nir graph, which is simulated as "
                             "given (its neurons, thresholds and readout come from the file)")

    summary = evaluate_nir(args.model, args.data, timesteps, args.out, seed=args.seed, samples=args.samples,
                           dt=args.dt, reset=args.reset, progress=True, batch_size=args.batch_size)
    plot_summary(Path(args.out) / "accuracy_vs_T.png", summary)  # after convert.json is written
    print(f"NIR graph {summary['model']} as given: " + "; ".join(summary["nir_conventions"]))
    print_table([{"T": e["timesteps"], "accuracy (%)": pct(e["accuracy"]),
                  "spikes/sample": e["spikes_per_sample"],
                  "syn. events/sample": e["synaptic_events_per_sample"]} for e in summary["snn"]])
    print(f"wrote {args.out}/convert.json, accuracy_vs_T.png")
    return 0
