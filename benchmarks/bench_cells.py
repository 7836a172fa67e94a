"""Neuron-steps per second of the Brian2 population of two-point cells, per code-generation target.

The case measured is the population of docs/cells.md (spiking_mcc.cells.population: 10,000 cells, a somatic
and a dendritic input signal, each cell's own OU noise of 150 pA in both compartments, dt = 0.1 ms, 1 s), with
noise and without it (the deterministic BAC / f-I regime). Each (target, noise, n_cells) runs in its own
subprocess (cpp_standalone needs a fresh device per build). Compile/set-up time is reported apart from run
time:
- numpy:  set-up = first 1 ms run (code generation); run = wall time of net.run(duration).
- cython: compile = first 1 ms run; the first row starts from an empty Cython cache (a temp dir, so its
          figure is a cold compile), later rows reuse it. run = wall time of net.run(duration).
- cpp_standalone: compile = code generation + make; run = the binary's own simulation timer.
What bounds a step, measured:
- per code object: Brian2's profiler (`run(..., profile=True)`) splits the run time into the state update,
  the OU noise update (two Gaussian draws per cell and step), threshold, reset, input drive and monitor;
- random numbers: numpy's Gaussian generator alone, 2 draws per neuron-step (what the noise update needs);
- memory traffic: bytes per neuron-step (every per-neuron state array read and written once) at the measured
  rate, beside this machine's measured copy bandwidth for an array of the population's state size.

    .venv/bin/python benchmarks/bench_cells.py [--sizes 10000] [--targets numpy,cython,cpp_standalone]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

DT_MS = 0.1
DURATION_S = 1.0  # simulated time per timed run
PROFILE_S = 0.2  # simulated time of the separate profiled run (runtime targets)
TARGET_STEPS_PER_S = 5e7


def _population(n_cells: int, noise: bool, simulated_s: float):
    import brian2 as b2

    from spiking_mcc.cells.params import make_params
    from spiking_mcc.cells.population import FULL_POPULATION, build_population, input_signals

    # the input signals cover every run of the worker (set-up, timed repeats, profiled run)
    settings = replace(FULL_POPULATION, n_cells=n_cells, duration_ms=1000.0 * simulated_s + 2.0)
    soma, dend = input_signals(settings, seed=0)
    return build_population(settings, make_params(), soma, dend, DT_MS * b2.ms, noise=noise)


def _breakdown(info) -> dict:
    """Brian2 profiling_info [(name, seconds)] -> {part: share of the total}."""
    parts = {"noise": "_noise", "state update": "stateupdater", "threshold": "thresholder",
             "reset": "resetter", "drive": "_drive", "monitor": "_spikes"}
    total = sum(float(seconds) for _, seconds in info) or 1.0
    shares = {part: 0.0 for part in parts}
    for name, seconds in info:
        part = next((part for part, key in parts.items() if key in name), "other")
        shares[part] = shares.get(part, 0.0) + float(seconds) / total
    return shares


def _state_arrays(group) -> int:
    """Per-neuron state arrays of the group (each read and written once per step at most)."""
    return sum(1 for var in group.variables.values()
               if getattr(var, "size", 0) == len(group) and not getattr(var, "read_only", False)
               and np.dtype(getattr(var, "dtype", object)).kind in "fi")


def _worker(target: str, n_cells: int, repeats: int, cache_dir: str, threads: int, noise: bool) -> dict:
    import brian2 as b2

    b2.seed(0)
    steps = int(round(DURATION_S * 1000 / DT_MS))
    if target == "cpp_standalone":
        project = tempfile.mkdtemp(prefix="bench_cells_cpp_")
        b2.set_device("cpp_standalone", directory=project, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads
        network, spikes = _population(n_cells, noise, DURATION_S)
        network.run(DURATION_S * b2.second, profile=True)
        start = time.perf_counter()
        b2.device.build(directory=project, compile=True, run=False, with_output=False)
        compile_s = time.perf_counter() - start
        run_s = []
        for _ in range(repeats):
            b2.device.run(directory=project, with_output=False)
            run_s.append(b2.device._last_run_time)
        n_spikes = int(spikes.num_spikes)
        info = network.profiling_info
        simulated_s = DURATION_S
    else:
        b2.prefs.codegen.target = target
        if target == "cython":
            b2.prefs.codegen.runtime.cython.cache_dir = cache_dir
        network, spikes = _population(n_cells, noise, 0.001 + DURATION_S * repeats + PROFILE_S)
        start = time.perf_counter()
        network.run(1 * b2.ms)
        compile_s = time.perf_counter() - start
        run_s = []
        for _ in range(repeats):
            start = time.perf_counter()
            network.run(DURATION_S * b2.second)
            run_s.append(time.perf_counter() - start)
        n_spikes = int(spikes.num_spikes)
        simulated_s = 0.001 + DURATION_S * repeats
        network.run(PROFILE_S * b2.second, profile=True)  # apart: the profiler's own overhead is not timed
        info = network.profiling_info
    group = network["population"]
    run_median = statistics.median(run_s)
    return {"target": target, "noise": noise, "n_cells": n_cells, "steps": steps, "compile_s": compile_s,
            "run_s": run_median, "neuron_steps_per_s": n_cells * steps / run_median,
            "mean_rate_hz": n_spikes / (n_cells * simulated_s), "breakdown": _breakdown(info),
            "state_arrays": _state_arrays(group)}


def _random_numbers_per_s(n_cells: int, steps: int = 2000) -> float:
    """numpy's Gaussian generator alone: draws per second, 2 * n_cells per call (one noise update)."""
    rng = np.random.RandomState(0)  # the legacy generator Brian2's runtime targets draw from
    start = time.perf_counter()
    for _ in range(steps):
        rng.standard_normal(2 * n_cells)
    return 2 * n_cells * steps / (time.perf_counter() - start)


def _copy_bandwidth_gb_s(n_bytes: int, repeats: int = 200) -> float:
    """Read + write bandwidth of np.copyto over a buffer of n_bytes (GB/s)."""
    source, target = np.ones(n_bytes // 8), np.empty(n_bytes // 8)
    start = time.perf_counter()
    for _ in range(repeats):
        np.copyto(target, source)
    return 2 * n_bytes * repeats / (time.perf_counter() - start) / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--targets", default="numpy,cython,cpp_standalone")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0,
                        help="OpenMP threads for cpp_standalone (0: single-threaded, no OpenMP; default)")
    parser.add_argument("--noise", choices=("on", "off", "both"), default="both",
                        help="OU noise in both compartments (multiplexing regime) or none (BAC/f-I regime)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON keyword arguments of _worker
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(**json.loads(args.worker))))
        return 0

    noise_settings = {"on": (True,), "off": (False,), "both": (True, False)}[args.noise]
    cases = [(target, noise, int(size)) for target in args.targets.split(",") for noise in noise_settings
             for size in args.sizes.split(",")]
    rows, cython_cases = [], 0
    with tempfile.TemporaryDirectory(prefix="bench_cells_cython_") as cache_dir:
        for target, noise, n_cells in cases:
            config = {"target": target, "n_cells": n_cells, "noise": noise, "repeats": args.repeats,
                      "cache_dir": cache_dir, "threads": args.threads}
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
                print(f"{target} n={n_cells}: failed ({tail[0]})", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["note"] = ""
            if target == "cython":
                row["note"] = "cold Cython cache" if cython_cases == 0 else "Cython cache warm from above"
                cython_cases += 1
            rows.append(row)
            print(f"{target:15s} noise={noise!s:5s} n={n_cells:6d}  compile {row['compile_s']:7.2f} s  "
                  f"run {row['run_s']:7.3f} s  {row['neuron_steps_per_s']:.3g} neuron-steps/s",
                  file=sys.stderr, flush=True)

    print(f"\nneuron-steps/s, population of two-point cells, dt = {DT_MS} ms, {DURATION_S:g} s, median of "
          f"{args.repeats} runs (target >= {TARGET_STEPS_PER_S:.0e} for 10,000 cells)")
    header = (f"{'target':15s} {'noise':5s} {'cells':>7s} {'steps':>7s} {'compile_s':>10s} {'run_s':>8s} "
              f"{'neuron-steps/s':>15s} {'rate_hz':>8s}  note")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['target']:15s} {row['noise']!s:5s} {row['n_cells']:7d} {row['steps']:7d} "
              f"{row['compile_s']:10.2f} {row['run_s']:8.3f} {row['neuron_steps_per_s']:15.3g} "
              f"{row['mean_rate_hz']:8.2f}  {row['note']}")
    print("\nshare of the run time per code object (Brian2 profiler)")
    parts = ("state update", "noise", "threshold", "reset", "drive", "monitor", "other")
    print(f"{'target':15s} {'noise':5s} " + " ".join(f"{part:>12s}" for part in parts))
    for row in rows:
        print(f"{row['target']:15s} {row['noise']!s:5s} "
              + " ".join(f"{100 * row['breakdown'].get(part, 0.0):11.1f}%" for part in parts))
    for n_cells in sorted({row["n_cells"] for row in rows}):
        draws = _random_numbers_per_s(n_cells)
        arrays = max(row["state_arrays"] for row in rows if row["n_cells"] == n_cells)
        bandwidth = _copy_bandwidth_gb_s(8 * arrays * n_cells)
        print(f"\n{n_cells} cells: numpy Gaussian draws {draws:.3g}/s -> the noise update alone (2 draws per "
              f"neuron-step) caps a run at {draws / 2:.3g} neuron-steps/s")
        print(f"{n_cells} cells: {arrays} per-neuron state arrays ({8 * arrays * n_cells / 1e6:.2f} MB, so "
              f"cache-resident at this size): at most {16 * arrays} bytes read+written per neuron-step if "
              f"every array were streamed once; numpy copy bandwidth over that size: {bandwidth:.1f} GB/s "
              f"-> {bandwidth * 1e9 / (16 * arrays):.3g} neuron-steps/s")
        for row in (r for r in rows if r["n_cells"] == n_cells):
            need = row["neuron_steps_per_s"] * 16 * arrays / 1e9
            print(f"  {row['target']:15s} noise={row['noise']!s:5s} uses {need:.2f} GB/s "
                  f"({100 * need / bandwidth:.0f}% of it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
