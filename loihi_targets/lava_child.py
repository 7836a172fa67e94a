"""Entry point of the Lava child process: ``python -m loihi_targets.lava_child JOB_DIR``.

Reads JOB_DIR/job.npz (the network as plain arrays, the inputs, timesteps, chunk size), builds the
graph, runs it in chunks (compiled once), writes JOB_DIR/progress.txt after each chunk and
JOB_DIR/result.npz (counters + timings) at the end; on an error writes JOB_DIR/error.txt and exits 3.
``stop()`` always runs. Started by ``loihi_targets.runner`` in its own process group, with the run id
in ``SPIKING_MCC_LAVA_RUN``: before Lava makes any shared memory, every segment name is given the
run's prefix (``runner.segment_prefix``), the proof of ownership the runner's clean-up relies on. A
watchdog thread ends the run when the parent dies (SIGKILL): it kills the rest of the group, unlinks
the run's segments, removes JOB_DIR and then kills itself. ``SPIKING_MCC_LAVA_FAULT`` injects a test
fault (see ``loihi_targets.runner``).
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np

PARENT_POLL_S = 0.5


def _tag_segments(run_id: str) -> None:
    """Make multiprocessing.shared_memory (which Lava's SharedMemoryManager uses; Lava forks its
    workers, so they inherit this) name new segments ``<run prefix><16 hex>``."""
    from multiprocessing import shared_memory

    from loihi_targets.runner import segment_prefix

    if not callable(getattr(shared_memory, "_make_filename", None)):
        raise RuntimeError("multiprocessing.shared_memory has no _make_filename on this Python; "
                           "cannot name Lava's segments for a safe clean-up")
    prefix = "/" + segment_prefix(run_id)
    shared_memory._make_filename = lambda: prefix + secrets.token_hex(8)


def _watch_parent(job_dir: Path, run_id: str) -> None:
    """Daemon thread: once the parent is gone, clean up the run and end the whole group."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        pgid = os.getpgid(0)
        try:
            from loihi_targets.runner import kill_run, remove_job_folder

            kill_run(pgid, run_id, skip_pid=os.getpid())
            remove_job_folder(job_dir)
        finally:  # whatever failed above, the group ends (the next run cleans what is left)
            os.killpg(pgid, signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _run(job_dir: Path) -> None:
    t0 = time.perf_counter()
    from loihi_targets.runner import FAULT_ENV, FAULTS, RUN_ENV

    run_id = os.environ.get(RUN_ENV, "")
    if not run_id:
        raise RuntimeError(f"{RUN_ENV} is not set; the child is started by loihi_targets.runner")
    fault = os.environ.get(FAULT_ENV, "")
    if fault and fault not in FAULTS:
        raise ValueError(f"{FAULT_ENV}={fault!r} is not one of {list(FAULTS)}")
    _tag_segments(run_id)
    _watch_parent(job_dir, run_id)
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi1SimCfg

    from conversion.fixed_point.arrays import network_from_arrays
    from loihi_targets.lava_graph import build_graph, read_counters
    from spiking_mcc.io import save_npz

    with np.load(job_dir / "job.npz", allow_pickle=False) as job:
        arrays = {key: job[key] for key in job.files}
    net_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("net_")}
    timesteps = int(arrays["timesteps"])
    chunk_steps = max(1, int(arrays["chunk_samples"]) * timesteps)
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
            if done == steps:
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
    """SPIKING_MCC_LAVA_FAULT (tests only), after the first chunk. "hang": stall with live Lava
    processes and segments; "kill_worker": SIGKILL the newest Lava worker process (a forked actor, not
    multiprocessing's resource tracker), as when a ProcessModel dies (Lava then waits for it forever)."""
    if fault == "hang":
        time.sleep(3600)
    elif fault == "kill_worker":
        import psutil

        workers = [p for p in psutil.Process().children() if "resource_tracker" not in " ".join(p.cmdline())]
        if workers:
            os.kill(max(workers, key=lambda p: p.create_time()).pid, signal.SIGKILL)


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
