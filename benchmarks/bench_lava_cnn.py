"""The digits CNN on Lava fixed_pt against the fixed-point engine: per-layer spike counts on 200 samples.

For each seed: train the reference digits CNN (conv 3x3 8 ch -> ReLU -> avgpool 2 -> Dense 64 -> ReLU ->
Dense 10), convert it as `spiking-mcc loihi` does (percentile thresholds), quantise, run the batched
engine and one Lava run over all samples, and print whether every layer's spike count per sample and
per neuron and the output are identical, with the wall times. Usage:
python benchmarks/bench_lava_cnn.py [--samples 200] [--timesteps 8] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    from conversion import reference_models
    from loihi_targets.pipeline import run_loihi
    from spiking_mcc.data.digits import load_digits_split

    all_equal = True
    for seed in args.seeds:
        graph, ann_accuracy = reference_models.train_reference("digits-cnn", seed=seed)
        split = load_digits_split(seed)
        t0 = time.perf_counter()
        report = run_loihi(graph, (split.x_test, split.y_test, split.x_train), samples=args.samples,
                           timesteps=args.timesteps, mode="fixed", seed=seed)
        wall = time.perf_counter() - t0
        equal = report["spike_counts_equal"] and report["output_equal"]
        all_equal &= equal
        spikes = ", ".join(f"{row['layer']} {row['spikes_per_sample_lava']:.1f}"
                           for row in report["per_layer"])
        print(f"seed {seed}: {report['samples']} samples x T {args.timesteps}: counts and output identical "
              f"{equal} (max per-sample difference {report['max_window_count_difference']}); spikes/sample "
              f"{spikes}; accuracy ANN {ann_accuracy:.4f}, Lava {report['accuracy_lava']:.4f}, engine "
              f"{report['accuracy_engine']:.4f}; Lava wall {report['lava_wall_s']:.1f} s, engine "
              f"{report['engine_s'] * 1e3:.0f} ms, run_loihi {wall:.1f} s")
    print(f"all seeds identical: {all_equal}")
    if not all_equal:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
