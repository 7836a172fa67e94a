"""The `loihi` job for a converted MCC network (a ``spiking-mcc train --model mcc`` file): calibrate,
build the two-point unit network (:mod:`conversion.mcc_hardware`), run the batched engine and Lava on the
same samples, compare them spike for spike, map the network on Loihi cores (context traffic included) and
write ``loihi.json`` (keys in ``docs/twopoint_unit.md``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from conversion import mcc_engine, mcc_hardware, twopoint_spiking
from conversion.engine import SimulationResult
from conversion.importers.mcc import load_mcc_network, two_stream_graph
from conversion.mcc_hardware import UnitNetwork
from conversion.mcc_pipeline import load_av_data
from conversion.twopoint_unit import MAX_TIMESTEPS, check_law
from loihi_targets.energy import MAPPING_NUMBERS
from spiking_mcc.errors import ParameterError


def lava_result(net, units: UnitNetwork, lava, timesteps: int) -> SimulationResult:
    """Lava counters of an MCC run as a SimulationResult (per-sample spikes; events as per-sample means
    from the per-neuron totals, which is all Lava returns), for the energy workloads."""
    n = len(lava.output)
    maps = mcc_engine.fanouts(net.graph)
    events = {group: np.full(n, sum(float(lava.neuron_counts[s] @ fan) for s, fan in sources.items()) / n)
              for group, sources in maps.items()}
    spikes = {p: c.astype(np.float64) for p, c in lava.window_counts.items()}
    readout = mcc_hardware.readout_to_real(units, lava.output)
    return SimulationResult(timesteps, readout.argmax(axis=1), readout, spikes, events, {}, {}, {})


def mapping_layers(units: UnitNetwork) -> list:
    """LayerSpecs of the unit network for the core mapper: per population two compartments per neuron,
    its receptive-field synapses (input or previous somata) and its context synapses (from the
    receptive-field spikes of both streams of its layer, sent by the same neurons); then the readout."""
    from loihi_targets.mapper import EXTERNAL, LayerSpec

    owner = {u.soma: u.name for u in units.units} | {u.rf_pop: u.name for u in units.units if u.rf_pop}
    layers = []
    for u in units.units:
        analog = u.rf.source in units.inputs
        layers.append(LayerSpec(u.name, u.n, connectivity=u.rf.weight != 0, compartments_per_neuron=2,
                                source=EXTERNAL if analog else owner[u.rf.source],
                                extra_sources=tuple((owner[s.source], s.weight != 0) for s in u.context)))
    first, *rest = units.readout.sources
    n_classes = first.weight.shape[0]
    layers.append(LayerSpec(units.readout.name, n_classes, connectivity=first.weight != 0,
                            source=owner[first.source],
                            extra_sources=tuple((owner[s.source], s.weight != 0) for s in rest)))
    return layers


def spikes_per_neuron(units: UnitNetwork, lava, n_samples: int) -> dict[str, np.ndarray]:
    """Spike messages per neuron and inference for the mapper: somatic plus receptive-field spikes of a
    unit (each is sent to every core holding any of the neuron's targets: an upper bound on traffic)."""
    out = {}
    for u in units.units:
        total = lava.neuron_counts[u.soma] + (lava.neuron_counts[u.rf_pop] if u.rf_pop else 0)
        out[u.name] = total / n_samples
    out[units.readout.name] = np.zeros(units.readout.sources[0].weight.shape[0])
    return out


def run_loihi_mcc(model_path: str | os.PathLike, dataset, samples: int, timesteps: int, mode: str,
                  out_dir: str | os.PathLike | None = None, seed: int = 0, threshold: str = "distribution",
                  timeout_s: float = 300.0, progress: bool = False) -> dict:
    """Run `samples` test samples of `dataset` ("avdigits" or AV arrays) through the MCC file in Lava
    (`mode` "fixed" or "float") and the batched engine; write ``out_dir/loihi.json`` and return it.
    Everything is validated (law, Loihi limits, inputs) before Lava starts."""
    from loihi_targets.figures import plot_report
    from loihi_targets.mapper import map_cores
    from loihi_targets.runner import run_lava_mcc
    from spiking_mcc.io import ensure_dir, write_json

    start = time.perf_counter()
    if not 1 <= timesteps <= MAX_TIMESTEPS:
        raise ParameterError(f"--timesteps must be an integer in [1, {MAX_TIMESTEPS}] for an MCC network, "
                             f"got {timesteps}")
    network = load_mcc_network(model_path)
    check_law(network.law, str(model_path))
    graph = two_stream_graph(network)
    data = load_av_data(dataset, network.n_audio, seed)
    x = {k: v[:samples] for k, v in data.test.items()}
    y = np.asarray(data.y_test)[:samples]
    twopoint_spiking.check_inputs(graph, x, f"{data.name} test data")
    snn = twopoint_spiking.calibrate(graph, data.calibration, threshold, timesteps)
    units = mcc_engine.unit_network(snn, timesteps, mode, data.calibration)
    out = ensure_dir(out_dir) if out_dir is not None else None
    mcc_hardware.validate_run(units, x, timesteps)
    map_cores(mapping_layers(units), None)  # the network fits one chip (2 compartments per neuron), or raise
    t0 = time.perf_counter()
    engine = mcc_engine.run_units(units, x, [timesteps])[0]
    engine_s = time.perf_counter() - t0
    lava = run_lava_mcc(units, x, timesteps, timeout_s=timeout_s, progress=progress)

    populations = sorted(engine["counts"])
    engine_window = {p: engine["counts"][p].sum(axis=1) for p in populations}
    engine_neuron = {p: engine["counts"][p].sum(axis=0) for p in populations}
    equal = all(np.array_equal(engine_window[p], lava.window_counts[p]) and
                np.array_equal(engine_neuron[p], lava.neuron_counts[p]) for p in populations)
    engine_predictions = engine["readout"].argmax(axis=1)
    result = lava_result(snn, units, lava, timesteps)
    workloads = mcc_engine.workloads(snn, [result], "mcc")
    snn_workload = next(w for w in workloads if w["kind"] == "snn")
    mapping = map_cores(mapping_layers(units), spikes_per_neuron(units, lava, len(y)))
    snn_workload = {**snn_workload, "name": f"snn-lava-{mode}", "source": f"Lava {mode} spike counts",
                    "mapping": {k: mapping[k] for k in ("method", *MAPPING_NUMBERS)}}
    per_layer = [{"layer": p, "compartment": "soma" if p.endswith("_y") else "receptive field",
                  "neurons": int(len(lava.neuron_counts[p])),
                  "spikes_per_sample_lava": float(np.mean(lava.window_counts[p])),
                  "spikes_per_sample_engine": float(np.mean(engine_window[p])),
                  "firing_rate_lava": float(np.mean(lava.window_counts[p])) / (len(lava.neuron_counts[p])
                                                                                 * timesteps),
                  "neuron_counts_lava": lava.neuron_counts[p]} for p in populations]
    report = {
        "model": str(model_path), "model_kind": "mcc", "law": network.law, "data": data.name,
        "samples": int(len(y)), "timesteps": int(timesteps), "mode": mode, "seed": int(seed),
        "threshold": threshold, "compartments": mcc_hardware.compartments(units),
        "accuracy_rate": float(np.mean(twopoint_spiking.ann_predict(graph, x) == y)),
        "accuracy_lava": float(np.mean(lava.predictions == y)),
        "accuracy_engine": float(np.mean(engine_predictions == y)),
        "spike_counts_equal": bool(equal),
        "output_equal": bool(np.array_equal(engine["readout"], lava.output)) if mode == "fixed" else None,
        "prediction_agreement": float(np.mean(engine_predictions == lava.predictions)),
        "cores_used": mapping.get("cores_used"), "intercore_spikes": mapping.get("intercore_spikes"),
        "mapping": mapping, "wall_s": None, "lava_wall_s": lava.wall_s, "lava_timings": lava.timings,
        "engine_s": engine_s, "per_layer": per_layer,
        "quantisation": [{"layer": u.name, "weight_exp": u.rf.exp, "ctx_shift": u.params.ctx_shift,
                          "vth_soma": int(np.max(u.params.vth_s)), "vth_rf": int(np.max(u.params.vth_q)),
                          "scale": u.scale} for u in units.units] if mode == "fixed" else [],
        "workloads": [snn_workload],
    }
    report["wall_s"] = time.perf_counter() - start
    if out is not None:
        write_json(Path(out) / "loihi.json", report)
        plot_report(report, Path(out) / "loihi_counts.png")
    return report
