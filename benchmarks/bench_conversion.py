"""Conversion speed: the batched numpy engine vs T dense ANN passes, and vs Brian2 on the same network.

Prints medians of repeated runs:
1. engine cost for T steps / cost of T dense ANN forward passes on the same batch (target <= 3), for the
   digits MLP and CNN;
2. numpy engine vs Brian2 (cython and numpy code generation) per sample on the digits MLP; Brian2's
   build and first-run (code generation/compilation) time are reported separately and excluded.

Usage: python benchmarks/bench_conversion.py [--batch 1024] [--timesteps 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from conversion import engine, ops
from conversion.reference_models import train_reference
from conversion.thresholds import convert
from spiking_mcc.data.digits import load_digits_split


def _median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def engine_vs_ann(kind: str, x: np.ndarray, x_calib: np.ndarray, steps: int, repeats: int) -> dict:
    graph, _ = train_reference(kind, seed=0)
    net = convert(graph, x_calib, "distribution", timesteps=steps, init_membrane_fraction=0.5)
    ann_s = _median_s(lambda: [ops.forward(graph, x) for _ in range(steps)], repeats)
    snn_s = _median_s(lambda: engine.simulate(net, x, steps, batch_size=len(x)), repeats)
    return {
        "model": kind,
        "batch": len(x),
        "T": steps,
        "ann_T_passes_s": ann_s,
        "engine_s": snn_s,
        "ratio": snn_s / ann_s,
    }


def engine_vs_brian(x: np.ndarray, x_calib: np.ndarray, steps: int, repeats: int) -> list[dict]:
    from conversion.brian_engine import simulate_brian2

    graph, _ = train_reference("digits-mlp", seed=0)
    net = convert(graph, x_calib, "distribution", timesteps=steps, init_membrane_fraction=0.5)
    numpy_s = _median_s(lambda: engine.simulate(net, x, steps, batch_size=len(x)), repeats)
    rows = []
    for target in ("cython", "numpy"):
        first = simulate_brian2(net, x, steps, codegen_target=target)  # code generation / compilation
        runs = [simulate_brian2(net, x, steps, codegen_target=target) for _ in range(max(1, repeats // 2))]
        run_s = statistics.median(r.run_s for r in runs)
        build_s = statistics.median(r.build_s for r in runs)
        same = bool(np.array_equal(runs[0].predictions, engine.simulate(net, x, steps)[0].predictions))
        rows.append(
            {
                "brian2_target": target,
                "samples": len(x),
                "T": steps,
                "numpy_engine_ms_per_sample": 1e3 * numpy_s / len(x),
                "brian2_run_ms_per_sample": 1e3 * run_s / len(x),
                "ratio_brian2_over_engine": run_s / numpy_s,
                "brian2_build_s": build_s,
                "brian2_first_run_s (codegen)": first.run_s - run_s,
                "same_predictions": same,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--brian-samples", type=int, default=200)
    args = parser.parse_args()
    split = load_digits_split(seed=0)
    x = np.resize(split.x_test, (args.batch, split.x_test.shape[1]))
    print("== engine (T steps) vs T dense ANN forward passes, same batch, float64 numpy")
    for kind in ("digits-mlp", "digits-cnn"):
        for steps in (args.timesteps, 4 * args.timesteps):
            row = engine_vs_ann(kind, x, split.x_train, steps, args.repeats)
            print(
                "  "
                + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
            )
    print("== numpy engine vs Brian2 on the digits MLP (per sample; Brian2 build/codegen excluded, shown)")
    for row in engine_vs_brian(
        split.x_test[: args.brian_samples], split.x_train, 4 * args.timesteps, args.repeats
    ):
        print(
            "  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        )


if __name__ == "__main__":
    main()
