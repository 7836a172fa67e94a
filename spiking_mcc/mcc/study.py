"""The MCC vs point-neuron comparison (`spiking-mcc compare`): accuracy, transmissions, energy, noise,
damage and learning speed, both networks with the same sizes and the same epoch budget.

Equal-accuracy reduction: every trained network gives an accuracy-vs-transmissions curve by sweeping
the transmission threshold theta (and, in the full run, an L1 activity penalty). For a target
accuracy, each model's cost is the fewest transmissions per sample among its points reaching it;
reduction = 1 - cost_mcc / cost_point and ratio = cost_point / cost_mcc, computed per sample (all
synapses, context included) and per feed-forward transmission (receptive-field and classifier
synapses only, the paper's "per feedforward transmission"). `per_epoch_ratio_point_over_mcc` also
gives point/MCC transmissions after every training epoch (theta = 0) and the largest such ratio,
the closest reading of the paper's "up to" figure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import check_seed
from spiking_mcc.mcc.activity import ENERGY_PER_TRANSMISSION_UJ, count_transmissions, workload
from spiking_mcc.mcc.resilience import damage_at_test_time, mid_training_damage
from spiking_mcc.mcc.train import SETUPS, TrainConfig, TrainResult, accuracy, train_model

MODELS = ("mcc", "point")


@dataclass(frozen=True)
class StudyPlan:
    """What `compare` runs; `quick` shrinks every axis."""

    epochs: int
    audio_snr_db: tuple[float, ...]
    thetas: tuple[float, ...]
    activity_l1: tuple[float, ...]
    damage_fractions: tuple[float, ...]
    mid_training_fractions: tuple[float, ...]
    target_accuracies: tuple[float, ...]
    law: str = "kp"


FULL_PLAN = StudyPlan(epochs=20, audio_snr_db=(10.0, 0.0, -10.0),
                      thetas=(0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0),
                      activity_l1=(1.0, 4.0), damage_fractions=(0.1, 0.3, 0.5, 0.7),
                      mid_training_fractions=(0.3, 0.6), target_accuracies=(0.8, 0.9, 0.95, 0.97))
QUICK_PLAN = StudyPlan(epochs=4, audio_snr_db=(0.0,), thetas=(0.0, 0.1, 0.4, 1.0, 2.0),
                       activity_l1=(), damage_fractions=(0.3, 0.6), mid_training_fractions=(0.5,),
                       target_accuracies=(0.8, 0.9, 0.95))


def theta_curve(result: TrainResult, data, thetas: tuple[float, ...]) -> list[dict]:
    """Accuracy and transmissions per sample of a trained network at each threshold theta."""
    net = result.network
    points = []
    for theta in thetas:
        act = count_transmissions(net, data.audio_test, data.visual_test, theta)
        points.append({"theta": theta, "activity_l1": result.config.activity_l1,
                       "accuracy": accuracy(net, data.audio_test, data.visual_test, data.y_test, theta=theta),
                       "transmissions_per_sample": act.transmissions_per_sample,
                       "feedforward_transmissions_per_sample": act.feedforward_per_sample,
                       "energy_uj_per_sample": act.energy_uj_per_sample})
    return points


def cheapest_at(points: list[dict], target: float, key: str) -> float | None:
    """Fewest `key` transmissions among points with accuracy >= target (None if none reaches it)."""
    costs = [p[key] for p in points if p["accuracy"] >= target]
    return float(min(costs)) if costs else None


def equal_accuracy_reduction(curves: dict[str, list[dict]], targets: tuple[float, ...]) -> list[dict]:
    """MCC vs point cost at each target accuracy, per sample and per feed-forward transmission."""
    rows = []
    for target in targets:
        row = {"target_accuracy": target}
        for key, label in (("transmissions_per_sample", "per_sample"),
                           ("feedforward_transmissions_per_sample", "per_feedforward")):
            mcc, point = cheapest_at(curves["mcc"], target, key), cheapest_at(curves["point"], target, key)
            row[f"mcc_{label}"], row[f"point_{label}"] = mcc, point
            both = mcc is not None and point is not None and mcc > 0
            row[f"reduction_{label}"] = 1.0 - mcc / point if both and point > 0 else None
            row[f"ratio_point_over_mcc_{label}"] = point / mcc if both else None
        rows.append(row)
    return rows


def _summary(result: TrainResult, data) -> dict:
    act = count_transmissions(result.network, data.audio_test, data.visual_test)
    return {"model": result.model, "setup": result.setup, "law": result.law,
            "activity_l1": result.config.activity_l1, "test_accuracy": result.test_accuracy,
            **act.as_dict(), "history": result.history}


def run_compare(out_dir: str | os.PathLike, quick: bool = False, seed: int = 0,
                progress: bool = True) -> dict:
    """Run the whole comparison, write DIR/compare.json and figures, return the result dict."""
    check_seed(seed)
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.io import ensure_dir, write_json

    out = ensure_dir(out_dir)
    plan = QUICK_PLAN if quick else FULL_PLAN
    started = time.perf_counter()
    clean = load_avdigits(seed=seed)
    base = TrainConfig()
    jobs = [("clean", setup, model, 0.0) for setup in SETUPS for model in MODELS]
    jobs += [("clean", "supervised", model, l1) for l1 in plan.activity_l1 for model in MODELS]
    n_steps = len(jobs) + 2 * len(plan.audio_snr_db) + 2 * len(plan.mid_training_fractions)
    bar = _progress(n_steps, progress)

    runs, curves, trained = [], {s: {m: [] for m in MODELS} for s in SETUPS}, {}
    for _, setup, model, l1 in jobs:
        check_interrupted()
        result = train_model(model, setup, clean, plan.epochs, seed, law=plan.law,
                             config=replace(base, activity_l1=l1))
        runs.append(_summary(result, clean))
        curves[setup][model] += theta_curve(result, clean, plan.thetas)
        if l1 == 0.0:
            trained[(setup, model)] = result
        bar.update(1)

    reductions = {setup: equal_accuracy_reduction(curves[setup], plan.target_accuracies) for setup in SETUPS}
    up_to = {setup: _max_ratio(reductions[setup]) for setup in SETUPS}

    noise = []
    for snr in plan.audio_snr_db:
        noisy = load_avdigits(seed=seed, audio_snr_db=snr)
        for model in MODELS:
            result = train_model(model, "supervised", noisy, plan.epochs, seed, law=plan.law, config=base)
            act = count_transmissions(result.network, noisy.audio_test, noisy.visual_test)
            noise.append({"audio_snr_db": snr, "model": model, "test_accuracy": result.test_accuracy,
                          "transmissions_per_sample": act.transmissions_per_sample,
                          "feedforward_transmissions_per_sample": act.feedforward_per_sample})
            bar.update(1)

    damage = {"test_time": {m: damage_at_test_time(trained[("supervised", m)], clean,
                                                   list(plan.damage_fractions), seed) for m in MODELS},
              "mid_training": []}
    for fraction in plan.mid_training_fractions:
        for model in MODELS:
            damage["mid_training"].append(mid_training_damage(model, "supervised", clean, plan.epochs,
                                                              fraction, seed, plan.law, base))
            bar.update(1)
    bar.close()

    learning = {setup: {m: [h["test_accuracy"] for h in trained[(setup, m)].history] for m in MODELS}
                for setup in SETUPS}
    per_epoch = {setup: _per_epoch_ratios(trained[(setup, "mcc")], trained[(setup, "point")])
                 for setup in SETUPS}
    workloads = []
    for model in MODELS:
        res = trained[("supervised", model)]
        act = count_transmissions(res.network, clean.audio_test, clean.visual_test)
        workloads.append(workload(res.network, act, f"{model}-supervised"))
    report = {
        "quick": quick, "seed": seed, "law": plan.law, "epochs": plan.epochs, "hidden": list(base.hidden),
        "n_train": int(len(clean.y_train)), "n_test": int(len(clean.y_test)),
        "energy_per_transmission_uj": ENERGY_PER_TRANSMISSION_UJ,
        "plan": {k: list(v) if isinstance(v, tuple) else v for k, v in plan.__dict__.items()},
        "runs": runs, "curves": curves, "equal_accuracy": reductions, "max_ratio_point_over_mcc": up_to,
        "per_epoch_ratio_point_over_mcc": per_epoch,
        "noise": noise, "damage": damage, "learning_speed": learning,
        "paper_claims": {"semi_supervised_energy_reduction": 0.62,
                         "supervised_ratio_per_feedforward_transmission_up_to": 1250.0},
        "workloads": workloads, "wall_time_s": time.perf_counter() - started,
    }
    write_json(Path(out) / "compare.json", report)
    _figures(report, Path(out))
    return report


def _per_epoch_ratios(mcc: TrainResult, point: TrainResult) -> dict:
    """Point/MCC transmissions per test sample after each epoch (theta = 0), and the largest."""
    out = {}
    for key, label in (("transmissions_per_sample", "per_sample"),
                       ("feedforward_transmissions_per_sample", "per_feedforward")):
        ratios = [p[key] / m[key] if m[key] > 0 else None for m, p in zip(mcc.history, point.history)]
        finite = [r for r in ratios if r is not None]
        out[label] = {"by_epoch": ratios, "max": max(finite) if finite else None}
    return out


def _max_ratio(rows: list[dict]) -> dict:
    best = {}
    for label in ("per_sample", "per_feedforward"):
        ratios = [(r[f"ratio_point_over_mcc_{label}"], r["target_accuracy"]) for r in rows
                  if r[f"ratio_point_over_mcc_{label}"] is not None]
        best[label] = ({"ratio": max(ratios)[0], "target_accuracy": max(ratios)[1]} if ratios else None)
    return best


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, desc="compare", unit="run")


def _figures(report: dict, out: Path) -> None:
    import spiking_mcc.plotting  # noqa: F401  (headless backend)
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import ACCURACY_LABEL, as_percent, integer_ticks, legend_outside, plt

    colours = {"mcc": "tab:red", "point": "tab:blue"}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True, layout="constrained")
    for ax, setup in zip(axes, SETUPS):
        for model in MODELS:
            pts = sorted(report["curves"][setup][model], key=lambda p: p["transmissions_per_sample"])
            ax.plot([p["transmissions_per_sample"] for p in pts], as_percent(p["accuracy"] for p in pts), "o",
                    color=colours[model], label=f"{model} (all synapses)", alpha=0.7)
            ax.plot([p["feedforward_transmissions_per_sample"] for p in pts],
                    as_percent(p["accuracy"] for p in pts), "x",
                    color=colours[model], label=f"{model} (feed-forward)", alpha=0.7)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("transmissions per sample")
        ax.set_title(f"{setup}: theta / L1 sweep")
    axes[0].set_ylabel(ACCURACY_LABEL)
    legend_outside(axes[-1])
    save_figure(fig, out / "accuracy_vs_transmissions.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, layout="constrained")
    for ax, setup in zip(axes, SETUPS):
        for model in MODELS:
            acc = report["learning_speed"][setup][model]
            ax.plot(range(1, len(acc) + 1), as_percent(acc), "-o", color=colours[model], label=model)
        ax.set_xlabel("epoch")
        integer_ticks(ax.xaxis)
        ax.set_title(f"learning speed ({setup})")
    axes[0].set_ylabel(ACCURACY_LABEL)
    legend_outside(axes[-1])
    save_figure(fig, out / "learning_speed.png")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for model in MODELS:
        rows = report["damage"]["test_time"][model]
        axes[0].errorbar([0.0] + as_percent(r["fraction"] for r in rows),
                         as_percent([rows[0]["accuracy_intact"]] + [r["accuracy_mean"] for r in rows]),
                         yerr=as_percent([0.0] + [r["accuracy_std"] for r in rows]),
                         fmt="-o", color=colours[model])  # colours as in the legend on the right
        for row in report["damage"]["mid_training"]:
            if row["model"] == model:
                # the accuracy just after the damage sits between epoch d (before) and epoch d + 1
                d = row["damage_epoch"]
                epochs = [*range(1, d + 1), d + 0.1, *range(d + 1, len(row["history"]) + 1)]
                accs = [*row["history"][:d], row["accuracy_after"], *row["history"][d:]]
                axes[1].plot(epochs, as_percent(accs), "-o", color=colours[model],
                             alpha=0.4 + 0.6 * row["fraction"],
                             label=f"{model}, {row['fraction']:.0%} silenced")
    axes[0].set_title("silenced at test time", fontsize=10)
    axes[1].set_title("silenced mid-training", fontsize=10)
    axes[0].set_xlabel("hidden units silenced at test time (%)")
    axes[0].set_ylabel(ACCURACY_LABEL)
    axes[1].set_xlabel("epoch (damage at the middle)")
    integer_ticks(axes[1].xaxis)
    axes[1].set_ylabel(ACCURACY_LABEL)
    legend_outside(axes[1])
    save_figure(fig, out / "resilience.png")

    # a curve needs two noise levels; with one (quick mode) the report shows the table alone
    if len({r["audio_snr_db"] for r in report["noise"]}) >= 2:
        fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
        for model in MODELS:
            rows = [r for r in report["noise"] if r["model"] == model]
            ax.plot([r["audio_snr_db"] for r in rows], as_percent(r["test_accuracy"] for r in rows), "-o",
                    color=colours[model], label=model)
        ax.set_xlabel("audio SNR (dB), clean visual")
        ax.set_ylabel(ACCURACY_LABEL)
        legend_outside(ax)
        save_figure(fig, out / "noise.png")


def summary_rows(report: dict) -> list[dict]:
    """One row per clean run for the CLI table (accuracy in percent, as the report prints it)."""
    from spiking_mcc.formatting import pct

    return [{"setup": r["setup"], "model": r["model"], "l1": r["activity_l1"],
             "accuracy (%)": pct(r["test_accuracy"]),
             "transmissions": r["transmissions_per_sample"],
             "ff_transmissions": r["feedforward_transmissions_per_sample"],
             "energy_uJ": r["energy_uj_per_sample"]} for r in report["runs"]]


__all__ = ["FULL_PLAN", "QUICK_PLAN", "StudyPlan", "equal_accuracy_reduction", "run_compare", "summary_rows",
           "theta_curve"]
