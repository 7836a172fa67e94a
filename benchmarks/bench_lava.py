"""Batched fixed-point engine vs Lava (fixed_pt) on the same quantised digits MLP, T = 8.

Prints medians of a few repeats: engine time per sample; Lava wall time (child process start, build,
compile, run, counter read, stop) for 1, 50 and 200 samples; Lava startup (1-sample run), marginal cost
per time step and per sample; Var.get cost per element read back; and the speed ratio engine vs Lava
(target >= 100x). Usage: python benchmarks/bench_lava.py [--repeats 3] [--samples 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

T = 8


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    from conversion import reference_models, thresholds
    from conversion.fixed_point.simulate import simulate_fixed
    from loihi_targets.quantize import quantize
    from loihi_targets.runner import run_lava
    from spiking_mcc.data.digits import load_digits_split

    graph, _ = reference_models.train_reference("digits-mlp", seed=0)
    split = load_digits_split(0)
    net = quantize(thresholds.convert(graph, split.x_train[:500], timesteps=T), T)
    x_all = split.x_test
    n = min(args.samples, len(x_all))
    sizes = " -> ".join(str(s) for s in [net.layers[0].n_in] + [layer.n_out for layer in net.layers])
    print(f"network {sizes}, T = {T}, repeats = {args.repeats} (medians)")

    engine_s, _ = _median_time(lambda: simulate_fixed(net, x_all, T), args.repeats)
    engine_per_sample = engine_s / len(x_all)
    print(f"batched engine: {len(x_all)} samples in {engine_s * 1e3:.1f} ms = "
          f"{engine_per_sample * 1e6:.1f} us/sample")

    walls = {}
    for count in sorted({1, min(50, n), n}):
        wall, result = _median_time(lambda c=count: run_lava(net, x_all[:c], T, timeout_s=300), args.repeats)
        walls[count] = (wall, result)
        elements = sum(len(w) + len(c) for w, c in zip(result.window_counts, result.neuron_counts))
        elements += result.output.size
        read_s = result.timings.get("read_s", float("nan"))
        print(f"Lava fixed_pt: {count:4d} samples x {T} steps: wall {wall:.2f} s (child: run "
              f"{result.timings.get('run_s', float('nan')):.2f} s, read {read_s * 1e3:.0f} ms for {elements} "
              f"elements = {read_s / elements * 1e6:.0f} us/element)")
    startup = walls[1][0]
    small, large = min(50, n), n
    if large > small:
        per_step = (walls[large][0] - walls[small][0]) / ((large - small) * T)
        per_sample_marginal = per_step * T
        print(f"Lava startup (1-sample run): {startup:.2f} s; marginal {per_step * 1e3:.2f} ms/step = "
              f"{per_sample_marginal * 1e3:.1f} ms/sample")
    else:
        per_sample_marginal = float("nan")
    lava_per_sample = walls[n][0] / n
    print(f"Lava amortised over {n} samples: {lava_per_sample * 1e3:.1f} ms/sample")
    print(f"ratio engine vs Lava (amortised, {n} samples): {lava_per_sample / engine_per_sample:.0f}x "
          f"(target >= 100x)")
    if np.isfinite(per_sample_marginal):
        print(f"ratio engine vs Lava (marginal per sample, startup excluded): "
              f"{per_sample_marginal / engine_per_sample:.0f}x")
    equal = all(np.array_equal(a, b.sum(axis=1)) for a, b in
                zip(walls[n][1].window_counts, simulate_fixed(net, x_all[:n], T).spike_counts))
    print(f"spike counts equal (engine vs Lava, {n} samples): {equal}")


if __name__ == "__main__":
    main()
