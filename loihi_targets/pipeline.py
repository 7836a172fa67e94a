"""The `loihi` job: convert (if needed), quantise, run the batched engine and Lava on the same samples,
compare them, map the network on Loihi cores and write ``loihi.json`` with energy workloads.

``run_loihi(model, dataset, samples, timesteps, mode, out_dir, seed=0) -> dict`` is the public entry;
``spiking-mcc loihi`` is a thin CLI over it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from conversion import neurobench
from conversion.fixed_point.float_reference import FloatNetwork, simulate_float
from conversion.fixed_point.lowering import float_network, lower
from conversion.fixed_point.network import FixedPointNetwork, readout_to_real
from conversion.fixed_point.simulate import simulate_fixed
from conversion.ir import Graph, SpikingNetwork
from loihi_targets.energy import MAPPING_NUMBERS
from loihi_targets.figures import plot_report
from loihi_targets.mapper import map_cores
from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.limits import check_seed
from spiking_mcc.workload import LayerWorkload, Workload

MODES = ("fixed", "float")
DEFAULT_TIMEOUT_S = 300.0
CALIBRATION_SAMPLES = 500


def _load_network(model, x_calib: np.ndarray, timesteps: int, threshold: str) -> SpikingNetwork:
    if isinstance(model, SpikingNetwork):
        return model
    from conversion import thresholds

    if isinstance(model, (str, os.PathLike)):
        from conversion.importers import load_model
        from conversion.importers.mcc import is_mcc_file, read_mcc_model

        # an MCC-format point network is an ordinary chain on [audio, visual]; an MCC one is refused there
        model = read_mcc_model(model) if is_mcc_file(model) else load_model(model)
    if not isinstance(model, Graph):
        raise ModelError(f"model must be a path, a conversion.ir.Graph or a SpikingNetwork, got "
                         f"{type(model).__name__}")
    return thresholds.convert(model, x_calib, method=threshold, timesteps=timesteps)


def _check_args(samples: int, timesteps: int, mode: str, timeout_s: float) -> None:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ParameterError(f"--samples must be an integer >= 1, got {samples!r}")
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) \
            or not 1 <= timesteps <= 4096:
        raise ParameterError(f"--timesteps must be an integer in [1, 4096], got {timesteps!r}")
    if mode not in MODES:
        raise ParameterError(f"--mode must be one of {list(MODES)}, got {mode!r}")
    if not np.isfinite(timeout_s) or timeout_s <= 0:
        raise ParameterError(f"--timeout-s must be > 0, got {timeout_s}")


def _load_data(dataset, seed: int):
    """A loaders.Dataset from a --data spec, or (x_test, y_test[, x_calib]) arrays passed directly."""
    if isinstance(dataset, str):
        from spiking_mcc.data.loaders import load_dataset

        data = load_dataset(dataset, seed)
        calib = data.x_calib if data.x_calib is not None else data.x_train
        return data.name, data.x_test, data.y_test, calib
    if isinstance(dataset, tuple) and len(dataset) in (2, 3):
        x, y = np.asarray(dataset[0], dtype=np.float64), np.asarray(dataset[1])
        calib = np.asarray(dataset[2], dtype=np.float64) if len(dataset) == 3 else x
        return "arrays", x, y, calib
    raise DataError("dataset must be a --data spec string or a tuple (x, y[, x_calib])")


def _lava_counts_of_engine(result, n_pop: int) -> tuple[list, list]:
    window = [c.sum(axis=1) for c in result.spike_counts[:n_pop]]
    neuron = [c.sum(axis=0) for c in result.spike_counts[:n_pop]]
    return window, neuron


def _compare(engine_window, engine_neuron, engine_output, lava) -> dict:
    equal_windows = all(np.array_equal(a, b) for a, b in zip(engine_window, lava.window_counts))
    equal_neurons = all(np.array_equal(a, b) for a, b in zip(engine_neuron, lava.neuron_counts))
    diffs = [int(np.abs(a - b).max(initial=0)) for a, b in zip(engine_window, lava.window_counts)]
    return {"spike_counts_equal": bool(equal_windows and equal_neurons),
            "output_equal": bool(np.array_equal(engine_output, lava.output)),
            "max_window_count_difference": diffs,
            "prediction_agreement": float(np.mean(np.argmax(engine_output, 1) == lava.predictions))}


def _workload(name: str, weights: list[np.ndarray], names: list[str], neuron_counts: list[np.ndarray],
              n_samples: int, timesteps: int, mode: str, n_features: int,
              convolutional: list[bool] | None = None) -> dict:
    """Energy workload (docs/energy.md contract, same convention as ``conversion.pipeline.workloads``): per
    weighted layer its synaptic events per sample = spikes arriving from the previous population x
    their non-zero synapses into this layer, its own population's spikes, and the mean fan-out of
    those neurons; the first layer takes analog input (MACs, no events; `n_features` real inputs even
    when signed input is split into two channels). A layer lowered from a convolution or pooling
    (`convolutional`) counts its synapses as Loihi stores them: fan-in = mean non-zero synapses per
    neuron, MACs = non-zero synapses (no padding taps); a Dense layer counts every input."""
    rows = []
    convolutional = convolutional or [False] * len(weights)
    for i, (layer_name, weight) in enumerate(zip(names, weights)):
        n_out, n_in = weight.shape[0], (n_features if i == 0 else weight.shape[1])
        macs = float(n_out * n_in)
        if convolutional[i]:
            stored = weight[:, :n_in] != 0  # signed input: [W, -W], the same synapses twice
            macs = float(np.count_nonzero(stored))
            n_in = int(round(macs / n_out))
        synapses_per_source = (weight != 0).sum(axis=0)
        events = float(neuron_counts[i - 1] @ synapses_per_source) / n_samples if i > 0 else 0.0
        fan_out = float(np.mean((weights[i + 1] != 0).sum(axis=0))) if i + 1 < len(weights) else 0.0
        spikes = float(neuron_counts[i].sum()) / n_samples if i < len(neuron_counts) else 0.0
        rows.append(LayerWorkload(layer_name, int(n_out), int(n_in), fan_out, macs, events,
                                  spikes, analog_input=i == 0))
    return Workload(name, "snn", "snn", int(timesteps), tuple(rows),
                    source=f"Lava {mode} spike counts").to_dict()


def _map_chain(weights: list[np.ndarray], names: list[str], neuron_spikes: list[np.ndarray]) -> dict:
    from loihi_targets.mapper import layers_from_weights

    specs = layers_from_weights([(w != 0).astype(np.int8) for w in weights], names=names)
    spikes = [np.asarray(s, dtype=np.float64) for s in neuron_spikes]
    spikes += [np.zeros(w.shape[0]) for w in weights[len(spikes):]]
    return map_cores(specs, spikes)


def run_loihi(model, dataset, samples: int, timesteps: int, mode: str,
              out_dir: str | os.PathLike | None = None, seed: int = 0, threshold: str | None = None,
              timeout_s: float = DEFAULT_TIMEOUT_S,
              progress: bool = False) -> dict:
    """Run `samples` test samples of `dataset` through `model` in Lava (`mode` "fixed" or "float") and
    through the batched engine with the same arithmetic; return the report (and write
    ``out_dir/loihi.json`` and ``loihi_counts.png`` when `out_dir` is given).

    model: a model file path (.npz/.onnx, converted here with `threshold` fitted for `timesteps`), a
    conversion.ir.Graph, or a converted SpikingNetwork (analog chain of Dense or Conv2d (+ AvgPool2d) +
    ReLU layers). dataset: a --data spec or
    (x, y[, x_calib]). Everything is validated (Loihi limits included) before Lava starts.
    """
    check_seed(seed)
    from loihi_targets.quantize import quantisation_table, quantize
    from loihi_targets.runner import run_lava
    from spiking_mcc.io import ensure_dir, write_json

    start = time.perf_counter()
    _check_args(samples, timesteps, mode, timeout_s)
    if isinstance(model, (str, os.PathLike)):
        from conversion.importers.mcc import is_mcc_file

        if is_mcc_file(model, "mcc"):  # two-point units: their own graph (loihi_targets.mcc_pipeline)
            from loihi_targets.mcc_pipeline import run_loihi_mcc

            return run_loihi_mcc(model, dataset, samples, timesteps, mode, out_dir, seed=seed,
                                 threshold=threshold or "distribution", timeout_s=timeout_s,
                                 progress=progress)
    threshold = threshold or "percentile"
    out = ensure_dir(out_dir) if out_dir is not None else None
    data_name, x_test, y_test, x_calib = _load_data(dataset, seed)
    snn = _load_network(model, np.asarray(x_calib)[:CALIBRATION_SAMPLES], timesteps, threshold)
    x = np.asarray(x_test, dtype=np.float64).reshape(len(x_test), -1)[:samples]
    y = np.asarray(y_test)[:samples]
    segments = lower(snn)  # one lowering for the Lava graph, the workload and NeuroBench's counts
    float_net = float_network(snn, segments)
    if x.shape[1] != float_net.layers[0].weight.shape[1]:
        raise DataError(f"data has {x.shape[1]} features but the model's first layer expects "
                        f"{float_net.layers[0].weight.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise DataError(f"data contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")

    if mode == "fixed":
        calib = np.asarray(x_calib, dtype=np.float64)
        # range checks before Lava; inputs below 0 in the calibration data -> split [x+, x-] channels
        net: FixedPointNetwork | FloatNetwork = quantize(snn, timesteps,
                                                         input_min=min(0.0, float(calib.min(initial=0.0))))
        t0 = time.perf_counter()
        engine = simulate_fixed(net, x, timesteps)
        engine_s = time.perf_counter() - t0
    else:
        net = float_net
        t0 = time.perf_counter()
        engine = simulate_float(net, x, timesteps)
        engine_s = time.perf_counter() - t0
    lava = run_lava(net, x, timesteps, timeout_s=timeout_s, progress=progress)

    n_pop = net.n_populations
    engine_window, engine_neuron = _lava_counts_of_engine(engine, n_pop)
    comparison = _compare(engine_window, engine_neuron, engine.output, lava)
    from conversion import engine as conversion_engine

    reference = conversion_engine.simulate(snn, x, [timesteps], seed=seed, mode="float", neurobench=True)[0]
    names = [layer.name for layer in net.layers]
    spikes_per_sample = [float(np.mean(c)) for c in lava.window_counts]
    weights = [layer.weight_mant if mode == "fixed" else layer.weight for layer in net.layers]
    mapping = _map_chain(weights, names, [c / len(x) for c in lava.neuron_counts])
    per_layer = [{"layer": names[i], "neurons": int(len(lava.neuron_counts[i])),
                  "spikes_per_sample_lava": spikes_per_sample[i],
                  "spikes_per_sample_engine": float(np.mean(engine_window[i])),
                  "firing_rate_lava": spikes_per_sample[i] / (len(lava.neuron_counts[i]) * timesteps),
                  "neuron_counts_lava": lava.neuron_counts[i]}
                 for i in range(n_pop)]
    output_real = readout_to_real(net, lava.output) if mode == "fixed" else lava.output
    from conversion import ops

    report = {
        "model": str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__,
        "model_kind": "point", "data": data_name, "samples": int(len(x)), "timesteps": int(timesteps),
        "mode": mode,
        "seed": int(seed), "reset": net.reset, "readout": net.readout,
        "accuracy_rate": float(np.mean(ops.predict(snn.graph, x) == y)),
        "network": {"threshold": snn.threshold_method, "init_membrane_fraction": snn.init_membrane_fraction,
                    "signed_input_split": bool(getattr(net, "signed_input", False))},
        "accuracy_lava": float(np.mean(lava.predictions == y)),
        "accuracy_engine": float(np.mean(engine.predictions == y)),
        "accuracy_conversion_engine_float": reference.accuracy(y),
        **comparison,
        "cores_used": mapping.get("cores_used"),
        "intercore_spikes": mapping.get("intercore_spikes"),
        "mapping": mapping,
        "wall_s": None,
        "lava_wall_s": lava.wall_s, "lava_timings": lava.timings, "engine_s": engine_s,
        "per_layer": per_layer,
        "quantisation_error": quantisation_table(net) if mode == "fixed" else [],
        "output_readout_mean": np.mean(output_real, axis=0),
        "neurobench": {"lava": neurobench.from_lava_counts(snn, x, timesteps, lava.neuron_counts, segments),
                       "float_engine": neurobench.metrics(snn, x, reference)},
        "workloads": [{**_workload(f"snn-lava-{mode}", weights, names, lava.neuron_counts, len(x), timesteps,
                                   mode, x.shape[1], [seg.convolutional for seg in segments]),
                       **({"mapping": {k: mapping[k] for k in ("method", *MAPPING_NUMBERS)}}
                          if "error" not in mapping else {})}],
    }
    report["wall_s"] = time.perf_counter() - start
    if out is not None:
        write_json(Path(out) / "loihi.json", report)
        plot_report(report, Path(out) / "loihi_counts.png")
    return report
