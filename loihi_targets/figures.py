"""The figure of a Lava run: spikes per sample per layer, Lava beside the batched engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_report(report: dict, path: Path) -> None:
    """Bar chart: spikes per sample per layer, Lava vs batched engine, with both accuracies."""
    from spiking_mcc.formatting import fmt, pct
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import legend_outside, plt

    rows = report["per_layer"]
    fig, ax = plt.subplots(figsize=(min(9.0, 4.0 + 0.6 * len(rows)), 3.2), layout="constrained")
    pos = np.arange(len(rows))
    ax.bar(pos - 0.2, [r["spikes_per_sample_lava"] for r in rows], 0.4, label="Lava")
    ax.bar(pos + 0.2, [r["spikes_per_sample_engine"] for r in rows], 0.4, label="batched engine")
    ax.set_xticks(pos)
    ax.set_xticklabels([r["layer"] for r in rows], fontsize=8, rotation=30 if len(rows) > 4 else 0,
                       ha="right" if len(rows) > 4 else "center")
    ax.set_ylabel("spikes per sample")
    ax.set_title(f"Lava {report['mode']}: accuracy {pct(report['accuracy_lava'])} % (engine "
                 f"{pct(report['accuracy_engine'])} %), counts equal: {fmt(report['spike_counts_equal'])}",
                 fontsize=8)
    legend_outside(ax)
    save_figure(fig, path)
