r"""Converted MCC networks: graph checks, the rate (ANN) forward pass, the unit layout, calibration.

The spiking two-point unit itself is :mod:`conversion.twopoint_unit`; its populations are built by
:mod:`conversion.mcc_hardware` from the :class:`Layout` below and run by :mod:`conversion.mcc_engine`,
:mod:`conversion.mcc_brian` and Lava (:mod:`loihi_targets.lava_mcc_graph`).

Layout of a two-point graph (:func:`conversion.importers.mcc.two_stream_graph`): each TwoPoint node
``{s}{l}`` with its soma population ``{s}{l}_y`` (the ReLU after it) is one population of units; the Dense
``{s}{l}_r`` that shares its source, weights and bias with the unit's receptive field and its ReLU
``{s}{l}_q`` are the unit's basal compartment firing the receptive-field spikes that carry Q = relu(R) to
the context of the units of the same layer; the Dense nodes reading somata into the output are the
readout.

Calibration (:func:`calibrate`): per population a threshold :math:`\theta` (``v_th``) and output value
:math:`\beta` (``output_scale``) with :func:`conversion.thresholds.compute_thresholds` (the one
calibrator of every network kind): on R for receptive-field populations and on A = f(R, C) for somata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion import ops, thresholds
from conversion.ir import Add, Dense, Graph, ReLU, SpikingNetwork, TwoPoint
from conversion.thresholds import DEFAULT_PERCENTILE
from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.twopoint.transfer import LAWS

SUPPORTED_NODES = (Dense, ReLU, TwoPoint, Add)


# -- graph checks and the rate (ANN) forward pass --------------------------------------------------------
def check_graph(graph: Graph) -> None:
    """The spiking MCC engines run Dense, ReLU, TwoPoint and Add nodes; every TwoPoint feeds one ReLU."""
    for name, node in graph.layers_in_order():
        if not isinstance(node, SUPPORTED_NODES):
            raise ModelError(f"layer '{name}': {type(node).__name__} is not supported by the two-point "
                             f"spiking engines (Dense, ReLU, TwoPoint, Add)")
        if isinstance(node, TwoPoint):
            after = graph.successors(name)
            if len(after) != 1 or not isinstance(graph.nodes[after[0]], ReLU):
                raise ModelError(f"layer '{name}': a two-point layer must feed exactly one ReLU population, "
                                 f"got {after}")
            if ops.LAW_ALIASES.get(node.law, node.law) not in LAWS:
                raise ModelError(f"layer '{name}': unknown two-point law '{node.law}'")
        if isinstance(node, ReLU) and node.max is not None:
            raise ModelError(f"layer '{name}': clipped ReLU is not supported by the two-point engines")
    if len(graph.outputs) != 1:
        raise ModelError(f"the two-point engines need exactly one output, got {graph.outputs}")


def check_inputs(graph: Graph, inputs: dict[str, np.ndarray], where: str = "data") -> dict[str, np.ndarray]:
    """Inputs per graph input name -> float arrays (N, features); DataError naming the array if not."""
    missing = [k for k in graph.inputs if k not in inputs]
    if missing:
        raise DataError(f"{where}: missing input array(s) {missing}; the model expects {list(graph.inputs)}")
    out, n_samples = {}, None
    for name, shape in graph.inputs.items():
        x = np.asarray(inputs[name], dtype=np.float64)
        n_features = int(np.prod(shape))
        if x.ndim != 2 or x.shape[1] != n_features:
            raise DataError(f"{where} '{name}': samples have shape {x.shape[1:]} but the model input "
                            f"'{name}' expects ({n_features},)")
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where} '{name}': contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")
        if n_samples is not None and len(x) != n_samples:
            raise DataError(f"{where} '{name}': {len(x)} samples, but other inputs have {n_samples}")
        n_samples = len(x)
        out[name] = x
    if not n_samples:
        raise DataError(f"{where}: no samples")
    return out


def ann_forward(graph: Graph, inputs: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """Rate (ANN) forward pass of a multi-input graph: (values, pre-activations of every ReLU)."""
    return ops.forward_values(graph, inputs)


def ann_predict(graph: Graph, inputs: dict[str, np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """Class predictions of the rate network (argmax of the output)."""
    inputs = check_inputs(graph, inputs)
    n = len(next(iter(inputs.values())))
    out = graph.outputs[0]
    preds = [ann_forward(graph, {k: v[i:i + batch_size] for k, v in inputs.items()})[0][out].argmax(axis=1)
             for i in range(0, n, batch_size)]
    return np.concatenate(preds)


# -- unit layout ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitPlan:
    """One population of two-point units: TwoPoint node, soma population, receptive-field population
    (None without context role), receptive-field source (input or soma of the previous layer), depth."""

    name: str
    soma: str
    rf_pop: str | None
    rf_source: str
    depth: int


@dataclass(frozen=True)
class Layout:
    """units in graph order; readouts: (Dense node, soma population it reads) into the single output."""

    units: tuple[UnitPlan, ...]
    readouts: tuple[tuple[str, str], ...]


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


def layout(graph: Graph) -> Layout:
    """The unit populations and readout of a two-point graph; ModelError naming the layer if the graph
    is not that layout (context only from receptive-field populations of the same layer, Dense only as
    shared receptive fields or readout, Add only as the output)."""
    check_graph(graph)
    shared = shared_receptive_fields(graph)
    somata = soma_populations(graph)
    rf_pop_of = {tp: graph.successors(d)[0] for d, tp in shared.items()}
    owner = {pop: tp for tp, pop in rf_pop_of.items()}
    units: list[UnitPlan] = []
    depth: dict[str, int] = {}
    for name, node in graph.layers_in_order():
        if not isinstance(node, TwoPoint):
            continue
        source = graph.rf_source(name)
        if source not in graph.inputs and source not in somata:
            raise ModelError(f"layer '{name}': its receptive field must read an input or a two-point soma, "
                             f"got '{source}'")
        depth[name] = 0 if source in graph.inputs else depth[somata[source]] + 1
        units.append(UnitPlan(name, graph.successors(name)[0], rf_pop_of.get(name), source, depth[name]))
    for unit in units:
        for s in graph.nodes[unit.name].context_weights:
            if s not in owner or depth[owner[s]] != unit.depth:
                raise ModelError(f"layer '{unit.name}': context source '{s}' must be a receptive-field "
                                 "population of the same layer")
    readouts = []
    output = graph.outputs[0]
    for name, node in graph.layers_in_order():
        if isinstance(node, Dense) and name not in shared:
            source = graph.predecessors(name)[0]
            if source not in somata or graph.successors(name) not in ([output], []):
                raise ModelError(f"layer '{name}': Dense layers are supported only as the readout of "
                                 "two-point populations")
            readouts.append((name, source))
        elif isinstance(node, ReLU) and name not in somata and name not in owner:
            raise ModelError(f"layer '{name}': ReLU population outside a two-point unit")
        elif isinstance(node, Add) and name != output:
            raise ModelError(f"layer '{name}': Add is supported only as the output")
    return Layout(tuple(units), tuple(readouts))


# -- calibration ------------------------------------------------------------------------------------------
def calibrate(graph: Graph, inputs_calib: dict[str, np.ndarray], method: str = "distribution",
              timesteps: int = 16, percentile: float = DEFAULT_PERCENTILE, init_fraction: float = 0.5,
              granularity: str = "layer") -> SpikingNetwork:
    """Thresholds (theta = alpha) and output values (beta) of every population -> SpikingNetwork, with
    the one calibrator of every network kind (:func:`conversion.thresholds.compute_thresholds`)."""
    if int(timesteps) < 1:
        raise ParameterError(f"timesteps must be >= 1, got {timesteps}")
    check_graph(graph)
    inputs_calib = check_inputs(graph, inputs_calib, "calibration data")
    v_th, scale, _ = thresholds.compute_thresholds(graph, inputs_calib, method, int(timesteps), percentile,
                                                   init_fraction, granularity)
    return SpikingNetwork(graph, v_th, scale, reset="subtract", init_membrane_fraction=init_fraction,
                          encoding="analog", readout="membrane", threshold_method=method)
