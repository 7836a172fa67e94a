"""Helpers for the Lava safety tests: a tiny quantised network, the traces a run leaves, and a job
script (``python tests/lava_jobs.py TIMEOUT_S``) that runs that network through ``run_lava`` inside
``handle_signals()`` the way the CLI does: on a handled signal it prints one line and exits 128 + the
signal number. Faults are injected the documented way, through ``SPIKING_MCC_LAVA_FAULT`` (see
``loihi_targets.runner``) in the job's environment."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

T = 4
JOB_SCRIPT = Path(__file__).resolve()


def small_network(seed: int = 0):
    """A 20-16-5 quantised chain (reset by subtraction, membrane readout) and 3 inputs in [0, 1]."""
    from conversion.fixed_point.float_reference import FloatLayer, FloatNetwork
    from conversion.fixed_point.quantiser import quantize_network

    rng = np.random.default_rng(seed)
    layers = (FloatLayer(name="h", weight=rng.normal(0, .3, (16, 20)), bias=np.full(16, .2), v_th=1.0),
              FloatLayer(name="o", weight=rng.normal(0, .3, (5, 16)), bias=np.zeros(5), v_th=1.0,
                         spiking=False))
    return quantize_network(FloatNetwork(layers=layers, reset="subtract"), T), rng.random((3, 20))


def job_folders(temp_dir: str | os.PathLike, parent_pid: int) -> list[Path]:
    """The runner's job folders of `parent_pid` in `temp_dir` (one level)."""
    from loihi_targets.runner import FOLDER_PREFIX

    return sorted(p for p in Path(temp_dir).iterdir() if p.name.startswith(f"{FOLDER_PREFIX}{parent_pid}-"))


def segments_mapped_by(pids: list[int]) -> set[str]:
    """Names of the /dev/shm entries mapped by any of `pids` that still exist (Lava's semaphores,
    ``sem.*``, are unlinked right after creation and show as "(deleted)")."""
    names = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                names |= {line.rsplit("/dev/shm/", 1)[1].split()[0] for line in maps
                          if "/dev/shm/" in line and not line.rstrip().endswith("(deleted)")}
        except OSError:
            continue
    return names


def wait_for_started_job(temp_dir: str | os.PathLike, parent_pid: int, deadline_s: float = 90.0,
                         alive=lambda: True) -> dict:
    """Wait until the job of `parent_pid` has run its first chunk of Lava steps (its progress file
    exists; a "hang" fault then holds it there); return its owner.json (run_id, pgid)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and alive():
        for folder in job_folders(temp_dir, parent_pid):
            if (folder / "progress.txt").exists():
                marker = json.loads((folder / "owner.json").read_text())
                if marker.get("pgid"):
                    return marker
        time.sleep(0.05)
    raise AssertionError(f"the Lava job of pid {parent_pid} never ran its first steps")


def foreign_segment() -> str:
    """Create, in a separate process, a shared-memory segment holding b"keep" that the process keeps
    for a later attach: it closes its mapping, leaves the segment in place and exits. Returns its name."""
    import subprocess

    code = ("from multiprocessing import resource_tracker, shared_memory\n"
            "s = shared_memory.SharedMemory(create=True, size=4096)\n"
            "s.buf[:4] = b'keep'\n"
            "resource_tracker.unregister(s._name, 'shared_memory')\n"
            "s.close()\n"
            "print(s.name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def main(argv: list[str]) -> int:
    from loihi_targets.runner import run_lava
    from spiking_mcc.interrupts import handle_signals

    net, x = small_network()
    with handle_signals():
        try:
            run_lava(net, x, T, timeout_s=float(argv[0]))
        except KeyboardInterrupt as err:  # Interrupted (a handled signal) included
            print(f"lava job: {err}", file=sys.stderr)
            return getattr(err, "exit_code", 130)
    print("lava job: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
