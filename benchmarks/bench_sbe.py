"""SBE cost on digits (64-100-10): time per epoch of sbe vs mini-batch GD, state memory vs a*b.

Prints medians over epochs (per-epoch wall time as recorded by the trainer, evaluation excluded).
The sbe loop over samples is the algorithm (each sample's update needs the hats the previous one
left), so sbe is expected to cost a few times the vectorised mini-batch update in numpy; on a
crossbar the comparison that matters is the write count and the state memory, printed below.

Usage: .venv/bin/python benchmarks/bench_sbe.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import statistics

from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.sbe.trainer import TrainConfig, train_mlp


def median_epoch_seconds(split, config: TrainConfig) -> tuple[float, object]:
    result = train_mlp(split.x_train, split.y_train, split.x_test, split.y_test, config)
    return statistics.median(h["seconds"] for h in result.history), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    split = load_digits_split(seed=0)
    print(f"digits: {split.x_train.shape[0]} training samples, 64-100-10 MLP, {args.epochs} epochs per run")
    print(f"{'setting':<16}{'mbgd s/epoch':>14}{'sbe s/epoch':>13}{'sbe/mbgd':>10}{'writes mbgd/sbe':>17}")
    for batch, rank in ((32, 1), (128, 3)):
        t_mbgd, mbgd = median_epoch_seconds(split, TrainConfig("mbgd", batch, epochs=args.epochs))
        t_sbe, sbe = median_epoch_seconds(split, TrainConfig("sbe", batch, rank, epochs=args.epochs))
        write_ratio = sum(mbgd.device_writes) / sum(sbe.device_writes)
        setting = f"b={batch} k={rank}"
        print(f"{setting:<16}{t_mbgd:>14.4f}{t_sbe:>13.4f}{t_sbe / t_mbgd:>10.2f}{write_ratio:>17.1f}")
    print()
    print("state memory per layer (floats): a*b accumulator (mbgd, svd) vs k(a+b+1) (sbe); b includes bias")
    print(f"{'layer':<8}{'a x b':>10}{'a*b':>8}{'k=1':>8}{'k=3':>8}{'a*b / k=1':>11}{'a*b / k=3':>11}")
    for index, w in enumerate(mbgd.weights):
        a, b = w.shape
        full, k1, k3 = a * b, a + b + 1, 3 * (a + b + 1)
        print(f"{index:<8}{f'{a} x {b}':>10}{full:>8}{k1:>8}{k3:>8}{full / k1:>11.1f}{full / k3:>11.1f}")


if __name__ == "__main__":
    main()
