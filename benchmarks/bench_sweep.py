"""Speed-up of `spiking-mcc sweep` with 2 Dask workers over running the same cells one after another.

A 16-cell grid of MCC training runs (seeds x laws; each cell several seconds) runs once serially in this
process (`spiking_mcc.sweep.run_cell`, one BLAS thread, exactly what a worker runs) and once on a
LocalCluster of 2 single-threaded workers; prints both wall times, their ratio (target >= 1.6x on a
2-core machine) and whether every cell's numbers are identical. The machine is shared: the load
average is printed beside the figures.

Usage: .venv/bin/python benchmarks/bench_sweep.py [--epochs 40] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from spiking_mcc.io import read_json
from spiking_mcc.sweep import CELL_DIR, check_config, expand, run_cell, run_sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40,
                        help="training epochs per cell (default 40: at least 5 s a cell)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    grid = {"seed": [0, 1, 2, 3], "law": ["gain", "kp", "coop", "additive"]}
    config = check_config({"task": "train", "grid": grid, "fixed": {"model": "mcc", "epochs": args.epochs}})
    cells = expand(config)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {len(cells)} cells")
    start = time.perf_counter()
    serial = {cell["id"]: run_cell("train", cell["params"]) for cell in cells}
    serial_s = time.perf_counter() - start
    per_cell = sorted(record["wall_s"] for record in serial.values())
    print(f"serial: {serial_s:.1f} s ({per_cell[len(per_cell) // 2]:.1f} s per cell, median)")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_sweep(config, out, workers=args.workers, progress=False)
        dask_s = time.perf_counter() - start
        identical = all(read_json(f"{out}/{CELL_DIR}/{cell_id}.json")["result"]
                        == json.loads(json.dumps(record["result"])) for cell_id, record in serial.items())
    print(f"dask, {args.workers} workers (cluster start-up included): {dask_s:.1f} s")
    print(f"speed-up: {serial_s / dask_s:.2f}x; every cell identical to its serial run: {identical}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
