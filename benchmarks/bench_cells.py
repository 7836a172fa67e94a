"""Simulated neuron-steps per second of the Brian2 two-point cell, per code-generation target and size.

Each (target, n_cells) runs in its own subprocess (cpp_standalone needs a fresh device per build). Cells are
in the multiplexing regime (I_s = 400 pA, I_d = 200 pA, OU noise 150 pA per compartment, dt = 0.1 ms).
Compile/set-up time is reported apart from run time; run time is the median of `--repeats` runs:
- numpy:  set-up = first 1 ms run (code generation); run = wall time of net.run(duration).
- cython: compile = first 1 ms run; the first row starts from an empty Cython cache (a temp dir, so its
          figure is a cold compile), later rows reuse it. run = wall time of net.run(duration).
- cpp_standalone: compile = code generation + make; run = the binary's own simulation timer (the binary
          is re-run for each repeat; its wall time incl. start-up and result writing is also printed).
Target from issue 2: >= 5e7 neuron-steps/s for 10,000 cells after compilation.

    .venv/bin/python benchmarks/bench_cells.py [--sizes 1000,10000] [--targets numpy,cython,cpp_standalone]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DT_MS = 0.1
DURATION_S = {"numpy": 0.1, "cython": 0.3, "cpp_standalone": 1.0}  # simulated time per timed run
TARGET_STEPS_PER_S = 5e7


def _cells(n_cells: int, noise: bool):
    import brian2 as b2

    from spiking_mcc.cells.model import make_cell_group, set_conditions
    from spiking_mcc.cells.params import make_params

    group = make_cell_group(n_cells, make_params(), DT_MS, name="bench", noise=noise)
    sigma_pa = 150.0 if noise else 0.0
    i_s_pa = 400.0 if noise else 600.0  # without noise, a supra-threshold tonic drive keeps the cells firing
    set_conditions(group, {"I_s_tonic": i_s_pa, "I_d_tonic": 200.0, "sigma_s": sigma_pa, "sigma_d": sigma_pa})
    spikes = b2.SpikeMonitor(group, name="bench_spikes")
    return group, spikes


def _worker(target: str, n_cells: int, duration_s: float, repeats: int, cache_dir: str, threads: int,
            noise: bool) -> dict:
    import brian2 as b2

    b2.seed(0)
    steps = int(round(duration_s * 1000 / DT_MS))
    if target == "cpp_standalone":
        project = tempfile.mkdtemp(prefix="bench_cells_cpp_")
        b2.set_device("cpp_standalone", directory=project, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads
        group, spikes = _cells(n_cells, noise)
        b2.run(duration_s * b2.second)
        start = time.perf_counter()
        b2.device.build(directory=project, compile=True, run=False, with_output=False)
        compile_s = time.perf_counter() - start
        run_s, wall_s = [], []
        for _ in range(repeats):
            b2.device.run(directory=project, with_output=False)
            run_s.append(b2.device._last_run_time)
            wall_s.append(b2.device.timers["run_binary"])
        n_spikes = int(spikes.num_spikes)
        note = f"binary wall {statistics.median(wall_s):.2f} s; {threads or 1} thread(s)"
    else:
        b2.prefs.codegen.target = target
        if target == "cython":
            b2.prefs.codegen.runtime.cython.cache_dir = cache_dir
        group, spikes = _cells(n_cells, noise)
        network = b2.Network(group, spikes)
        start = time.perf_counter()
        network.run(1 * b2.ms)
        compile_s = time.perf_counter() - start
        run_s = []
        for _ in range(repeats):
            start = time.perf_counter()
            network.run(duration_s * b2.second)
            run_s.append(time.perf_counter() - start)
        n_spikes = int(spikes.num_spikes)
        note = ""
    run_median = statistics.median(run_s)
    simulated_s = duration_s * (1 if target == "cpp_standalone" else repeats)  # spikes cover this much
    return {"target": target, "noise": noise, "n_cells": n_cells, "steps": steps, "compile_s": compile_s,
            "run_s": run_median, "neuron_steps_per_s": n_cells * steps / run_median,
            "mean_rate_hz": n_spikes / (n_cells * simulated_s),
            "note": note}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--targets", default="numpy,cython,cpp_standalone")
    parser.add_argument("--repeats", type=int, default=3)
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
            config = {"target": target, "n_cells": n_cells, "duration_s": DURATION_S[target], "noise": noise,
                      "repeats": args.repeats, "cache_dir": cache_dir, "threads": args.threads}
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(config)]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
                print(f"{target} n={n_cells}: failed ({tail[0]})", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if target == "cython":
                row["note"] = "cold Cython cache" if cython_cases == 0 else "Cython cache warm from above"
                cython_cases += 1
            rows.append(row)
            print(f"{target:15s} noise={noise!s:5s} n={n_cells:6d}  compile {row['compile_s']:7.2f} s  "
                  f"run {row['run_s']:7.3f} s  {row['neuron_steps_per_s']:.3g} neuron-steps/s",
                  file=sys.stderr, flush=True)

    print(f"\nneuron-steps/s, dt = {DT_MS} ms, median of {args.repeats} runs "
          f"(target >= {TARGET_STEPS_PER_S:.0e} for 10,000 cells)")
    header = (f"{'target':15s} {'noise':5s} {'cells':>7s} {'steps':>7s} {'compile_s':>10s} {'run_s':>8s} "
              f"{'neuron-steps/s':>15s} {'rate_hz':>8s}  note")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['target']:15s} {row['noise']!s:5s} {row['n_cells']:7d} {row['steps']:7d} "
              f"{row['compile_s']:10.2f} {row['run_s']:8.3f} {row['neuron_steps_per_s']:15.3g} "
              f"{row['mean_rate_hz']:8.2f}  {row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
