"""Run a quantised (or float) network in Lava, safely: a child process group, a timeout, no leftovers.

The parent validates everything (``loihi_targets.quantize.check_limits``: value ranges, worst-case
u/v, per-core resources) before any Lava object exists, writes the job to a fresh folder
``<system temp>/spiking-mcc-lava-<parent pid>-<random>`` and starts ``python -m
loihi_targets.lava_child`` with ``start_new_session=True`` (its own process group; Lava's worker
processes inherit it). It polls the child's progress file, calling
``spiking_mcc.interrupts.check_interrupted()`` each poll, until the child ends, the timeout expires or
a handled signal (SIGINT/SIGTERM/SIGHUP inside ``handle_signals()``) arrives; on every way out it kills
whatever is left of the group (SIGTERM, then SIGKILL), unlinks the run's own shared-memory segments
and removes the run's folder. Lava itself is never imported in the parent.

What is cleaned, and why only that is ours:

- **Segments.** Every run has an id ``<parent pid>_<16 random hex>``. The child replaces
  ``multiprocessing.shared_memory``'s name generator (Lava 0.10.0 makes its channel buffers through
  ``multiprocessing.managers.SharedMemoryManager``, whose segments are otherwise ``psm_<10 hex>``
  with no owner in the name) so that every segment it or its workers create is named
  ``psm_smcc<run id>_<16 hex>``. Clean-up lists ``/dev/shm`` one level and unlinks only names that
  start with this run's exact prefix; a segment of another program, even one nobody maps, is never
  touched.
- **Processes.** The child and Lava's workers form one process group and carry
  ``SPIKING_MCC_LAVA_RUN=<run id>`` in their environment. The runner kills its own child's group
  (the child is not reaped before, so its pid cannot have been reused); a stale group is killed only
  process by process, each one checked to be in the recorded group and to carry the run id.
- **Folder.** The folder name carries the parent pid; ``owner.json`` (written by the runner first)
  records the parent's pid and start time, the run id and the child's process group. The child runs
  with TMPDIR = this folder (when the socket path fits), so multiprocessing's ``pymp-*`` folder (the
  socket of Lava's SharedMemoryManager, left behind when the group is killed) lands there too. Only
  the files the runner and child write there are removed (by exact name or pattern), then the folder
  itself (left alone if anything else is in it).

Leftovers of a parent that was SIGKILLed: the child watches its parent and, once it is gone, kills the
rest of its group, unlinks the run's segments and removes the folder. Whatever survives that (the
child killed too) is removed by the next ``run_lava`` (:func:`clean_leftovers`): it lists the temp
folder one level, takes only real folders (no symlinks) owned by this user whose name matches
``spiking-mcc-lava-<pid>-<8 chars>`` exactly and whose ``owner.json`` names that pid, and only when that
process is gone (no process with that pid and start time); it then kills the recorded group's
processes that carry the run id, unlinks the run's segments and removes the folder's known files.

Fault injection for tests: ``SPIKING_MCC_LAVA_FAULT`` in the environment of ``run_lava``'s process
(the child inherits it) makes the child misbehave after its first chunk of steps: ``hang`` stalls
with live Lava processes and segments (exercises the timeout and signals), ``kill_worker`` SIGKILLs
one Lava worker, as when a ProcessModel dies (Lava then waits for it forever). Unset in normal use; an
unknown value is an error of the run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion.fixed_point.arrays import network_to_arrays
from conversion.fixed_point.float_reference import FloatNetwork
from conversion.fixed_point.network import FixedPointNetwork
from loihi_targets.quantize import check_core_limits, check_limits
from spiking_mcc.errors import DataError, ParameterError, SimulatorError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.io import save_npz, write_json

SHM_DIR = Path("/dev/shm")
KILL_GRACE_S = 2.0
POLL_S = 0.05
RUN_ENV = "SPIKING_MCC_LAVA_RUN"      # run id, in the environment of the child and Lava's workers
FAULT_ENV = "SPIKING_MCC_LAVA_FAULT"  # test-only fault injection, read by the child (see above)
FAULTS = ("hang", "kill_worker")
SEGMENT_TAG = "psm_smcc"              # segment names: SEGMENT_TAG + run id + "_" + 16 hex
FOLDER_PREFIX = "spiking-mcc-lava-"
MARKER = "owner.json"
MARKER_TOOL = "spiking-mcc lava runner"
# Lava's input RingBuffer holds every step of every sample: refuse what cannot fit in memory
MAX_INPUT_BUFFER_BYTES = 512 * 2 ** 20
UNIX_SOCKET_PATH_MAX = 107  # Linux sockaddr_un.sun_path is 108 bytes, NUL included

_FOLDER_RE = re.compile(r"spiking-mcc-lava-([0-9]+)-[a-z0-9_]{8}")  # tempfile.mkdtemp's 8 characters
_JOB_FILES = frozenset({MARKER, "job.npz", "child.log", "progress.txt", "result.npz", "error.txt"})
# multiprocessing's temp folder in the child (TMPDIR = the job folder) and its manager's socket
_MP_FOLDER_RE = re.compile(r"pymp-[a-z0-9_]{8}")
_MP_SOCKET_RE = re.compile(r"listener-[a-z0-9_]{8}")
# temp files of spiking_mcc.io's atomic writer for those files: ".NAME.<8 chars>[.spiking-mcc].tmp"
_ATOMIC_TMP_RE = re.compile(r"\.(owner\.json|job\.npz|result\.npz)\.[a-z0-9_]{8}(\.spiking-mcc)?\.tmp")


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


# -- what a run owns -------------------------------------------------------------------------------
def segment_prefix(run_id: str) -> str:
    """Prefix of every /dev/shm segment of run `run_id` (the child makes Lava use it)."""
    return f"{SEGMENT_TAG}{run_id}_"


def run_segments(run_id: str) -> list[str]:
    """Names of the /dev/shm segments of run `run_id` (one directory level, exact prefix)."""
    prefix = segment_prefix(run_id)
    try:
        return sorted(name for name in os.listdir(SHM_DIR) if name.startswith(prefix))
    except FileNotFoundError:
        return []


def unlink_run_segments(run_id: str) -> list[str]:
    """Unlink the /dev/shm segments of run `run_id`; nothing else. Returns the names removed."""
    removed = []
    for name in run_segments(run_id):
        try:
            os.unlink(SHM_DIR / name)
            removed.append(name)
        except FileNotFoundError:
            pass
    return removed


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


def run_processes(pgid: int, run_id: str) -> list[int]:
    """PIDs of live members of group `pgid` whose environment carries RUN_ENV=`run_id`."""
    import psutil

    pids = []
    for pid in group_members(pgid):
        try:
            if psutil.Process(pid).environ().get(RUN_ENV) == run_id:
                pids.append(pid)
        except psutil.Error:
            continue
    return pids


def kill_run(pgid: int, run_id: str, skip_pid: int | None = None) -> bool:
    """SIGKILL the processes of run `run_id` in group `pgid` (each one checked; `skip_pid` spared),
    then unlink the run's segments. True when no process of the run is left (besides `skip_pid`)."""
    deadline = time.monotonic() + KILL_GRACE_S
    while True:
        pids = [pid for pid in run_processes(pgid, run_id) if pid != skip_pid]
        if not pids or time.monotonic() > deadline:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(POLL_S)
    unlink_run_segments(run_id)
    return not pids


def _kill_group(pgid: int) -> None:
    """SIGTERM our own child's group, wait a little, SIGKILL what is left."""
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


def remove_job_folder(folder: Path) -> bool:
    """Remove the files a run writes in its folder (never following a symlink), then the folder if it
    is then empty. True when the folder is gone."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return True
    for entry in entries:
        if entry.name in _JOB_FILES or _ATOMIC_TMP_RE.fullmatch(entry.name):
            _unlink_plain(entry)
        elif _MP_FOLDER_RE.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
            for inner in list(os.scandir(entry.path)):
                if _MP_SOCKET_RE.fullmatch(inner.name):
                    _unlink_plain(inner)
            _rmdir(Path(entry.path))
    return _rmdir(folder)


def _unlink_plain(entry: os.DirEntry) -> None:
    """Unlink a file or socket (never a folder, never through a symlink)."""
    try:
        if not entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
            os.unlink(entry.path)
    except FileNotFoundError:
        pass


def _rmdir(folder: Path) -> bool:
    """Remove `folder` if it is empty; True when it is gone."""
    try:
        os.rmdir(folder)
    except FileNotFoundError:
        return True
    except OSError:
        return False  # something we did not write is in it: leave it
    return True


def _read_marker(folder: Path, pid: int) -> dict | None:
    """The folder's owner.json if it is a regular file written by this tool for parent `pid`."""
    path = folder / MARKER
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("tool") != MARKER_TOOL \
            or marker.get("parent_pid") != pid or not isinstance(marker.get("run_id"), str) \
            or not marker["run_id"].startswith(f"{pid}_") \
            or not isinstance(marker.get("parent_started"), (int, float)):
        return None
    return marker


def _process_alive(pid: int, started: float) -> bool:
    """Whether the process `pid` that started at `started` (psutil create_time) still exists."""
    import psutil

    try:
        return abs(psutil.Process(pid).create_time() - started) < 0.05
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # cannot tell: treat as alive, touch nothing


def clean_leftovers(temp_dir: str | os.PathLike | None = None) -> list[Path]:
    """Find and clean what runs whose parent died (SIGKILL) left behind; only provably their own.

    Lists `temp_dir` (default: the system temp folder) one level; see the module docstring for the
    proof of ownership. Returns the folders removed."""
    root = Path(temp_dir if temp_dir is not None else tempfile.gettempdir())
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _FOLDER_RE.fullmatch(entry.name)
        try:
            if not match or not entry.is_dir(follow_symlinks=False) \
                    or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        folder = Path(entry.path)
        marker = _read_marker(folder, int(match.group(1)))
        if marker is None or _process_alive(marker["parent_pid"], float(marker["parent_started"])):
            continue
        pgid = marker.get("pgid")
        if isinstance(pgid, int) and pgid > 1 and not kill_run(pgid, marker["run_id"]):
            continue  # a process of the run would not die: keep the record for a later run
        unlink_run_segments(marker["run_id"])
        if remove_job_folder(folder):
            removed.append(folder)
    return removed


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
    check_core_limits(net)
    return x


def _check_input_buffer(payload: np.ndarray, timesteps: int, n_layers: int) -> None:
    """The child's RingBuffer holds (inputs, samples x T + layers) values: refuse what cannot fit."""
    n_bytes = payload.shape[1] * (payload.shape[0] * timesteps + n_layers) * payload.dtype.itemsize
    if n_bytes > MAX_INPUT_BUFFER_BYTES:
        raise ParameterError(f"Lava input buffer of {payload.shape[0]} samples x {timesteps} steps x "
                             f"{payload.shape[1]} inputs needs {n_bytes / 2 ** 20:.0f} MiB, limit "
                             f"{MAX_INPUT_BUFFER_BYTES // 2 ** 20} MiB; run fewer samples per call")


def run_lava(net: FixedPointNetwork | FloatNetwork, inputs: np.ndarray, timesteps: int, *,
             timeout_s: float = 300.0, chunk_samples: int = 50, progress: bool = False,
             validate: bool = True) -> LavaRunResult:
    """Run `inputs` (n, n_in) real values through `net` in Lava, T = `timesteps` steps per sample.

    A FixedPointNetwork runs the ``fixed_pt`` models (inputs quantised with net.quantize_input), a
    FloatNetwork the ``floating_pt`` ones. Raises HardwareLimitError/DataError/ParameterError before
    Lava starts, SimulatorError on a Lava failure or after `timeout_s` seconds, Interrupted when a
    handled signal arrives while it waits; on every way out it leaves none of its processes, segments
    or files behind (module docstring). It first cleans leftovers of runs whose parent was killed
    (:func:`clean_leftovers`). validate=False skips the range checks (tests use it to provoke a Lava
    failure); fault injection for tests: the ``SPIKING_MCC_LAVA_FAULT`` environment variable.
    """
    start = time.perf_counter()
    payload = _validate(net, inputs, timesteps) if validate else np.asarray(
        net.quantize_input(inputs) if isinstance(net, FixedPointNetwork) else inputs)
    if payload.shape[0] == 0:
        raise DataError("no samples to run")
    if timeout_s <= 0:
        raise ParameterError(f"timeout_s must be > 0, got {timeout_s}")
    _check_input_buffer(payload, timesteps, len(net.layers))
    data = _run_job({"inputs": payload, **{f"net_{k}": v for k, v in network_to_arrays(net).items()}},
                    timesteps, int(payload.shape[0]), timeout_s, chunk_samples, progress)
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
    Every limit is checked before Lava starts (:func:`conversion.mcc_hardware.validate_run`); clean-up
    and signals as for :func:`run_lava`."""
    from conversion.mcc_hardware import to_arrays, validate_run

    start = time.perf_counter()
    if timeout_s <= 0:
        raise ParameterError(f"timeout_s must be > 0, got {timeout_s}")
    payload = validate_run(net, inputs, timesteps)
    n_samples = len(next(iter(payload.values())))
    for stream_inputs in payload.values():
        _check_input_buffer(stream_inputs, timesteps, 1)
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
             chunk_samples: int, progress: bool) -> dict[str, np.ndarray]:
    """Write the job (network and inputs as plain arrays), run the Lava child in its own process group
    with a timeout, clean up on every way out, and return the child's result arrays."""
    clean_leftovers()
    check_interrupted()
    import psutil

    run_id = f"{os.getpid()}_{secrets.token_hex(8)}"
    job_dir = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    marker = {"tool": MARKER_TOOL, "parent_pid": os.getpid(),
              "parent_started": psutil.Process().create_time(), "run_id": run_id, "pgid": None}
    child = log = None
    try:
        write_json(job_dir / MARKER, marker)
        save_npz(job_dir / "job.npz", timesteps=np.array(timesteps),
                 chunk_samples=np.array(max(1, int(chunk_samples))), **job)
        check_interrupted()
        log = open(job_dir / "child.log", "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{RUN_ENV: run_id}, **_child_tmpdir(job_dir))
        child = subprocess.Popen([sys.executable, "-m", "loihi_targets.lava_child", str(job_dir)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, env=env, cwd=_project_root())
        write_json(job_dir / MARKER, {**marker, "pgid": child.pid})
        timed_out = _wait(child, job_dir, timeout_s, progress)
        _end_child(child, run_id)
        if timed_out:
            raise SimulatorError(f"Lava run timed out after {timeout_s:g} s ({n_samples} samples x "
                                 f"{timesteps} steps); the process group was killed")
        if child.returncode != 0 or not (job_dir / "result.npz").exists():
            raise SimulatorError(f"Lava run failed (exit code {child.returncode}): {_error_text(job_dir)}")
        with np.load(job_dir / "result.npz", allow_pickle=False) as res:
            return {key: res[key] for key in res.files}
    finally:
        _clean_up(child, log, run_id, job_dir)


def _child_tmpdir(job_dir: Path) -> dict[str, str]:
    """TMPDIR for the child: the job folder, so that multiprocessing's pymp-* folder with the socket of
    Lava's SharedMemoryManager lands there; unless that socket's path would pass the 107 characters a
    Unix socket path may have (then the child keeps the usual temp folder)."""
    socket_path = job_dir / "pymp-12345678" / "listener-12345678"
    return {"TMPDIR": str(job_dir)} if len(os.fsencode(socket_path)) <= UNIX_SOCKET_PATH_MAX else {}


def _end_child(child: subprocess.Popen, run_id: str) -> None:
    """Kill what is left of our child's group (the child is reaped only afterwards, so its pid, the
    group id, cannot have been reused), reap it and unlink the run's segments."""
    _kill_group(child.pid)
    child.wait()
    unlink_run_segments(run_id)


def _clean_up(child: subprocess.Popen | None, log, run_id: str, job_dir: Path) -> None:
    """Idempotent clean-up on every way out. A second signal (KeyboardInterrupt) arriving meanwhile
    does not cut it short: it is retried, then the first interrupt is raised again."""
    interrupt = None
    for _ in range(3):
        try:
            if child is not None:
                _end_child(child, run_id)
            else:
                unlink_run_segments(run_id)
            if log is not None:
                log.close()
            if child is None or not group_members(child.pid):
                remove_job_folder(job_dir)  # else keep the record: the next run finishes the job
            break
        except KeyboardInterrupt as err:
            interrupt = interrupt or err
    if interrupt is not None:
        raise interrupt


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
    """Poll until the child exits (False) or the timeout expires (True); raise Interrupted when a
    handled signal has arrived."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=1, desc="lava steps", unit="step", file=sys.stderr, leave=False)
    deadline = time.monotonic() + timeout_s
    try:
        while child.poll() is None:
            check_interrupted()
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
