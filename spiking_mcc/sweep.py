"""`spiking-mcc sweep`: a grid of the project's own work on Dask distributed, one JSON per grid cell.

A sweep config (JSON) names a task and a grid::

    {"task": "convert",
     "grid": {"model": ["digits-mlp", "digits-cnn"], "threshold": ["max", "distribution"], "seed": [0, 1, 2]},
     "fixed": {"data": "digits", "timesteps": [1, 2, 4, 8, 16, 32]}}

Every combination of the `grid` values (their cartesian product, in the order written), merged with
`fixed`, is one cell. Tasks:

- ``convert``: train a reference model (`model` = digits-mlp | digits-cnn, on the digits split of
  `seed`) or read a model file (`model` = a path), then `conversion.pipeline.convert_and_evaluate`
  with the cell's `data`, `timesteps`, `threshold` (and optional `granularity`, `percentile`,
  `samples`); the cell's result is convert.json's summary (accuracy per T, spikes, events).
- ``train``: `spiking_mcc.mcc.train.train_model` on the audio-visual digits of `seed` with `model`
  (mcc | point), `setup`, `law`, `epochs` (optional `audio_snr_db`); the result is the test accuracy,
  the training history and the transmissions per sample.

Cells run on a Dask ``LocalCluster`` (``workers`` processes, one thread each) or on a running scheduler
(``scheduler`` = its address). Each cell runs with BLAS limited to one thread, so its numbers do not
depend on where it runs: a cell's JSON equals what running that cell alone gives. Results come back to
this process, which alone writes the output folder: ``cells/<id>.json`` per cell as it finishes
(atomic), then ``sweep.json`` (every cell's parameters, status, wall time and headline numbers). A
rerun into the same folder skips the cells whose JSON is already there with the same parameters.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.io import read_json, write_json

CONFIG_KEYS = ("task", "grid", "fixed")
MAX_CELLS = 10_000  # a grid beyond this is almost surely a typo; split it into several sweeps
CELL_DIR = "cells"
# Worker settings of the LocalCluster. Measured on the 16-cell training grid of benchmarks/bench_sweep.py
# (2 workers, 2 cores): Dask's default MALLOC_TRIM_THRESHOLD_=65536 for worker processes makes numpy's
# many temporary arrays go back to the OS and be mapped again (8.2 s per cell vs 5.4 s in a plain
# process); unset, 6.5 s; without the statistical profiler sampling every thread, 6.1 s.
LOCAL_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                       "distributed.worker.profile.enabled": False}
SUMMARY_FILE = "sweep.json"


# ------------------------------------------------------------------------------------------- tasks
def _convert_cell(params: dict) -> dict:
    from conversion.pipeline import convert_and_evaluate
    from conversion.reference_models import REFERENCE_MODELS, train_reference

    model = params["model"]
    graph_or_path = train_reference(model, params["seed"])[0] if model in REFERENCE_MODELS else model
    options = {key: params[key] for key in ("granularity", "percentile", "samples") if key in params}
    summary = convert_and_evaluate(graph_or_path, params["data"], list(params["timesteps"]),
                                   params["threshold"], out_dir=None, seed=params["seed"], **options)
    summary.pop("layers", None)
    return summary


def _train_cell(params: dict) -> dict:
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.mcc.train import train_model

    data = load_avdigits(seed=params["seed"], audio_snr_db=params.get("audio_snr_db"))
    result = train_model(params["model"], params.get("setup", "supervised"), data, params["epochs"],
                         params["seed"], law=params.get("law", "gain"))
    history = result.history
    return {"test_accuracy": float(history[-1]["test_accuracy"]), "history": history}


TASKS: dict[str, tuple[Callable[[dict], dict], tuple[str, ...]]] = {
    # task: (function, the parameters every cell must have)
    "convert": (_convert_cell, ("model", "data", "timesteps", "threshold", "seed")),
    "train": (_train_cell, ("model", "epochs", "seed")),
}


def headline(task: str, result: dict) -> dict:
    """The few numbers of a cell's result that the summary table shows."""
    if task == "convert":
        row = {"ann_accuracy": result["ann_accuracy"]}
        row.update({f"acc_T{entry['timesteps']}": entry["accuracy"] for entry in result["snn"]})
        return row
    return {"test_accuracy": result["test_accuracy"]}


# ------------------------------------------------------------------------------------------ config
def load_config(path: str | Path) -> dict:
    """Read and check a sweep config; ParameterError naming the key on any problem."""
    config = read_json(path)
    return check_config(config, str(path))


def check_config(config: Any, where: str = "sweep config") -> dict:
    if not isinstance(config, dict):
        raise ParameterError(f"{where}: expected a JSON object with keys {list(CONFIG_KEYS)}")
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {unknown}; allowed: {list(CONFIG_KEYS)}")
    if config.get("task") not in TASKS:
        raise ParameterError(f"{where}: 'task' must be one of {sorted(TASKS)}, got {config.get('task')!r}")
    grid, fixed = config.get("grid"), config.get("fixed", {})
    if not isinstance(grid, dict) or not grid:
        raise ParameterError(f"{where}: 'grid' must be a non-empty object of name -> list of values")
    if not isinstance(fixed, dict):
        raise ParameterError(f"{where}: 'fixed' must be an object of name -> value")
    n_cells = 1
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ParameterError(f"{where}: grid '{name}' must be a non-empty list, got {values!r}")
        n_cells *= len(values)
    if n_cells > MAX_CELLS:
        raise ParameterError(f"{where}: the grid has {n_cells} cells, more than the limit {MAX_CELLS}")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise ParameterError(f"{where}: {both} appear in both 'grid' and 'fixed'")
    missing = [key for key in TASKS[config["task"]][1] if key not in grid and key not in fixed]
    if missing:
        raise ParameterError(f"{where}: task '{config['task']}' needs {missing} in 'grid' or 'fixed'")
    return {"task": config["task"], "grid": grid, "fixed": fixed}


def expand(config: dict) -> list[dict]:
    """The grid's cells, in order: each {"id", "params"}; the id is stable for the same parameters."""
    names = list(config["grid"])
    cells = []
    for index, values in enumerate(itertools.product(*(config["grid"][n] for n in names))):
        params = {**config["fixed"], **dict(zip(names, values))}
        digest = hashlib.sha256(json.dumps([config["task"], params], sort_keys=True).encode()).hexdigest()
        cells.append({"id": f"{index:04d}-{digest[:10]}", "params": params})
    return cells


# --------------------------------------------------------------------------------------- execution
def run_cell(task: str, params: dict) -> dict:
    """Run one cell here, BLAS limited to one thread (what every worker does): {"result", "wall_s"}."""
    from threadpoolctl import threadpool_limits

    function = TASKS[task][0]
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        result = function(dict(params))
    return {"result": result, "wall_s": time.perf_counter() - started}


def _done_before(out: Path, cell: dict, task: str) -> dict | None:
    path = out / CELL_DIR / f"{cell['id']}.json"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        record = read_json(path)
    except DataError:  # a half-written or corrupt cell file: run the cell again
        return None
    if isinstance(record, dict) and record.get("task") == task and record.get("params") == cell["params"]:
        return record
    return None


def run_sweep(config: dict, out_dir: str | Path, scheduler: str | None = None, workers: int = 2,
              progress: bool = True) -> dict:
    """Run every cell of `config` not already in `out_dir` on Dask; write cells/*.json and sweep.json.

    Returns the summary written to sweep.json. A cell that raises is recorded as failed with its error
    (the others go on)."""
    from tqdm import tqdm

    from spiking_mcc.interrupts import check_interrupted
    from spiking_mcc.outdir import output_folder

    config = check_config(config)
    if scheduler is None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError(f"--workers: must be an integer >= 1, got {workers!r}")
    with output_folder(out_dir, command="sweep") as folder:  # the one writer of this folder (held by the CLI)
        return _sweep(config, folder.path, scheduler, workers, progress, tqdm, check_interrupted)


def _sweep(config, out, scheduler, workers, progress, tqdm, check_interrupted) -> dict:
    task, cells = config["task"], expand(config)
    records = {cell["id"]: _done_before(out, cell, task) for cell in cells}
    todo = [cell for cell in cells if records[cell["id"]] is None]
    started = time.perf_counter()
    if todo:
        records.update(_run_on_dask(task, todo, out, scheduler, workers, progress, tqdm, check_interrupted))
    rows = []
    for cell in cells:
        record = records[cell["id"]]
        row = {"id": cell["id"], **cell["params"], "status": record["status"], "wall_s": record["wall_s"]}
        if record["status"] == "done":
            row.update(headline(task, record["result"]))
        else:
            row["error"] = record["error"]
        rows.append(row)
    summary = {"config": config, "n_cells": len(cells), "n_run": len(todo),
               "n_skipped": len(cells) - len(todo),
               "scheduler": scheduler or f"LocalCluster({workers} workers)",
               "wall_s": time.perf_counter() - started, "cells": rows}
    write_json(out / SUMMARY_FILE, summary)
    return summary


def _run_on_dask(task, todo, out, scheduler, workers, progress, tqdm, check_interrupted) -> dict:
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        with dask.config.set(LOCAL_WORKER_CONFIG):  # scoped: the caller's Dask config is left as it was
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster if cluster is not None else scheduler)
    records = {}
    try:
        futures = {client.submit(run_cell, task, cell["params"], key=f"sweep-{cell['id']}", pure=False): cell
                   for cell in todo}
        bar = tqdm(total=len(futures), desc=f"sweep {task}", unit="cell", disable=not progress)
        for future in as_completed(futures):
            check_interrupted()
            cell = futures[future]
            try:
                done = future.result()
                record = {"task": task, "id": cell["id"], "params": cell["params"], "status": "done",
                          "wall_s": done["wall_s"], "result": done["result"]}
                write_json(out / CELL_DIR / f"{cell['id']}.json", record)
            except Exception as err:  # the cell's own error, re-raised by Dask: recorded, the sweep goes on
                record = {"task": task, "id": cell["id"], "params": cell["params"], "status": "failed",
                          "wall_s": 0.0, "error": f"{type(err).__name__}: {err}"}
            records[cell["id"]] = record
            bar.update()
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return records
