"""`spiking-mcc train`: train the MCC network or the point-neuron baseline on audio-visual digits."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import (
    add_out_argument,
    add_seed_argument,
    bounded_int,
    finite_float,
    print_table,
)
from spiking_mcc.errors import ParameterError
from spiking_mcc.formatting import pct
from spiking_mcc.limits import bounds_text
from spiking_mcc.mcc.activity import ENERGY_PER_TRANSMISSION_UJ
from spiking_mcc.mcc.network import CONTEXT_SOURCES
from spiking_mcc.twopoint.transfer import CONTEXT_LAWS, UNIT_LAW

HELP = "train the MCC network (two-point units) or the point-neuron baseline on audio-visual digits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("mcc", "point"), default="mcc", help="network (default: mcc)")
    parser.add_argument("--setup", choices=("supervised", "semi"), default="supervised",
                        help="all labels, or 10%% labelled + pseudo-labelling (default: supervised)")
    add_law_argument(parser, "the law the spiking two-point unit realises, docs/twopoint_unit.md")
    parser.add_argument("--context", choices=CONTEXT_SOURCES, default="broadcast",
                        help="MCC context source: an extra broadcast of relu(R) in each layer, or the "
                             "outputs the previous layer already sent (default: broadcast, the form the "
                             "spiking conversion reads; docs/mcc.md)")
    parser.add_argument("--context-k", type=int, default=0,
                        help="MCC context wiring: 0 dense, k > 0 each unit gets context from k neighbours "
                             "(default: 0)")
    parser.add_argument("--epochs", type=bounded_int("epochs"), default=20,
                        help=f"training epochs, in {bounds_text('epochs')} (default: 20)")
    parser.add_argument("--audio-snr-db", type=finite_float, default=None,
                        help="white noise on the audio at this SNR in dB (default: clean)")
    parser.add_argument("--visual-snr-db", type=finite_float, default=None,
                        help="noise on the images at this SNR in dB (default: clean)")
    parser.add_argument("--theta", type=finite_float, default=0.0,
                        help="transmission threshold: a unit transmits when its output > theta (default: 0)")
    parser.add_argument("--energy-per-transmission-uj", type=finite_float, default=ENERGY_PER_TRANSMISSION_UJ,
                        help="FPGA energy per synaptic transmission in uJ "
                             f"(default: {ENERGY_PER_TRANSMISSION_UJ:g}, Adeel et al. 2022)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/train")


def add_law_argument(parser: argparse.ArgumentParser, why_default: str) -> None:
    """--law: the MCC units' transfer law (shared by `train` and `compare`)."""
    parser.add_argument("--law", choices=CONTEXT_LAWS, default=UNIT_LAW,
                        help=f"two-point transfer law of the MCC units (default: {UNIT_LAW}, {why_default}; "
                             "docs/twopoint_laws.md; the point baseline always uses A = R)")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.io import ensure_dir, write_json
    from spiking_mcc.mcc.activity import count_transmissions, workload
    from spiking_mcc.mcc.network import save_network
    from spiking_mcc.mcc.train import accuracy, train_model

    if getattr(args, "context_k", 0) < 0:
        raise ParameterError(f"--context-k: must be >= 0 (0 = dense), got {args.context_k}")
    if args.theta < 0:
        raise ParameterError(f"--theta: must be >= 0, got {args.theta}")
    if args.energy_per_transmission_uj < 0:
        raise ParameterError("--energy-per-transmission-uj: must be >= 0, got "
                             f"{args.energy_per_transmission_uj}")
    out = ensure_dir(args.out)
    data = load_avdigits(seed=args.seed, audio_snr_db=args.audio_snr_db, visual_snr_db=args.visual_snr_db)
    from dataclasses import replace

    from spiking_mcc.mcc.train import TrainConfig

    config = replace(TrainConfig(), context_source=getattr(args, "context", "broadcast"),
                     context_k=getattr(args, "context_k", 0))
    result = train_model(args.model, args.setup, data, args.epochs, args.seed, law=args.law, config=config,
                         progress=True)
    net = result.network
    act = count_transmissions(net, data.audio_test, data.visual_test, args.theta,
                              energy_per_transmission_uj=args.energy_per_transmission_uj)
    test_accuracy = accuracy(net, data.audio_test, data.visual_test, data.y_test, theta=args.theta)
    model_path = save_network(net, out / f"{args.model}.npz")
    report = {"model": args.model, "setup": args.setup, "law": net.law, "seed": args.seed,
              "context_source": net.context_source, "context_k": net.context_k,
              "epochs": args.epochs, "hidden": list(net.hidden), "audio_snr_db": args.audio_snr_db,
              "visual_snr_db": args.visual_snr_db,
              "test_accuracy": test_accuracy, **act.as_dict(), "history": result.history,
              "model_file": model_path.name,
              "workloads": [workload(net, act, f"{args.model}-{args.setup}")]}
    write_json(out / f"train_{args.model}.json", report)
    _figure(result.history, out / f"train_{args.model}.png", args.model)
    print_table([{"model": args.model, "setup": args.setup, "law": net.law,
                  "test accuracy (%)": pct(test_accuracy),
                  "transmissions/sample": act.transmissions_per_sample,
                  "feed-forward/sample": act.feedforward_per_sample,
                  "energy_uJ/sample": act.energy_uj_per_sample}])
    print(f"wrote {model_path} and {out / f'train_{args.model}.json'}")
    return 0


def _figure(history: list[dict], path, model: str) -> None:
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import ACCURACY_LABEL, as_percent, integer_ticks, legend_outside, plt

    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, as_percent(h["test_accuracy"] for h in history), "-o", label="test")
    ax.plot(epochs, as_percent(h["train_accuracy"] for h in history), "-", label="train (labelled)")
    ax.set_xlabel("epoch")
    integer_ticks(ax.xaxis)
    ax.set_ylabel(ACCURACY_LABEL.replace("test ", ""))
    ax.set_title(f"{model}")
    legend_outside(ax)
    save_figure(fig, path)
