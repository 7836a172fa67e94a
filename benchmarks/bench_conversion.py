"""Conversion speed: the batched numpy engine vs T dense ANN passes, and vs Brian2 on the same network.

Prints medians of repeated runs:
1. engine cost for T steps / cost of T dense ANN forward passes on the same batch (target <= 3), for the
   digits MLP and CNN;
1b. the same over the whole T sweep 1, 2, 4, ..., 32 (issue 19, target <= 1.5x): max thresholds run
   once for 32 steps with a read-out at every T; distribution thresholds are fitted per T, one run per T
   (63 steps in all); against as many ANN passes in float64 (the project's ANN, `ops.forward`) and in
   float32 (the engine's precision: the roofline of a dense engine). Threshold fitting is not timed;
2. numpy engine vs Brian2 (cython and numpy code generation) per sample on the digits MLP; Brian2's
   build and first-run (code generation/compilation) time are reported separately and excluded.

Usage: python benchmarks/bench_conversion.py [--batch 1024] [--timesteps 8] [--repeats 5] [--skip-brian]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from conversion import defaults, engine, ops
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


def sweep_vs_ann(kind: str, x: np.ndarray, x_calib: np.ndarray, threshold: str, repeats: int) -> dict:
    graph, _ = train_reference(kind, seed=0)
    steps = list(defaults.TIMESTEPS)
    groups = [[t] for t in steps] if threshold == "distribution" else [steps]
    nets = [convert(graph, x_calib, threshold, timesteps=g[-1], init_membrane_fraction=0.5) for g in groups]
    n_passes = sum(g[-1] for g in groups)
    single = engine.cast_graph(graph, np.float32)
    x32 = {next(iter(graph.inputs)): ops.check_input(graph, x).astype(np.float32)}
    ann64_s = _median_s(lambda: [ops.forward(graph, x) for _ in range(n_passes)], repeats)
    ann32_s = _median_s(lambda: [ops.forward_values(single, x32) for _ in range(n_passes)], repeats)
    snn_s = _median_s(lambda: [engine.simulate(net, x, g, batch_size=len(x)) for net, g in zip(nets, groups)],
                      repeats)
    return {"model": kind, "threshold": threshold, "batch": len(x), "steps": n_passes, "engine_s": snn_s,
            "ann64_s": ann64_s, "ann32_s": ann32_s, "ratio_vs_ann64": snn_s / ann64_s,
            "ratio_vs_ann32": snn_s / ann32_s}


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


def _line(row: dict) -> str:
    return "  " + "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--brian-samples", type=int, default=200)
    parser.add_argument("--skip-brian", action="store_true", help="skip the Brian2 comparison")
    args = parser.parse_args()
    split = load_digits_split(seed=0)
    x = np.resize(split.x_test, (args.batch, split.x_test.shape[1]))
    print("== engine (T steps, float32) vs T dense ANN forward passes (float64), same batch")
    for kind in ("digits-mlp", "digits-cnn"):
        for steps in (args.timesteps, 4 * args.timesteps):
            row = engine_vs_ann(kind, x, split.x_train, steps, args.repeats)
            print(_line(row))
    print("== engine over the whole T sweep 1..32 vs as many dense ANN passes, same batch (target <= 1.5x)")
    for kind in ("digits-mlp", "digits-cnn"):
        for threshold in ("max", "distribution"):
            row = sweep_vs_ann(kind, x, split.x_train, threshold, args.repeats)
            print(_line(row))
    if args.skip_brian:
        return
    print("== numpy engine vs Brian2 on the digits MLP (per sample; Brian2 build/codegen excluded, shown)")
    for row in engine_vs_brian(
        split.x_test[: args.brian_samples], split.x_train, 4 * args.timesteps, args.repeats
    ):
        print(_line(row))


if __name__ == "__main__":
    main()
