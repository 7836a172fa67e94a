"""The whole Datta & Beerel 2022 pipeline, the `lowlatency` command's work (docs/lowlatency.md).

Per data set and seed: train the ANN (plain ReLU) and the clipped-ReLU ANN (stage 1); for every T convert
the clipped ANN with the uniform-assumption thresholds (``uniform``) and with the distribution-aware fit
(``converted``, stage 2), fine-tune the latter through time (``finetuned``, stage 3); evaluate all three
with :func:`conversion.engine.simulate`. Writes ``lowlatency.json``, ``accuracy_vs_T.png`` and one
``finetuned_T{T}.npz`` per T (sequential-v1, read by ``convert`` and ``loihi``).
"""

from __future__ import annotations

import os
import time

import numpy as np

from conversion import engine, ops, thresholds
from conversion.lowlatency.clip_training import (
    ANN_EPOCHS,
    clip_ceilings,
    default_clip_epochs,
    train_ann_and_clipped,
)
from conversion.lowlatency.export import save_finetuned
from conversion.lowlatency.finetune import FinetuneConfig, finetune
from conversion.reference_models import TrainingConfig
from loihi_targets.devices import PRESETS
from spiking_mcc.errors import ParameterError
from spiking_mcc.limits import check_timesteps

STAGES = ("uniform", "converted", "finetuned")
INIT_MEMBRANE = 0.5  # the half-step shift: V_0 = theta / 2
MAX_CALIBRATION = 2000


def compute_energy(graph, result: engine.SimulationResult) -> dict:
    """Compute energy per sample (J) of the same-architecture DNN (all MACs x E_MAC) and of the SNN (the
    first layer's MACs on the analog input x E_MAC + measured synaptic events x E_AC), with the 45 nm
    fp32 figures of the cmos45-fp32 device (Horowitz 2014)."""
    device = PRESETS["cmos45-fp32"]
    dnn = sum(engine.dense_macs(graph, layer) for layer in graph.weighted_layers()) * device.mac_j
    snn = sum(result.analog_macs.values()) * device.mac_j + result.synaptic_events_per_sample * device.synop_j
    return {"dnn_j": dnn, "snn_j": snn, "ratio": dnn / snn if snn > 0 else float("inf"),
            "e_mac_j": device.mac_j, "e_ac_j": device.synop_j, "source": device.source}


def _row(stage: str, timesteps: int, result: engine.SimulationResult, labels: np.ndarray, graph) -> dict:
    return {"stage": stage, "timesteps": timesteps, "accuracy": result.accuracy(labels),
            "spikes_per_sample": result.spikes_per_sample,
            "synaptic_events_per_sample": result.synaptic_events_per_sample,
            "compute_energy_ratio": compute_energy(graph, result)["ratio"]}


def run_lowlatency(model: str, data: str, timesteps: list[int], out_dir: str | os.PathLike, seed: int = 0, *,
                   ann_epochs: int | None = None, clip_epochs: int | None = None,
                   finetune_epochs: int = FinetuneConfig.epochs,
                   granularity: str = "layer", samples: int | None = None, train_samples: int | None = None,
                   ) -> dict:
    """Run the three stages for every T; write lowlatency.json and finetuned_T*.npz (no figure: the CLI
    draws accuracy_vs_T.png with :func:`plot_accuracy` after the JSON is written)."""
    from spiking_mcc.data.loaders import load_dataset
    from spiking_mcc.io import ensure_dir, write_json

    steps = sorted(check_timesteps(timesteps, "--timesteps"))
    for key, value in (("ann-epochs", ann_epochs), ("clip-epochs", clip_epochs),
                       ("finetune-epochs", finetune_epochs), ("samples", samples),
                       ("train-samples", train_samples)):
        if value is not None and value < (0 if key == "finetune-epochs" else 1):
            raise ParameterError(f"--{key} must be >= {0 if key == 'finetune-epochs' else 1}, got {value}")
    if granularity not in thresholds.GRANULARITIES:
        raise ParameterError(f"--granularity must be one of {list(thresholds.GRANULARITIES)}, "
                             f"got {granularity!r}")
    if model not in ANN_EPOCHS:
        raise ParameterError(f"--model must be one of {sorted(ANN_EPOCHS)}, got {model!r}")
    started = time.perf_counter()
    dataset = load_dataset(data, seed)
    x_train, y_train = dataset.x_train[:train_samples], dataset.y_train[:train_samples]
    x_test, y_test = dataset.x_test[:samples], dataset.y_test[:samples]
    out = ensure_dir(out_dir)
    config = TrainingConfig(epochs=ann_epochs or ANN_EPOCHS[model])
    clip_epochs = default_clip_epochs(config.epochs) if clip_epochs is None else clip_epochs
    ann, clipped = train_ann_and_clipped(model, x_train, y_train, dataset.input_shape, dataset.n_classes,
                                         seed=seed, config=config, clip_epochs=clip_epochs)
    rng = np.random.default_rng(seed)
    x_calib = x_train if len(x_train) <= MAX_CALIBRATION else \
        x_train[np.sort(rng.choice(len(x_train), MAX_CALIBRATION, replace=False))]
    accuracy = lambda graph: float(np.mean(ops.predict(graph, x_test) == y_test))  # noqa: E731
    runs, energy, models = [], {}, {}
    neuron = {"init_membrane_fraction": INIT_MEMBRANE}
    tune = FinetuneConfig(epochs=finetune_epochs)
    for t in steps:
        nets = {"uniform": thresholds.convert(clipped, x_calib, "uniform", t, **neuron),
                "converted": thresholds.convert(clipped, x_calib, "distribution", t, granularity=granularity,
                                                **neuron)}
        nets["finetuned"] = finetune(nets["converted"], x_train, y_train, t, seed=seed, config=tune)
        for stage in STAGES:
            result = engine.simulate(nets[stage], x_test, [t], seed=seed)[0]
            runs.append(_row(stage, t, result, y_test, nets[stage].graph))
            if stage == "finetuned":
                energy[str(t)] = compute_energy(nets[stage].graph, result)
        path = save_finetuned(out / f"finetuned_T{t}.npz", nets["finetuned"], t,
                              trained_on=f"{dataset.name} seed={seed}", test_accuracy=runs[-1]["accuracy"],
                              classes=np.arange(dataset.n_classes))
        models[str(t)] = {"file": path.name, "leak": nets["finetuned"].leak,
                          "v_th_mean": {p: float(np.mean(v)) for p, v in nets["finetuned"].v_th.items()}}
    summary = {
        "model": model, "data": dataset.name, "seed": seed, "n_train": int(len(y_train)),
        "n_test": int(len(y_test)), "granularity": granularity, "init_membrane_fraction": INIT_MEMBRANE,
        "ann_accuracy": accuracy(ann), "ann_clip_accuracy": accuracy(clipped),
        "clip_ceilings": clip_ceilings(clipped),
        "runs": runs,
        "compute_energy_ratio": {t: e["ratio"] for t, e in energy.items()},
        "compute_energy": energy,
        "finetuned_models": models,
        "epochs": {"ann": config.epochs, "clip": clip_epochs, "finetune": finetune_epochs},
        "wall_s": time.perf_counter() - started,
    }
    write_json(out / "lowlatency.json", summary)
    return summary


def plot_accuracy(path, summary: dict) -> None:
    """Accuracy vs T for the three stages beside the two ANNs."""
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    for stage, style in zip(STAGES, ("s--", "o-", "^-")):
        rows = [r for r in summary["runs"] if r["stage"] == stage]
        ax.plot([r["timesteps"] for r in rows], [100 * r["accuracy"] for r in rows], style, label=stage)
    ax.axhline(100 * summary["ann_accuracy"], color="k", ls="--", lw=1, label="ANN (ReLU)")
    ax.axhline(100 * summary["ann_clip_accuracy"], color="gray", ls=":", lw=1, label="ANN (clipped ReLU)")
    ax.set_xticks(sorted({r["timesteps"] for r in summary["runs"]}))
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{summary['model']} on {summary['data']} (seed {summary['seed']})")
    ax.legend(fontsize="small")
    save_figure(fig, path)
