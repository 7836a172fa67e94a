"""PNG figures of the cell protocols, drawn from the dict `run_cell_protocols` returns (cells.json), and
of the rate surface and its law fits, drawn from the dict `run_rate_surface` returns (rate_surface.json)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spiking_mcc.formatting import count
from spiking_mcc.io import ensure_dir, save_figure

# Burst probability of the reference implementation (docs/cells.md) at I_d = 0, 100, 200, 300 pA.
SPEC_BURST_PROBABILITY = {0.0: 0.03, 100.0: 0.20, 200.0: 0.63, 300.0: 0.93}


def _bac_figure(results: dict):
    from spiking_mcc.plotting import plt

    traces = results["traces"]
    t_ms = np.asarray(traces["t_ms"])
    v_s, v_d = np.asarray(traces["v_s_mv"]), np.asarray(traces["v_d_mv"])
    window = (t_ms >= traces["soma_pulse_on_ms"] - 30) & (t_ms <= traces["soma_pulse_on_ms"] + 80)
    n_rows = len(traces["labels"])
    fig, axes = plt.subplots(n_rows, 1, figsize=(7, 1.3 * n_rows), sharex=True, sharey=True)
    for row, ax in enumerate(np.atleast_1d(axes)):
        ax.plot(t_ms[window], v_d[row, window], color="tab:red", lw=1, label="dendrite V_d")
        ax.plot(t_ms[window], v_s[row, window], color="k", lw=1, label="soma V_s")
        for spike in traces["spike_times_ms"][row]:
            ax.vlines(spike, -45, 20, color="k", lw=1)  # V_s resets instantly; mark each spike
        ax.set_ylabel("mV")
        ax.text(0.01, 0.85, f"{traces['labels'][row]}: {count(len(traces['spike_times_ms'][row]), 'spike')}",
                transform=ax.transAxes, fontsize=8)
    np.atleast_1d(axes)[0].legend(loc="upper right", fontsize=7)
    np.atleast_1d(axes)[-1].set_xlabel("time (ms)")
    fig.suptitle("BAC firing: somatic 2 ms pulse + 10 ms dendritic pulse at offsets")
    fig.tight_layout()
    return fig


def _fi_figure(results: dict):
    from spiking_mcc.plotting import plt

    fig, (ax_fi, ax_alone) = plt.subplots(1, 2, figsize=(10, 4))
    for i_d in sorted({row["i_d_pa"] for row in results["fi"]}):
        rows = [row for row in results["fi"] if row["i_d_pa"] == i_d]
        ax_fi.plot([r["i_s_pa"] for r in rows], [r["rate_hz"] for r in rows], "o-", ms=3,
                   label=f"I_d = {i_d:g} pA")
    ax_fi.set(xlabel="somatic current I_s (pA)", ylabel="firing rate (Hz)", title="f-I curves (tonic apical)")
    ax_fi.legend(fontsize=8)
    alone = results["apical_alone"]
    ax_alone.plot([r["i_d_pa"] for r in alone], [r["rate_hz"] for r in alone], "o-", color="tab:red")
    ax_alone.set(xlabel="apical current I_d alone (pA)", ylabel="firing rate (Hz)",
                 title="apical input alone (I_s = 0)")
    return fig


def _multiplexing_figure(results: dict):
    from spiking_mcc.plotting import as_percent, plt

    rows = results["multiplexing"]
    i_d = [r["i_d_pa"] for r in rows]
    fig, (ax_bp, ax_er) = plt.subplots(1, 2, figsize=(10, 4))
    # in percent, as the report's table prints it
    ax_bp.plot(i_d, as_percent(r["burst_probability"] for r in rows), "o-", label="this model")
    ax_bp.plot(list(SPEC_BURST_PROBABILITY), as_percent(SPEC_BURST_PROBABILITY.values()), "kx",
               label="reference")
    ax_bp.set(xlabel="dendritic current I_d (pA)", ylabel="burst probability (%)", ylim=(0, 100),
              title="burst probability vs I_d")
    ax_bp.legend(fontsize=8)
    ax_er.plot(i_d, [r["event_rate_hz"] for r in rows], "o-", label="event rate")
    ax_er.plot(i_d, [r["spike_rate_hz"] for r in rows], "s--", label="spike rate")
    ax_er.set(xlabel="dendritic current I_d (pA)", ylabel="rate (Hz)", ylim=(0, None),
              title="event and spike rate vs I_d")
    ax_er.legend(fontsize=8)
    model = results.get("model", {})
    fig.suptitle(f"multiplexing: I_s = {model.get('mux_soma_pa', '?')} pA, "
                 f"OU noise sigma = {model.get('mux_sigma_pa', '?')} pA per compartment")
    return fig


def write_cell_figures(results: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Write bac_traces.png, fi_curves.png and multiplexing.png into out_dir; return their paths."""
    out = ensure_dir(out_dir)
    figures = (("bac_traces.png", _bac_figure), ("fi_curves.png", _fi_figure),
               ("multiplexing.png", _multiplexing_figure))
    return [save_figure(draw(results), out / name) for name, draw in figures]
