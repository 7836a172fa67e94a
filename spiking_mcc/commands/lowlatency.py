"""`spiking-mcc lowlatency`: Datta & Beerel 2022 end to end (docs/lowlatency.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, parse_int_list, print_table
from spiking_mcc.formatting import pct

HELP = ("Datta & Beerel low-latency conversion: clipped-ReLU training, uniform vs distribution-aware "
        "thresholds, surrogate-gradient fine-tuning; accuracy, spikes and energy vs T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="cnn", choices=("mlp", "cnn"), help="architecture (default: cnn)")
    parser.add_argument("--data", default="digits",
                        help="digits | mnist5k (pip install '.[mnist]') | any --data of convert "
                             "(default: digits)")
    parser.add_argument("--timesteps", default="2,3,4", help="comma-separated time steps T (default: 2,3,4)")
    parser.add_argument("--granularity", default="layer", choices=("layer", "channel"),
                        help="distribution-aware fit and trained threshold per layer (paper, default) or per "
                             "channel/neuron")
    parser.add_argument("--ann-epochs", type=int, default=None,
                        help="ANN training epochs (default: 40 mlp, 20 cnn)")
    parser.add_argument("--clip-epochs", type=int, default=None,
                        help="clipped-ReLU training epochs (default: half the ANN's)")
    parser.add_argument("--finetune-epochs", type=int, default=20,
                        help="SNN fine-tuning epochs (default: 20)")
    parser.add_argument("--samples", type=int, default=None, help="evaluate only the first N test samples")
    parser.add_argument("--train-samples", type=int, default=None, help="train on the first N samples only")
    add_seed_argument(parser)
    add_out_argument(parser, "results/lowlatency")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.lowlatency import plot_accuracy, run_lowlatency

    timesteps = parse_int_list(args.timesteps, "timesteps", minimum=1)
    summary = run_lowlatency(args.model, args.data, timesteps, args.out, seed=args.seed,
                             ann_epochs=args.ann_epochs, clip_epochs=args.clip_epochs,
                             finetune_epochs=args.finetune_epochs, granularity=args.granularity,
                             samples=args.samples, train_samples=args.train_samples)
    plot_accuracy(Path(args.out) / "accuracy_vs_T.png", summary)  # after lowlatency.json is written
    print(f"ANN accuracy {pct(summary['ann_accuracy'])} %, "
          f"clipped-ReLU ANN {pct(summary['ann_clip_accuracy'])} % "
          f"({summary['model']} on {summary['data']}, {summary['n_test']} test samples)")
    print_table([{"stage": r["stage"], "T": r["timesteps"], "accuracy (%)": pct(r["accuracy"]),
                  "spikes/sample": r["spikes_per_sample"],
                  "syn. events/sample": r["synaptic_events_per_sample"],
                  "DNN/SNN energy": r["compute_energy_ratio"]} for r in summary["runs"]])
    print(f"wrote {args.out}/lowlatency.json, accuracy_vs_T.png, finetuned_T*.npz "
          f"({summary['wall_s']:.0f} s)")
    return 0
