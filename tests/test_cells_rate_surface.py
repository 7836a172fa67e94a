"""Rate surface of the Brian2 L5PC and its two-point law fits (docs/twopoint_laws.md).

The fit is checked on synthetic surfaces drawn from each law (known parameters, Gaussian noise); the
quick Brian2 surface (numpy target: no compilation) over three seeds is checked for the L5PC's known
behaviour (rate rises with I_s, apical input raises the slope, bursts rise with I_d) and for the measured
ranking of the laws. Same seed, same rate_surface.json: tests/test_run_pipeline.py (every JSON of a run).
"""

import json

import numpy as np
import pytest

from spiking_mcc.cells.rate_surface import (
    FIXED_PARAMS,
    FULL_SURFACE,
    PARAM_NAMES,
    QUICK_SURFACE,
    fit_law,
    predict_rate,
    run_rate_surface,
    write_rate_surface,
)
from spiking_mcc.errors import ParameterError
from spiking_mcc.twopoint.transfer import LAWS, UNIT_LAW

SEEDS = (0, 1, 2)
GRID_KEYS = {"i_s_pa", "i_d_pa", "spike_rate_hz", "event_rate_hz", "burst_probability"}
FIT_KEYS = {"law", "params", "rmse_hz", "r2"}

# Known parameters per law (slopes per pA), each in the range where the law's parameters are identifiable
# on the full grid; s_hz of all laws but coop is the fixed output scale.
TRUE_PARAMS = {
    "gain": {"a_s_per_pa": 6e-4, "b_s": -0.15, "a_d_per_pa": 3e-3, "b_d": -0.3, "s_hz": 100.0},
    "kp": {"a_s_per_pa": 1.5e-3, "b_s": -0.4, "a_d_per_pa": 1e-3, "b_d": -0.3, "s_hz": 100.0},
    "additive": {"a_s_per_pa": 5e-4, "b_s": -0.2, "a_d_per_pa": 4e-4, "b_d": 0.0, "s_hz": 100.0},
    "coop": {"a_s_per_pa": 3e-3, "b_s": -1.0, "a_d_per_pa": 5e-4, "b_d": 0.0, "s_hz": 10.0},
    "point": {"a_s_per_pa": 8e-4, "b_s": -0.15, "a_d_per_pa": 0.0, "b_d": 0.0, "s_hz": 100.0},
}
NOISE_HZ = 1.0


def _full_grid_currents():
    soma, apical = np.meshgrid(FULL_SURFACE.soma_pa, FULL_SURFACE.apical_pa, indexing="ij")
    return soma.ravel(), apical.ravel()


@pytest.mark.parametrize("law", sorted(TRUE_PARAMS))
def test_fit_recovers_the_parameters_of_a_synthetic_surface(law):
    i_s, i_d = _full_grid_currents()
    true = TRUE_PARAMS[law]
    clean_hz = predict_rate(law, true, i_s, i_d)
    assert clean_hz.max() > 30.0 and np.mean(clean_hz == 0) > 0.05  # the surface has a threshold and drive
    for seed in SEEDS:
        noisy_hz = clean_hz + np.random.default_rng(seed).normal(0.0, NOISE_HZ, clean_hz.shape)
        fit = fit_law(law, i_s, i_d, noisy_hz, seed=seed)
        assert 0.85 * NOISE_HZ < fit.rmse_hz < 1.1 * NOISE_HZ, (seed, fit)  # down to the noise, not below
        fitted_hz = predict_rate(law, fit.params, i_s, i_d)
        assert np.sqrt(np.mean((fitted_hz - clean_hz) ** 2)) < 0.35 * NOISE_HZ, (seed, fit)
        for name in PARAM_NAMES:
            if name in FIXED_PARAMS[law]:
                assert fit.params[name] == FIXED_PARAMS[law][name]
            elif law != "coop":  # coop's offsets and scale trade against each other at this noise
                assert fit.params[name] == pytest.approx(true[name], rel=0.1, abs=0.05), (seed, name, fit)


def test_the_generating_law_fits_a_gain_surface_best():
    i_s, i_d = _full_grid_currents()
    rates = predict_rate("gain", TRUE_PARAMS["gain"], i_s, i_d)
    rates = rates + np.random.default_rng(0).normal(0.0, NOISE_HZ, rates.shape)
    rmse = {law: fit_law(law, i_s, i_d, rates, seed=0).rmse_hz for law in LAWS}
    assert min(rmse, key=rmse.get) == "gain", rmse
    assert rmse["point"] > 3 * rmse["gain"], rmse  # ignoring the context leaves most of the modulation


def test_fit_rejects_bad_input():
    with pytest.raises(ParameterError, match="law"):
        fit_law("nope", [0.0] * 6, [0.0] * 6, [1.0] * 6)
    with pytest.raises(ParameterError, match="finite"):
        fit_law("gain", [0.0] * 6, [0.0] * 6, [1.0] * 5 + [np.nan])
    with pytest.raises(ParameterError, match="equal-length"):
        fit_law("gain", [0.0] * 6, [0.0] * 5, [1.0] * 6)
    with pytest.raises(ParameterError, match="starts"):
        fit_law("gain", [0.0] * 6, [0.0] * 6, [1.0] * 6, starts=0)
    with pytest.raises(ParameterError, match="seed"):
        run_rate_surface(quick=True, seed=-1, target="numpy")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("rate_surface")
    surface, json_path, png_path = write_rate_surface(out, quick=True, seed=0, target="numpy")
    return surface, json_path, png_path


@pytest.fixture(scope="module")
def surfaces(written):
    """The quick surface of each seed in SEEDS (seed 0 is the written one)."""
    return [written[0]] + [run_rate_surface(quick=True, seed=seed, target="numpy") for seed in SEEDS[1:]]


def test_rate_surface_json_and_figure_contract(written):
    surface, json_path, png_path = written
    assert json_path.name == "rate_surface.json" and png_path.name == "rate_surface.png"
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png_path.stat().st_size > 20_000
    on_disk = json.loads(json_path.read_text())
    assert {"grid", "fits", "law_used"} <= set(on_disk)
    assert on_disk["law_used"] == UNIT_LAW == "gain"
    grid = on_disk["grid"]
    assert len(grid) == len(QUICK_SURFACE.soma_pa) * len(QUICK_SURFACE.apical_pa)
    assert {(row["i_s_pa"], row["i_d_pa"]) for row in grid} == {
        (s, d) for s in QUICK_SURFACE.soma_pa for d in QUICK_SURFACE.apical_pa}
    for row in grid:
        assert set(row) == GRID_KEYS
        assert row["spike_rate_hz"] >= row["event_rate_hz"] >= 0
        # no event -> burst probability undefined (null), else a probability
        assert (row["burst_probability"] is None) == (row["event_rate_hz"] == 0)
        assert row["burst_probability"] is None or 0 <= row["burst_probability"] <= 1
    assert [fit["law"] for fit in on_disk["fits"]] == list(LAWS)
    for fit in on_disk["fits"]:
        assert set(fit) == FIT_KEYS and set(fit["params"]) == set(PARAM_NAMES)
        assert 0 <= fit["rmse_hz"] and fit["r2"] <= 1
    best = min(on_disk["fits"], key=lambda fit: fit["rmse_hz"])["law"]
    assert on_disk["best_fit_law"] == best


def test_fits_reproduce_the_reported_rmse(written):
    surface = written[0]
    grid = surface["grid"]
    i_s, i_d, rate = (np.array([row[key] for row in grid]) for key in ("i_s_pa", "i_d_pa", "spike_rate_hz"))
    for fit in surface["fits"]:
        predicted = predict_rate(fit["law"], fit["params"], i_s, i_d)
        assert np.sqrt(np.mean((predicted - rate) ** 2)) == pytest.approx(fit["rmse_hz"], rel=1e-9)


def _rates(surface):
    return {(row["i_s_pa"], row["i_d_pa"]): row["spike_rate_hz"] for row in surface["grid"]}


def test_rate_rises_with_somatic_current_at_every_apical_level(surfaces):
    for surface in surfaces:
        rate = _rates(surface)
        for i_d in QUICK_SURFACE.apical_pa:
            curve = np.array([rate[(i_s, i_d)] for i_s in QUICK_SURFACE.soma_pa])
            assert np.all(np.diff(curve) >= -1.0), (i_d, curve)  # monotone up to trial noise
            assert curve[-1] - curve[2] > 10.0, (i_d, curve)  # 400 -> 800 pA adds > 10 Hz
        assert rate[(0.0, 0.0)] == rate[(200.0, 0.0)] == 0.0  # below rheobase without context


def test_apical_input_raises_the_somatic_slope(surfaces):
    ratios = []
    for surface in surfaces:
        rate = _rates(surface)
        slope = {i_d: rate[(800.0, i_d)] - rate[(400.0, i_d)] for i_d in (0.0, 400.0)}
        ratios.append(slope[400.0] / slope[0.0])
    # measured 1.50-1.66 over seeds 0-4 (the noiseless f-I gain roughly doubles, README "Two-point cells")
    assert min(ratios) > 1.3 and np.mean(ratios) > 1.4, ratios


def test_burst_probability_rises_with_apical_input(surfaces):
    for surface in surfaces:
        p_burst = {(r["i_s_pa"], r["i_d_pa"]): r["burst_probability"] for r in surface["grid"]}
        assert p_burst[(800.0, 0.0)] < 0.15 < 0.6 < p_burst[(800.0, 400.0)], p_burst


def _fit(fits, law):
    return next(fit for fit in fits if fit["law"] == law)


def test_gain_law_beats_the_point_law_on_the_l5pc(surfaces):
    for surface in surfaces:
        gain, point = _fit(surface["fits"], "gain"), _fit(surface["fits"], "point")
        # measured (seeds 0-4): gain R^2 0.86-0.88 vs point 0.49-0.53 on the whole quick grid
        assert gain["r2"] > point["r2"] + 0.25 and gain["r2"] > 0.8, (gain, point)


def test_gain_law_fits_best_where_apical_input_only_modulates(surfaces):
    for surface in surfaces:
        modulatory = surface["modulatory"]
        assert modulatory["max_i_d_pa"] == 400.0  # the noisy cell fires from I_d = 600 pA alone
        r2 = {fit["law"]: fit["r2"] for fit in modulatory["fits"]}
        # measured (seeds 0-4): gain 0.987-0.995, additive and coop 0.975-0.985, kp ~0.96, point ~0.83
        assert modulatory["best_fit_law"] == "gain" and r2["gain"] > 0.97, r2
        assert r2["gain"] > r2["point"] + 0.1, r2



def test_report_section_prints_the_fits_of_rate_surface_json(written):
    from spiking_mcc.report.build import build_report
    from spiking_mcc.report.numbers import fmt

    surface, json_path, _ = written
    markdown = build_report(json_path.parent)[0].read_text()
    section = markdown.split("## Rate surface and the two-point law\n", 1)[1].split("\n## ", 1)[0]
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                         for line in section.splitlines() if line.startswith("| "))}
    modulatory = {fit["law"]: fit for fit in surface["modulatory"]["fits"]}
    for fit in surface["fits"]:
        subset = modulatory[fit["law"]]
        assert rows[fit["law"]][1:5] == [fmt(fit["rmse_hz"]), fmt(fit["r2"]), fmt(subset["rmse_hz"]),
                                         fmt(subset["r2"])]
    assert f"realises `{UNIT_LAW}`" in section and f"`{surface['best_fit_law']}`" in section
