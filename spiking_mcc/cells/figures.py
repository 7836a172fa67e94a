"""PNG figures of the cell protocols, drawn from the dict `run_cell_protocols` returns (cells.json), and
of the rate surface and its law fits, drawn from the dict `run_rate_surface` returns (rate_surface.json)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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
        ax.text(0.01, 0.85, f"{traces['labels'][row]}: {len(traces['spike_times_ms'][row])} spikes",
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
    from spiking_mcc.plotting import plt

    rows = results["multiplexing"]
    i_d = [r["i_d_pa"] for r in rows]
    fig, (ax_bp, ax_er) = plt.subplots(1, 2, figsize=(10, 4))
    ax_bp.plot(i_d, [r["burst_probability"] for r in rows], "o-", label="this model")
    ax_bp.plot(list(SPEC_BURST_PROBABILITY), list(SPEC_BURST_PROBABILITY.values()), "kx", label="reference")
    ax_bp.set(xlabel="dendritic current I_d (pA)", ylabel="burst probability", ylim=(0, 1),
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


def _rate_surface_figure(surface: dict):
    from spiking_mcc.cells.rate_surface import predict_rate
    from spiking_mcc.plotting import plt

    grid = surface["grid"]
    soma = np.array(sorted({row["i_s_pa"] for row in grid}))
    apical = np.array(sorted({row["i_d_pa"] for row in grid}))
    rate = {(row["i_s_pa"], row["i_d_pa"]): row["spike_rate_hz"] for row in grid}
    surface_hz = np.array([[rate[(s, d)] for s in soma] for d in apical])
    fits = surface["fits"]
    n_panels = 1 + len(fits)
    n_cols = 3
    n_rows = -(-n_panels // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.4 * n_rows), squeeze=False)
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
    axes[1].legend(fontsize=7, loc="upper left")
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    protocol = surface.get("protocol", {})
    fig.suptitle(f"rate surface vs two-point laws (dots: Brian2 L5PC, {protocol.get('trials', '?')} trials, "
                 f"OU sigma {protocol.get('sigma_pa', '?')} pA)\n"
                 "solid: s relu(A(a_s I_s + b_s, a_d I_d + b_d)) fitted to the whole grid; "
                 "dashed: fitted where apical input alone leaves the cell silent",
                 fontsize=9)
    fig.tight_layout()
    return fig


def write_rate_surface_figure(surface: dict, out_dir: str | os.PathLike) -> Path:
    """Write rate_surface.png (measured surface; each law's fit vs the measured f-I curves) into out_dir."""
    return save_figure(_rate_surface_figure(surface), ensure_dir(out_dir) / "rate_surface.png")
