"""The Lava runner cleans up only what it provably owns, on every way out (docs in
loihi_targets/runner.py; issue: "never delete what the tool did not write, survive signals").

Lava starts cost seconds, so the network is tiny (20-16-5, 3 samples, T = 4) and each test starts
Lava once or twice. Faults are injected through SPIKING_MCC_LAVA_FAULT, the documented variable.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import shared_memory
from pathlib import Path

import pytest
from lava_jobs import (
    JOB_SCRIPT,
    T,
    foreign_segment,
    job_folders,
    segments_mapped_by,
    small_network,
    wait_for_started_job,
)

from loihi_targets import runner
from loihi_targets.runner import FAULT_ENV, RUN_ENV, group_members, run_lava, run_segments, segment_prefix
from spiking_mcc.errors import ParameterError, SimulatorError


@pytest.fixture
def temp_root():
    """A short private temp folder (pytest's tmp_path can be too long for the Unix socket of Lava's
    SharedMemoryManager under it, runner.UNIX_SOCKET_PATH_MAX); removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="lava-safety-"))
    yield root
    shutil.rmtree(root)


def _attach_and_read(name: str) -> bytes:
    from multiprocessing import resource_tracker

    segment = shared_memory.SharedMemory(name=name)
    try:
        return bytes(segment.buf[:4])
    finally:
        resource_tracker.unregister(segment._name, "shared_memory")  # attaching must not adopt it
        segment.close()


def _unlink(name: str) -> None:
    try:
        os.unlink(f"/dev/shm/{name}")
    except FileNotFoundError:
        pass


@pytest.mark.timeout(120)
def test_dead_worker_times_out_and_the_group_segments_and_folder_of_the_run_go(monkeypatch, temp_root):
    """A killed Lava worker stalls Lava; the timeout ends the run. Every segment the group maps is named
    with the run's prefix; afterwards those segments, the job folder (with the child's pymp-* folder)
    and every process of the group are gone."""
    monkeypatch.setenv(FAULT_ENV, "kill_worker")
    monkeypatch.setattr(runner.tempfile, "tempdir", str(temp_root))  # the runner's temp folder
    net, x = small_network()
    box = {}

    def target():
        try:
            run_lava(net, x, T, timeout_s=8, chunk_samples=1)
        except Exception as err:  # noqa: BLE001 - inspected below
            box["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    try:
        marker = wait_for_started_job(temp_root, os.getpid(), alive=thread.is_alive)
        pgid, run_id = marker["pgid"], marker["run_id"]
        mapped = segments_mapped_by(group_members(pgid))
        assert mapped and all(name.startswith(segment_prefix(run_id)) for name in mapped), mapped
        thread.join(60)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), SimulatorError), box
        assert group_members(pgid) == []
        assert run_segments(run_id) == [] and not mapped & set(os.listdir("/dev/shm"))
        assert list(temp_root.rglob("*")) == []
    finally:
        thread.join(60)


def _default_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def _start_job(temp_root, fault="hang"):
    env = dict(os.environ, TMPDIR=str(temp_root), **{FAULT_ENV: fault})
    # the job gets the default disposition of the signals it handles whatever this process inherited
    # (under nohup SIGHUP is ignored, and handle_signals() keeps an ignored signal ignored)
    proc = subprocess.Popen([sys.executable, str(JOB_SCRIPT), "120"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_default_signals)
    try:
        marker = wait_for_started_job(temp_root, proc.pid, alive=lambda: proc.poll() is None)
    except AssertionError:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"job did not start: {err[-2000:]}") from None
    return proc, marker


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_the_lava_stage_ends_cleanly_and_spares_a_foreign_segment(temp_root, signum):
    """SIGTERM/SIGHUP/SIGINT while Lava runs: exit 128 + signal with one line; no process of the group, no
    segment of the run, no temp file left; a segment another process created during the run and keeps
    unmapped for a later attach survives (the old clean-up unlinked it)."""
    proc, marker = _start_job(temp_root)
    pgid, run_id = marker["pgid"], marker["run_id"]
    assert len(group_members(pgid)) > 1, "Lava runs its models in worker processes"
    assert run_segments(run_id)
    foreign = foreign_segment()
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum
        lines = err.strip().splitlines()
        assert len(lines) == 1 and signal.Signals(signum).name in lines[0], err
        assert group_members(pgid) == []
        assert run_segments(run_id) == []
        assert list(temp_root.rglob("*")) == []
        assert _attach_and_read(foreign) == b"keep"
    finally:
        _unlink(foreign)
        if proc.poll() is None:  # a failed assertion above: do not leave the job to later tests
            proc.kill()
            proc.communicate()


@pytest.mark.timeout(120)
def test_sigkilled_parent_the_child_ends_its_own_run(temp_root):
    proc, marker = _start_job(temp_root)
    pgid, run_id = marker["pgid"], marker["run_id"]
    proc.kill()
    proc.communicate()
    end = time.monotonic() + 30
    while time.monotonic() < end and (group_members(pgid) or job_folders(temp_root, proc.pid)):
        time.sleep(0.1)
    assert group_members(pgid) == []
    assert run_segments(run_id) == []
    assert job_folders(temp_root, proc.pid) == []


@pytest.mark.timeout(120)
def test_next_run_cleans_what_a_sigkilled_parent_and_child_left(temp_root):
    """Parent and child SIGKILLed together: Lava's workers live on, holding the run's segments, and
    the folder stays. The next run's clean-up kills those workers and removes segments and folder."""
    proc, marker = _start_job(temp_root)
    pgid, run_id = marker["pgid"], marker["run_id"]
    workers = [pid for pid in group_members(pgid) if pid != pgid]
    assert workers
    proc.kill()
    os.kill(pgid, signal.SIGKILL)  # the child (group leader): its watchdog cannot run
    proc.communicate()
    time.sleep(1.0)  # longer than the watchdog's poll: nothing else cleans up
    assert [pid for pid in workers if pid in group_members(pgid)] and run_segments(run_id)
    (folder,) = job_folders(temp_root, proc.pid)
    assert [p for p in folder.iterdir() if p.name.startswith("pymp-")], "the child's multiprocessing temp"
    removed = runner.clean_leftovers(temp_root)
    assert removed == [folder] and group_members(pgid) == []
    assert run_segments(run_id) == []
    assert list(temp_root.rglob("*")) == []


# -- clean_leftovers without Lava: only what is provably the tool's ----------------------------------
def _reaped_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _job_folder(root, pid, run_id, started, pgid=None, suffix="abcd1234"):
    folder = root / f"spiking-mcc-lava-{pid}-{suffix}"
    folder.mkdir()
    (folder / "owner.json").write_text(json.dumps({"tool": runner.MARKER_TOOL, "parent_pid": pid,
                                                   "parent_started": started, "run_id": run_id,
                                                   "pgid": pgid}))
    (folder / "job.npz").write_bytes(b"x")
    (folder / "child.log").write_bytes(b"x")
    return folder


def _fake_segment(name: str) -> None:
    with open(f"/dev/shm/{name}", "wb") as handle:
        handle.write(b"keep")


def test_clean_leftovers_touches_only_dead_runs_it_can_prove_are_its_own(tmp_path):
    import psutil

    dead = _reaped_pid()
    token = os.urandom(8).hex()
    stale_id, live_id = f"{dead}_{token}", f"{os.getpid()}_{token}"
    # a stale group: its leader carries the run id; a second member (same group) does not
    group = subprocess.Popen(["sh", "-c", f"env -u {RUN_ENV} sleep 60 & exec sleep 60"],
                             start_new_session=True, env=dict(os.environ, **{RUN_ENV: stale_id}))
    stale = _job_folder(tmp_path, dead, stale_id, 1.0, pgid=group.pid)
    for half_written in (".job.npz.ab12cd34.tmp", ".result.npz.0a1b2c3d.spiking-mcc.tmp"):  # io's temp names
        (stale / half_written).write_bytes(b"x")
    live = _job_folder(tmp_path, os.getpid(), live_id, psutil.Process().create_time(), suffix="live0000")
    kept = _job_folder(tmp_path, dead, f"{dead}_{token}x", 1.0, suffix="kept0000")
    (kept / "notes.txt").write_text("the user's")                    # not written by the tool
    (kept / ".notes.txt.ab12cd34.tmp").write_text("the user's editor's")
    unmarked = tmp_path / f"spiking-mcc-lava-{dead}-nomark00"
    unmarked.mkdir()
    (unmarked / "job.npz").write_bytes(b"x")
    (tmp_path / "elsewhere").mkdir()
    target = _job_folder(tmp_path / "elsewhere", dead, f"{dead}_{token}y", 1.0, suffix="link0000")
    (tmp_path / f"spiking-mcc-lava-{dead}-symlnk00").symlink_to(target)
    segments = {"stale": segment_prefix(stale_id) + "0" * 16, "live": segment_prefix(live_id) + "0" * 16,
                "similar": f"psm_smcc{dead}_{token[:-1]}_" + "0" * 16, "plain": f"psm_{token[:10]}"}
    for name in segments.values():
        _fake_segment(name)
    try:
        time.sleep(0.2)
        outsider = [pid for pid in group_members(group.pid) if pid != group.pid]
        assert len(outsider) == 1
        removed = runner.clean_leftovers(tmp_path)
        assert removed == [stale]
        assert not stale.exists() and not os.path.exists(f"/dev/shm/{segments['stale']}")
        group.wait(10)  # the recorded leader carried the run id: killed
        assert psutil.pid_exists(outsider[0]), "a group member without the run id must survive"
        assert live.exists() and (live / "job.npz").exists()  # its parent (this process) is alive
        assert sorted(p.name for p in kept.iterdir()) == [".notes.txt.ab12cd34.tmp", "notes.txt"]
        assert (unmarked / "job.npz").exists() and (target / "job.npz").exists()
        for key in ("live", "similar", "plain"):
            assert os.path.exists(f"/dev/shm/{segments[key]}"), key
    finally:
        for name in segments.values():
            _unlink(name)
        for pid in group_members(group.pid):
            os.kill(pid, signal.SIGKILL)
        group.wait(10)


def test_run_lava_cleans_leftovers_before_it_starts_a_child(monkeypatch):
    net, x = small_network()
    calls = []

    class Stop(Exception):
        pass

    def no_child(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(runner, "clean_leftovers", lambda *a: calls.append(a) or [])
    monkeypatch.setattr(runner.subprocess, "Popen", no_child)
    with pytest.raises(Stop):
        run_lava(net, x, T)
    assert calls == [()]


def test_an_input_buffer_beyond_the_memory_limit_is_refused_before_lava(monkeypatch):
    """The child's RingBuffer holds every step of every sample (inputs x (n T + layers) values)."""
    net, x = small_network()
    monkeypatch.setattr(runner, "MAX_INPUT_BUFFER_BYTES", 20 * (3 * T + 2) * 4 - 1)  # one byte short
    monkeypatch.setattr(runner.subprocess, "Popen", lambda *a, **k: pytest.fail("a Lava child was started"))
    with pytest.raises(ParameterError, match="input buffer of 3 samples x 4 steps x 20 inputs"):
        run_lava(net, x, T)
