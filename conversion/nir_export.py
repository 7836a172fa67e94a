"""NIR export (HDF5 via ``nir.write``) of converted point-neuron networks, folded so that the libraries
users run (snnTorch, Norse, sinabs, SpikingJelly) load it. See docs/conversion.md, section "NIR".

Folding keeps the maths exact: the threshold of every population and of the counts readout, and the value
a spike carries, are folded into the weights and biases around it (threshold 1, spike value 1: one
threshold per layer); average pooling is written as ``SumPool2d`` with ``1/k^2`` folded into the next
weights (Norse and sinabs read only SumPool2d), or with ``pool="avg"`` as ``AvgPool2d`` (snnTorch and
SpikingJelly read only AvgPool2d). A factor that cannot be folded (a per-neuron value across a
convolution or pooling window) stays as a ``Scale`` node, reported as lossy for readers without ``Scale``.

Nodes: Dense -> ``Affine``; Conv2d -> ``Conv2d`` (with ``input_shape``); AvgPool2d -> ``SumPool2d``
(or ``AvgPool2d``); MaxPool2d -> the same, read as an average (metadata ``pool = "max"``); Flatten ->
``Flatten``
(``start_dim = 0``: NIR shapes have no batch axis); population -> ``IF(r = 1, v_threshold = 1,
v_reset = 0)`` or, with a leak, ``LIF(tau = dt/leak, r = tau/dt, v_leak = 0)`` with dt = 1e-4 (snnTorch's
convention); readout "counts" -> a final ``IF``; readout "membrane" -> the last layer feeds ``Output``
directly (the prediction is the argmax of the output summed over the time steps). Names are sanitised to
``[A-Za-z0-9_]`` (``nir.write`` turns ``/`` into nested HDF5 groups).

What NIR cannot state: reset by subtraction (NIR neurons reset to ``v_reset``), an initial membrane other
than 0, Poisson input encoding, max pooling. The default export writes them as graph and node metadata
(this project's reader restores them) and lists them as lossy; ``exact=True`` refuses them, so the file
states exactly the network that was simulated (reset to zero, initial membrane 0, analog input).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, MaxPool2d, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError

FORMAT = "spiking-mcc/converted-v2"
POOLS = ("sum", "avg")  # how average pooling is written: SumPool2d (1/k^2 folded) or AvgPool2d
LIF_DT = 1e-4  # snnTorch's implied dt: LIF(tau = dt / (1 - beta), r = tau / dt)


@dataclass
class NirExport:
    """The NIR graph and what it does not state exactly (one line per lossy item; empty when exact)."""

    graph: object
    lossy: list[str] = field(default_factory=list)


def sanitise(name: str, taken: set[str]) -> str:
    """A NIR node name nir.write/nir.read keep flat: [A-Za-z0-9_], unique, not 'input'/'output'."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "node"
    candidate, k = base, 1
    while candidate in taken or candidate in ("input", "output"):
        candidate = f"{base}_{k}"
        k += 1
    taken.add(candidate)
    return candidate


def _is_chain(net: SpikingNetwork) -> bool:
    graph = net.graph
    if len(graph.inputs) != 1 or len(graph.outputs) != 1 or graph.outputs[0] != graph.order[-1]:
        return False
    return all(len(graph.predecessors(n)) == 1 for n in graph.order)


class _Folder:
    """Walks a chain, writing NIR node parameters, with a pending factor on the stream:
    value in the original network = factor * value in the written network."""

    def __init__(self, net: SpikingNetwork):
        self.net = net
        self.entries: list[list] = []  # [kind, ir name, params dict]
        self.factor = np.asarray(1.0)
        self.since_weighted: list[tuple[str, tuple]] = []  # (kind, input shape) since the last weights
        self.weighted: int | None = None
        self.scales: list[str] = []

    def _to_channel(self, g: np.ndarray, shape: tuple) -> np.ndarray | None:
        full = np.broadcast_to(g, shape)
        per_channel = full[:, :1, :1]
        return per_channel if np.array_equal(full, np.broadcast_to(per_channel, shape)) else None

    def absorb_back(self, g: np.ndarray, shape: tuple) -> bool:
        """Multiply the written stream (of `shape`) by g by scaling the rows of the last weighted layer."""
        g = np.asarray(g, dtype=np.float64)
        if np.all(g == 1.0):
            return True
        if self.weighted is None:
            return False
        current = np.broadcast_to(g, shape)
        for kind, in_shape in reversed(self.since_weighted):
            if kind == "flatten":
                current = current.reshape(in_shape)
            else:  # pooling commutes with a per-channel factor only
                current = self._to_channel(current, current.shape)
                if current is None:
                    return False
                current = np.broadcast_to(current, in_shape)
        params = self.entries[self.weighted][2]
        if self.entries[self.weighted][0] == "dense":
            rows = current.reshape(-1)
            params["weight"] = params["weight"] * rows[:, None]
            params["bias"] = params["bias"] * rows
            return True
        rows = self._to_channel(current, current.shape)
        if rows is None:
            return False
        params["weight"] = params["weight"] * rows.reshape(-1, 1, 1, 1)
        params["bias"] = params["bias"] * rows.reshape(-1)
        return True

    def scale_node(self, name: str, g: np.ndarray, shape: tuple) -> None:
        self.entries.append(["scale", name + "_scale", {"scale": np.broadcast_to(g, shape).astype(float)}])
        self.scales.append(name)

    def settle(self, name: str, g: np.ndarray, shape: tuple) -> None:
        """Make the written stream exactly g times itself: fold backwards, else a Scale node."""
        if not self.absorb_back(g, shape):
            self.scale_node(name, g, shape)

    def weights(self, name: str, node, in_shape: tuple) -> None:
        factor = np.broadcast_to(self.factor, in_shape)
        if isinstance(node, Dense):
            params = {"weight": node.weight * factor.reshape(-1)[None, :], "bias": np.array(node.bias, float)}
            kind = "dense"
        else:
            per_channel = self._to_channel(factor, in_shape)
            if per_channel is None:
                self.scale_node(name, factor, in_shape)
                per_channel = np.ones((in_shape[0], 1, 1))
            params = {"weight": node.weight * per_channel.reshape(1, -1, 1, 1),
                      "bias": np.array(node.bias, float), "stride": node.stride, "padding": node.padding,
                      "input_shape": tuple(in_shape[1:])}
            kind = "conv"
        self.entries.append([kind, name, params])
        self.weighted = len(self.entries) - 1
        self.since_weighted = []
        self.factor = np.asarray(1.0)

    def neurons(self, name: str, shape: tuple, v_th: np.ndarray, leak: float, meta: dict) -> None:
        self.settle(name, self.factor / v_th, shape)
        self.entries.append(["neuron", name, {"shape": shape, "leak": leak, "meta": meta}])
        self.since_weighted.append(("neuron", shape))
        self.weighted = None  # a spiking layer stops folding backwards


def _fold(net: SpikingNetwork, lossy: list[str], pool: str) -> list[list]:
    graph = net.graph
    folder = _Folder(net)
    for name in graph.order:
        node = graph.nodes[name]
        shape, in_shape = graph.shapes[name], graph.input_shape(name)
        if isinstance(node, (Dense, Conv2d)):
            folder.weights(name, node, in_shape)
        elif isinstance(node, (AvgPool2d, MaxPool2d)):
            if isinstance(node, MaxPool2d):
                lossy.append(f"layer '{name}': NIR has no max pooling; written as average pooling "
                             "(SumPool2d, metadata pool=max)")
            folder.entries.append(["pool", name, {"kernel": node.kernel, "stride": node.stride,
                                                  "padding": node.padding,
                                                  "max": isinstance(node, MaxPool2d), "avg": pool == "avg"}])
            folder.since_weighted.append(("pool", in_shape))
            if pool == "sum":
                folder.factor = folder.factor / float(np.prod(node.kernel))
        elif isinstance(node, Flatten):
            folder.entries.append(["flatten", name, {"input_shape": in_shape}])
            folder.since_weighted.append(("flatten", in_shape))
            if folder.factor.ndim:
                folder.factor = np.broadcast_to(folder.factor, in_shape).reshape(-1)
        elif isinstance(node, ReLU):
            meta = {} if node.max is None else {"clip_max": float(node.max)}
            folder.neurons(name, shape, net.v_th[name], net.leak, meta)
            folder.factor = np.asarray(net.output_scale[name], dtype=np.float64)
        else:
            raise ModelError(f"layer '{name}': {type(node).__name__} cannot be exported to NIR")
    out = graph.outputs[0]
    if net.readout == "counts":
        folder.neurons(out + "_spikes", graph.shapes[out], np.asarray(net.output_v_th), net.leak, {})
    else:
        folder.settle(out, folder.factor, graph.shapes[out])
    if folder.scales:
        lossy.append(f"Scale nodes kept before {folder.scales} (a per-neuron factor cannot be folded "
                     "across a convolution or pooling window); snnTorch and SpikingJelly cannot read Scale")
    return folder.entries


def _neuron_node(nir, shape: tuple, leak: float, meta: dict):
    ones, zeros = np.ones(shape), np.zeros(shape)
    if leak:
        tau = LIF_DT / leak
        return nir.LIF(tau * ones, tau / LIF_DT * ones, zeros.copy(), ones.copy(), zeros.copy(),
                       metadata=meta)
    return nir.IF(ones.copy(), ones.copy(), zeros.copy(), metadata=meta)


def to_nir(net: SpikingNetwork, exact: bool = False, pool: str = "sum") -> NirExport:
    """SpikingNetwork -> folded nir.NIRGraph and the list of what it does not state exactly.

    exact: refuse anything NIR cannot state (reset by subtraction, initial membrane, Poisson input, max
    pooling) with a ModelError, so that the file is exactly the simulated network. pool: "sum" writes
    SumPool2d, "avg" AvgPool2d."""
    import nir

    if pool not in POOLS:
        raise ModelError(f"NIR pooling must be one of {POOLS}, got {pool!r}")
    lossy: list[str] = []
    if not _is_chain(net):
        raise ModelError("NIR export handles chains (one input, one predecessor per layer); this graph has "
                         "branches or Add nodes")
    if net.reset == "subtract":
        lossy.append("reset by subtraction: NIR neurons reset to v_reset (written 0); metadata "
                     "reset_mode=subtract (read by spiking-mcc; sinabs subtracts, snnTorch IF subtracts, "
                     "Norse and SpikingJelly reset to zero)")
    if net.init_membrane_fraction:
        lossy.append(f"initial membrane {net.init_membrane_fraction:g} x threshold: NIR starts every "
                     "membrane at 0; metadata init_membrane_fraction (read by spiking-mcc only)")
    if net.encoding == "poisson":
        lossy.append("Poisson input encoding: NIR states the analog input; metadata encoding=poisson")
    entries = _fold(net, lossy, pool)
    if exact and lossy:
        raise ModelError("exact NIR export impossible: " + "; ".join(lossy) + " (convert with --reset zero "
                         "--init-membrane 0 --encoding analog and no max pooling)")
    taken: set[str] = set()
    input_shape = net.graph.inputs[next(iter(net.graph.inputs))]
    nodes = {"input": nir.Input({"input": np.array(input_shape)})}
    previous = "input"
    edges = []
    reset_meta = {"reset_mode": net.reset}
    for kind, name, p in entries:
        key = sanitise(name, taken)
        if kind == "dense":
            nodes[key] = nir.Affine(np.asarray(p["weight"], float), np.asarray(p["bias"], float))
        elif kind == "conv":
            nodes[key] = nir.Conv2d(p["input_shape"], np.asarray(p["weight"], float), p["stride"],
                                    p["padding"], 1, 1, np.asarray(p["bias"], float))
        elif kind == "pool":
            cls = nir.AvgPool2d if p["avg"] else nir.SumPool2d
            nodes[key] = cls(np.array(p["kernel"]), np.array(p["stride"]), np.array(p["padding"]),
                             metadata={"pool": "max"} if p["max"] else {})
        elif kind == "flatten":
            nodes[key] = nir.Flatten({"input": np.array(p["input_shape"])}, 0, -1)
        elif kind == "scale":
            nodes[key] = nir.Scale(p["scale"])
        else:
            nodes[key] = _neuron_node(nir, p["shape"], p["leak"], dict(reset_meta, **p["meta"]))
        edges.append((previous, key))
        previous = key
    out_shape = net.graph.shapes[net.graph.outputs[0]]
    nodes["output"] = nir.Output({"output": np.array(out_shape)})
    edges.append((previous, "output"))
    metadata = {"format": FORMAT, "reset": net.reset, "leak": float(net.leak),
                "init_membrane_fraction": float(net.init_membrane_fraction), "encoding": net.encoding,
                "readout": net.readout, "input_scale": float(net.input_scale),
                "threshold_method": net.threshold_method, "dt": LIF_DT if net.leak else 1.0,
                "readout_rule": "argmax of the Output summed over time steps" if net.readout == "membrane"
                else "argmax of the output spike counts", "lossy": "; ".join(lossy) or "none"}
    return NirExport(nir.NIRGraph(nodes, edges, metadata=metadata), lossy)


def write_nir(net: SpikingNetwork, path: str | os.PathLike, exact: bool = False,
              pool: str = "sum") -> list[str]:
    """Write the folded network as a NIR HDF5 file through the project's atomic writer; returns the lossy
    items (see :func:`to_nir`)."""
    import nir

    from spiking_mcc.io import atomic_write

    export = to_nir(net, exact, pool)
    atomic_write(Path(path), lambda handle: nir.write(handle, export.graph))
    return export.lossy


def read_nir(path: str | os.PathLike, dt: float | None = None, reset: str | None = None) -> SpikingNetwork:
    """Read a NIR file (this project's or another library's) into a SpikingNetwork; see
    :func:`conversion.importers.nir_import.read_nir_network`."""
    from conversion.importers.nir_import import read_nir_network

    return read_nir_network(path, dt=dt, reset=reset).net
