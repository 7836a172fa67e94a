"""Figures of an SBE comparison: test accuracy vs epoch, and vs cumulative rank-1 device writes."""

from __future__ import annotations

import os
from pathlib import Path

from spiking_mcc.io import save_figure
from spiking_mcc.plotting import integer_ticks, plt


def run_label(run: dict) -> str:
    """'sbe b=32 k=1', 'mbgd b=32', 'sgd'."""
    label = run["method"] if run["method"] == "sgd" else f"{run['method']} b={run['batch']}"
    return label if run.get("rank") is None else f"{label} k={run['rank']}"


METHOD_COLOURS = {"sgd": "black", "mbgd": "tab:blue", "svd": "tab:orange", "sbe": "tab:green"}
LINE_STYLES = ("-", "--", ":", "-.")


def _plot_accuracy(runs: list[dict], x_key: str, xlabel: str, title: str, path: str | os.PathLike,
                   log_x: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    seen: dict[str, int] = {}
    for run in runs:  # colour: method; line style: its batch/rank setting
        history = run["history"]
        style = LINE_STYLES[seen.get(run["method"], 0) % len(LINE_STYLES)]
        seen[run["method"]] = seen.get(run["method"], 0) + 1
        ax.plot([h[x_key] for h in history], [100 * h["test_accuracy"] for h in history], marker=".",
                color=METHOD_COLOURS.get(run["method"]), linestyle=style, label=run_label(run))
    if log_x:
        ax.set_xscale("log")
    elif x_key == "epoch":
        integer_ticks(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_accuracy_vs_epoch(runs: list[dict], path: str | os.PathLike) -> Path:
    """Test accuracy (%) after every epoch, one line per run."""
    return _plot_accuracy(runs, "epoch", "epoch", "Test accuracy per epoch", path)


def plot_accuracy_vs_writes(runs: list[dict], path: str | os.PathLike) -> Path:
    """Test accuracy (%) against cumulative rank-1 device writes (all layers), log x axis."""
    return _plot_accuracy(runs, "device_writes", "cumulative rank-1 device writes (all layers)",
                          "Accuracy vs crossbar writes", path, log_x=True)
