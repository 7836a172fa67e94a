"""The behaviours (docs/cells.md) of the Brian2 two-point L5PC, measured on one quick protocol run.

Brian2's numpy target: no compilation, so the module's cost is fixed (~15-25 s on a loaded 2-core box);
the cython target is faster only once its cache is warm (measured: 7 s warm vs 60-130 s cold).
"""

import json

import numpy as np
import pytest

from spiking_mcc.cells.protocols import run_cell_protocols
from spiking_mcc.io import write_json

# Reference burst probabilities (docs/cells.md) at I_d = 0, 100, 200, 300 pA (I_s = 400 pA, sigma 150 pA).
SPEC_BURST_PROBABILITY = {0.0: 0.03, 100.0: 0.20, 200.0: 0.63, 300.0: 0.93}


@pytest.fixture(scope="module")
def results():
    return run_cell_protocols(quick=True, seed=0, target="numpy")


def _bac_row(results, offset_ms):
    return next(row for row in results["bac"] if row["offset_ms"] == offset_ms)


def test_apical_input_alone_below_500_pa_never_fires(results):
    weak = [row for row in results["apical_alone"] if row["i_d_pa"] < 500]
    assert len(weak) >= 3
    assert all(row["rate_hz"] == 0 for row in weak), weak
    # the BAC control: a 10 ms 700 pA dendritic pulse alone does not fire the soma either
    assert results["apical_only_spikes"] == 0


def test_brief_strong_somatic_pulse_gives_exactly_one_spike(results):
    assert results["soma_only_spikes"] == 1
    # the bAP alone must not ignite the dendritic plateau
    assert results["soma_only_max_vd_mv"] < -30


@pytest.mark.parametrize("offset_ms", [-5.0, 0.0, 5.0])
def test_coincident_apical_pulse_turns_the_spike_into_a_burst_with_a_plateau(results, offset_ms):
    row = _bac_row(results, offset_ms)
    assert row["spikes"] >= 2, row
    assert all(isi < 16.0 for isi in row["isis_ms"]), row
    assert -15.0 < row["max_vd_mv"] < 20.0, row  # dendritic Ca2+ plateau reaches about 0 mV


@pytest.mark.parametrize("offset_ms", [-20.0, 20.0])
def test_apical_pulse_20_ms_away_gives_one_spike_and_no_plateau(results, offset_ms):
    row = _bac_row(results, offset_ms)
    assert row["spikes"] == 1, row
    assert row["max_vd_mv"] < -30.0, row


def test_bac_offsets_cover_the_issue_list(results):
    offsets = {row["offset_ms"] for row in results["bac"]}
    assert {-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0} <= offsets


def test_burst_probability_rises_with_apical_current_as_in_spec(results):
    rows = {row["i_d_pa"]: row for row in results["multiplexing"]}
    probabilities = [rows[i_d]["burst_probability"] for i_d in sorted(rows)]
    assert np.all(np.diff(probabilities) > 0), probabilities
    for i_d, expected in SPEC_BURST_PROBABILITY.items():
        assert rows[i_d]["events"] >= 300  # enough events for a +-0.12 check (binomial s.e. <= 0.03)
        assert rows[i_d]["burst_probability"] == pytest.approx(expected, abs=0.12), (i_d, rows[i_d])


def test_event_rate_stays_roughly_constant_while_bursts_multiplex(results):
    event_rates = np.array([row["event_rate_hz"] for row in results["multiplexing"]])
    spike_rates = np.array([row["spike_rate_hz"] for row in results["multiplexing"]])
    assert event_rates.min() > 0.5
    assert (event_rates.max() - event_rates.min()) / event_rates.mean() <= 0.30, event_rates
    # ...whereas the spike rate, carrying the bursts, at least doubles
    assert spike_rates[-1] > 2 * spike_rates[0], spike_rates


def _fi_curves(results):
    curves = {}
    for row in results["fi"]:
        curves.setdefault(row["i_d_pa"], []).append((row["i_s_pa"], row["rate_hz"]))
    return {i_d: np.array(sorted(points)) for i_d, points in curves.items()}


def test_firing_rate_rises_with_somatic_current(results):
    for i_d, curve in _fi_curves(results).items():
        rates = curve[:, 1]
        assert rates[0] == 0, (i_d, rates)  # no input, no firing
        assert rates[-1] >= 15.0, (i_d, rates)
        assert np.all(np.diff(rates) >= -4.0), (i_d, rates)  # monotone up to one spike per window


def test_tonic_apical_input_raises_the_somatic_fi_gain(results):
    gains = {row["i_d_pa"]: row["gain_hz_per_na"] for row in results["fi_gain"]}
    ordered = [gains[i_d] for i_d in sorted(gains)]
    assert gains[0.0] > 10.0
    assert max(gains.values()) > 1.5 * gains[0.0], gains
    assert np.all(np.diff(ordered) > -0.1 * gains[0.0]), gains
    curves = _fi_curves(results)
    top = max(curves)
    assert curves[top][-1, 1] > curves[0.0][-1, 1] * 1.5  # and the rate at the strongest I_s


def test_strong_apical_plateau_alone_fires_the_cell(results):
    strong = [row for row in results["apical_alone"] if row["i_d_pa"] >= 700]
    assert strong and all(row["rate_hz"] >= 10.0 for row in strong), strong


def test_results_are_json_with_the_issue_keys(results, tmp_path):
    path = write_json(tmp_path / "cells.json", results)
    loaded = json.loads(path.read_text())
    for key in ("bac", "soma_only_spikes", "apical_only_spikes", "fi", "multiplexing"):
        assert key in loaded
    assert set(loaded["bac"][0]) >= {"offset_ms", "spikes", "max_vd_mv"}
    assert set(loaded["fi"][0]) >= {"i_d_pa", "i_s_pa", "rate_hz"}
    assert set(loaded["multiplexing"][0]) >= {"i_d_pa", "burst_probability", "event_rate_hz"}


def test_figures_are_written(results, tmp_path):
    from spiking_mcc.cells.figures import write_cell_figures

    paths = write_cell_figures(results, tmp_path / "figs")
    assert [p.name for p in paths] == ["bac_traces.png", "fi_curves.png", "multiplexing.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_cells_command_writes_json_and_figures(results, cli, tmp_path, monkeypatch, capsys):
    # The command's wiring, fed the module's results instead of a second simulation.
    from spiking_mcc.cells import protocols

    calls = []

    def fake_run(**kwargs):
        calls.append(kwargs)
        return results

    monkeypatch.setattr(protocols, "run_cell_protocols", fake_run)
    from spiking_mcc.cells import rate_surface

    real_surface, surface_calls = rate_surface.run_rate_surface, []

    def numpy_surface(**kwargs):  # the real quick surface, on the numpy target (no compilation)
        surface_calls.append(kwargs)
        return real_surface(**{**kwargs, "target": "numpy"})

    monkeypatch.setattr(rate_surface, "run_rate_surface", numpy_surface)
    out = tmp_path / "cells"
    assert cli(["cells", "--out", str(out), "--quick", "--seed", "3", "--param", "tau_d=8ms"]) == 0
    for call in (calls[0], surface_calls[0]):
        assert call["quick"] and call["seed"] == 3
        assert float(call["params_override"]["tau_d"] * 1000) == pytest.approx(8.0)
    loaded = json.loads((out / "cells.json").read_text())
    assert loaded["soma_only_spikes"] == results["soma_only_spikes"]
    assert json.loads((out / "rate_surface.json").read_text())["protocol"]["seed"] == 3
    figures = sorted(path.name for path in out.glob("*.png"))
    assert figures == ["bac_traces.png", "fi_curves.png", "multiplexing.png", "rate_surface.png"]
    assert "burst_probability" in capsys.readouterr().out


def test_burst_probability_pooled_over_three_seeds_is_near_the_reference():
    """Pooled over seeds 0-2 every level is within 0.10 of the reference 0.03/0.20/0.63/0.93 and each seed
    within 0.15 (the model's curve, 2 seeds x 150 cells: 0.02/0.17/0.55/0.85; the remaining gap is
    measured in docs/cells.md: the bAP window, not the noise or the threshold adaptation)."""
    from dataclasses import replace

    from spiking_mcc.brian_state import brian_state
    from spiking_mcc.cells import protocols
    from spiking_mcc.cells.params import make_params

    settings = replace(protocols.QUICK, mux_trials=40, mux_duration_ms=2500.0)
    with brian_state(target="numpy"):
        runs = [protocols.run_multiplexing(make_params(), settings, 0.1, seed)["multiplexing"]
                for seed in (0, 1, 2)]
    pooled = []
    for k, (i_d, expected) in enumerate(SPEC_BURST_PROBABILITY.items()):
        assert all(run[k]["i_d_pa"] == i_d for run in runs)
        per_seed = [run[k]["burst_probability"] for run in runs]
        pooled.append(sum(run[k]["bursts"] for run in runs) / sum(run[k]["events"] for run in runs))
        assert abs(pooled[-1] - expected) <= 0.10, (i_d, pooled[-1], per_seed)
        assert max(abs(p - expected) for p in per_seed) <= 0.15, (i_d, per_seed)
    assert np.all(np.diff(pooled) > 0.1), pooled
