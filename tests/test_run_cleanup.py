"""Run orchestration: skipped stages are recorded, bad --stages. (What a new run may remove from its
folder: tests/test_outdir.py.)"""

import pytest

from spiking_mcc.errors import ParameterError
from spiking_mcc.pipeline import RunConfig, run_pipeline


def test_quick_mode_is_smaller_than_the_full_run():
    quick, full = RunConfig.for_mode(True, 0), RunConfig.for_mode(False, 0)
    assert quick.epochs < full.epochs and quick.lava_samples < full.lava_samples
    assert quick.brian2_samples < full.brian2_samples and max(quick.timesteps) < max(full.timesteps)
    assert quick.energy_timesteps in quick.timesteps and full.energy_timesteps in full.timesteps


def test_a_partial_run_records_what_it_skipped_and_still_reports(tmp_path):
    record = run_pipeline(tmp_path, quick=True, stages=("energy", "mapping"), progress=False)
    status = {s["name"]: (s["status"], s["note"]) for s in record["stages"]}
    assert status["cells"] == ("skipped", "not selected with --stages")
    assert status["energy"][0] == "skipped" and "no result file" in status["energy"][1]
    assert status["mapping"] == ("skipped", "needs convert")
    assert record["complete"] is True
    md = (tmp_path / "report.md").read_text()
    assert "| energy | skipped |" in md and "The cell stage did not run" in md
    assert (tmp_path / "report.html").is_file()


def test_unknown_stage_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="--stages"):
        run_pipeline(tmp_path, stages=("cells", "frobnicate"), progress=False)


def test_saved_networks_get_the_comparison_study_epoch_budget():
    from spiking_mcc.mcc.study import FULL_PLAN, QUICK_PLAN

    assert RunConfig.for_mode(True, 0).epochs == QUICK_PLAN.epochs
    assert RunConfig.for_mode(False, 0).epochs == FULL_PLAN.epochs


def test_negative_seed_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ParameterError, match="--seed"):
        run_pipeline(tmp_path / "out", seed=-1, progress=False)
    assert not (tmp_path / "out").exists()


def test_a_failing_stage_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    import spiking_mcc.pipeline as pipeline

    def broken(ctx):
        raise ParameterError("cells: something is wrong")

    def buggy(ctx):
        return {}["no such key"]

    replaced = {"cells": broken, "compare": buggy}
    stages = tuple((name, replaced.get(name, fn), needs) for name, fn, needs in pipeline.STAGES)
    monkeypatch.setattr(pipeline, "STAGES", stages)
    record = run_pipeline(tmp_path, quick=True, stages=("cells", "compare", "energy"), progress=False)
    status = {s["name"]: s for s in record["stages"]}
    assert record["complete"] is True
    assert status["cells"]["status"] == "failed" and "something is wrong" in status["cells"]["note"]
    assert status["cells"]["traceback"] == ""  # a user-facing error needs no traceback
    assert status["compare"]["status"] == "failed" and "KeyError" in status["compare"]["traceback"]
    assert status["energy"]["status"] == "skipped"
    md = (tmp_path / "report.md").read_text()
    assert "**Incomplete run.**" in md and "stage `cells` failed: ParameterError: cells: something" in md
    assert "stage 'compare' failed" in capsys.readouterr().err


def test_debug_mode_lets_a_stage_error_through(tmp_path, monkeypatch):
    import spiking_mcc.pipeline as pipeline

    def broken(ctx):
        raise ParameterError("cells: something is wrong")

    stages = tuple((name, broken if name == "cells" else fn, needs) for name, fn, needs in pipeline.STAGES)
    monkeypatch.setattr(pipeline, "STAGES", stages)
    monkeypatch.setenv("SPIKING_MCC_DEBUG", "1")
    with pytest.raises(ParameterError, match="something is wrong"):
        run_pipeline(tmp_path, quick=True, stages=("cells",), progress=False)
    assert not (tmp_path / "report.md").exists()
