"""Convert a trained ANN and evaluate it as a spiking network over several T: the `convert` command's work.

:func:`convert_and_evaluate` writes ``convert.json`` (ANN accuracy, per-T SNN accuracy, spikes and
synaptic events per sample, per-layer firing rates and ANN-vs-SNN activation error, energy workloads)
and ``model.nir`` (the network converted for the largest T). The Python API computes without drawing;
:func:`plot_summary` draws ``accuracy_vs_T.png`` from a summary (the CLI calls it after the JSON is
written, so the figure is off the critical path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion import defaults, engine, neurobench, ops, thresholds
from conversion.importers import load_model
from conversion.ir import Dense, Graph, SpikingNetwork, TwoPoint
from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.limits import check_seed, check_timesteps
from spiking_mcc.workload import LayerWorkload, Workload

MAX_CALIBRATION_SAMPLES = 2000


@dataclass(frozen=True)
class EvaluationData:
    """Test inputs/labels and calibration inputs (2-D float arrays, flattened per sample); n_classes: the
    data set's class count when it declares one; origin: where the test and calibration samples came
    from ("test", "calibration" -> a sentence)."""

    name: str
    x_test: np.ndarray
    y_test: np.ndarray
    x_calib: np.ndarray
    n_classes: int | None = None
    origin: dict[str, str] = field(default_factory=dict)


def load_evaluation_data(dataset, seed: int = 0) -> EvaluationData:
    """A CLI `--data` value (digits, avdigits, PATH.npz, ...) or an object with x_train/x_test/y_test
    (and optionally x_calib) -> EvaluationData. Calibration: x_calib if given, else the training inputs."""
    if isinstance(dataset, (str, os.PathLike)):
        try:
            from spiking_mcc.data.loaders import load_dataset
        except ImportError:  # the data helper's loader not present: digits only
            if str(dataset) != "digits":
                raise DataError(f"--data {dataset}: only 'digits' is available here") from None
            from spiking_mcc.data.digits import load_digits_split

            split = load_digits_split(seed)
            origin = {"test": f"digits: seeded split (seed {seed})", "calibration": "digits: training split"}
            return EvaluationData("digits", split.x_test, split.y_test, split.x_train, origin=origin)
        dataset = load_dataset(str(dataset), seed)
    name = getattr(dataset, "name", "data")
    given = dict(getattr(dataset, "origin", None) or {})
    origin = {"test": given.get("test", f"{name}: 'x_test', 'y_test' as given")}
    x_calib = getattr(dataset, "x_calib", None)
    if x_calib is None:
        x_calib = dataset.x_train
        origin["calibration"] = f"the training inputs ({given.get('train', f'{name}: x_train')})"
    else:
        origin["calibration"] = given.get("calibration", f"{name}: 'x_calib' as given")
    x_calib = np.asarray(x_calib)
    if x_calib.ndim == 0 or len(x_calib) == 0:
        raise DataError(f"{name}: calibration set is empty; thresholds need at least one calibration sample")
    if len(x_calib) > MAX_CALIBRATION_SAMPLES:
        pick = np.random.default_rng(seed).choice(len(x_calib), MAX_CALIBRATION_SAMPLES, replace=False)
        origin["calibration"] += (f"; a seeded random {MAX_CALIBRATION_SAMPLES} of its {len(x_calib)} "
                                  f"samples (seed {seed})")
        x_calib = x_calib[np.sort(pick)]
    x_test, y_test = np.asarray(dataset.x_test), np.asarray(dataset.y_test)
    if len(x_test) == 0:
        raise DataError(f"{name}: the test set is empty")
    return EvaluationData(name, x_test.reshape(len(x_test), -1), y_test, x_calib.reshape(len(x_calib), -1),
                          n_classes=getattr(dataset, "n_classes", None), origin=origin)


def check_outputs_match(graph: Graph, data: EvaluationData, model_name: str) -> None:
    """The model's score count must equal the data's class count and exceed every label (else ModelError):
    a mismatch would score every prediction against the wrong classes."""
    output = graph.outputs[0]
    n_scores = int(np.prod(graph.shapes[output]))
    if data.n_classes is not None and n_scores != data.n_classes:
        raise ModelError(f"{model_name}: output '{output}' has {n_scores} scores but {data.name} has "
                         f"{data.n_classes} classes")
    labels = np.asarray(data.y_test)
    if labels.size and int(labels.max()) >= n_scores:
        raise ModelError(f"{model_name}: output '{output}' has {n_scores} scores but {data.name}'s test "
                         f"labels go up to {int(labels.max())}")


def checked_predict(graph: Graph, x: np.ndarray, source: str, batch_size: int = 1024) -> np.ndarray:
    """ANN class predictions of x (argmax of the first output); an activation that overflows to inf or NaN
    raises ModelError naming the first such layer (instead of a silent wrong accuracy)."""
    output = graph.outputs[0]
    predictions = []
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(x), batch_size):
            values = ops.forward(graph, x[start:start + batch_size])
            for name in graph.order:
                ops.check_finite(name, values[name], source, start)
            predictions.append(values[output].reshape(len(values[output]), -1).argmax(axis=1))
    return np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)


def _fan_in(graph: Graph, layer: str) -> int:
    node = graph.nodes[layer]
    if isinstance(node, Dense):  # mean non-zero synapses per neuron
        return int(round(np.count_nonzero(node.weight) / node.weight.shape[0]))
    if isinstance(node, TwoPoint):
        return int(node.rf_weight.shape[1] + sum(w.shape[1] for w in node.context_weights.values()))
    return int(np.prod(node.weight.shape[1:]))


def _fan_out(graph: Graph, fanouts: dict, layer: str) -> float:
    """Mean number of synapses from one neuron of `layer`'s population into the following layers."""
    source = engine.population_of(graph, layer)
    maps = [srcs[source] for srcs in fanouts.values() if source in srcs]
    return float(sum(np.mean(m) for m in maps)) if maps else 0.0


def workloads(net: SpikingNetwork, results: list[engine.SimulationResult]) -> list[dict]:
    """Energy workloads (spiking_mcc.workload; events on the receiving layer): one "ann", one "snn" per T."""
    graph = net.graph
    fanouts = engine.fanout_maps(graph)
    input_name = next(iter(graph.inputs))
    base = []
    for layer in graph.weighted_layers():
        base.append({"name": layer, "neurons": int(np.prod(graph.shapes[layer])),
                     "fan_in": _fan_in(graph, layer), "fan_out": _fan_out(graph, fanouts, layer),
                     "macs": engine.dense_macs(graph, layer)})
    out = [Workload("ann", "ann", "ann", 1, tuple(LayerWorkload(**b, analog_input=True) for b in base))]
    for result in results:
        layers = []
        for b in base:
            population = engine.population_of(graph, b["name"])
            spikes = result.spikes.get(population if population else b["name"])
            analog = net.encoding == "analog" and input_name in fanouts[b["name"]]
            events = float(np.mean(result.synaptic_events[b["name"]]))
            layers.append(LayerWorkload(**b, synaptic_events=events,
                                        spikes=float(np.mean(spikes)) if spikes is not None else 0.0,
                                        analog_input=analog))
        out.append(Workload(f"snn-T{result.timesteps}", "snn", "snn", result.timesteps, tuple(layers)))
    return [w.to_dict() for w in out]


def snn_entry(result: engine.SimulationResult, labels: np.ndarray, ann_accuracy: float) -> dict:
    """One `snn` row of convert.json: accuracy, loss vs the ANN, spikes, events, per-layer figures."""
    accuracy = result.accuracy(labels)
    return {
        "timesteps": result.timesteps,
        "accuracy": accuracy,
        "accuracy_loss_points": 100.0 * (ann_accuracy - accuracy),
        "spikes_per_sample": result.spikes_per_sample,
        "synaptic_events_per_sample": result.synaptic_events_per_sample,
        "analog_macs_per_sample": float(sum(result.analog_macs.values())),
        "firing_rate": result.firing_rate,
        "activation_error": result.activation_error,
        "layer_spikes_per_sample": {k: float(np.mean(v)) for k, v in result.spikes.items()},
        "layer_synaptic_events_per_sample": {k: float(np.mean(v))
                                             for k, v in result.synaptic_events.items()},
    }


def plot_summary(path: str | os.PathLike, summary: dict) -> None:
    """Draw accuracy_vs_T.png (accuracy and per-layer activation error vs T) from a convert summary."""
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import plt

    steps = [e["timesteps"] for e in summary["snn"]]
    fig, (ax_acc, ax_err) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    accuracy = [100 * e["accuracy"] for e in summary["snn"]]
    ax_acc.plot(steps, accuracy, "o-", label=f"SNN ({summary['threshold']})")
    if summary["ann_accuracy"] is not None:
        ax_acc.axhline(100 * summary["ann_accuracy"], color="k", ls="--", label="ANN")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.set_title(f"{summary['model']} on {summary['data']}")
    ax_acc.legend()
    for layer in summary["snn"][0]["activation_error"]:
        ax_err.plot(steps, [e["activation_error"][layer] for e in summary["snn"]], "o-", label=layer)
    ax_err.set_ylabel("relative RMS error")
    ax_err.set_title("ANN-vs-SNN activation error per layer")
    if summary["snn"][0]["activation_error"]:
        ax_err.legend(fontsize="small")
    for ax in (ax_acc, ax_err):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("time steps T")
    save_figure(fig, path)


def convert_and_evaluate(model_path_or_graph: str | os.PathLike | Graph, dataset,
                         timesteps: list[int] = defaults.TIMESTEPS, threshold: str = defaults.THRESHOLD,
                         out_dir: str | os.PathLike | None = None, seed: int = 0, *,
                         samples: int | None = None, percentile: float = defaults.PERCENTILE,
                         granularity: str = defaults.GRANULARITY,
                         init_membrane_fraction: float = defaults.INIT_MEMBRANE_FRACTION,
                         encoding: str = defaults.ENCODING, readout: str = defaults.READOUT,
                         reset: str = defaults.RESET, leak: float = defaults.LEAK,
                         progress: bool = False, nir_exact: bool = False, nir_pool: str = "sum",
                         batch_size: int = engine.DEFAULT_BATCH_SIZE) -> dict:
    """Convert, simulate for every T and return the summary; with `out_dir`, also write convert.json and
    model.nir there (no figure: :func:`plot_summary`). Defaults: conversion.defaults (the `convert` CLI's).
    batch_size: samples evaluated at once (ANN and SNN); memory grows with it, not with the test set.

    threshold: max | percentile | channel | distribution (fitted per T). nir_exact: model.nir must state
    exactly the simulated network; nir_pool: average pooling as "sum" (SumPool2d) or "avg" (AvgPool2d)
    (docs/conversion.md, "NIR"). Returns the JSON summary; writes nothing when out_dir is None."""
    check_seed(seed)
    from spiking_mcc.io import ensure_dir, write_json

    steps = sorted(check_timesteps(timesteps))
    if threshold not in thresholds.METHODS:
        raise ParameterError(f"--threshold must be one of {list(thresholds.METHODS)}, got {threshold!r}")
    if samples is not None and samples < 1:
        raise ParameterError(f"--samples must be >= 1, got {samples}")
    engine.check_batch_size(batch_size)
    given_graph = isinstance(model_path_or_graph, Graph)
    graph = model_path_or_graph if given_graph else load_model(model_path_or_graph)
    model_name = "graph" if isinstance(model_path_or_graph, Graph) else Path(model_path_or_graph).name
    data = load_evaluation_data(dataset, seed)
    x_test, y_test = data.x_test[:samples], data.y_test[:samples]
    origin = {"test": f"{data.name}: as given", "calibration": f"{data.name}: as given", **data.origin}
    if samples is not None and samples < len(data.y_test):
        origin["test"] += f"; the first {samples} of its {len(data.y_test)} samples (--samples)"
    ops.check_input(graph, x_test[:1], f"{data.name} test data")
    ops.check_input(graph, data.x_calib[:1], f"{data.name} calibration data")
    check_outputs_match(graph, data, model_name)
    ann_accuracy = float(np.mean(checked_predict(graph, x_test, f"{data.name} test data", batch_size)
                                 == y_test))
    # the calibration pass is the threshold fit's own (conversion.thresholds checks it for overflow)

    out = ensure_dir(out_dir) if out_dir is not None else None
    neuron = dict(init_membrane_fraction=init_membrane_fraction, encoding=encoding, readout=readout,
                  reset=reset, leak=leak)
    fitted_per_t = threshold == "distribution"
    results, nets = [], []
    cache = thresholds.FitCache(graph, data.x_calib) if fitted_per_t else None
    for group in ([[t] for t in steps] if fitted_per_t else [steps]):
        check_interrupted()  # a safe point: SIGINT/SIGTERM/SIGHUP stop here (spiking_mcc.interrupts)
        net = thresholds.convert(graph, data.x_calib, threshold, timesteps=group[-1],
                                 percentile=percentile, granularity=granularity, cache=cache, **neuron)
        results += engine.simulate(net, x_test, group, seed=seed, progress=progress, batch_size=batch_size,
                                   neurobench=True)
        nets.append(net)
    summary = {
        "model": model_name, "data": data.name, "threshold": threshold, "percentile": percentile,
        "granularity": granularity if threshold == "distribution" else None, "seed": seed,
        "n_test": int(len(y_test)), "n_calibration": int(len(data.x_calib)), "data_origin": origin,
        "neuron": neuron,
        "notes": list(graph.notes), "layers": graph.describe().splitlines(),
        "ann_accuracy": ann_accuracy,
        "snn": [snn_entry(r, y_test, ann_accuracy) for r in results],
        "workloads": workloads(nets[-1], results),
        "neurobench": neurobench.report(nets[-1], x_test, results),
        "nir": _export_nir(nets[-1], None if out is None else out / "model.nir", steps[-1], nir_exact,
                           nir_pool),
    }
    if out is not None:
        write_json(out / "convert.json", summary)
    return summary



def _export_nir(net: SpikingNetwork, path: Path | None, timesteps: int, exact: bool, pool: str) -> dict:
    """Write model.nir (path None: only describe it); the convert.json entry lists what NIR does not state
    (also printed by the CLI). A graph NIR cannot hold (branches) gives an entry with the reason instead of
    a file, unless exact."""
    from conversion.nir_export import to_nir, write_nir
    from spiking_mcc.errors import ModelError

    try:
        if path is None:
            lossy = to_nir(net, exact, pool).lossy
        else:
            lossy = write_nir(net, path, exact=exact, pool=pool)
    except ModelError as exc:
        if exact:
            raise
        return {"file": None, "timesteps": timesteps, "mode": "default", "error": str(exc), "lossy": []}
    return {"file": None if path is None else path.name, "timesteps": timesteps,
            "mode": "exact" if exact else "default",
            "pool": pool, "lossy": lossy}


def evaluate_nir(path: str | os.PathLike, dataset, timesteps: list[int], out_dir: str | os.PathLike,
                 seed: int = 0, *, samples: int | None = None, dt: float | None = None,
                 reset: str | None = None, progress: bool = False,
                 batch_size: int = engine.DEFAULT_BATCH_SIZE) -> dict:
    """Simulate a NIR graph as given (no threshold fitting) for every T; write convert.json into out_dir
    (no figure: :func:`plot_summary`). Returns the JSON summary."""
    from conversion.importers.nir_import import read_nir_network
    from spiking_mcc.io import ensure_dir, write_json

    steps = sorted(check_timesteps(timesteps))
    if samples is not None and samples < 1:
        raise ParameterError(f"--samples must be >= 1, got {samples}")
    imported = read_nir_network(path, dt=dt, reset=reset)
    net = imported.net
    data = load_evaluation_data(dataset, seed)
    x_test, y_test = data.x_test[:samples], data.y_test[:samples]
    ops.check_input(net.graph, x_test[:1], f"{data.name} test data")
    out = ensure_dir(out_dir)
    results = engine.simulate(net, x_test, steps, seed=seed, progress=progress, batch_size=batch_size,
                              neurobench=True)
    entries = [dict(snn_entry(r, y_test, 0.0), accuracy_loss_points=None) for r in results]
    summary = {
        "model": Path(path).name, "data": data.name, "threshold": "as given (NIR)", "seed": seed,
        "n_test": int(len(y_test)), "ann_accuracy": None, "nir_conventions": imported.conventions,
        "neuron": {"reset": net.reset, "leak": net.leak, "layer_leak": net.layer_leak,
                   "readout": net.readout, "init_membrane_fraction": net.init_membrane_fraction},
        "layers": net.graph.describe().splitlines(), "snn": entries,
        "workloads": workloads(net, results),
        "neurobench": neurobench.report(net, x_test, results),
    }
    write_json(out / "convert.json", summary)
    return summary
