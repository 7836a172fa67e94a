"""Summary figures the report draws itself, from the run folder's JSON files only."""

from __future__ import annotations

from pathlib import Path

from spiking_mcc.report.numbers import RunFolder

MODEL_COLOURS = {"mcc": "tab:red", "point": "tab:blue"}
MODEL_LABELS = {"mcc": "MCC (two-point)", "point": "point baseline"}


def training_curves(run: RunFolder, path: Path) -> Path | None:
    """Test accuracy per epoch of the MCC and point networks (train_<model>.json histories)."""
    histories = {m: (run.json(f"train_{m}.json") or {}).get("history") for m in MODEL_COLOURS}
    histories = {m: h for m, h in histories.items() if h}
    if not histories:
        return None
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for model, history in histories.items():
        epochs = [h["epoch"] for h in history]
        ax.plot(epochs, [100 * h["test_accuracy"] for h in history], "-o", color=MODEL_COLOURS[model],
                label=f"{MODEL_LABELS[model]}, test")
        ax.plot(epochs, [100 * h["train_accuracy"] for h in history], ":", color=MODEL_COLOURS[model],
                label=f"{MODEL_LABELS[model]}, train")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("training on audio-visual digits")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def accuracy_vs_timesteps(run: RunFolder, path: Path) -> Path | None:
    """SNN accuracy vs T for both converted networks, their ANN accuracy, and the Lava subset points."""
    converts = {m: run.json(f"convert_{m}.json") for m in MODEL_COLOURS}
    converts = {m: c for m, c in converts.items() if c and c.get("snn")}
    if not converts:
        return None
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for model, convert in converts.items():
        colour = MODEL_COLOURS[model]
        steps = [row["timesteps"] for row in convert["snn"]]
        ax.plot(steps, [100 * row["accuracy"] for row in convert["snn"]], "-o", color=colour,
                label=f"{MODEL_LABELS[model]}, spiking (batched engine)")
        if convert.get("ann_accuracy") is not None:
            ax.axhline(100 * convert["ann_accuracy"], color=colour, ls="--", lw=1,
                       label=f"{MODEL_LABELS[model]}, rate network")
    loihi = run.json("loihi.json")
    if loihi and loihi.get("accuracy_lava") is not None:
        ax.plot([loihi["timesteps"]], [100 * loihi["accuracy_lava"]], "k*", ms=11,
                label=f"point baseline in Lava, {loihi.get('mode', '')} point "
                      f"({loihi.get('samples')} samples)")
    ax.set_xscale("log", base=2)
    steps = sorted({row["timesteps"] for c in converts.values() for row in c["snn"]})
    ax.set_xticks(steps, [str(t) for t in steps])
    ax.minorticks_off()
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def energy_per_device(run: RunFolder, path: Path) -> Path | None:
    """Energy per inference (log scale) on each device, one bar per workload, plus each workload's
    INT8-ANN reference as the last group (energy.json rows and workloads)."""
    energy = run.json("energy.json")
    if not energy or not energy.get("rows"):
        return None
    import numpy as np

    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import plt

    workloads = [w["name"] for w in energy["workloads"]]
    devices = list(dict.fromkeys(row["device"] for row in energy["rows"]))
    groups = devices + [f"INT8 ANN ({energy.get('int8_reference_device', 'cmos45-int8')})"]
    values = np.full((len(workloads), len(groups)), np.nan)
    for row in energy["rows"]:
        values[workloads.index(row["workload"]), devices.index(row["device"])] = row["energy_j"]
    for i, workload in enumerate(energy["workloads"]):
        values[i, -1] = workload["int8_ann_j"]
    values[~(values > 0)] = np.nan
    fig, ax = plt.subplots(figsize=(10, 4.2))
    width = 0.8 / len(workloads)
    x = np.arange(len(groups))
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(workloads):
        ax.bar(x + (i - (len(workloads) - 1) / 2) * width, values[i], width, label=name,
               color=colours(i % 10))
    ax.axvspan(len(groups) - 1.5, len(groups) - 0.5, color="0.9", zorder=0)
    ax.set_yscale("log")
    ax.set_xticks(x, groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("energy per inference (J)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)
