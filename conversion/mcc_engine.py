"""Batched numpy simulation of converted two-point (MCC) networks: both streams, context exchange, readout.

Reads a :class:`conversion.ir.SpikingNetwork` whose graph holds Dense, ReLU, TwoPoint and Add nodes and
any number of analog inputs (:mod:`conversion.importers.mcc` builds it, :func:`conversion.twopoint_spiking.
calibrate` fits its thresholds). Each step walks the graph in topological order:

- input nodes give their analog values every step (direct encoding); a Dense node that sees only inputs
  is computed once;
- a ReLU after a Dense is an IF population with reset by subtraction (:func:`conversion.engine.if_step`,
  initial membrane f0 theta); in MCC graphs these are the receptive-field (context) populations;
- a TwoPoint node computes its currents R_t (receptive field) and C_t (context from the receptive-field
  spikes of this step); the ReLU after it is the two-point soma
  (:func:`conversion.twopoint_spiking.two_point_step`);
- the output accumulates its input current (readout "membrane"); the prediction is its argmax.

Synaptic events per sample are spikes x fan-out (non-zero synapses from each spiking neuron into each
weighted node). A Dense ``{s}{l}_r`` that shares its source and weights with a TwoPoint's receptive field
is the same set of synapses (the unit's basal compartment), so its events and MACs are counted once.
"""

from __future__ import annotations

import numpy as np

from conversion import ops
from conversion.engine import SimulationResult, if_step
from conversion.ir import Add, Dense, Graph, ReLU, SpikingNetwork, TwoPoint
from conversion.twopoint_spiking import TwoPointState, ann_forward, check_graph, check_inputs, two_point_step
from spiking_mcc.errors import ParameterError


# -- network structure ------------------------------------------------------------------------------------
def shared_receptive_fields(graph: Graph) -> dict[str, str]:
    """Dense node -> TwoPoint node whose receptive field it duplicates (same source, weights and bias)."""
    shared = {}
    for name, node in graph.layers_in_order():
        if not isinstance(node, TwoPoint):
            continue
        rf = graph.rf_source(name)
        for source in node.context_weights:
            before = graph.predecessors(source)
            dense = graph.nodes.get(before[0]) if before else None
            if (isinstance(dense, Dense) and graph.predecessors(before[0]) == [rf]
                    and dense.weight.shape == node.rf_weight.shape
                    and np.array_equal(dense.weight, node.rf_weight)
                    and np.array_equal(dense.bias, node.rf_bias)):
                shared[before[0]] = name
    return shared


def soma_populations(graph: Graph) -> dict[str, str]:
    """ReLU population -> the TwoPoint node it is the soma of."""
    return {graph.successors(n)[0]: n for n, node in graph.layers_in_order() if isinstance(node, TwoPoint)}


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


def _constant_nodes(graph: Graph) -> set[str]:
    constant = set(graph.inputs)
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, (Dense, Add)) and all(p in constant for p in graph.predecessors(name)):
            constant.add(name)
    return constant


# -- simulation -------------------------------------------------------------------------------------------
def _run_batch(net: SpikingNetwork, inputs: dict[str, np.ndarray], steps: list[int],
               maps: dict) -> list[dict]:
    graph = net.graph
    f0 = net.init_membrane_fraction
    n = len(next(iter(inputs.values())))
    somata = soma_populations(graph)
    shared = shared_receptive_fields(graph)
    constant = _constant_nodes(graph)
    cache: dict[str, np.ndarray] = {}
    membrane = {p: np.broadcast_to(f0 * net.v_th[p], (n,) + graph.shapes[p]).copy()
                for p in graph.populations() if p not in somata}
    state = {p: TwoPointState.zeros((n,) + graph.shapes[p]) for p in somata}
    counts = {p: np.zeros((n,) + graph.shapes[p]) for p in graph.populations()}
    output = graph.outputs[0]
    readout = np.zeros((n,) + graph.shapes[output])
    ann = ann_forward(graph, inputs)[0]
    drive: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    snapshots = []
    for t in range(1, steps[-1] + 1):
        values: dict[str, np.ndarray] = dict(inputs)
        for name in graph.order:
            node = graph.nodes[name]
            if name in cache:
                values[name] = cache[name]
            elif isinstance(node, TwoPoint):
                rf = graph.rf_source(name)
                own = [d for d, tp in shared.items() if tp == name]
                if own:
                    receptive = values[own[0]]
                elif rf in constant:
                    receptive = cache.setdefault(f"{name}:R", values[rf] @ node.rf_weight.T + node.rf_bias)
                else:
                    receptive = values[rf] @ node.rf_weight.T + node.rf_bias
                context = sum((values[s] @ w.T for s, w in node.context_weights.items()),
                              np.zeros_like(receptive))
                if node.context_bias is not None:
                    context = context + node.context_bias
                drive[name] = (receptive, context)
            elif isinstance(node, ReLU) and name in somata:
                tp = somata[name]
                state[name], spikes = two_point_step(state[name], *drive[tp], graph.nodes[tp].law,
                                                     net.v_th[name], f0)
                counts[name] += spikes
                values[name] = spikes * net.output_scale[name]
            elif isinstance(node, ReLU):
                membrane[name], spikes = if_step(membrane[name], values[graph.predecessors(name)[0]],
                                                 net.v_th[name], 0.0, "subtract")
                counts[name] += spikes
                values[name] = spikes * net.output_scale[name]
            else:
                values[name] = ops.apply_linear(graph, name, values)
                if name in constant:
                    cache[name] = values[name]
        readout += values[output]
        if t in steps:
            snapshots.append(_snapshot(net, t, ann, readout, counts, maps))
    return snapshots


def _snapshot(net: SpikingNetwork, t: int, ann: dict, readout: np.ndarray, counts: dict, maps: dict) -> dict:
    n = len(readout)
    events = {layer: sum((counts[s].reshape(n, -1) @ fan for s, fan in sources.items()), np.zeros(n))
              for layer, sources in maps.items()}
    error_terms = {}
    for p, c in counts.items():
        estimate = c / t * net.output_scale[p]
        error_terms[p] = (float(np.sum((ann[p] - estimate) ** 2)), float(np.sum(ann[p] ** 2)))
    return {"t": t, "predictions": readout.reshape(n, -1).argmax(axis=1), "readout": readout.copy(),
            "spikes": {p: c.reshape(n, -1).sum(axis=1) for p, c in counts.items()}, "events": events,
            "error_terms": error_terms}


def validate_timesteps(timesteps) -> list[int]:
    steps = sorted({int(t) for t in np.atleast_1d(timesteps)})
    if not steps or steps[0] < 1:
        raise ParameterError(f"timesteps must be integers >= 1, got {timesteps}")
    return steps


def simulate(net: SpikingNetwork, inputs: dict[str, np.ndarray], timesteps: int | list[int],
             batch_size: int = 500, progress: bool = False) -> list[SimulationResult]:
    """Run the converted network on inputs {input name: (N, features)} for max(timesteps) steps; one
    SimulationResult per requested T (read out after T steps of the same run)."""
    steps = validate_timesteps(timesteps)
    graph = net.graph
    check_graph(graph)
    inputs = check_inputs(graph, inputs)
    n = len(next(iter(inputs.values())))
    maps = fanouts(graph)
    batches = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc=f"two-point SNN T<={steps[-1]}", unit="batch", leave=False)
    parts = [_run_batch(net, {k: v[i:i + batch_size] for k, v in inputs.items()}, steps, maps)
             for i in batches]
    analog = {name: float(_weights_from(graph, name, graph.rf_source(name)).size) for name in maps
              if name in graph.nodes and graph.rf_source(name) in graph.inputs}
    results = []
    for k, t in enumerate(steps):
        snaps = [part[k] for part in parts]
        spikes = _concatenate(snaps, "spikes")
        rates = {p: float(spikes[p].sum() / (n * np.prod(graph.shapes[p]) * t)) for p in spikes}
        errors = {}
        for p in spikes:
            num, den = (sum(s["error_terms"][p][i] for s in snaps) for i in (0, 1))
            errors[p] = float(np.sqrt(num / den)) if den > 0 else 0.0
        results.append(SimulationResult(t, np.concatenate([s["predictions"] for s in snaps]),
                                 np.concatenate([s["readout"] for s in snaps]), spikes,
                                 _concatenate(snaps, "events"), rates, errors, analog))
    return results


def _concatenate(snapshots: list[dict], key: str) -> dict[str, np.ndarray]:
    return {name: np.concatenate([s[key][name] for s in snapshots]) for name in snapshots[0][key]}


# -- energy workloads -------------------------------------------------------------------------------------
def workloads(net: SpikingNetwork, results: list[SimulationResult], model: str) -> list[dict]:
    """COMMON workloads: one "ann" (dense MACs incl. context) and one "snn" per T.

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

    out = [{"name": "ann", "model": model, "kind": "ann", "timesteps": 1,
            "layers": [public(b, synaptic_events=0.0, spikes=0.0, analog_input=True) for b in base]}]
    for result in results:
        layers = [public(b, synaptic_events=float(np.mean(result.synaptic_events[b["name"]])),
                         spikes=float(np.mean(result.spikes[b["_population"]])) if b["_population"] else 0.0)
                  for b in base]
        out.append({"name": f"snn-T{result.timesteps}", "model": model, "kind": "snn",
                    "timesteps": result.timesteps, "layers": layers})
    return out
