"""MCC -> two-compartment spiking units on AV digits: accuracy vs T against the ANN; engine vs Brian2 cost.

Trains the MCC network (law gain by default, the law the spiking unit realises) and the point baseline with
``train_model(model, "supervised", load_avdigits(), epochs, seed=0)`` (64-32 per stream), converts both
through :func:`conversion.mcc_pipeline.convert_mcc` (distribution-aware thresholds fitted per T) and prints
per T: test accuracy, loss vs the ANN in points (target: <= 1 point at T = 16 for MCC), spikes and synaptic
events per sample. Then the cost per sample at T = 16 of the numpy engine (median of 3 runs, whole test
set) and of Brian2 (numpy code generation, so no compile step; build time reported apart) on the first
`--brian-samples` test samples, their ratio, and whether the two agree.

Usage: .venv/bin/python benchmarks/bench_conversion_mcc.py [--epochs 20] [--law gain] [--brian-samples 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from conversion import mcc_engine, twopoint_spiking
from conversion.importers.mcc import two_stream_graph
from conversion.mcc_brian import simulate_brian2
from conversion.mcc_pipeline import convert_mcc
from spiking_mcc.data.avdigits import load_avdigits
from spiking_mcc.mcc.network import save_network
from spiking_mcc.mcc.train import train_model
from spiking_mcc.twopoint.transfer import UNIT_LAW

TIMESTEPS = [1, 2, 4, 8, 16, 32]
TIMING_T = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--law", default=UNIT_LAW)
    parser.add_argument("--brian-samples", type=int, default=100)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    data = load_avdigits(seed=0)
    test = {"audio": data.audio_test, "visual": data.visual_test}
    with tempfile.TemporaryDirectory() as folder:
        for model in ("mcc", "point"):
            trained = train_model(model, "supervised", data, args.epochs, 0, law=args.law)
            path = save_network(trained.network, Path(folder) / f"{model}.npz")
            summary = convert_mcc(path, data, TIMESTEPS, seed=0, brian_samples=args.brian_samples)
            print(f"\n{model} (law {summary['law']}, {args.epochs} epochs): ANN accuracy "
                  f"{100 * summary['ann_accuracy']:.2f}% on {summary['n_test']} test samples")
            header = ("T", "accuracy %", "loss (pts)", "spikes/sample", "events/sample")
            print(f"{header[0]:>4} " + " ".join(f"{h:>14}" for h in header[1:]))
            for e in summary["snn"]:
                print(f"{e['timesteps']:>4} {100 * e['accuracy']:>14.2f} {e['accuracy_loss_points']:>14.2f} "
                      f"{e['spikes_per_sample']:>14.0f} {e['synaptic_events_per_sample']:>14.0f}")
            b = summary["brian"]
            print(f"Brian2 vs engine, {b['samples']} samples at T={b['timesteps']}: accuracy "
                  f"{b['accuracy']:.4f} vs {b['engine_accuracy']:.4f}, "
                  f"prediction agreement {b['prediction_agreement']:.3f}, "
                  f"max relative spike-count difference {b['max_relative_spike_difference']:.1e}")

            graph = two_stream_graph(trained.network)
            net = twopoint_spiking.calibrate(graph, {"audio": data.audio_train, "visual": data.visual_train},
                                             "distribution", TIMING_T)
            engine_s = []
            for _ in range(3):
                start = time.perf_counter()
                mcc_engine.simulate(net, test, [TIMING_T])
                engine_s.append((time.perf_counter() - start) / len(data.y_test))
            subset = {k: v[:args.brian_samples] for k, v in test.items()}
            brian = simulate_brian2(net, subset, [TIMING_T])
            brian_s = brian.run_s / args.brian_samples
            engine_median = statistics.median(engine_s)
            print(f"cost per sample at T={TIMING_T}: numpy engine {1e3 * engine_median:.3f} ms, Brian2 "
                  f"{1e3 * brian_s:.3f} ms (build {brian.build_s:.2f} s for {brian.n_synapses} synapses, "
                  f"excluded); Brian2 / engine = {brian_s / engine_median:.1f}")


if __name__ == "__main__":
    main()
