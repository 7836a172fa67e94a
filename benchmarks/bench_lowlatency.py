"""Datta & Beerel low-latency pipeline (docs/lowlatency.md): accuracy at T = 2, 3, 4 for the uniform-
assumption thresholds, the distribution-aware conversion of the clipped-ReLU ANN and the fine-tuned SNN,
beside the ANN, over 3 seeds; and the wall time of one whole `lowlatency` run.

    python benchmarks/bench_lowlatency.py [--data digits|mnist5k] [--models mlp,cnn] [--seeds 0,1,2]
        [--ann-epochs N] [--finetune-epochs N]

Prints per stage and T the median and the range over seeds (test accuracy, %), the fine-tuned loss vs
the ANN at the smallest T (targets at T = 2 on digits: CNN <= 0.5 points, MLP <= 0.3), the DNN/SNN compute
energy ratio and the run time (target for the digits CNN: under 5 minutes on a 2-core machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from spiking_mcc.lowlatency import STAGES, run_lowlatency


def _accuracy(summary: dict, stage: str, t: int) -> float:
    return 100 * next(r["accuracy"] for r in summary["runs"] if r["stage"] == stage and r["timesteps"] == t)


def _spread(values: np.ndarray) -> str:
    return f"{np.median(values):6.2f} [{values.min():.2f}, {values.max():.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--timesteps", default="2,3,4")
    parser.add_argument("--ann-epochs", type=int, default=None,
                        help="default: the command's (40 MLP, 20 CNN)")
    parser.add_argument("--finetune-epochs", type=int, default=20)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = [int(t) for t in args.timesteps.split(",")]
    for model in args.models.split(","):
        summaries, walls = [], []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                summaries.append(run_lowlatency(model, args.data, steps, out, seed=seed,
                                                ann_epochs=args.ann_epochs,
                                                finetune_epochs=args.finetune_epochs))
                walls.append(time.perf_counter() - started)
        ann = np.array([100 * s["ann_accuracy"] for s in summaries])
        clip = np.array([100 * s["ann_clip_accuracy"] for s in summaries])
        epochs = summaries[0]["epochs"]
        print(f"== {model} on {args.data}, seeds {seeds}, epochs {epochs}: "
              "median [min, max] test accuracy (%)")
        print(f"{'ANN (ReLU)':<20}{_spread(ann)}")
        print(f"{'ANN (clipped ReLU)':<20}{_spread(clip)}")
        for stage in STAGES:
            cells = [f"T={t}: {_spread(np.array([_accuracy(s, stage, t) for s in summaries]))}"
                     for t in steps]
            print(f"{stage:<20}" + "   ".join(cells))
        t0 = steps[0]
        loss = ann - np.array([_accuracy(s, "finetuned", t0) for s in summaries])
        print(f"fine-tuned loss vs ANN at T={t0}: mean {loss.mean():+.2f} points, worst {loss.max():+.2f} "
              f"(per seed {np.round(loss, 2).tolist()})")
        ratio = np.array([s["compute_energy_ratio"][str(t0)] for s in summaries])
        print(f"DNN/SNN compute energy at T={t0} (fine-tuned): {_spread(ratio)}")
        print(f"wall time per lowlatency run: median {np.median(walls):.0f} s "
              f"[{min(walls):.0f}, {max(walls):.0f}]")


if __name__ == "__main__":
    main()
