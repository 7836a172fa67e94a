"""Rate surface of the Brian2 L5PC and the two-point transfer law it follows (docs/twopoint_laws.md).

Protocol: one NeuronGroup holds every (I_s, I_d) condition x trial of a grid of tonic somatic and apical
currents, with the multiplexing protocol's OU noise in both compartments; after a warm-up, each condition
gives its spike rate, event rate and burst probability (events and bursts as in `bursts.py`).

Fit: for each law of `spiking_mcc.twopoint.transfer.LAWS`,
    rate_hz ~= s * relu(A(R, C)),  R = a_s I_s + b_s,  C = a_d I_d + b_d,
by least squares on the spike rates (scipy `least_squares`, several seeded starts, best kept). Where a
law leaves a direction of its parameters unidentifiable, that parameter is fixed (`FIXED_PARAMS`): the
output scale s of kp, gain, point and additive trades exactly against the scale of R (and of C), so it is
held at RATE_SCALE_HZ (R = 1 means 100 Hz without context); coop's relu6 ceiling fixes the scale of A, so
its s is free. `point` ignores C (a_d = b_d = 0), `additive` needs one offset (b_d = 0).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spiking_mcc.brian_state import brian_state
from spiking_mcc.cells.bursts import count_events
from spiking_mcc.cells.params import make_params
from spiking_mcc.cells.protocols import FULL, check_dt, choose_target, simulate, zero_conditions
from spiking_mcc.errors import ParameterError
from spiking_mcc.io import ensure_dir, save_figure, write_json
from spiking_mcc.limits import check_seed
from spiking_mcc.twopoint.transfer import LAWS, UNIT_LAW, check_law, transfer


@dataclass(frozen=True)
class SurfaceSettings:
    """Grid of tonic currents (pA), trials per condition, run and warm-up length (ms), OU noise std (pA)."""

    soma_pa: tuple[float, ...]
    apical_pa: tuple[float, ...]
    trials: int
    duration_ms: float
    warmup_ms: float
    sigma_pa: float = FULL.mux_sigma_pa  # the multiplexing protocol's OU noise, each compartment


# I_s 0-800 pA covers sub-threshold (rheobase ~300 pA) to ~50 Hz; I_d 0-600 pA runs from modulation to
# apical drive: with the noise the cell fires on apical input alone from ~450 pA (700 pA without noise).
FULL_SURFACE = SurfaceSettings(soma_pa=tuple(np.arange(0.0, 801.0, 50.0)),
                               apical_pa=tuple(np.arange(0.0, 601.0, 50.0)),
                               trials=20, duration_ms=2500.0, warmup_ms=500.0)
QUICK_SURFACE = SurfaceSettings(soma_pa=(0.0, 200.0, 400.0, 600.0, 800.0),
                                apical_pa=(0.0, 200.0, 400.0, 600.0),
                                trials=4, duration_ms=1200.0, warmup_ms=200.0)

PARAM_NAMES = ("a_s_per_pa", "b_s", "a_d_per_pa", "b_d", "s_hz")
RATE_SCALE_HZ = 100.0  # output scale held fixed where it trades against the scale of R (module docstring)
FIXED_PARAMS: Mapping[str, Mapping[str, float]] = {
    "kp": {"s_hz": RATE_SCALE_HZ},
    "coop": {},
    "additive": {"s_hz": RATE_SCALE_HZ, "b_d": 0.0},
    "point": {"s_hz": RATE_SCALE_HZ, "a_d_per_pa": 0.0, "b_d": 0.0},
    "gain": {"s_hz": RATE_SCALE_HZ},
}
FIT_STARTS = 8
# Apical input drives the noisy cell on its own from ~450 pA (a different regime from modulation): the
# laws are fitted once more on the apical levels where the cell is silent without somatic input.
SILENT_HZ = 0.5
# Ranges of the random starts, slopes per nA (the fit works in nA so every parameter is O(1)).
_START_RANGES = {"a_s_per_pa": (0.2, 3.0), "b_s": (-1.5, 0.5), "a_d_per_pa": (-2.0, 5.0), "b_d": (-2.0, 1.0),
                 "s_hz": (5.0, 50.0)}
_PER_NA = {"a_s_per_pa", "a_d_per_pa"}  # stored per pA, fitted per nA
# Bounds (slopes per nA): R and C stay O(1) over the grid, the range where the laws are used (a network's
# drives); without them a law may fit with R in the thousands against a vanishing logistic tail of g(C).
FIT_BOUNDS = {"a_s_per_pa": (-20.0, 20.0), "b_s": (-10.0, 10.0), "a_d_per_pa": (-20.0, 20.0),
              "b_d": (-10.0, 10.0), "s_hz": (0.0, 1000.0)}


@dataclass(frozen=True)
class LawFit:
    """One law's least-squares fit to the spike-rate surface (params in PARAM_NAMES, slopes per pA)."""

    law: str
    params: dict[str, float]
    rmse_hz: float
    r2: float


def predict_rate(law: str, params: Mapping[str, float], i_s_pa: np.ndarray, i_d_pa: np.ndarray) -> np.ndarray:
    """s * relu(A(R, C)) in Hz with R = a_s I_s + b_s, C = a_d I_d + b_d (currents in pA)."""
    r = params["a_s_per_pa"] * np.asarray(i_s_pa, dtype=float) + params["b_s"]
    c = params["a_d_per_pa"] * np.asarray(i_d_pa, dtype=float) + params["b_d"]
    return params["s_hz"] * np.maximum(transfer(law, r, c), 0.0)


def _goodness(rate_hz: np.ndarray, predicted_hz: np.ndarray) -> tuple[float, float]:
    residual = predicted_hz - rate_hz
    total = float(np.sum((rate_hz - rate_hz.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / total if total > 0 else float("nan")
    return float(np.sqrt(np.mean(residual ** 2))), r2


def fit_law(law: str, i_s_pa, i_d_pa, rate_hz, seed: int = 0, starts: int = FIT_STARTS) -> LawFit:
    """Least-squares fit of `law` to rates (Hz) at currents (pA), best of `starts` seeded random starts."""
    from scipy.optimize import least_squares

    check_law(law)
    i_s_pa, i_d_pa, rate_hz = (np.asarray(x, dtype=float).ravel() for x in (i_s_pa, i_d_pa, rate_hz))
    if not i_s_pa.size == i_d_pa.size == rate_hz.size or rate_hz.size < len(PARAM_NAMES):
        raise ParameterError(f"fit_law: need equal-length currents and rates (>= {len(PARAM_NAMES)} points), "
                             f"got {i_s_pa.size}, {i_d_pa.size}, {rate_hz.size}")
    if not np.all(np.isfinite(rate_hz)):
        raise ParameterError("fit_law: rates must be finite")
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise ParameterError(f"fit_law: starts must be an integer >= 1, got {starts!r}")
    fixed = FIXED_PARAMS[law]
    free = [name for name in PARAM_NAMES if name not in fixed]
    unit = np.array([1e-3 if name in _PER_NA else 1.0 for name in free])  # per nA -> per pA

    def params_of(theta: np.ndarray) -> dict[str, float]:
        return {**fixed, **{name: float(value) for name, value in zip(free, theta * unit)}}

    def residual(theta: np.ndarray) -> np.ndarray:
        return predict_rate(law, params_of(theta), i_s_pa, i_d_pa) - rate_hz

    bounds = tuple(np.array([FIT_BOUNDS[name][side] for name in free]) for side in (0, 1))
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(starts):
        theta0 = np.array([rng.uniform(*_START_RANGES[name]) for name in free])
        result = least_squares(residual, theta0, method="trf", x_scale="jac", max_nfev=400 * len(free),
                               bounds=bounds)
        if best is None or result.cost < best.cost:
            best = result
    params = params_of(best.x)
    rmse_hz, r2 = _goodness(rate_hz, predict_rate(law, params, i_s_pa, i_d_pa))
    return LawFit(law, {name: params[name] for name in PARAM_NAMES}, rmse_hz, r2)


def fit_laws(grid: list[dict], seed: int = 0, laws: tuple[str, ...] = LAWS) -> list[LawFit]:
    """Fit every law in `laws` to the spike rates of a rate-surface grid (rows as in rate_surface.json)."""
    i_s, i_d, rate = (np.array([row[key] for row in grid], dtype=float)
                      for key in ("i_s_pa", "i_d_pa", "spike_rate_hz"))
    return [fit_law(law, i_s, i_d, rate, seed) for law in laws]


def modulatory_rows(grid: list[dict], silent_hz: float = SILENT_HZ) -> list[dict]:
    """The rows whose apical level leaves the cell silent on its own (spike rate <= silent_hz at I_s = 0)."""
    lowest_soma = min(row["i_s_pa"] for row in grid)
    silent = {row["i_d_pa"] for row in grid
              if row["i_s_pa"] == lowest_soma and row["spike_rate_hz"] <= silent_hz}
    return [row for row in grid if row["i_d_pa"] in silent]


def measure_surface(params: Mapping, settings: SurfaceSettings, dt_ms: float, seed: int) -> list[dict]:
    """Run the grid (one NeuronGroup, conditions x trials) and return one row per (I_s, I_d) condition."""
    soma, apical = np.meshgrid(settings.soma_pa, settings.apical_pa, indexing="ij")
    n_conditions = soma.size
    condition_of_cell = np.repeat(np.arange(n_conditions), settings.trials)
    cond = zero_conditions(condition_of_cell.size)
    cond["I_s_tonic"][:] = soma.ravel()[condition_of_cell]
    cond["I_d_tonic"][:] = apical.ravel()[condition_of_cell]
    cond["sigma_s"][:] = settings.sigma_pa
    cond["sigma_d"][:] = settings.sigma_pa
    sim = simulate(cond, settings.duration_ms, params, dt_ms, seed, "rate_surface")
    late = sim["t_ms"] >= settings.warmup_ms
    counts = count_events(sim["i"][late], sim["t_ms"][late], condition_of_cell.size)
    per_condition = {name: np.bincount(condition_of_cell, getattr(counts, name), minlength=n_conditions)
                     for name in ("spikes", "events", "bursts")}
    observed_s = settings.trials * (settings.duration_ms - settings.warmup_ms) / 1000.0
    events = per_condition["events"]
    burst_probability = np.divide(per_condition["bursts"], events, out=np.full(n_conditions, np.nan),
                                  where=events > 0)
    return [{"i_s_pa": float(i_s), "i_d_pa": float(i_d), "spike_rate_hz": float(spikes / observed_s),
             "event_rate_hz": float(n_events / observed_s), "burst_probability": float(p_burst)}
            for i_s, i_d, spikes, n_events, p_burst
            in zip(soma.ravel(), apical.ravel(), per_condition["spikes"], events, burst_probability)]


def _best(fits: list[LawFit]) -> str | None:
    return min(fits, key=lambda fit: fit.rmse_hz).law if fits else None


def run_rate_surface(quick: bool = False, seed: int = 0, params_override: dict | None = None,
                     dt_ms: float = 0.1, target: str | None = None) -> dict:
    """Measure the L5PC rate surface and fit every law; return the rate_surface.json dict.

    Keys: grid (rows {i_s_pa, i_d_pa, spike_rate_hz, event_rate_hz, burst_probability}), fits (rows {law,
    params, rmse_hz, r2}, in LAWS order), law_used (UNIT_LAW), best_fit_law (smallest RMSE), modulatory (the
    same fits on `modulatory_rows`, where apical input alone leaves the cell silent), protocol and fit_method
    (what was run and how it was fitted). Same seed, same numbers.
    """
    seed = check_seed(seed)
    dt_ms = check_dt(dt_ms)
    params = make_params(params_override)
    settings = QUICK_SURFACE if quick else FULL_SURFACE
    chosen = choose_target(target)
    with brian_state(target=chosen):  # the user's target, clock and RNG state are restored afterwards
        grid = measure_surface(params, settings, dt_ms, seed)
    fits = fit_laws(grid, seed)
    modulatory = modulatory_rows(grid)
    modulatory_fits = fit_laws(modulatory, seed) if len(modulatory) >= 2 * len(PARAM_NAMES) else []
    return {
        "protocol": {**asdict(settings), "dt_ms": dt_ms, "seed": seed, "quick": quick,
                     "brian2_target": chosen},
        "grid": grid,
        "fits": [asdict(fit) for fit in fits],
        "law_used": UNIT_LAW,
        "best_fit_law": _best(fits),
        "modulatory": {"silent_hz": SILENT_HZ,
                       "max_i_d_pa": max((row["i_d_pa"] for row in modulatory), default=None),
                       "fits": [asdict(fit) for fit in modulatory_fits],
                       "best_fit_law": _best(modulatory_fits)},
        "fit_method": {"model": "rate_hz = s * relu(A(R, C)), R = a_s I_s + b_s, C = a_d I_d + b_d",
                       "fixed_params": {law: dict(values) for law, values in FIXED_PARAMS.items()},
                       "bounds_per_na": FIT_BOUNDS, "starts": FIT_STARTS, "seed": seed,
                       "fitted_to": "spike_rate_hz"},
    }


def write_rate_surface(out_dir: str | os.PathLike, **run_options) -> tuple[dict, Path, Path]:
    """Run `run_rate_surface(**run_options)`; write rate_surface.json and rate_surface.png into out_dir.

    Returns (the rate_surface.json dict, its path, the figure's path).
    """
    surface = run_rate_surface(**run_options)
    json_path = write_json(Path(out_dir) / "rate_surface.json", surface)
    return surface, json_path, write_rate_surface_figure(surface, out_dir)


def _rate_surface_figure(surface: dict):
    from spiking_mcc.plotting import legend_outside, plt

    grid = surface["grid"]
    soma = np.array(sorted({row["i_s_pa"] for row in grid}))
    apical = np.array(sorted({row["i_d_pa"] for row in grid}))
    rate = {(row["i_s_pa"], row["i_d_pa"]): row["spike_rate_hz"] for row in grid}
    surface_hz = np.array([[rate[(s, d)] for s in soma] for d in apical])
    fits = surface["fits"]
    n_panels = 1 + len(fits)
    n_cols = 3
    n_rows = -(-n_panels // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 3.0 * n_rows), squeeze=False,
                             layout="constrained")
    axes = axes.ravel()
    image = axes[0].pcolormesh(soma, apical, surface_hz, shading="nearest", cmap="viridis")
    fig.colorbar(image, ax=axes[0], label="spike rate (Hz)")
    axes[0].set(xlabel="somatic current I_s (pA)", ylabel="apical current I_d (pA)", title="measured L5PC")
    shown = apical[np.unique(np.linspace(0, apical.size - 1, min(4, apical.size)).round().astype(int))]
    colours = plt.cm.plasma(np.linspace(0.0, 0.85, shown.size))
    fine_soma = np.linspace(soma.min(), soma.max(), 200)
    top = 1.08 * max(float(surface_hz.max()), 1.0)
    modulatory = surface.get("modulatory", {})
    modulatory_fits = {fit["law"]: fit for fit in modulatory.get("fits", [])}
    max_modulatory_pa = modulatory.get("max_i_d_pa")
    for ax, fit in zip(axes[1:], fits):
        on_subset = modulatory_fits.get(fit["law"])
        for i_d, colour in zip(shown, colours):
            ax.plot(soma, [rate[(s, i_d)] for s in soma], "o", ms=3, color=colour, label=f"I_d = {i_d:g} pA")
            apical_row = np.full_like(fine_soma, i_d)
            ax.plot(fine_soma, predict_rate(fit["law"], fit["params"], fine_soma, apical_row), "-", lw=1.2,
                    color=colour)
            if on_subset is not None and i_d <= max_modulatory_pa:
                ax.plot(fine_soma, predict_rate(fit["law"], on_subset["params"], fine_soma, apical_row), "--",
                        lw=1.0, color=colour)
        marker = " (law_used)" if fit["law"] == surface.get("law_used") else ""
        title = f"{fit['law']}{marker}: RMSE {fit['rmse_hz']:.2f} Hz, R$^2$ {fit['r2']:.3f}"
        if on_subset is not None:
            title += f"\ndashed (I_d <= {max_modulatory_pa:g} pA): {on_subset['rmse_hz']:.2f} Hz, " \
                     f"R$^2$ {on_subset['r2']:.3f}"
        ax.set(title=title, xlabel="somatic current I_s (pA)", ylabel="spike rate (Hz)", ylim=(0, top))
        ax.title.set_fontsize(9)
    legend_outside(axes[1], where="figure-below", ncol=shown.size, fontsize=8)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    protocol = surface.get("protocol", {})
    fig.suptitle(f"rate surface vs two-point laws (dots: Brian2 L5PC, {protocol.get('trials', '?')} trials, "
                 f"OU sigma {protocol.get('sigma_pa', '?')} pA)\n"
                 "solid: s relu(A(a_s I_s + b_s, a_d I_d + b_d)) fitted to the whole grid; "
                 "dashed: fitted where apical input alone leaves the cell silent",
                 fontsize=9)
    return fig


def write_rate_surface_figure(surface: dict, out_dir: str | os.PathLike) -> Path:
    """Write rate_surface.png (measured surface; each law's fit vs the measured f-I curves) into out_dir."""
    return save_figure(_rate_surface_figure(surface), ensure_dir(out_dir) / "rate_surface.png")
