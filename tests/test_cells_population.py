"""Burst multiplexing in a population (Naud & Sprekeler 2018; docs/cells.md): the event rate follows the
somatic input and the burst fraction the dendritic one, with little cross-talk (quick mode, 3 seeds)."""

import json
from dataclasses import replace

import numpy as np
import pytest

from spiking_mcc.cells.bursts import events_of
from spiking_mcc.cells.population import QUICK_POPULATION, bin_population, input_signals, run_population

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def runs():
    return [run_population(QUICK_POPULATION, seed=seed, target="numpy") for seed in SEEDS]


def test_event_rate_decodes_the_somatic_and_burst_fraction_the_dendritic_input(runs):
    decoding = {key: np.array([run["decoding"][key] for run in runs]) for key in runs[0]["decoding"]}
    # measured (seeds 0-2): 0.82/0.93/0.81 and 0.87/0.93/0.92; the full run (4000 cells, 20 s) >= 0.93
    for key in ("event_rate_vs_somatic_r", "burst_fraction_vs_dendritic_r"):
        assert decoding[key].mean() >= 0.8 and decoding[key].min() >= 0.7, (key, decoding[key])
    # cross-talk, measured |r| <= 0.28
    for key in ("event_rate_vs_dendritic_r", "burst_fraction_vs_somatic_r"):
        magnitude = np.abs(decoding[key])
        assert magnitude.mean() <= 0.25 and magnitude.max() <= 0.4, (key, decoding[key])


def test_population_is_in_the_sparse_burst_regime_and_reproducible_per_seed(runs):
    for run in runs:
        assert run["n_cells"] == QUICK_POPULATION.n_cells
        assert run["duration_s"] == pytest.approx(3.0)
        assert 1.0 <= run["mean_event_rate_hz"] <= 10.0
        assert 0.15 <= run["mean_burst_fraction"] <= 0.6
        assert run["mean_spike_rate_hz"] > run["mean_event_rate_hz"]
    assert runs[0]["decoding"] != runs[1]["decoding"]
    tiny = replace(QUICK_POPULATION, n_cells=50, duration_ms=800.0, warmup_ms=100.0)
    first, again = (run_population(tiny, seed=SEEDS[0], target="numpy") for _ in range(2))
    assert again["bins"] == first["bins"] and sum(first["bins"]["event_rate_hz"]) > 0


def test_inputs_are_uncorrelated_and_scaled():
    soma, dend = input_signals(QUICK_POPULATION, seed=4)
    window = slice(int(QUICK_POPULATION.warmup_ms), None)
    assert abs(np.corrcoef(soma[window], dend[window])[0, 1]) < 1e-9
    assert soma[window].mean() == pytest.approx(QUICK_POPULATION.soma_mean_pa)
    assert dend[window].std() == pytest.approx(QUICK_POPULATION.dend_std_pa)


def test_binning_counts_events_and_bursts_at_their_onsets():
    # cell 0: burst at 10 ms (3 spikes) and a single at 60 ms; cell 1: a burst at 45 ms running into bin 2
    cell = np.array([0, 0, 0, 0, 1, 1])
    time_ms = np.array([10.0, 14.0, 20.0, 60.0, 45.0, 55.0])
    assert events_of(cell, time_ms)[2].tolist() == [3, 1, 2]
    binned = bin_population(cell, time_ms, n_cells=2, edges_ms=np.array([0.0, 50.0, 100.0]))
    assert binned["events"].tolist() == [2, 1] and binned["bursts"].tolist() == [2, 0]
    np.testing.assert_allclose(binned["event_rate_hz"], [20.0, 10.0])  # events / (2 cells * 0.05 s)
    np.testing.assert_allclose(binned["burst_fraction"], [1.0, 0.0])


def test_population_command_writes_json_and_figure(runs, cli, tmp_path, monkeypatch, capsys):
    from spiking_mcc.cells import population

    calls = []

    def fake_run(settings, **kwargs):
        calls.append((settings, kwargs))
        return runs[0]

    monkeypatch.setattr(population, "run_population", fake_run)
    out = tmp_path / "pop"
    assert cli(["cells", "--population", "--quick", "--out", str(out), "--seed", "2"]) == 0
    assert calls[0][0] == QUICK_POPULATION and calls[0][1]["seed"] == 2
    loaded = json.loads((out / "population.json").read_text())
    assert set(loaded["decoding"]) == {"event_rate_vs_somatic_r", "burst_fraction_vs_dendritic_r",
                                       "event_rate_vs_dendritic_r", "burst_fraction_vs_somatic_r"}
    assert {"n_cells", "duration_s"} <= set(loaded)
    assert (out / "population.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "cells.json").exists()
    assert "event_rate_vs_somatic_r" in capsys.readouterr().out
