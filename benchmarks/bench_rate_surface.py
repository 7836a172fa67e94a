"""Wall time of the L5PC rate surface (docs/twopoint_laws.md): Brian2 grid run and law fits, against ~60 s.

The full surface (221 conditions x 20 trials, 2.5 s each, OU noise) runs once to compile its code (the
first figure includes the compilation when the Cython cache is cold), then `--repeats` more times;
the measurement and the fits are timed apart.

    .venv/bin/python benchmarks/bench_rate_surface.py [--repeats 1] [--target cython]
"""

from __future__ import annotations

import argparse
import statistics
import time

TARGET_WALL_S = 60.0


def _timed_surface(target: str, seed: int) -> tuple[float, float]:
    from spiking_mcc.brian_state import brian_state
    from spiking_mcc.cells.params import make_params
    from spiking_mcc.cells.rate_surface import FULL_SURFACE, fit_laws, measure_surface

    start = time.perf_counter()
    with brian_state(target=target):
        grid = measure_surface(make_params(), FULL_SURFACE, 0.1, seed)
    measured = time.perf_counter()
    fit_laws(grid, seed)
    return measured - start, time.perf_counter() - measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--target", choices=("numpy", "cython"), default="cython")
    args = parser.parse_args()
    first_run_s, first_fit_s = _timed_surface(args.target, seed=0)
    print(f"first run (incl. code generation): Brian2 {first_run_s:.1f} s, fits {first_fit_s:.1f} s")
    runs = [_timed_surface(args.target, seed=repeat + 1) for repeat in range(args.repeats)]
    brian_s = statistics.median(run for run, _ in runs)
    fit_s = statistics.median(fit for _, fit in runs)
    total_s = brian_s + fit_s
    print(f"compiled ({args.target}, median of {args.repeats}): Brian2 {brian_s:.1f} s, fits {fit_s:.1f} s, "
          f"total {total_s:.1f} s = {total_s / TARGET_WALL_S:.2f} x the {TARGET_WALL_S:.0f} s target")


if __name__ == "__main__":
    main()
