"""Entry point of the Lava child process: ``python -m loihi_targets.lava_child JOB_DIR``.

Reads JOB_DIR/job.npz (the network as plain arrays, the inputs, timesteps, chunk size), builds the
graph, runs it in chunks (compiled once), writes JOB_DIR/progress.txt after each chunk and
JOB_DIR/result.npz (counters + timings) at the end; on an error writes JOB_DIR/error.txt and exits 3.
``stop()`` always runs. Started by ``loihi_targets.runner`` in its own process group.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

import numpy as np


def _run(job_dir: Path) -> None:
    t0 = time.perf_counter()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi1SimCfg

    from conversion.fixed_point import network_from_arrays
    from loihi_targets.lava_graph import build_graph, read_counters
    from spiking_mcc.io import save_npz

    with np.load(job_dir / "job.npz", allow_pickle=False) as job:
        arrays = {key: job[key] for key in job.files}
    net_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("net_")}
    timesteps = int(arrays["timesteps"])
    chunk_steps = max(1, int(arrays["chunk_samples"]) * timesteps)
    fault = str(arrays.get("fault", np.array("")))
    t_import = time.perf_counter()
    if str(net_arrays["kind"]) == "mcc":  # a converted MCC network (loihi_targets.lava_mcc_graph)
        from conversion.mcc_hardware import from_arrays
        from loihi_targets.lava_mcc_graph import build_mcc_graph, read_mcc_counters

        inputs = {k[len("inputs_"):]: v for k, v in arrays.items() if k.startswith("inputs_")}
        graph = build_mcc_graph(from_arrays(net_arrays), inputs, timesteps)
        anchor, read_counters = next(iter(graph.sources.values())), read_mcc_counters
    else:
        graph = build_graph(network_from_arrays(net_arrays), arrays["inputs"], timesteps)
        anchor = graph.source
    run_cfg = Loihi1SimCfg(select_tag=graph.tag)
    t_build = time.perf_counter()
    timings = {"import_s": t_import - t0, "build_s": t_build - t_import}
    done = 0
    first_chunk_s = None
    try:
        while done < graph.num_steps:
            steps = min(chunk_steps, graph.num_steps - done)
            t_chunk = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=steps), run_cfg=run_cfg)
            if first_chunk_s is None:
                first_chunk_s = time.perf_counter() - t_chunk
            done += steps
            (job_dir / "progress.txt").write_text(f"{done} {graph.num_steps}\n")
            _inject_fault(fault)
        t_run = time.perf_counter()
        counters = read_counters(graph)
        t_read = time.perf_counter()
    finally:
        t_stop0 = time.perf_counter()
        try:
            anchor.stop()
        except Exception:  # noqa: BLE001 - stop after a failed run must not mask the first error
            pass
        timings["stop_s"] = time.perf_counter() - t_stop0
    timings.update(first_chunk_s=first_chunk_s, run_s=t_run - t_build, read_s=t_read - t_run,
                   num_steps=graph.num_steps)
    save_npz(job_dir / "result.npz", **counters,
             **{f"timing_{k}": np.asarray(v, dtype=np.float64) for k, v in timings.items()})


def _inject_fault(fault: str) -> None:
    """Test hooks. "hang": stall with live Lava processes and shm segments; "kill_worker": SIGKILL one
    Lava worker process, as when a ProcessModel dies (Lava then waits for it forever)."""
    if fault == "hang":
        time.sleep(3600)
    elif fault == "kill_worker":
        import os
        import signal

        import psutil

        workers = psutil.Process().children(recursive=True)
        if workers:
            os.kill(workers[-1].pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    job_dir = Path(argv[0])
    try:
        _run(job_dir)
    except BaseException as err:  # noqa: BLE001 - report everything to the parent, then fail
        (job_dir / "error.txt").write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
