"""Convert a trained MCC (or point-baseline) model file to two-compartment spiking units and evaluate it.

:func:`convert_mcc` imports the model (:mod:`conversion.importers.mcc`), calibrates thresholds
(:func:`conversion.twopoint_spiking.calibrate`, per T for the distribution-aware method), simulates the
test set for every T in the numpy engine (:mod:`conversion.mcc_engine`), optionally re-runs the first
`brian_samples` test samples in Brian2 (:mod:`conversion.mcc_brian`) and compares, and writes
``convert_mcc.json`` (+ ``accuracy_vs_T.png``) when `out_dir` is given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conversion import mcc_engine, pipeline, thresholds, twopoint_spiking
from conversion.engine import SimulationResult
from conversion.importers.mcc import load_mcc_network, two_stream_graph
from conversion.thresholds import DEFAULT_PERCENTILE
from conversion.twopoint_unit import check_law
from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import check_seed

MAX_CALIBRATION_SAMPLES = 2000
MAX_BRIAN_SAMPLES = 500  # one synapse copy per sample: 500 samples of the 64-32 MCC are ~13 M synapses
RESULT_FILE = "convert_mcc.json"
TWO_POINT_NEURON = {"encoding": "analog", "readout": "membrane", "reset": "subtract", "leak": 0.0}


@dataclass(frozen=True)
class AVData:
    """Test inputs/labels and calibration inputs of both streams: {"audio": (n, n_audio), "visual": ...}."""

    name: str
    test: dict[str, np.ndarray]
    y_test: np.ndarray
    calibration: dict[str, np.ndarray]


def _streams(obj, split: str, n_audio: int, name: str) -> dict[str, np.ndarray] | None:
    audio, visual = getattr(obj, f"audio_{split}", None), getattr(obj, f"visual_{split}", None)
    if audio is not None and visual is not None:
        return {"audio": np.asarray(audio), "visual": np.asarray(visual)}
    x = getattr(obj, f"x_{split}", None)
    if x is None:
        return None
    x = np.asarray(x).reshape(len(x), -1)
    return {"audio": x[:, :n_audio], "visual": x[:, n_audio:]}


def load_av_data(dataset, n_audio: int, seed: int = 0) -> AVData:
    """"avdigits", a `--data` value, an AVDigits / loaders.Dataset or any object with audio_*/visual_*
    (or x_* = [audio, visual], split at n_audio) train and test arrays and y_test -> AVData."""
    if isinstance(dataset, (str, os.PathLike)):
        spec = str(dataset)
        if spec == "avdigits":
            from spiking_mcc.data.avdigits import load_avdigits

            dataset = load_avdigits(seed)
        else:
            from spiking_mcc.data.loaders import load_dataset

            dataset = load_dataset(spec, seed)
        name = spec
    else:
        name = getattr(dataset, "name", type(dataset).__name__)
    test = _streams(dataset, "test", n_audio, name)
    calibration = _streams(dataset, "calib", n_audio, name) or _streams(dataset, "train", n_audio, name)
    y_test = getattr(dataset, "y_test", None)
    if test is None or calibration is None or y_test is None:
        raise DataError(f"{name}: the MCC conversion needs audio_/visual_ (or x_) train and test arrays and "
                        "y_test")
    n_calib = len(calibration["audio"])
    if n_calib > MAX_CALIBRATION_SAMPLES:
        pick = np.sort(np.random.default_rng(seed).choice(n_calib, MAX_CALIBRATION_SAMPLES, replace=False))
        calibration = {k: v[pick] for k, v in calibration.items()}
    return AVData(name, test, np.asarray(y_test), calibration)


def _snn_entry(result: SimulationResult, labels: np.ndarray, ann_accuracy: float) -> dict:
    """The ordinary conversion's per-T entry plus the context (apical) share of the synaptic events."""
    context = [np.mean(v) for k, v in result.synaptic_events.items() if k.endswith("_context")]
    entry = pipeline.snn_entry(result, labels, ann_accuracy)
    return {**entry, "context_events_per_sample": float(sum(context))}


def compare_with_brian(net, data: AVData, timesteps: int, engine_result: SimulationResult, samples: int,
                       codegen_target: str = "numpy") -> dict:
    """Run the first `samples` test samples in Brian2 for T steps and compare with the numpy engine."""
    from conversion.mcc_brian import simulate_brian2

    subset = {k: v[:samples] for k, v in data.test.items()}
    labels = data.y_test[:samples]
    brian = simulate_brian2(net, subset, [timesteps], codegen_target)
    engine_predictions = engine_result.predictions[:samples]
    spikes_engine = {p: float(np.sum(c[:samples])) for p, c in engine_result.spikes.items()}
    spikes_brian = {p: float(np.sum(c)) for p, c in brian.spikes[0].items()}
    relative = {p: abs(spikes_brian[p] - spikes_engine[p]) / max(spikes_engine[p], 1.0)
                for p in spikes_engine}
    return {
        "samples": int(len(labels)), "timesteps": int(timesteps), "codegen_target": codegen_target,
        "accuracy": brian.accuracy(labels)[0],
        "engine_accuracy": float(np.mean(engine_predictions == labels)),
        "prediction_agreement": float(np.mean(brian.predictions[0] == engine_predictions)),
        "spikes_engine": spikes_engine, "spikes_brian": spikes_brian,
        "max_relative_spike_difference": float(max(relative.values())),
        "max_readout_difference": float(np.max(np.abs(brian.readout[0] - engine_result.readout[:samples]))),
        "synapses": brian.n_synapses, "build_s": brian.build_s, "run_s": brian.run_s,
    }


def plot_accuracy_vs_timesteps(path: Path, summary: dict) -> None:
    """accuracy_vs_T.png: the SNN accuracy at each T against the rate network's (a `convert_mcc` summary)."""
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import ACCURACY_LABEL, as_percent, legend_outside, plt

    fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
    steps = [e["timesteps"] for e in summary["snn"]]
    ax.plot(steps, as_percent(e["accuracy"] for e in summary["snn"]), "o-",
            label=f"two-point SNN ({summary['threshold']})")
    ax.axhline(100 * summary["ann_accuracy"], color="k", ls="--", label=f"{summary['network']} ANN")
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(t) for t in steps])
    ax.minorticks_off()
    ax.set_xlabel("time steps T")
    ax.set_ylabel(ACCURACY_LABEL)
    ax.set_title(f"{summary['model']} ({summary['network']}, law {summary['law']}) on {summary['data']}",
                 fontsize=9)
    legend_outside(ax)
    save_figure(fig, path)


def convert_mcc(model_path: str | os.PathLike, dataset_or_avdigits, timesteps: list[int],
                out_dir: str | os.PathLike | None = None, seed: int = 0, brian_samples: int = 0, *,
                threshold: str = "distribution", percentile: float = DEFAULT_PERCENTILE,
                granularity: str = "layer", init_membrane_fraction: float = 0.5, samples: int | None = None,
                brian_target: str = "numpy", progress: bool = False, **neuron) -> dict:
    """Convert an MCC/point model file to two-compartment spiking units and evaluate it for every T.

    Computes without drawing (the figure: :func:`plot_accuracy_vs_timesteps`, which the CLI calls after
    the JSON is written). Returns (and writes to out_dir/convert_mcc.json) ann_accuracy, snn
    [{timesteps, accuracy, spikes_per_sample, synaptic_events_per_sample, firing_rate, ...}], brian (if
    brian_samples > 0: the first brian_samples test samples at the largest T in Brian2 vs the engine)
    and energy workloads.
    `neuron` may repeat the only neuron options the two-point engines implement (the `convert` command's
    defaults): encoding="analog", readout="membrane", reset="subtract", leak=0.0; others -> ParameterError."""
    check_seed(seed)
    for option, value in neuron.items():
        if option not in TWO_POINT_NEURON or value != TWO_POINT_NEURON[option]:
            allowed = TWO_POINT_NEURON.get(option, "no such option")
            raise ParameterError(f"{option}: the two-point spiking engines support only {allowed!r} for MCC "
                                 f"models, got {value!r}")
    steps = mcc_engine.validate_timesteps(timesteps)
    if threshold not in thresholds.METHODS:
        raise ParameterError(f"threshold must be one of {list(thresholds.METHODS)}, got {threshold!r}")
    if samples is not None and samples < 1:
        raise ParameterError(f"samples must be >= 1, got {samples}")
    if not 0 <= brian_samples <= MAX_BRIAN_SAMPLES:
        raise ParameterError(f"brian_samples must be in [0, {MAX_BRIAN_SAMPLES}], got {brian_samples}")
    network = load_mcc_network(model_path)
    check_law(network.law, str(model_path))
    graph = two_stream_graph(network)
    data = load_av_data(dataset_or_avdigits, network.n_audio, seed)
    if samples is not None:
        data = AVData(data.name, {k: v[:samples] for k, v in data.test.items()}, data.y_test[:samples],
                      data.calibration)
    twopoint_spiking.check_inputs(graph, data.test, f"{data.name} test data")
    twopoint_spiking.check_inputs(graph, data.calibration, f"{data.name} calibration data")
    if data.y_test.shape != (len(data.test["audio"]),):
        raise DataError(f"{data.name} y_test: expected shape ({len(data.test['audio'])},), "
                        f"got {data.y_test.shape}")
    ann_accuracy = float(np.mean(twopoint_spiking.ann_predict(graph, data.test) == data.y_test))

    per_t = threshold == "distribution"
    results, nets = [], []
    for group in ([[t] for t in steps] if per_t else [steps]):
        check_interrupted()  # a safe point: SIGINT/SIGTERM/SIGHUP stop here (spiking_mcc.interrupts)
        net = twopoint_spiking.calibrate(graph, data.calibration, threshold, group[-1], percentile,
                                         init_membrane_fraction, granularity)
        results += mcc_engine.simulate(net, data.test, group, progress=progress)
        nets.append(net)
    summary = {
        "model": Path(model_path).name, "network": network.model, "law": network.law,
        "hidden": list(network.hidden), "data": data.name, "seed": seed, "threshold": threshold,
        "percentile": percentile if threshold == "percentile" else None,
        "granularity": granularity if per_t else None, "init_membrane_fraction": init_membrane_fraction,
        "n_test": int(len(data.y_test)), "n_calibration": int(len(data.calibration["audio"])),
        "notes": list(graph.notes), "layers": graph.describe().splitlines(),
        "ann_accuracy": ann_accuracy,
        "snn": [_snn_entry(r, data.y_test, ann_accuracy) for r in results],
        "thresholds": {p: {"v_th_mean": float(np.mean(nets[-1].v_th[p])),
                           "output_scale_mean": float(np.mean(nets[-1].output_scale[p]))}
                       for p in graph.populations()},
        "workloads": mcc_engine.workloads(nets[-1], results, network.model),
    }
    if brian_samples:
        summary["brian"] = compare_with_brian(nets[-1], data, steps[-1], results[-1], brian_samples,
                                              brian_target)
    if out_dir is not None:
        from spiking_mcc.io import ensure_dir, write_json

        out = ensure_dir(out_dir)
        write_json(out / RESULT_FILE, summary)
    return summary
