"""The cell protocols of docs/cells.md, each vectorised over its conditions in ONE Brian2 NeuronGroup.

- BAC firing (Larkum et al. 1999): somatic 2 ms / 4 nA pulse + 10 ms dendritic pulse at several offsets,
  plus soma-only and apical-only controls; spike counts, max V_d and voltage traces.
- f-I curves of the soma at several tonic apical currents (gain modulation), and apical input alone.
- Burst multiplexing (Naud & Sprekeler 2018): burst probability and event rate vs I_d under OU noise.

`run_cell_protocols` returns one JSON-serialisable dict: exactly what `cells.json` holds. The BAC voltage
traces the figures need are in it too, under "traces" (downsampled to `TRACE_STEP_MS`), so the same dict
goes to `write_json` and to `figures.write_cell_figures`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from spiking_mcc.brian_state import TARGETS, brian_state
from spiking_mcc.cells.bursts import count_events
from spiking_mcc.cells.model import CONDITION_VARIABLES, set_conditions, two_point_cells
from spiking_mcc.cells.params import magnitudes, make_params
from spiking_mcc.errors import ParameterError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import LIMITS, check_seed

TRACE_STEP_MS = 0.25  # trace resolution kept in cells.json
TRACE_BEFORE_MS, TRACE_AFTER_MS = 40.0, 100.0  # trace window around the somatic pulse


@dataclass(frozen=True)
class ProtocolSettings:
    """Protocol constants (docs/cells.md); the quick variant keeps every behaviour measurable."""

    bac_offsets_ms: tuple[float, ...] = (-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0)
    bac_soma_pulse_pa: float = 4000.0
    bac_soma_width_ms: float = 2.0
    bac_apical_pulse_pa: float = 700.0  # the BAC behaviour holds for 600-800 pA
    bac_apical_width_ms: float = 10.0
    bac_soma_on_ms: float = 100.0
    bac_duration_ms: float = 300.0
    fi_apical_pa: tuple[float, ...] = (0.0, 100.0, 200.0, 300.0)
    fi_soma_pa: tuple[float, ...] = tuple(np.arange(0.0, 801.0, 50.0))
    apical_alone_pa: tuple[float, ...] = tuple(np.arange(0.0, 1001.0, 100.0))
    fi_duration_ms: float = 1000.0
    fi_warmup_ms: float = 200.0
    mux_apical_pa: tuple[float, ...] = tuple(np.arange(0.0, 401.0, 50.0))
    mux_soma_pa: float = 400.0
    mux_sigma_pa: float = 150.0
    mux_trials: int = 50
    mux_duration_ms: float = 10500.0
    mux_warmup_ms: float = 500.0


FULL = ProtocolSettings()
QUICK = ProtocolSettings(
    fi_soma_pa=tuple(np.arange(0.0, 801.0, 100.0)),
    apical_alone_pa=(0.0, 200.0, 400.0, 450.0, 600.0, 700.0, 800.0, 1000.0),
    fi_duration_ms=700.0,
    mux_apical_pa=(0.0, 100.0, 200.0, 300.0),
    mux_trials=40,
    mux_duration_ms=5500.0,
)


def choose_target(target: str | None = None) -> str:
    """Brian2 code-generation target: the one asked for, else cython when a compiler works, else numpy.

    Only names it: `brian_state(target=...)` sets it for a block and restores the user's afterwards."""
    if target is None:
        try:
            from brian2.codegen.runtime.cython_rt import CythonCodeObject

            target = "cython" if CythonCodeObject.is_available() else "numpy"
        except Exception:  # no Cython or no compiler
            target = "numpy"
    if target not in TARGETS:
        raise ParameterError(f"Brian2 runtime target must be one of {list(TARGETS)}, got {target!r}")
    return target


def simulate(conditions: Mapping[str, np.ndarray], duration_ms: float, params: Mapping, dt_ms: float,
             seed: int, name: str, record_voltage: bool = False):
    """Run one NeuronGroup (one cell per condition row); return spike (index, time_ms) and voltages.

    conditions: {variable: float array in model.CONDITION_VARIABLES units}, one value per cell."""
    import brian2 as b2
    import brian2.units as units

    noise = bool(np.any(conditions["sigma_s"]) or np.any(conditions["sigma_d"]))
    n_cells = len(next(iter(conditions.values())))
    with brian_state(seed=seed):
        group = two_point_cells(n_cells, params, name=name, dt=dt_ms * b2.ms,
                                noise=0 * b2.pA if noise else None, synaptic=False, pulses=True)
        set_conditions(group, {key: np.asarray(values) * getattr(units, CONDITION_VARIABLES[key])
                               for key, values in conditions.items()})
        spikes = b2.SpikeMonitor(group, name=f"{name}_spikes")
        objects = [group, spikes]
        if record_voltage:
            voltage = b2.StateMonitor(group, ["v_s", "v_d"], record=True, name=f"{name}_voltage")
            objects.append(voltage)
        network = b2.Network(*objects)
        # the report callback is a safe point about every 0.5 s of wall time (spiking_mcc.interrupts)
        network.run(duration_ms * b2.ms, report=lambda *_: check_interrupted(),
                    report_period=0.5 * b2.second)
    result = {"i": np.asarray(spikes.i[:], dtype=np.int64), "t_ms": np.asarray(spikes.t[:] / b2.ms)}
    if record_voltage:
        result["trace_t_ms"] = np.asarray(voltage.t[:] / b2.ms)
        result["v_s_mv"] = np.asarray(voltage.v_s[:] / b2.mV)
        result["v_d_mv"] = np.asarray(voltage.v_d[:] / b2.mV)
    return result


def zero_conditions(n_cells: int) -> dict[str, np.ndarray]:
    """Every per-cell input of the model, off (see model.CONDITION_VARIABLES for units)."""
    return {name: np.zeros(n_cells) for name in CONDITION_VARIABLES}


def run_bac(params: Mapping, settings: ProtocolSettings, dt_ms: float, seed: int) -> dict:
    """BAC firing: rows = offsets (both pulses), then soma-only, then apical-only."""
    offsets = np.asarray(settings.bac_offsets_ms)
    n_offsets = offsets.size
    cond = zero_conditions(n_offsets + 2)
    cond["I_s_pulse"][: n_offsets + 1] = settings.bac_soma_pulse_pa
    cond["I_d_pulse"][:n_offsets] = settings.bac_apical_pulse_pa
    cond["I_d_pulse"][n_offsets + 1] = settings.bac_apical_pulse_pa
    cond["t_s_on"][:] = settings.bac_soma_on_ms
    cond["t_d_on"][:n_offsets] = settings.bac_soma_on_ms + offsets
    cond["t_d_on"][n_offsets:] = settings.bac_soma_on_ms
    cond["s_pulse_width"][:] = settings.bac_soma_width_ms
    cond["d_pulse_width"][:] = settings.bac_apical_width_ms
    sim = simulate(cond, settings.bac_duration_ms, params, dt_ms, seed, "bac", record_voltage=True)
    spike_times = [np.sort(sim["t_ms"][sim["i"] == row]) for row in range(n_offsets + 2)]
    max_vd_mv = sim["v_d_mv"].max(axis=1)
    bac = [{"offset_ms": float(offset), "spikes": int(times.size), "max_vd_mv": round(float(vd), 3),
            "spike_times_ms": np.round(times, 2).tolist(), "isis_ms": np.round(np.diff(times), 2).tolist()}
           for offset, times, vd in zip(offsets, spike_times, max_vd_mv)]
    stride = max(1, int(round(TRACE_STEP_MS / dt_ms)))
    t_ms = sim["trace_t_ms"]
    keep = np.flatnonzero((t_ms >= settings.bac_soma_on_ms - TRACE_BEFORE_MS)
                          & (t_ms <= settings.bac_soma_on_ms + TRACE_AFTER_MS))[::stride]
    labels = [f"offset {offset:+g} ms" for offset in offsets] + ["soma only", "apical only"]
    traces = {"t_ms": np.round(t_ms[keep], 3).tolist(), "labels": labels,
              "v_s_mv": np.round(sim["v_s_mv"][:, keep], 2).tolist(),
              "v_d_mv": np.round(sim["v_d_mv"][:, keep], 2).tolist(),
              "spike_times_ms": [np.round(times, 2).tolist() for times in spike_times],
              "soma_pulse_on_ms": settings.bac_soma_on_ms,
              "apical_pulse_on_ms": (settings.bac_soma_on_ms + np.r_[offsets, np.nan, 0.0]).tolist()}
    return {"bac": bac, "soma_only_spikes": int(spike_times[n_offsets].size),
            "apical_only_spikes": int(spike_times[n_offsets + 1].size),
            "soma_only_max_vd_mv": round(float(max_vd_mv[n_offsets]), 3),
            "apical_only_max_vd_mv": round(float(max_vd_mv[n_offsets + 1]), 3), "traces": traces}


def _fi_gain_hz_per_na(soma_pa: np.ndarray, rate_hz: np.ndarray) -> float:
    """Least-squares slope of rate vs I_s over the firing part of the curve (rate > 0), in Hz/nA."""
    firing = rate_hz > 0
    if firing.sum() < 2:
        return 0.0
    return float(np.polyfit(soma_pa[firing] / 1000.0, rate_hz[firing], 1)[0])


def run_fi(params: Mapping, settings: ProtocolSettings, dt_ms: float, seed: int) -> dict:
    """f-I curves (grid of tonic I_d x I_s) and tonic apical input alone, in one NeuronGroup."""
    apical, soma = np.meshgrid(settings.fi_apical_pa, settings.fi_soma_pa, indexing="ij")
    alone = np.asarray(settings.apical_alone_pa)
    i_d = np.r_[apical.ravel(), alone]
    i_s = np.r_[soma.ravel(), np.zeros(alone.size)]
    cond = zero_conditions(i_d.size)
    cond["I_d_tonic"][:], cond["I_s_tonic"][:] = i_d, i_s
    sim = simulate(cond, settings.fi_duration_ms, params, dt_ms, seed, "fi")
    late = sim["t_ms"] >= settings.fi_warmup_ms
    window_s = (settings.fi_duration_ms - settings.fi_warmup_ms) / 1000.0
    rate_hz = np.bincount(sim["i"][late], minlength=i_d.size) / window_s
    n_grid = apical.size
    fi = [{"i_d_pa": float(d), "i_s_pa": float(s), "rate_hz": float(r)}
          for d, s, r in zip(i_d[:n_grid], i_s[:n_grid], rate_hz[:n_grid])]
    grid_rates = rate_hz[:n_grid].reshape(apical.shape)
    soma_pa = np.asarray(settings.fi_soma_pa)
    gains = [{"i_d_pa": float(d), "gain_hz_per_na": _fi_gain_hz_per_na(soma_pa, rates)}
             for d, rates in zip(settings.fi_apical_pa, grid_rates)]
    apical_alone = [{"i_d_pa": float(d), "rate_hz": float(r)} for d, r in zip(alone, rate_hz[n_grid:])]
    return {"fi": fi, "fi_gain": gains, "apical_alone": apical_alone}


def run_multiplexing(params: Mapping, settings: ProtocolSettings, dt_ms: float, seed: int) -> dict:
    """Burst probability and event rate vs I_d, with OU noise in both compartments (trials x levels)."""
    levels = np.asarray(settings.mux_apical_pa)
    level_of_cell = np.repeat(np.arange(levels.size), settings.mux_trials)
    cond = zero_conditions(level_of_cell.size)
    cond["I_d_tonic"][:] = levels[level_of_cell]
    cond["I_s_tonic"][:] = settings.mux_soma_pa
    cond["sigma_s"][:] = settings.mux_sigma_pa
    cond["sigma_d"][:] = settings.mux_sigma_pa
    sim = simulate(cond, settings.mux_duration_ms, params, dt_ms, seed, "multiplexing")
    late = sim["t_ms"] >= settings.mux_warmup_ms
    counts = count_events(sim["i"][late], sim["t_ms"][late], level_of_cell.size)
    window_s = (settings.mux_duration_ms - settings.mux_warmup_ms) / 1000.0
    rows = []
    for level, i_d in enumerate(levels):
        cells = level_of_cell == level
        events, bursts = int(counts.events[cells].sum()), int(counts.bursts[cells].sum())
        rows.append({"i_d_pa": float(i_d),
                     "burst_probability": bursts / events if events else math.nan,
                     "event_rate_hz": events / (settings.mux_trials * window_s),
                     "spike_rate_hz": int(counts.spikes[cells].sum()) / (settings.mux_trials * window_s),
                     "events": events, "bursts": bursts, "trials": settings.mux_trials})
    return {"multiplexing": rows}


def check_dt(dt_ms: float) -> float:
    """Validate the Euler step (ms); ParameterError names the parameter, range and value."""
    limit = LIMITS["dt_ms"]
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float)) or not math.isfinite(dt_ms) \
            or not limit.minimum <= dt_ms <= limit.maximum:
        raise ParameterError(f"dt_ms: time step must be in [{limit.minimum:g}, {limit.maximum:g}] ms, "
                             f"got {dt_ms!r}; limit: {limit.reason}")
    return float(dt_ms)


def run_cell_protocols(quick: bool = False, seed: int = 0, params_override: dict | None = None,
                       dt_ms: float = 0.1, target: str | None = None, progress: bool = False) -> dict:
    """Run BAC, f-I and multiplexing protocols; return the cells.json dict (traces under "traces").

    params_override: {name: Quantity or 'NUMBER UNIT' string} over the parameter table (checked).
    dt_ms: Euler step in ms, in (0, 0.5]. target: Brian2 runtime target ('numpy'/'cython'; default: best).
    """
    params = make_params(params_override)
    dt_ms = check_dt(dt_ms)
    check_seed(seed)
    settings = QUICK if quick else FULL
    target = choose_target(target)
    with brian_state(target=target):  # the user's target, clock and RNG state are restored afterwards
        return _run_all(settings, params, target, quick, seed, dt_ms, progress)


def _run_all(settings: ProtocolSettings, params: Mapping, target: str, quick: bool, seed: int, dt_ms: float,
             progress: bool) -> dict:
    stages = (run_bac, run_fi, run_multiplexing)
    results: dict = {"model": {"params": magnitudes(params), "dt_ms": dt_ms, "seed": seed, "quick": quick,
                               "brian2_target": target, "mux_soma_pa": settings.mux_soma_pa,
                               "mux_sigma_pa": settings.mux_sigma_pa,
                               "bac_apical_pulse_pa": settings.bac_apical_pulse_pa,
                               "bac_soma_pulse_pa": settings.bac_soma_pulse_pa}}
    iterator = stages
    if progress:
        from tqdm import tqdm

        iterator = tqdm(stages, desc="cell protocols", unit="protocol")
    for offset, protocol in enumerate(iterator):
        check_interrupted()
        results.update(protocol(params, settings, dt_ms, seed + offset))
    return results
