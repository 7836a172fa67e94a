"""MCC vs point-neuron training cost on audio-visual digits, and the wall time of `compare --quick`.

Prints the median wall time of one training epoch (both networks, default sizes 64-32 per stream,
batch 32, 2,700 samples), the machine load while measuring, and the time of `run_compare(quick=True)`
(target: under 2 minutes; the full `compare` is about 20x one epoch x 18 runs, target under 10 minutes).

Usage: .venv/bin/python benchmarks/bench_mcc.py [--epochs 3] [--skip-compare]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from spiking_mcc.data.avdigits import load_avdigits
from spiking_mcc.mcc.study import run_compare
from spiking_mcc.mcc.train import train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--skip-compare", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    data = load_avdigits(seed=0)
    for model in ("mcc", "point"):
        times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            train_model(model, "supervised", data, 1, 0)
            times.append(time.perf_counter() - start)
        print(f"{model:<6} one epoch (incl. evaluation): median {statistics.median(times):.2f} s")
    if not args.skip_compare:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_compare(out, quick=True, progress=False)
            print(f"compare --quick: {time.perf_counter() - start:.1f} s (target < 120 s)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
