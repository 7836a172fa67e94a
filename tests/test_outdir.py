"""Output folders never lose a user's file (issue 11): only files the manifest proves the tool wrote are
replaced or removed, never through a symbolic link, never by a glob; one command per folder (a lock);
a SIGKILLed command's temp files are removed by the next one, and nothing else."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spiking_mcc.errors import OutputFolderError, ParameterError
from spiking_mcc.io import TEMP_SUFFIX, write_json
from spiking_mcc.outdir import output_folder
from spiking_mcc.pipeline import run_pipeline


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and link below root (not followed) -> its content or link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_text()
    return found


def _user_files(root: Path, outside: Path) -> None:
    """What a user keeps in a results folder: notes, an editor's swap file, their own `.x.tmp` files in a
    sub-folder, a folder that is a symbolic link to somewhere else."""
    (root / "important.txt").write_text("my notes")
    (root / ".important.txt.swp").write_text("swap")
    (root / ".energy.json.abc123.tmp").write_text("mine, named like the old temp files")
    (root / "sub").mkdir()
    (root / "sub" / ".draft.x.tmp").write_text("draft")
    outside.mkdir()
    (outside / "convert_mcc.json").write_text("outside")
    (root / "convert_mcc").symlink_to(outside, target_is_directory=True)


def test_a_crafted_run_json_cannot_make_run_delete_anything(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    _user_files(out, outside)
    (tmp_path / "outside.json").write_text("{}")
    (out / "run.json").write_text(json.dumps({
        "stages": [{"name": "train", "files": ["important.txt", ".important.txt.swp", "../outside.json"]},
                   {"name": "convert", "files": ["convert_mcc/convert_mcc.json", "sub/.draft.x.tmp"]}],
        "figures": {"x": "important.txt"}}))
    before, outside_before = _snapshot(out), _snapshot(tmp_path)
    with pytest.raises(OutputFolderError, match="run.json is a file that spiking-mcc did not write"):
        run_pipeline(out, quick=True, stages=("energy",), progress=False)
    after = {k: v for k, v in _snapshot(out).items() if not k.startswith(".spiking-mcc")}
    assert after == before
    assert _snapshot(tmp_path)["outside.json"] == outside_before["outside.json"]
    assert (outside / "convert_mcc.json").read_text() == "outside"


def test_a_new_run_replaces_only_the_tools_own_files(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere"
    run_pipeline(out, quick=True, stages=("energy",), progress=False)
    with output_folder(out):  # an earlier `spiking-mcc train --out out`, say
        write_json(out / "train_mcc.json", {"workloads": []})
    _user_files(out, outside)
    ours = ("run.json", "report.md", "report.html", "train_mcc.json")
    user = {k: v for k, v in _snapshot(out).items() if k not in ours and not k.startswith(".spiking-mcc")}
    record = run_pipeline(out, quick=True, stages=("energy",), progress=False)
    assert record["complete"] and json.loads((out / "run.json").read_text()) == record
    assert not (out / "train_mcc.json").exists()  # the tool's own output of an earlier command: removed
    left = _snapshot(out)
    assert {k: left[k] for k in user} == user  # every file of the user's untouched
    assert (out / "report.md").is_file() and (outside / "convert_mcc.json").read_text() == "outside"


def test_a_file_the_user_changed_is_never_overwritten(tmp_path):
    with output_folder(tmp_path):
        write_json(tmp_path / "energy.json", {"ours": 1})
    with open(tmp_path / "energy.json", "a") as handle:
        handle.write("  my annotation\n")
    edited = (tmp_path / "energy.json").read_text()
    with output_folder(tmp_path):
        with pytest.raises(OutputFolderError, match="energy.json .*not overwritten"):
            write_json(tmp_path / "energy.json", {"ours": 2})
        assert (tmp_path / "energy.json").read_text() == edited
    with output_folder(tmp_path) as folder:
        assert folder.remove_previous_outputs() == []
    assert (tmp_path / "energy.json").read_text() == edited


def test_nothing_is_written_through_a_symbolic_link(tmp_path):
    out, outside = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    outside.mkdir()
    (out / "convert_point").symlink_to(outside, target_is_directory=True)
    (outside / "x.json").write_text("outside")
    (out / "energy.json").symlink_to(outside / "x.json")
    with output_folder(out):
        with pytest.raises(OutputFolderError, match="symbolic link"):
            write_json(out / "convert_point" / "convert_point.json", {})
        with pytest.raises(OutputFolderError, match="energy.json is a symbolic link"):
            write_json(out / "energy.json", {})
    assert _snapshot(outside) == {"x.json": "outside"}


@pytest.mark.parametrize("value, message", [("", "is not a folder path"), ("   ", "is not a folder path"),
                                            ("FILE/sub", "is below .*FILE, which is a file"),
                                            ("FILE", "FILE is a file, not a folder")])
def test_out_must_name_a_folder(cli, tmp_path, capsys, monkeypatch, value, message):
    (tmp_path / "FILE").write_text("a regular file")
    monkeypatch.chdir(tmp_path)
    assert cli(["energy", "nothing.json", "--out", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("spiking-mcc energy: error: --out: ")
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]
    with pytest.raises(ParameterError, match="--out"):
        run_pipeline(value, quick=True, stages=("energy",), progress=False)


def test_a_refused_command_leaves_no_folder_behind(cli, tmp_path, capsys):
    assert cli(["convert", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "new" / "out")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _child_env(**extra) -> dict:
    return {**os.environ, "MPLBACKEND": "Agg", **extra}


def _wait_for_line(proc: subprocess.Popen, text: str) -> None:
    """Read the child's stderr until `text` appears (the child says it reached that point)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"child ended before {text!r}: {''.join(seen)[-2000:]}")


def test_a_second_command_into_a_busy_folder_is_refused_in_one_line(cli, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "spiking_mcc.cli", "run", "--quick", "--stages", "energy",
            "--out", str(out)]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=_child_env(SPIKING_MCC_PAUSE_AT="cells"))
    try:
        _wait_for_line(first, "paused at 'cells'")
        held = json.loads((out / "run.json").read_text())
        for argv in (["run", "--quick", "--stages", "energy", "--out", str(out)],
                     ["convert", "model.npz", "--out", str(out)]):
            assert cli(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1, err
            assert f"in use by another spiking-mcc command (pid {first.pid}, spiking-mcc run)" in err
        assert cli(["convert", "model.npz", "--out", str(out / "convert_mcc")]) == 2  # a folder inside it
        err = capsys.readouterr().err
        assert f"inside {out}, which another spiking-mcc command holds (pid {first.pid}" in err
        assert json.loads((out / "run.json").read_text()) == held  # the first run's files untouched
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    record = json.loads((out / "run.json").read_text())
    assert record["interrupted"] == "SIGTERM" and not record["complete"]


HANGING_WRITER = textwrap.dedent("""
    import sys, time
    from spiking_mcc.io import atomic_write, write_json
    from spiking_mcc.outdir import output_folder

    out = sys.argv[1]
    with output_folder(out):
        write_json(out + "/sub/a.json", {"ok": 1})

        def hang(handle):
            handle.write(b"half a file")
            handle.flush()
            print("writing", file=sys.stderr, flush=True)
            time.sleep(120)

        atomic_write(out + "/sub/b.json", hang)
""")


def test_a_sigkilled_commands_temp_files_are_removed_by_the_next_one_and_nothing_else(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HANGING_WRITER, str(tmp_path)], stderr=subprocess.PIPE,
                            text=True, env=_child_env())
    try:
        _wait_for_line(proc, "writing")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    leftovers = [p.name for p in (tmp_path / "sub").iterdir() if p.name.endswith(TEMP_SUFFIX)]
    assert len(leftovers) == 1 and leftovers[0].startswith(".b.json.")  # a real leftover of the kill
    users = {"sub/.b.json.draft.tmp": "x", "sub/.notes.swp": "x", ".c.json.1234.tmp": "x",
             "sub/deeper/.z.json.0000" + TEMP_SUFFIX: "not in a folder the tool wrote"}
    for rel, text in users.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    with output_folder(tmp_path):
        pass
    left = _snapshot(tmp_path)
    assert [k for k in left if k.endswith(TEMP_SUFFIX) and "deeper" not in k] == []
    assert {k: left[k] for k in users} == users
    assert json.loads(left["sub/a.json"]) == {"ok": 1} and "sub/b.json" not in left


def test_a_manifest_that_is_not_ours_refuses_the_folder(tmp_path):
    (tmp_path / ".spiking-mcc.manifest").write_text('{"files": {"notes.txt": {}}}')
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not a spiking-mcc manifest"):
        with output_folder(tmp_path):
            pass
    assert (tmp_path / "notes.txt").read_text() == "mine"


HOLDER = textwrap.dedent("""
    import sys
    from spiking_mcc.outdir import output_folder

    with output_folder(sys.argv[1], command="holder"):
        print("holding", file=sys.stderr, flush=True)
        sys.stdin.read()
""")


def test_nested_folders_share_proofs_and_exclude_each_other(tmp_path):
    sub = tmp_path / "convert_mcc"
    with output_folder(tmp_path):  # `run --out DIR` wrote DIR/convert_mcc/convert_mcc.json
        write_json(sub / "convert_mcc.json", {"by": "run"})
    with output_folder(sub):  # `convert --out DIR/convert_mcc` may replace it: the outer manifest proves it
        write_json(sub / "convert_mcc.json", {"by": "convert"})
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(sub)], stdin=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_child_env())
    try:
        _wait_for_line(holder, "holding")
        with output_folder(tmp_path):
            with pytest.raises(OutputFolderError, match=f"convert_mcc is in use by .*pid {holder.pid}, "
                                                        "spiking-mcc holder"):
                write_json(sub / "convert_mcc.json", {"by": "run again"})
            write_json(tmp_path / "run.json", {})  # the rest of the folder is free
    finally:
        holder.communicate("", timeout=30)
    assert json.loads((sub / "convert_mcc.json").read_text()) == {"by": "convert"}
