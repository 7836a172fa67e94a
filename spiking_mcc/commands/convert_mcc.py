"""The `convert` command's path for MCC / point model files (format spiking-mcc/mcc-v1): two-compartment
spiking units (conversion.mcc_pipeline). Not a subcommand of its own: `convert` calls it when
`conversion.importers.mcc.is_mcc_file(MODEL, "mcc")` is true (point-baseline files take the ordinary path).

Usage: ``spiking-mcc convert results/train/mcc.npz --data avdigits --timesteps 4,8,16 --brian-samples 100``
writes ``DIR/convert_mcc.json`` and ``DIR/accuracy_vs_T.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spiking_mcc.commands.common import print_table
from spiking_mcc.errors import ParameterError
from spiking_mcc.formatting import fmt, pct


def add_mcc_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that only MCC model files use (added to the `convert` parser)."""
    parser.add_argument("--brian-samples", type=int, default=0,
                        help="MCC models: also run the first N test samples in Brian2 at the largest T and "
                             "compare with the numpy engine (default 0: skip)")


def run_mcc(args: argparse.Namespace, timesteps: list[int]) -> int:
    """Convert an MCC/point model file with the `convert` command's options; print a summary table."""
    from conversion.mcc_pipeline import convert_mcc, plot_accuracy_vs_timesteps

    brian_samples = int(getattr(args, "brian_samples", 0) or 0)
    if brian_samples < 0:
        raise ParameterError(f"--brian-samples: must be >= 0, got {brian_samples}")
    summary = convert_mcc(
        args.model, args.data, timesteps, args.out, seed=args.seed, brian_samples=brian_samples,
        threshold=args.threshold, percentile=args.percentile, granularity=args.granularity,
        init_membrane_fraction=args.init_membrane, samples=args.samples, progress=True,
        encoding=args.encoding, readout=args.readout, reset=args.reset, leak=args.leak)
    plot_accuracy_vs_timesteps(Path(args.out) / "accuracy_vs_T.png", summary)  # after the JSON is written
    rows = [{"T": e["timesteps"], "accuracy (%)": pct(e["accuracy"]),
             "loss (points)": e["accuracy_loss_points"],
             "spikes/sample": e["spikes_per_sample"], "syn. events/sample": e["synaptic_events_per_sample"],
             "context events": e["context_events_per_sample"]} for e in summary["snn"]]
    print(f"{summary['network']} network (law {summary['law']}) as two-compartment spiking units; "
          f"ANN accuracy {pct(summary['ann_accuracy'])} % on {summary['n_test']} test samples "
          f"({summary['data']}); threshold: {summary['threshold']}")
    print_table(rows)
    if "brian" in summary:
        b = summary["brian"]
        print(f"Brian2 ({b['samples']} samples, T={b['timesteps']}): accuracy {pct(b['accuracy'])} % vs "
              f"engine {pct(b['engine_accuracy'])} %, "
              f"prediction agreement {pct(b['prediction_agreement'])} %, "
              f"max relative spike-count difference {fmt(b['max_relative_spike_difference'])}")
    print(f"wrote {args.out}/convert_mcc.json, accuracy_vs_T.png")
    return 0
