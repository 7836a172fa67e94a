"""Batched numpy simulation of converted two-point (MCC) networks: both streams, context exchange, readout.

The network runs as populations of the spiking two-point unit (:mod:`conversion.twopoint_unit`) built by
:mod:`conversion.mcc_hardware` from a calibrated :class:`conversion.ir.SpikingNetwork`, in float
(``mode="float"``) or bit-accurate Loihi integer arithmetic (``mode="fixed"``, what Lava's ``fixed_pt``
models compute spike for spike). Local step t of a sample, layer by layer:

- layer 0 gets its analog input every step (direct encoding: W x, or graded 8-bit spikes in fixed point);
  a deeper layer gets the soma spikes of the previous layer from the same step;
- every unit gets as context the receptive-field spikes of step t - 1 of both streams of its layer (one
  synaptic step: Lava's ``Dense`` delays by one step, and the other delays are absorbed by shifting each
  layer's window by its depth, as in :mod:`loihi_targets.lava_mcc_graph`);
- the readout accumulates the classifier current of the last somata plus bias; the prediction is its
  argmax.

Synaptic events per sample are spikes x fan-out (non-zero synapses from each spiking neuron into each
weighted node). A Dense ``{s}{l}_r`` that shares its source and weights with a TwoPoint's receptive field
is the same set of synapses (the unit's basal compartment), so its events and MACs are counted once.
"""

from __future__ import annotations

import numpy as np

from conversion import mcc_hardware
from conversion.engine import SimulationResult
from conversion.ir import Dense, Graph, ReLU, SpikingNetwork, TwoPoint
from conversion.mcc_hardware import Synapses, UnitNetwork
from conversion.twopoint_spiking import (
    ann_forward,
    check_graph,
    check_inputs,
    shared_receptive_fields,
    soma_populations,
)
from conversion.twopoint_unit import ACT_SHIFT, reset_state, unit_step
from spiking_mcc.errors import ParameterError
from spiking_mcc.limits import check_timesteps
from spiking_mcc.workload import LayerWorkload, Workload

MODES = ("float", "fixed")


def _weights_from(graph: Graph, name: str, source: str) -> np.ndarray:
    node = graph.nodes[name]
    if isinstance(node, TwoPoint):
        return node.context_weights.get(source, node.rf_weight)
    return node.weight


def fanouts(graph: Graph) -> dict[str, dict[str, np.ndarray]]:
    """Event group -> {spiking source population -> non-zero synapses per source neuron (n_source,)}.

    Groups: ``{node}`` for a weighted node's receptive-field / feed-forward input and ``{node}_context``
    for a TwoPoint's context input (the shared ``_r`` Dense nodes have none: see module docstring)."""
    shared = shared_receptive_fields(graph)
    spiking = set(graph.populations())
    maps: dict[str, dict[str, np.ndarray]] = {}
    for name, node in graph.layers_in_order():
        if not isinstance(node, (Dense, TwoPoint)) or name in shared:
            continue
        context = node.context_weights if isinstance(node, TwoPoint) else {}
        for group, sources in ((name, [s for s in graph.predecessors(name) if s not in context]),
                               (f"{name}_context", list(context))):
            if group == name or sources:
                maps[group] = {s: (_weights_from(graph, name, s) != 0).sum(axis=0).astype(np.float64)
                               for s in sources if s in spiking}
    return maps


# -- simulation -------------------------------------------------------------------------------------------
def _current(syn: Synapses, spikes: np.ndarray, fixed: bool) -> np.ndarray:
    """Input through one set of synapses: real current, or the Lava Dense output (W_m s) << exp."""
    if not fixed:
        return spikes @ syn.weight.T
    acc = spikes.astype(np.int64) @ syn.weight.T
    return np.left_shift(acc, syn.exp) if syn.exp > 0 else np.right_shift(acc, -syn.exp)


def run_units(net: UnitNetwork, inputs: dict[str, np.ndarray], steps: list[int],
              batch_size: int = 500) -> list[dict]:
    """Simulate a unit network; per T in `steps`: {"counts": {population: (N, neurons) int64} for every
    soma and receptive-field population, "readout": (N, classes) accumulated readout (integer units
    for fixed)}."""
    n = len(next(iter(inputs.values())))
    parts = [_run_batch(net, {k: v[i:i + batch_size] for k, v in inputs.items()}, steps)
             for i in range(0, n, batch_size)]
    merged = []
    for k in range(len(steps)):
        counts = {p: np.concatenate([part[k]["counts"][p] for part in parts]) for p in parts[0][k]["counts"]}
        merged.append({"counts": counts, "readout": np.concatenate([part[k]["readout"] for part in parts])})
    return merged


def _run_batch(net: UnitNetwork, inputs: dict[str, np.ndarray], steps: list[int]) -> list[dict]:
    fixed = net.fixed
    n = len(next(iter(inputs.values())))
    graded = mcc_hardware.check_inputs(net, inputs) if fixed else inputs
    constant = {u.name: _current(u.rf, graded[u.rf.source], fixed)
                for u in net.units if u.rf.source in graded}
    state = {u.name: reset_state(u.params, (n, u.n)) for u in net.units}
    counts = {p: np.zeros((n, u.n), np.int64) for u in net.units for p in (u.soma, u.rf_pop) if p}
    q_prev = {u.rf_pop: np.zeros((n, u.n), bool) for u in net.units if u.rf_pop}
    n_classes = net.readout.sources[0].weight.shape[0]
    readout = np.zeros((n, n_classes), np.int64 if fixed else np.float64)
    units = sorted(net.units, key=lambda u: u.depth)
    snapshots = []
    for t in range(1, steps[-1] + 1):
        soma_now, q_now = {}, {}
        for u in units:
            a_rf = constant[u.name] if u.name in constant else _current(u.rf, soma_now[u.rf.source], fixed)
            a_ctx = sum((_current(syn, q_prev[syn.source], fixed) for syn in u.context), np.zeros((n, u.n),
                        readout.dtype))
            state[u.name], q, s = unit_step(u.params, state[u.name], a_rf, a_ctx, t)
            soma_now[u.soma] = s
            counts[u.soma] += s
            if u.rf_pop:
                q_now[u.rf_pop] = q
                counts[u.rf_pop] += q
        drive = sum(_current(syn, soma_now[syn.source], fixed) for syn in net.readout.sources)
        readout += (np.left_shift(drive, ACT_SHIFT) if fixed else drive) + net.readout.bias
        q_prev = q_now
        if t in steps:
            snapshots.append({"counts": {p: c.copy() for p, c in counts.items()}, "readout": readout.copy()})
    return snapshots


def validate_timesteps(timesteps) -> list[int]:
    """The requested T values, sorted, checked once by the project's T rule (spiking_mcc.limits)."""
    return sorted(check_timesteps(list(np.atleast_1d(timesteps))))


def unit_network(net: SpikingNetwork, timesteps: int, mode: str = "float",
                 calibration: dict[str, np.ndarray] | None = None) -> UnitNetwork:
    """The converted network as unit populations for T steps: float, or quantised to Loihi integers
    with the input ranges and drives of `calibration` (per input real samples)."""
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {list(MODES)}, got {mode!r}")
    units = mcc_hardware.from_spiking(net, timesteps)
    if mode == "float":
        return units
    if calibration is None:
        raise ParameterError("mode 'fixed' needs calibration inputs")
    return mcc_hardware.quantize(units, calibration)


def simulate(net: SpikingNetwork, inputs: dict[str, np.ndarray], timesteps: int | list[int],
             batch_size: int = 500, progress: bool = False, mode: str = "float",
             calibration: dict[str, np.ndarray] | None = None) -> list[SimulationResult]:
    """Run the converted network on inputs {input name: (N, features)} for max(timesteps) steps; one
    SimulationResult per requested T (read out after T steps of the same run). mode "fixed" quantises
    for max(timesteps) with the input ranges of `calibration` (default: of `inputs`)."""
    del progress  # one vectorised run; kept for the callers' signature
    steps = validate_timesteps(timesteps)
    graph = net.graph
    check_graph(graph)
    inputs = check_inputs(graph, inputs)
    units = unit_network(net, steps[-1], mode, calibration or inputs)
    runs = run_units(units, inputs, steps, batch_size)
    maps = fanouts(graph)
    ann = ann_forward(graph, inputs)[0]
    n = len(next(iter(inputs.values())))
    analog = {name: float(_weights_from(graph, name, graph.rf_source(name)).size) for name in maps
              if name in graph.nodes and graph.rf_source(name) in graph.inputs}
    results = []
    for t, run in zip(steps, runs):
        counts = run["counts"]
        spikes = {p: c.sum(axis=1).astype(np.float64) for p, c in counts.items()}
        events = {group: sum((counts[s] @ fan for s, fan in sources.items()), np.zeros(n))
                  for group, sources in maps.items()}
        rates = {p: float(c.sum() / (c.size * t)) for p, c in counts.items()}
        errors = {}
        for p, c in counts.items():
            estimate = c / t * np.broadcast_to(net.output_scale[p], c.shape[1:])
            den = float(np.sum(ann[p] ** 2))
            errors[p] = float(np.sqrt(np.sum((ann[p] - estimate) ** 2) / den)) if den > 0 else 0.0
        readout = mcc_hardware.readout_to_real(units, run["readout"])
        results.append(SimulationResult(t, readout.argmax(axis=1), readout, spikes, events, rates, errors,
                                        analog))
    return results


# -- energy workloads -------------------------------------------------------------------------------------
def workloads(net: SpikingNetwork, results: list[SimulationResult], model: str) -> list[dict]:
    """Energy workloads (spiking_mcc.workload): one "ann" (dense MACs incl. context) and one "snn" per T.

    A two-point layer gives two entries: ``{name}`` (basal compartment and soma: receptive-field MACs and
    events, somatic spikes) and ``{name}_context`` (apical compartment: context MACs and events, the
    receptive-field spikes that carry the context); each counts as one compartment."""
    graph = net.graph
    maps = fanouts(graph)
    shared = shared_receptive_fields(graph)
    somata = {tp: pop for pop, tp in soma_populations(graph).items()}

    def mean_fan_out(population: str | None) -> float:
        if population is None:
            return 0.0
        return float(sum(np.mean(s[population]) for s in maps.values() if population in s))

    base = []
    for group in maps:
        name = group.removesuffix("_context")
        node = graph.nodes[name]
        if group == name:
            weight = node.rf_weight if isinstance(node, TwoPoint) else node.weight
            after = graph.successors(name)
            population = somata.get(name) or (after[0] if after and isinstance(graph.nodes[after[0]], ReLU)
                                              else None)
            rf = graph.rf_source(name)
            entry = {"fan_in": int(weight.shape[1]), "macs": float(weight.size),
                     "analog_input": rf in graph.inputs}
        else:
            weight = node.rf_weight
            population = next((graph.successors(d)[0] for d, tp in shared.items() if tp == name), None)
            entry = {"fan_in": int(sum(w.shape[1] for w in node.context_weights.values())),
                     "macs": float(sum(w.size for w in node.context_weights.values())), "analog_input": False}
        base.append({"name": group, "neurons": int(weight.shape[0]), **entry,
                     "fan_out": mean_fan_out(population), "compartments": 1, "_population": population})

    def public(entry: dict, **numbers) -> dict:
        return {k: v for k, v in entry.items() if not k.startswith("_")} | numbers

    out = [Workload("ann", model, "ann", 1,
                    tuple(LayerWorkload(**public(b, synaptic_events=0.0, spikes=0.0, analog_input=True))
                          for b in base))]
    for result in results:
        layers = tuple(LayerWorkload(**public(
            b, synaptic_events=float(np.mean(result.synaptic_events[b["name"]])),
            spikes=float(np.mean(result.spikes[b["_population"]]))
            if b["_population"] else 0.0))
                       for b in base)
        out.append(Workload(f"snn-T{result.timesteps}", model, "snn", result.timesteps, layers))
    return [w.to_dict() for w in out]
