"""The figure of a Lava run: spikes per sample per layer, Lava beside the batched engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_report(report: dict, path: Path) -> None:
    """Bar chart: spikes per sample per layer, Lava vs batched engine, with both accuracies."""
    import matplotlib.pyplot as plt

    import spiking_mcc.plotting  # noqa: F401  (headless backend)
    from spiking_mcc.io import save_figure

    rows = report["per_layer"]
    fig, ax = plt.subplots(figsize=(5, 3))
    pos = np.arange(len(rows))
    ax.bar(pos - 0.2, [r["spikes_per_sample_lava"] for r in rows], 0.4, label="Lava")
    ax.bar(pos + 0.2, [r["spikes_per_sample_engine"] for r in rows], 0.4, label="batched engine")
    ax.set_xticks(pos)
    ax.set_xticklabels([r["layer"] for r in rows])
    ax.set_ylabel("spikes per sample")
    ax.set_title(f"Lava {report['mode']}: accuracy {report['accuracy_lava']:.3f} (engine "
                 f"{report['accuracy_engine']:.3f}), counts equal: {report['spike_counts_equal']}",
                 fontsize=8)
    ax.legend(fontsize=8)
    save_figure(fig, path)
