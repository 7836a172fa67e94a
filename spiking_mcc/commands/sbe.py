"""`spiking-mcc sbe`: compare sgd, mini-batch GD, truncated SVD and streaming batch eigenupdates."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import (
    add_out_argument,
    add_seed_argument,
    bounded_int,
    finite_float,
    int_list,
    parse_str_list,
    print_table,
)
from spiking_mcc.errors import DataError
from spiking_mcc.formatting import pct
from spiking_mcc.limits import bounds_text

HELP = "low-rank crossbar training: sgd vs mini-batch GD vs truncated SVD vs streaming batch eigenupdates"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spiking_mcc.sbe.trainer import (
        DEFAULT_LEARNING_RATE,
        DEFAULT_LR_DECAY,
        DEFAULT_SGD_LEARNING_RATE,
        METHODS,
    )

    parser.add_argument("--method", default=",".join(METHODS),
                        help=f"comma-separated subset of {','.join(METHODS)} (default: all)")
    parser.add_argument("--rank", type=int_list("rank"), default="1,3",
                        help="ranks k for svd and sbe, comma-separated (default: 1,3)")
    parser.add_argument("--batch", type=int_list("batch"), default="32,128",
                        help="batch sizes for mbgd, svd and sbe (sgd uses 1; default: 32,128)")
    parser.add_argument("--epochs", type=bounded_int("epochs"), default=30,
                        help=f"training epochs per run, in {bounds_text('epochs')} (default: 30)")
    parser.add_argument("--data", default="digits",
                        help="digits, avdigits, PATH.npz, IDX files or a WAV folder (default: digits)")
    parser.add_argument("--hidden", type=int_list("hidden", "hidden_units"), default="100",
                        help=f"hidden layer sizes, comma-separated, each in {bounds_text('hidden_units')} "
                             "(default: 100)")
    parser.add_argument("--learning-rate", type=finite_float, default=DEFAULT_LEARNING_RATE,
                        help=f"learning rate eta of mbgd, svd and sbe (default: {DEFAULT_LEARNING_RATE})")
    parser.add_argument("--sgd-learning-rate", type=finite_float, default=DEFAULT_SGD_LEARNING_RATE,
                        help=f"learning rate of sgd, per sample (default: {DEFAULT_SGD_LEARNING_RATE})")
    parser.add_argument("--lr-decay", type=finite_float, default=DEFAULT_LR_DECAY,
                        help=f"eta is multiplied by this after every epoch (default: {DEFAULT_LR_DECAY})")
    parser.add_argument("--device-levels", type=int, default=None,
                        help="crossbar device model: conductance levels (>= 2; default: continuous)")
    parser.add_argument("--write-noise", type=finite_float, default=0.0,
                        help="crossbar device model: relative std of every programmed change (default: 0)")
    parser.add_argument("--w-max", type=finite_float, default=1.0,
                        help="crossbar device model: weight range [-w_max, w_max] (default: 1)")
    add_seed_argument(parser)
    add_out_argument(parser, "results/sbe")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.data.loaders import load_dataset
    from spiking_mcc.sbe.compare import run_comparison
    from spiking_mcc.sbe.crossbar import CrossbarDevice
    from spiking_mcc.sbe.trainer import METHODS, plan_runs

    methods = parse_str_list(args.method, "method", METHODS)
    ranks, batches, hidden = args.rank, args.batch, tuple(args.hidden)
    device = None
    if args.device_levels is not None or args.write_noise != 0.0:
        device = CrossbarDevice(levels=args.device_levels, write_noise=args.write_noise, w_max=args.w_max)
    configs = plan_runs(methods, batches, ranks, learning_rate=args.learning_rate,
                        sgd_learning_rate=args.sgd_learning_rate, epochs=args.epochs,
                        lr_decay=args.lr_decay, hidden=hidden, seed=args.seed, device=device)
    data = load_dataset(args.data, seed=args.seed)
    if len(data.x_train) == 0:  # an NPZ with x_calib and no x_test: x, y is a test set
        raise DataError(f"--data {args.data}: no training samples ({(data.origin or {}).get('train')}); "
                        "add 'x_test'/'y_test' to train on 'x', 'y'")
    report = run_comparison(data, configs, args.out, data_name=args.data)
    print_table([{"method": r["method"], "batch": r["batch"], "rank": r["rank"] or "-",
                  "test accuracy (%)": pct(r["test_accuracy"]), "device_writes": r["device_writes"],
                  "state_floats": r["state_floats"]} for r in report["runs"]])
    print(f"wrote {args.out}/sbe.json")
    return 0
