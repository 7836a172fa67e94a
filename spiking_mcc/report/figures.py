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
    from spiking_mcc.plotting import as_percent, integer_ticks, legend_outside, plt

    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    for model, history in histories.items():
        epochs = [h["epoch"] for h in history]
        ax.plot(epochs, as_percent(h["test_accuracy"] for h in history), "-o", color=MODEL_COLOURS[model],
                label=f"{MODEL_LABELS[model]}, test")
        ax.plot(epochs, as_percent(h["train_accuracy"] for h in history), ":", color=MODEL_COLOURS[model],
                label=f"{MODEL_LABELS[model]}, train")
    ax.set_xlabel("epoch")
    integer_ticks(ax.xaxis)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("training on audio-visual digits")
    legend_outside(ax)
    return save_figure(fig, path)


def accuracy_vs_timesteps(run: RunFolder, path: Path) -> Path | None:
    """SNN accuracy vs T for both converted networks, their ANN accuracy, and the Lava subset points."""
    converts = {m: run.json(f"convert_{m}.json") for m in MODEL_COLOURS}
    converts = {m: c for m, c in converts.items() if c and c.get("snn")}
    if not converts:
        return None
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import ACCURACY_LABEL, as_percent, legend_outside, plt

    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    for model, convert in converts.items():
        colour = MODEL_COLOURS[model]
        steps = [row["timesteps"] for row in convert["snn"]]
        ax.plot(steps, as_percent(row["accuracy"] for row in convert["snn"]), "-o", color=colour,
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
    ax.set_ylabel(ACCURACY_LABEL)
    legend_outside(ax)
    return save_figure(fig, path)
