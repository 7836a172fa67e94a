"""`spiking-mcc run --quick` end to end: every JSON and the report exist, the report's numbers are the
JSON's numbers, the same seed gives the same numbers, and a killed run leaves no half-written file."""

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from quick_run import quick_run_command

from spiking_mcc.report.numbers import fmt, pct

STAGE_JSON = ("cells.json", "train_mcc.json", "train_point.json", "compare.json", "convert_mcc.json",
              "convert_point.json", "loihi.json", "loihi_mcc.json", "energy.json", "mapping.json")
# Keys that hold wall-clock measurements or machine-dependent timing, excluded from determinism.
TIMING_KEY = re.compile(r"(^|_)(wall|time|elapsed|seconds|compile|startup)(_|$)|_s$|_per_s$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]\d+)?$")


def _numbers(doc, path=""):
    """(json path, number) for every numeric leaf."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _numbers(value, f"{path}.{i}")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path, doc


def _table_cells(markdown: str):
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            yield from (cell.strip() for cell in line.strip("|").split("|"))


def test_quick_run_writes_every_json_and_the_report(quick_runs):
    out, _, stdout = quick_runs
    record = json.loads((out / "run.json").read_text())
    assert record["complete"] and record["seed"] == 0 and record["quick"] is True
    assert "spiking-mcc run" in record["command"] and "--quick" in record["command"]
    assert {"python", "numpy", "brian2", "lava-nc"} <= set(record["versions"])
    not_done = {s["name"]: s["note"] for s in record["stages"] if s["status"] != "done"}
    assert not not_done
    for name in STAGE_JSON:
        json.loads((out / name).read_text())
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert md.count("![") == html.count("data:image/png;base64,") >= 8
    for figure in record["figures"].values():
        assert (out / figure).is_file()
    assert "MCC (two-point)" in stdout and "point baseline" in stdout


def _first_table_under(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"\n{heading}\n", 1)[1].lstrip("\n")
    lines = []
    for line in section.splitlines():
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return lines


def test_report_numbers_are_the_json_numbers(quick_runs):
    out = quick_runs[0]
    md = (out / "report.md").read_text()
    header, *body = _first_table_under(md, "## Results")
    rows = {row[0]: dict(zip(header, row)) for row in body}
    assert set(rows) == {"MCC (two-point)", "point baseline"}
    energy_t = json.loads((out / "run.json").read_text())["config"]["energy_timesteps"]
    for model, label in (("mcc", "MCC (two-point)"), ("point", "point baseline")):
        train = json.loads((out / f"train_{model}.json").read_text())
        snn = [r for r in json.loads((out / f"convert_{model}.json").read_text())["snn"]
               if r["timesteps"] == energy_t][0]
        assert rows[label]["ANN accuracy (%)"] == pct(train["test_accuracy"])
        assert rows[label]["transmissions / sample"] == fmt(train["transmissions_per_sample"])
        assert rows[label]["FPGA energy (uJ / sample)"] == fmt(train["energy_uj_per_sample"])
        assert rows[label]["SNN accuracy (%)"] == pct(snn["accuracy"])
        assert rows[label]["SNN synaptic events / sample"] == fmt(snn["synaptic_events_per_sample"])
    known = set()
    for path in out.glob("*.json"):
        for _, value in _numbers(json.loads(path.read_text())):
            known.update((fmt(value), pct(value)))
    numeric_cells = [cell for cell in _table_cells(md) if NUMBER.match(cell)]
    assert len(numeric_cells) > 40
    unknown = [cell for cell in numeric_cells if cell not in known]
    assert not unknown, f"numbers in report.md that are in no JSON file: {unknown[:20]}"


def test_same_seed_same_json_numbers(quick_runs):
    first, second, _ = quick_runs
    names = sorted(p.name for p in first.glob("*.json"))
    assert names == sorted(p.name for p in second.glob("*.json"))
    for name in names:
        a = {k: v for k, v in _numbers(json.loads((first / name).read_text()))
             if not TIMING_KEY.search(k.split(".")[-1])}
        b = {k: v for k, v in _numbers(json.loads((second / name).read_text()))
             if not TIMING_KEY.search(k.split(".")[-1])}
        assert a == b, f"{name}: {[k for k in a if a.get(k) != b.get(k)][:10]}"


def _wait_for_pause(proc: subprocess.Popen, stage: str) -> None:
    """Read the run's stderr until it says it paused after `stage` (SPIKING_MCC_PAUSE_AT): a real event,
    so the signal always lands while the run is in progress."""
    seen = b""
    while f"paused at '{stage}'".encode() not in seen:
        chunk = os.read(proc.stderr.fileno(), 4096)
        assert chunk, f"run ended before pausing: {seen.decode(errors='replace')[-3000:]}"
        seen += chunk


def _assert_clean(out: Path) -> dict:
    assert not (out / "report.md").exists() and not (out / "report.html").exists()
    for path in out.rglob("*.json"):
        json.loads(path.read_text())  # complete, parseable
    record = json.loads((out / "run.json").read_text())
    assert record["complete"] is False
    assert {s["name"]: s["status"] for s in record["stages"]}["train"] == "done"
    for name in ("train_mcc.json", "train_point.json", "mcc.npz", "point.npz"):
        assert (out / name).is_file()
    return record


SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL]


@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_killed_run_leaves_no_half_written_file(tmp_path, sig):
    env = {**os.environ, "SPIKING_MCC_PAUSE_AT": "train"}
    proc = subprocess.Popen(quick_run_command(tmp_path, "--stages", "train,convert"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env=env,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in SIGNALS[:3]])
    try:
        _wait_for_pause(proc, "train")
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)  # the whole group, as a crash or an OOM kill would
        else:
            proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    record = _assert_clean(tmp_path)
    status = {s["name"]: s["status"] for s in record["stages"]}
    if sig == signal.SIGKILL:  # cannot be caught: run.json says incomplete, and the next run can go on
        assert proc.returncode == -signal.SIGKILL and record["interrupted"] is None
        from spiking_mcc.pipeline import run_pipeline

        assert run_pipeline(tmp_path, quick=True, stages=("energy",), progress=False)["complete"]
        assert not (tmp_path / "train_mcc.json").exists()  # the killed run's own outputs: replaced
    else:
        assert proc.returncode == 128 + sig
        assert stderr.decode().strip().splitlines()[-1] == f"spiking-mcc run: interrupted by {sig.name}"
        assert record["interrupted"] == sig.name
        assert status["compare"] == "interrupted" and status["convert"] == "pending"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
