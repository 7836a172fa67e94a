"""Run a quantised (or float) network in Lava, safely: a child process group, a timeout, no leftovers.

The parent validates everything (``loihi_targets.quantize.check_limits``) before any Lava object
exists, writes the job to a temporary folder and starts ``python -m loihi_targets.lava_child`` with
``start_new_session=True`` (its own process group; Lava's worker processes inherit it). It polls the
child's progress file until it ends or the timeout expires; then it kills whatever is left of the group
(SIGTERM, then SIGKILL) and unlinks the /dev/shm segments that appeared during the run and that no
live process still maps or holds open. Lava itself is never imported in the parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion.fixed_point import FixedPointNetwork, FloatNetwork, network_to_arrays
from loihi_targets.quantize import check_limits
from spiking_mcc.errors import DataError, ParameterError, SimulatorError
from spiking_mcc.io import save_npz

SHM_DIR = Path("/dev/shm")
KILL_GRACE_S = 2.0
POLL_S = 0.05


@dataclass
class LavaRunResult:
    """Counters read back from Lava. window_counts[i]: (n,) spikes of population i per sample;
    neuron_counts[i]: (neurons,) over all samples (an MCC run: dicts keyed by population name);
    output: (n, n_out) accumulated membrane (membrane readout, membrane units) or output spike counts;
    timings: child-side seconds; wall_s: parent wall."""

    window_counts: list
    neuron_counts: list
    output: np.ndarray
    timings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.output, axis=1)


def _shm_entries() -> set[str]:
    try:
        return set(os.listdir(SHM_DIR))
    except FileNotFoundError:
        return set()


def _shm_in_use() -> set[str]:
    """Names of /dev/shm entries mapped or held open by any live process we can inspect."""
    used = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as maps:
                for line in maps:
                    if "/dev/shm/" in line:
                        used.add(line.rsplit("/dev/shm/", 1)[1].split()[0])
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/dev/shm/"):
                    used.add(target[len("/dev/shm/"):].split()[0])
        except (FileNotFoundError, PermissionError, ProcessLookupError, NotADirectoryError, OSError):
            continue
    return used


def group_members(pgid: int) -> list[int]:
    """PIDs of live processes in process group `pgid` (zombies excluded)."""
    import psutil

    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error, OSError):
            continue
    return members


def _kill_group(pgid: int) -> None:
    """SIGTERM the group, wait a little, SIGKILL what is left; reap direct children."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_members(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < deadline and group_members(pgid):
            time.sleep(POLL_S)


def _remove_orphan_shm(before: set[str]) -> list[str]:
    """Unlink /dev/shm entries created since `before` that no live process maps or holds open."""
    new = _shm_entries() - before
    if not new:
        return []
    orphans = sorted(new - _shm_in_use())
    for name in orphans:
        try:
            (SHM_DIR / name).unlink()
        except FileNotFoundError:
            pass
    return orphans


def _validate(net, inputs: np.ndarray, timesteps: int) -> np.ndarray:
    if timesteps < 1:
        raise ParameterError(f"timesteps must be >= 1, got {timesteps}")
    if isinstance(net, FixedPointNetwork):
        check_limits(net, timesteps)
        return net.quantize_input(inputs).astype(np.int32)
    if not isinstance(net, FloatNetwork):
        raise ParameterError(f"expected a FixedPointNetwork or FloatNetwork, got {type(net).__name__}")
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.layers[0].weight.shape[1]:
        raise DataError(f"input must have shape (samples, {net.layers[0].weight.shape[1]}), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"input contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")
    for layer in net.layers:
        if not (np.all(np.isfinite(layer.weight)) and np.all(np.isfinite(layer.bias))):
            raise DataError(f"layer '{layer.name}': weights/bias contain NaN/Inf")
    return x


def run_lava(net: FixedPointNetwork | FloatNetwork, inputs: np.ndarray, timesteps: int, *,
             timeout_s: float = 300.0, chunk_samples: int = 50, progress: bool = False,
             validate: bool = True, _fault: str = "") -> LavaRunResult:
    """Run `inputs` (n, n_in) real values through `net` in Lava, T = `timesteps` steps per sample.

    A FixedPointNetwork runs the ``fixed_pt`` models (inputs quantised with net.quantize_input), a
    FloatNetwork the ``floating_pt`` ones. Raises HardwareLimitError/DataError before Lava starts,
    SimulatorError on a Lava failure or after `timeout_s` seconds; never leaves processes or shm behind.
    validate=False skips the range checks (tests use it to provoke a Lava failure).
    """
    start = time.perf_counter()
    payload = _validate(net, inputs, timesteps) if validate else np.asarray(
        net.quantize_input(inputs) if isinstance(net, FixedPointNetwork) else inputs)
    if payload.shape[0] == 0:
        raise DataError("no samples to run")
    if timeout_s <= 0:
        raise ParameterError(f"timeout_s must be > 0, got {timeout_s}")
    data = _run_job({"inputs": payload, **{f"net_{k}": v for k, v in network_to_arrays(net).items()}},
                    timesteps, int(payload.shape[0]), timeout_s, chunk_samples, progress, _fault)
    n_pop = net.n_populations
    as_type = np.int64 if isinstance(net, FixedPointNetwork) else np.float64  # Var.get returns floats
    timings = {k[len("timing_"):]: float(v) for k, v in data.items() if k.startswith("timing_")}
    return LavaRunResult(window_counts=[data[f"window_counts{i}"].astype(np.int64) for i in range(n_pop)],
                         neuron_counts=[data[f"neuron_counts{i}"].astype(np.int64) for i in range(n_pop)],
                         output=np.rint(data["output"]).astype(as_type) if as_type is np.int64
                         else data["output"], timings=timings, wall_s=time.perf_counter() - start)


def run_lava_mcc(net, inputs: dict[str, np.ndarray], timesteps: int, *, timeout_s: float = 300.0,
                 chunk_samples: int = 50, progress: bool = False) -> LavaRunResult:
    """Run a converted MCC network (:class:`conversion.mcc_hardware.UnitNetwork`) in Lava on real inputs
    {stream: (n, features)}: ``fixed_pt`` models for a quantised network, ``floating_pt`` otherwise.
    Every limit is checked before Lava starts (:func:`conversion.mcc_hardware.validate_run`)."""
    from conversion.mcc_hardware import to_arrays, validate_run

    start = time.perf_counter()
    if timeout_s <= 0:
        raise ParameterError(f"timeout_s must be > 0, got {timeout_s}")
    payload = validate_run(net, inputs, timesteps)
    n_samples = len(next(iter(payload.values())))
    data = _run_job({**{f"inputs_{k}": v for k, v in payload.items()},
                     **{f"net_{k}": v for k, v in to_arrays(net).items()}},
                    timesteps, n_samples, timeout_s, chunk_samples, progress)
    counts = {kind: {k.split("__", 1)[1]: v.astype(np.int64) for k, v in data.items()
                     if k.startswith(f"{kind}__")} for kind in ("window_counts", "neuron_counts")}
    output = np.rint(data["output"]).astype(np.int64) if net.fixed else data["output"]
    timings = {k[len("timing_"):]: float(v) for k, v in data.items() if k.startswith("timing_")}
    return LavaRunResult(counts["window_counts"], counts["neuron_counts"], output, timings,
                         time.perf_counter() - start)


def _run_job(job: dict[str, np.ndarray], timesteps: int, n_samples: int, timeout_s: float,
             chunk_samples: int, progress: bool, _fault: str = "") -> dict[str, np.ndarray]:
    """Write the job (network and inputs as plain arrays), run the Lava child in its own process group
    with a timeout, clean up, and return the child's result arrays."""
    with tempfile.TemporaryDirectory(prefix="spiking-mcc-lava-") as tmp:
        job_dir = Path(tmp)
        save_npz(job_dir / "job.npz", timesteps=np.array(timesteps),
                 chunk_samples=np.array(max(1, int(chunk_samples))), fault=np.array(_fault), **job)
        shm_before = _shm_entries()
        log = open(job_dir / "child.log", "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        child = subprocess.Popen([sys.executable, "-m", "loihi_targets.lava_child", str(job_dir)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env=env, cwd=_project_root())
        timed_out = False
        try:
            timed_out = _wait(child, job_dir, timeout_s, progress)
        finally:
            _kill_group(child.pid)
            child.wait()
            log.close()
            _remove_orphan_shm(shm_before)
        if timed_out:
            raise SimulatorError(f"Lava run timed out after {timeout_s:g} s ({n_samples} samples x "
                                 f"{timesteps} steps); the process group was killed")
        if child.returncode != 0 or not (job_dir / "result.npz").exists():
            raise SimulatorError(f"Lava run failed (exit code {child.returncode}): {_error_text(job_dir)}")
        with np.load(job_dir / "result.npz", allow_pickle=False) as res:
            data = {key: res[key] for key in res.files}
    return data


def _project_root() -> str:
    return str(Path(__file__).resolve().parent.parent)


def _error_text(job_dir: Path) -> str:
    for name in ("error.txt", "child.log"):
        path = job_dir / name
        if path.exists():
            text = path.read_text(errors="replace").strip()
            if text:
                first = text.splitlines()[0] if name == "error.txt" else text.splitlines()[-1]
                return first[:500]
    return "no error message"


def _wait(child: subprocess.Popen, job_dir: Path, timeout_s: float, progress: bool) -> bool:
    """Poll until the child exits (False) or the timeout expires (True)."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=1, desc="lava steps", unit="step", file=sys.stderr, leave=False)
    deadline = time.monotonic() + timeout_s
    try:
        while child.poll() is None:
            if time.monotonic() > deadline:
                return True
            if bar is not None:
                _update_bar(bar, job_dir)
            time.sleep(POLL_S)
        if bar is not None:
            _update_bar(bar, job_dir)
        return False
    finally:
        if bar is not None:
            bar.close()


def _update_bar(bar, job_dir: Path) -> None:
    try:
        done, total = (int(v) for v in (job_dir / "progress.txt").read_text().split())
    except (FileNotFoundError, ValueError):
        return
    if bar.total != total or bar.n != done:
        bar.total = total
        bar.update(done - bar.n)
