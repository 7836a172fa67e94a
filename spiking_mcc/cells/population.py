"""Burst multiplexing in a population of two-point cells (Naud & Sprekeler 2018; docs/cells.md).

N cells share two independent time-varying inputs, one somatic (I_s(t)) and one dendritic (I_d(t)), each a
smoothed Gaussian signal; every cell also gets its own OU noise in both compartments, so the cells fire
asynchronously. The population's spikes are grouped into events (ISI <= 16 ms) and counted per time bin:

    event rate(bin)     = events starting in the bin / (N * bin width)
    burst fraction(bin) = bursts starting in the bin / events starting in the bin

The event rate decodes the somatic signal and the burst fraction the dendritic one; `decoding` holds the
Pearson r of each population signal against each input (the input averaged over the same bins), so the two
matched r and the two cross-talk r.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spiking_mcc.brian_state import brian_state
from spiking_mcc.cells.bursts import BURST_ISI_MS, events_of
from spiking_mcc.cells.model import set_conditions, two_point_cells
from spiking_mcc.cells.params import magnitudes, make_params
from spiking_mcc.errors import ParameterError
from spiking_mcc.io import save_figure

MAX_CELLS = 20_000  # bounds memory and time (20,000 cells x 10 s ~ 10 min on 2 cores)
MAX_DURATION_MS = 60_000.0


@dataclass(frozen=True)
class PopulationSettings:
    """Population protocol constants; the quick variant keeps the decoding measurable in seconds."""

    n_cells: int = 4000
    duration_ms: float = 20300.0  # including the warm-up
    warmup_ms: float = 300.0  # discarded: the cells start at rest
    bin_ms: float = 50.0
    # Std of the Gaussian kernel that smooths white noise into each input signal. Slower than the somatic
    # adaptation (tau_ws = 100 ms): faster signals are high-passed by it (the event rate then leads the input
    # and r(event rate, I_s) falls: 0.84 at 200 ms, 0.68 at 100 ms; docs/cells.md).
    signal_smoothing_ms: float = 500.0
    signal_step_ms: float = 1.0  # the inputs are piecewise constant over this step
    soma_mean_pa: float = 400.0
    soma_std_pa: float = 100.0
    dend_mean_pa: float = 150.0
    dend_std_pa: float = 100.0
    sigma_pa: float = 150.0  # each cell's own OU noise, both compartments


FULL_POPULATION = PopulationSettings()
QUICK_POPULATION = PopulationSettings(n_cells=500, duration_ms=3300.0, signal_smoothing_ms=200.0)


def input_signals(settings: PopulationSettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two smoothed Gaussian signals (pA), one value per signal step: (somatic, dendritic).

    Each is white noise smoothed by a Gaussian kernel, scaled to its mean and std over the analysed window
    (after the warm-up); the dendritic one is made exactly uncorrelated with the somatic one there (its
    projection removed), so a cross-talk r measures the cells, not a chance overlap of two slow signals.
    """
    rng = np.random.default_rng([seed, 17])
    n_steps = int(round(settings.duration_ms / settings.signal_step_ms))
    first = int(round(settings.warmup_ms / settings.signal_step_ms))
    width = settings.signal_smoothing_ms / settings.signal_step_ms
    lags = np.arange(-int(4 * width), int(4 * width) + 1)
    kernel = np.exp(-0.5 * (lags / width) ** 2)
    soma, dend = (np.convolve(rng.standard_normal(n_steps + lags.size - 1), kernel, mode="valid")
                  for _ in range(2))
    soma = (soma - soma[first:].mean()) / soma[first:].std()
    dend = dend - dend[first:].mean()
    dend = dend - soma * (dend[first:] @ soma[first:]) / (soma[first:] @ soma[first:])
    dend = dend / dend[first:].std()
    return (settings.soma_mean_pa + settings.soma_std_pa * soma,
            settings.dend_mean_pa + settings.dend_std_pa * dend)


def check_settings(settings: PopulationSettings) -> PopulationSettings:
    """Validate the sizes before Brian2 starts (ParameterError names the setting)."""
    if not 1 <= settings.n_cells <= MAX_CELLS:
        raise ParameterError(f"population n_cells: must be in [1, {MAX_CELLS}], got {settings.n_cells}")
    if not settings.warmup_ms + 10 * settings.bin_ms <= settings.duration_ms <= MAX_DURATION_MS:
        raise ParameterError(f"population duration_ms: must hold >= 10 bins after the warm-up and be "
                             f"<= {MAX_DURATION_MS:g} ms, got {settings.duration_ms:g}")
    return settings


def bin_population(cell: np.ndarray, time_ms: np.ndarray, n_cells: int, edges_ms: np.ndarray) -> dict:
    """Event rate (Hz per cell) and burst fraction per bin from the spikes (cell index, time in ms)."""
    _, onset_ms, size = events_of(cell, time_ms, BURST_ISI_MS)
    events = np.histogram(onset_ms, edges_ms)[0]
    bursts = np.histogram(onset_ms[size >= 2], edges_ms)[0]
    width_s = np.diff(edges_ms) / 1000.0
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(events > 0, bursts / np.maximum(events, 1), np.nan)
    return {"events": events, "bursts": bursts, "event_rate_hz": events / (n_cells * width_s),
            "burst_fraction": fraction}


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.std(x[keep]) == 0 or np.std(y[keep]) == 0:
        return math.nan
    return float(np.corrcoef(x[keep], y[keep])[0, 1])


def build_population(settings: PopulationSettings, params: Mapping, soma_pa: np.ndarray, dend_pa: np.ndarray,
                     dt, noise: bool = True):
    """The population's Brian2 Network (cells + the input drive + a SpikeMonitor) and its SpikeMonitor.

    soma_pa / dend_pa: the input signals, one value per `settings.signal_step_ms` (see input_signals);
    noise=False leaves out each cell's own OU noise (benchmarks/bench_cells.py compares both)."""
    import brian2 as b2

    cells = two_point_cells(settings.n_cells, params, name="population", dt=dt,
                            noise=settings.sigma_pa * b2.pA if noise else None, synaptic=False)
    set_conditions(cells, {"I_s_tonic": soma_pa[0] * b2.pA, "I_d_tonic": dend_pa[0] * b2.pA})
    step = settings.signal_step_ms * b2.ms
    cells.namespace.update(soma_signal=b2.TimedArray(soma_pa * b2.pA, dt=step),
                           dend_signal=b2.TimedArray(dend_pa * b2.pA, dt=step))
    drive = cells.run_regularly("I_s_tonic = soma_signal(t)\nI_d_tonic = dend_signal(t)", dt=step,
                                when="start", name="population_drive")
    spikes = b2.SpikeMonitor(cells, name="population_spikes")
    return b2.Network(cells, drive, spikes), spikes


def run_population(settings: PopulationSettings = FULL_POPULATION, seed: int = 0,
                   params: Mapping | None = None, dt_ms: float = 0.1, target: str | None = None) -> dict:
    """Simulate the population and decode both inputs; return the population.json dict."""
    import time

    import brian2 as b2

    from spiking_mcc.cells.protocols import choose_target

    settings = check_settings(settings)
    values = make_params(params)
    soma, dend = input_signals(settings, seed)
    target = choose_target(target)
    started = time.perf_counter()
    with brian_state(target=target, seed=seed):
        network, spikes = build_population(settings, values, soma, dend, dt_ms * b2.ms)
        network.run(settings.duration_ms * b2.ms)
        cell, time_ms = np.asarray(spikes.i[:], dtype=np.int64), np.asarray(spikes.t[:] / b2.ms)
    run_s = time.perf_counter() - started
    edges = np.arange(settings.warmup_ms, settings.duration_ms + 1e-9, settings.bin_ms)
    binned = bin_population(cell, time_ms, settings.n_cells, edges)
    per_bin = int(round(settings.bin_ms / settings.signal_step_ms))
    first = int(round(settings.warmup_ms / settings.signal_step_ms))
    n_bins = edges.size - 1
    soma_binned = soma[first:first + n_bins * per_bin].reshape(n_bins, per_bin).mean(axis=1)
    dend_binned = dend[first:first + n_bins * per_bin].reshape(n_bins, per_bin).mean(axis=1)
    rate, fraction = binned["event_rate_hz"], binned["burst_fraction"]
    late = time_ms >= settings.warmup_ms
    cell_seconds = settings.n_cells * (edges[-1] - edges[0]) / 1000.0
    return {
        "n_cells": settings.n_cells,
        "duration_s": (settings.duration_ms - settings.warmup_ms) / 1000.0,
        "decoding": {"event_rate_vs_somatic_r": _pearson(rate, soma_binned),
                     "burst_fraction_vs_dendritic_r": _pearson(fraction, dend_binned),
                     "event_rate_vs_dendritic_r": _pearson(rate, dend_binned),
                     "burst_fraction_vs_somatic_r": _pearson(fraction, soma_binned)},
        "mean_event_rate_hz": float(binned["events"].sum() / cell_seconds),
        "mean_burst_fraction": float(binned["bursts"].sum() / max(binned["events"].sum(), 1)),
        "mean_spike_rate_hz": float(late.sum() / cell_seconds),
        "settings": asdict(settings), "seed": seed, "dt_ms": dt_ms, "brian2_target": target,
        "params": magnitudes(values), "simulation_wall_s": round(run_s, 2),
        "bins": {"t_ms": (0.5 * (edges[:-1] + edges[1:])).tolist(), "somatic_input_pa": soma_binned.tolist(),
                 "dendritic_input_pa": dend_binned.tolist(), "event_rate_hz": rate.tolist(),
                 "burst_fraction": [None if not np.isfinite(v) else float(v) for v in fraction]},
    }


def write_population_figure(results: dict, path: str | os.PathLike) -> Path:
    """population.png: the two inputs, the population event rate and the burst fraction over time."""
    from spiking_mcc.plotting import plt

    bins = results["bins"]
    t_s = np.asarray(bins["t_ms"]) / 1000.0
    fraction = np.array([np.nan if v is None else v for v in bins["burst_fraction"]], dtype=float)
    fig, (ax_in, ax_rate, ax_frac) = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    ax_in.plot(t_s, bins["somatic_input_pa"], color="k", lw=1, label="somatic input I_s")
    ax_in.plot(t_s, bins["dendritic_input_pa"], color="tab:red", lw=1, label="dendritic input I_d")
    ax_in.set_ylabel("input (pA)")
    ax_in.legend(loc="upper right", fontsize=8)
    decoding = results["decoding"]
    ax_rate.plot(t_s, bins["event_rate_hz"], color="k", lw=1)
    ax_rate.set_ylabel("event rate (Hz)")
    ax_rate.set_title(f"r(event rate, I_s) = {decoding['event_rate_vs_somatic_r']:.2f}, "
                      f"r(event rate, I_d) = {decoding['event_rate_vs_dendritic_r']:.2f}", fontsize=9)
    ax_frac.plot(t_s, fraction, color="tab:red", lw=1)
    ax_frac.set(ylabel="burst fraction", xlabel="time (s)", ylim=(0, 1))
    ax_frac.set_title(f"r(burst fraction, I_d) = {decoding['burst_fraction_vs_dendritic_r']:.2f}, "
                      f"r(burst fraction, I_s) = {decoding['burst_fraction_vs_somatic_r']:.2f}", fontsize=9)
    fig.suptitle(f"burst multiplexing: {results['n_cells']} two-point cells, "
                 f"{results['settings']['bin_ms']:g} ms bins")
    fig.tight_layout()
    return save_figure(fig, path)
