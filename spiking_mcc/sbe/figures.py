"""Figures of an SBE comparison: test accuracy vs epoch, and vs cumulative rank-1 device writes."""

from __future__ import annotations

import os
from pathlib import Path

from spiking_mcc.io import save_figure
from spiking_mcc.plotting import plt


def run_label(run: dict) -> str:
    """'sbe b=32 k=1', 'mbgd b=32', 'sgd'."""
    label = run["method"] if run["method"] == "sgd" else f"{run['method']} b={run['batch']}"
    return label if run.get("rank") is None else f"{label} k={run['rank']}"


def plot_accuracy_vs_epoch(runs: list[dict], path: str | os.PathLike) -> Path:
    """Test accuracy (%) after every epoch, one line per run."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run in runs:
        epochs = [h["epoch"] for h in run["history"]]
        ax.plot(epochs, [100 * h["test_accuracy"] for h in run["history"]], marker=".", label=run_label(run))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Test accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_accuracy_vs_writes(runs: list[dict], path: str | os.PathLike) -> Path:
    """Test accuracy (%) against cumulative rank-1 device writes (all layers), log x axis."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run in runs:
        writes = [h["device_writes"] for h in run["history"]]
        ax.plot(writes, [100 * h["test_accuracy"] for h in run["history"]], marker=".", label=run_label(run))
    ax.set_xscale("log")
    ax.set_xlabel("cumulative rank-1 device writes (all layers)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs crossbar writes")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
