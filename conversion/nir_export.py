"""NIR export (HDF5 via ``nir.write``) of converted point-neuron networks, and the reverse read.

Mapping: Dense -> ``Affine``; Conv2d -> ``Conv2d``; AvgPool2d -> ``AvgPool2d``; MaxPool2d -> ``AvgPool2d``
with metadata ``{"pool": "max"}`` (NIR has no max pool); Flatten -> ``Flatten`` (all per-sample dims);
Add -> ``Scale`` of ones with several incoming edges (NIR sums incoming edges); each ReLU population ->
``IF`` (r = 1, v_threshold = v_th, v_reset = 0, metadata ``reset_mode``) followed by ``Scale`` (the value
``output_scale`` a spike carries). Graph metadata holds the reset mode, leak, initial membrane fraction,
encoding, readout, input scale, output threshold and the threshold method, so :func:`read_nir` rebuilds
the same :class:`~conversion.ir.SpikingNetwork`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion.ir import (
    Add,
    AvgPool2d,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    MaxPool2d,
    ReLU,
    SpikingNetwork,
)
from spiking_mcc.errors import ModelError

NETWORK_KEYS = ("reset", "leak", "init_membrane_fraction", "encoding", "readout", "input_scale",
                "output_v_th", "threshold_method")
SCALE_SUFFIX = ".scale"


def to_nir(net: SpikingNetwork):
    """SpikingNetwork -> nir.NIRGraph."""
    import nir

    graph = net.graph
    nodes: dict = {}
    exit_name: dict[str, str] = {}  # IR node -> NIR node its successors read from
    for name, shape in graph.inputs.items():
        nodes[name] = nir.Input({"input": np.array(shape)})
        exit_name[name] = name
    for name in graph.order:
        node = graph.nodes[name]
        shape = graph.shapes[name]
        in_shape = graph.input_shape(name) if not isinstance(node, Add) else shape
        exit_name[name] = name
        if isinstance(node, Dense):
            nodes[name] = nir.Affine(node.weight, node.bias)
        elif isinstance(node, Conv2d):
            nodes[name] = nir.Conv2d(tuple(in_shape[1:]), node.weight, node.stride, node.padding, 1, 1,
                                     node.bias)
        elif isinstance(node, (AvgPool2d, MaxPool2d)):
            meta = {"pool": "max"} if isinstance(node, MaxPool2d) else {}
            nodes[name] = nir.AvgPool2d(np.array(node.kernel), np.array(node.stride), np.array(node.padding),
                                        metadata=meta)
        elif isinstance(node, Flatten):
            nodes[name] = nir.Flatten({"input": np.array(in_shape)}, 0, -1)
        elif isinstance(node, Add):
            nodes[name] = nir.Scale(np.ones(shape), metadata={"op": "add"})
        elif isinstance(node, ReLU):
            v_th = np.broadcast_to(net.v_th[name], shape).astype(np.float64)
            meta = {"reset_mode": net.reset}
            if node.max is not None:
                meta["clip_max"] = node.max
            nodes[name] = nir.IF(np.ones(shape), v_th.copy(), np.zeros(shape), metadata=meta)
            spike_value = np.broadcast_to(net.output_scale[name], shape).astype(float)
            nodes[name + SCALE_SUFFIX] = nir.Scale(spike_value)
            exit_name[name] = name + SCALE_SUFFIX
        else:
            raise ModelError(f"layer '{name}': {type(node).__name__} cannot be exported to NIR")
    edges = [(exit_name[a], b) for a, b in graph.edges]
    edges += [(name, name + SCALE_SUFFIX) for name in graph.populations()]
    for out in graph.outputs:
        out_name = "output" if out != "output" else "output_"
        nodes[out_name] = nir.Output({"output": np.array(graph.shapes[out])})
        edges.append((exit_name[out], out_name))
    metadata = {key: getattr(net, key) for key in NETWORK_KEYS}
    metadata["format"] = "spiking-mcc/converted-v1"
    return nir.NIRGraph(nodes, edges, metadata=metadata)


def write_nir(net: SpikingNetwork, path: str | os.PathLike) -> Path:
    """Write the converted network as a NIR HDF5 file, through the one atomic writer (spiking_mcc.io)."""
    import nir

    from spiking_mcc.io import atomic_write

    graph = to_nir(net)
    return atomic_write(path, lambda handle: nir.write(handle, graph))


def _meta(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value


def from_nir(nir_graph) -> SpikingNetwork:
    """nir.NIRGraph written by :func:`to_nir` -> SpikingNetwork."""
    import nir

    nodes, edges, inputs, outputs = {}, [], {}, []
    v_th, scale = {}, {}
    rename = {}  # NIR node name -> IR source name (a population's Scale maps to the population)
    for name, node in nir_graph.nodes.items():
        if isinstance(node, nir.Input):
            inputs[name] = tuple(int(d) for d in node.input_type["input"])
        elif isinstance(node, nir.Affine):
            nodes[name] = Dense(node.weight, node.bias, name=name)
        elif isinstance(node, nir.Conv2d):
            nodes[name] = Conv2d(node.weight, node.bias, tuple(node.stride), tuple(node.padding), name=name)
        elif isinstance(node, nir.AvgPool2d):
            cls = MaxPool2d if _meta(node.metadata.get("pool", "")) == "max" else AvgPool2d
            nodes[name] = cls(tuple(node.kernel_size), tuple(node.stride), tuple(node.padding), name=name)
        elif isinstance(node, nir.Flatten):
            nodes[name] = Flatten(name=name)
        elif isinstance(node, nir.IF):
            clip = node.metadata.get("clip_max")
            nodes[name] = ReLU(None if clip is None else float(_meta(clip)), name=name)
            v_th[name] = _compact(node.v_threshold)
        elif isinstance(node, nir.Scale) and _meta(node.metadata.get("op", "")) == "add":
            nodes[name] = Add(name=name)
        elif isinstance(node, nir.Scale) and name.endswith(SCALE_SUFFIX):
            population = name[: -len(SCALE_SUFFIX)]
            scale[population] = _compact(node.scale)
            rename[name] = population
        elif isinstance(node, nir.Output):
            continue
        else:
            raise ModelError(f"NIR node '{name}' ({type(node).__name__}) is not part of a converted network")
    for a, b in nir_graph.edges:
        if isinstance(nir_graph.nodes[b], nir.Output):
            outputs.append(rename.get(a, a))
        elif b not in rename:
            edges.append((rename.get(a, a), b))
    meta = {key: _meta(nir_graph.metadata[key]) for key in NETWORK_KEYS if key in nir_graph.metadata}
    return SpikingNetwork(Graph(nodes, edges, inputs, outputs), v_th, scale, **meta)


def _compact(values: np.ndarray) -> np.ndarray:
    """A per-neuron array back to the smallest form: scalar, per channel (C, 1, 1), or as is."""
    values = np.asarray(values, dtype=np.float64)
    if np.all(values == values.flat[0]):
        return np.asarray(values.flat[0])
    if values.ndim == 3:
        per_channel = values[:, :1, :1]
        if np.all(values == per_channel):
            return per_channel.copy()
    return values


def read_nir(path: str | os.PathLike) -> SpikingNetwork:
    """Read a NIR file written by :func:`write_nir` back into a SpikingNetwork."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: NIR file not found")
    return from_nir(nir.read(path))
