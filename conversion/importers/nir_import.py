"""NIR reader: a NIR graph (this project's export or one written by snnTorch, Norse, sinabs, SpikingJelly)
-> :class:`~conversion.ir.SpikingNetwork`, simulated as given. See docs/conversion.md, section "NIR".

Nodes: Input/Output, Affine, Linear, Conv2d (``input_shape``, no dilation/groups), Flatten (NIR shapes
carry no batch axis: ``start_dim`` 0 and 1 both flatten a whole (C, H, W) sample), SumPool2d/AvgPool2d
(scalar or pair kernel/stride/padding), Scale (folded into the next weights), IF, LIF, CubaLIF (only
with an instantaneous synapse, dt = tau_syn), LI (last node: readout "membrane", leaky).

A graph is a chain. It ends in a spiking layer (readout "counts": argmax of its spike counts) or in an LI
or a weighted layer (readout "membrane": argmax of the summed output). Neuron conventions, per step dt:

- IF: ``v += r dt I``; LIF: ``v = (1 - dt/tau) v + (r dt / tau) I`` with ``v_leak = 0``. Each layer's
  input coefficient and threshold become one threshold per neuron of the engine; ``dt/tau`` is the
  layer's leak.
- dt: ``--dt`` if given, else the graph's ``dt`` metadata (this project), else 1e-4 for LIF/CubaLIF/LI
  (snnTorch's implied dt, ``tau = dt/(1-beta)``, ``r = tau/dt``) and ``1/r`` for IF (SpikingJelly writes
  ``r = 1/dt``, sinabs ``r = 1``).
- reset: ``--reset`` if given, else the ``reset_mode`` metadata (this project), else ``v_reset``'s
  reset to zero. snnTorch writes ``v_reset = 0`` even when it subtracts and sinabs subtracts: pass
  ``--reset subtract`` for their files. ``v_reset`` other than 0, ``v_leak`` other than 0 and per-neuron
  leaks are refused with the node's name.
- initial membrane 0, except this project's ``init_membrane_fraction`` metadata.
- the Input type: leading axes of size 1 beyond what the first layer takes are dropped (sinabs writes
  the sample's time axis, e.g. (1, 64)); a file nir.read rejects for that type mismatch is read
  without nir's type check, and the convention says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError, ParameterError

DEFAULT_LIF_DT = 1e-4
PROJECT_FORMATS = ("spiking-mcc/converted-v1", "spiking-mcc/converted-v2")
RESETS = ("subtract", "zero")


@dataclass
class NirNetwork:
    """The imported network and the conventions applied (one line each, for convert.json)."""

    net: SpikingNetwork
    conventions: list[str] = field(default_factory=list)


def _meta(value):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return value.decode() if isinstance(value, bytes) else value


def _uniform(values, what: str, name: str) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        raise ModelError(f"NIR node '{name}': {what} differs between neurons; the engine has one {what} per "
                         "layer")
    return float(arr.flat[0])


def _pair(value, what: str, name: str) -> tuple[int, int]:
    if isinstance(value, str):
        raise ModelError(f"NIR node '{name}': {what} '{value}' is not supported; write explicit integers")
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    if arr.size == 2:
        return int(arr[0]), int(arr[1])
    raise ModelError(f"NIR node '{name}': {what} {arr.tolist()} is neither a scalar nor a pair")


def _chain(graph) -> list[str]:
    """Node names from Input to Output; refuses branches with the node's name."""
    import nir

    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ModelError(f"NIR graph has {len(inputs)} Input nodes; this reader handles one")
    successors: dict[str, list[str]] = {}
    incoming: dict[str, int] = {}
    for a, b in graph.edges:
        successors.setdefault(a, []).append(b)
        incoming[b] = incoming.get(b, 0) + 1
    for name, count in incoming.items():
        if count > 1:
            raise ModelError(f"NIR node '{name}' has {count} incoming edges; this reader handles chains")
    order = [inputs[0]]
    while not isinstance(graph.nodes[order[-1]], nir.Output):
        nxt = successors.get(order[-1], [])
        if len(nxt) != 1:
            raise ModelError(f"NIR node '{order[-1]}' has {len(nxt)} successors; this reader handles chains")
        if nxt[0] in order:
            raise ModelError(f"NIR graph has a cycle through '{nxt[0]}' (recurrence is not supported)")
        order.append(nxt[0])
    return order


def _per_channel(g: np.ndarray, shape: tuple, name: str, where: str) -> np.ndarray:
    full = np.broadcast_to(g, shape)
    if len(shape) != 3:
        return full
    channel = full[:, :1, :1]
    if not np.array_equal(full, np.broadcast_to(channel, shape)):
        raise ModelError(f"NIR node '{name}': a per-neuron Scale before {where} cannot be folded")
    return channel


class _Reader:
    def __init__(self, graph, dt: float | None, reset: str | None):
        self.graph = graph
        meta = {k: _meta(v) for k, v in graph.metadata.items()}
        self.project = meta.get("format") in PROJECT_FORMATS
        self.meta = meta if self.project else {}
        self.dt_option = dt
        self.reset_option = reset
        self.layers: list = []
        self.v_th: dict = {}
        self.leak: dict = {}
        self.resets: set[str] = set()
        self.factor = np.asarray(1.0)  # value written in NIR = factor * value in the engine
        self.conventions: list[str] = []

    def dt(self, default: float) -> float:
        if self.dt_option is not None:
            return self.dt_option
        if "dt" in self.meta:
            return float(self.meta["dt"])
        return default

    def neuron_reset(self, name: str, node) -> str:
        v_reset = getattr(node, "v_reset", None)
        if v_reset is not None and not np.all(np.asarray(v_reset) == 0):
            raise ModelError(f"NIR node '{name}': v_reset other than 0 is not supported (the engine resets "
                             "to zero or by subtraction)")
        if self.reset_option is not None:
            return self.reset_option
        mode = _meta(node.metadata.get("reset_mode", self.meta.get("reset", "zero")))
        return str(mode)

    def neuron(self, name: str, node, shape: tuple) -> tuple[np.ndarray, float]:
        """Threshold per neuron in engine units and the layer's leak."""
        import nir

        if isinstance(node, nir.IF):
            r = np.asarray(node.r, dtype=np.float64)
            dt = self.dt(1.0 / _uniform(r, "r", name))
            coefficient, leak = r * dt, 0.0
        else:
            if isinstance(node, nir.CubaLIF):
                tau = np.asarray(node.tau_mem, dtype=np.float64)
                dt = self.dt(DEFAULT_LIF_DT)
                syn_decay = 1.0 - dt / _uniform(node.tau_syn, "tau_syn", name)
                if abs(syn_decay) > 1e-9:
                    raise ModelError(f"NIR node '{name}': CubaLIF with synaptic decay 1 - dt/tau_syn = "
                                     f"{syn_decay:.4g} (dt {dt:g}); the engine has no synaptic current state "
                                     "(only tau_syn = dt)")
                coefficient = np.asarray(node.w_in, dtype=np.float64) * np.asarray(node.r) * dt / tau
            else:
                tau = np.asarray(node.tau, dtype=np.float64)
                dt = self.dt(DEFAULT_LIF_DT)
                coefficient = np.asarray(node.r, dtype=np.float64) * dt / tau
            if not np.all(np.asarray(node.v_leak) == 0):
                raise ModelError(f"NIR node '{name}': v_leak other than 0 is not supported")
            leak = dt / _uniform(tau, "tau", name)
            if not 0.0 <= leak < 1.0:
                raise ModelError(f"NIR node '{name}': leak dt/tau = {leak:.4g} (dt {dt:g}) outside "
                                 "[0, 1); pass --dt")
        effective = np.broadcast_to(coefficient * self.factor, shape)
        v_th = np.broadcast_to(np.asarray(node.v_threshold, dtype=np.float64), shape) / effective
        if not np.all(np.isfinite(v_th)) or np.any(v_th <= 0):
            raise ModelError(f"NIR node '{name}': threshold / input coefficient must be finite and > 0")
        return v_th, leak

    def read(self) -> NirNetwork:
        import nir

        order = _chain(self.graph)
        nodes = self.graph.nodes
        input_shape = shape = self._input_shape
        body = order[1:-1]
        if not body:
            raise ModelError("NIR graph has no layers between Input and Output")
        readout, out_leak = "membrane", 0.0
        for index, name in enumerate(body):
            node = nodes[name]
            last = index == len(body) - 1
            if isinstance(node, (nir.Affine, nir.Linear)):
                weight = np.asarray(node.weight, dtype=np.float64)
                bias = np.asarray(node.bias, float) if isinstance(node, nir.Affine) else np.zeros(len(weight))
                columns = np.broadcast_to(self.factor, shape).reshape(-1)
                if weight.shape[1] != columns.size:
                    raise ModelError(f"NIR node '{name}': weight {weight.shape} does not fit input {shape}")
                self.layers.append(Dense(weight * columns[None, :], bias, name=name))
                shape, self.factor = (weight.shape[0],), np.asarray(1.0)
            elif isinstance(node, nir.Conv2d):
                if _pair(node.dilation, "dilation", name) != (1, 1) or int(node.groups) != 1:
                    raise ModelError(f"NIR node '{name}': Conv2d with dilation or groups is not supported")
                channel = _per_channel(self.factor, shape, name, "a convolution")
                weight = np.asarray(node.weight, dtype=np.float64) * np.reshape(channel, (1, -1, 1, 1))
                conv = Conv2d(weight, np.asarray(node.bias, float), _pair(node.stride, "stride", name),
                              _pair(node.padding, "padding", name), name=name)
                self.layers.append(conv)
                shape, self.factor = None, np.asarray(1.0)
            elif isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
                kernel = _pair(node.kernel_size, "kernel_size", name)
                stride, padding = _pair(node.stride, "stride", name), _pair(node.padding, "padding", name)
                self.factor = _per_channel(self.factor, shape, name, "pooling")
                cls = MaxPool2d if _meta(node.metadata.get("pool", "")) == "max" else AvgPool2d
                self.layers.append(cls(kernel, stride, padding, name=name))
                if isinstance(node, nir.SumPool2d):
                    self.factor = self.factor * float(kernel[0] * kernel[1])
                shape = None
            elif isinstance(node, nir.Flatten):
                if shape is not None and self.factor.ndim:
                    self.factor = np.broadcast_to(self.factor, shape).reshape(-1)
                self.layers.append(Flatten(name=name))
                shape = None
            elif isinstance(node, nir.Scale):
                self.factor = self.factor * np.asarray(node.scale, dtype=np.float64)
            elif isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):
                shape = self._shape()
                self.resets.add(self.neuron_reset(name, node))
                v_th, leak = self.neuron(name, node, shape)
                if last:
                    self._fold_into_output(name, 1.0 / v_th)
                    readout, out_leak = "counts", leak
                else:
                    self.layers.append(ReLU(name=name))
                    self.v_th[name], self.leak[name] = _compact(v_th), leak
                self.factor = np.asarray(1.0)
            elif isinstance(node, nir.LI) and last:
                if not np.all(np.asarray(node.v_leak) == 0):
                    raise ModelError(f"NIR node '{name}': v_leak other than 0 is not supported")
                tau = _uniform(node.tau, "tau", name)
                dt = self.dt(DEFAULT_LIF_DT)
                out_leak = dt / tau
                if not 0.0 <= out_leak < 1.0:
                    raise ModelError(f"NIR node '{name}': leak dt/tau = {out_leak:.4g} outside [0, 1); "
                                     "pass --dt")
                shape = self._shape()
                self._fold_into_output(name, np.broadcast_to(np.asarray(node.r) * dt / tau, shape))
            else:
                raise ModelError(f"NIR node '{name}' ({type(node).__name__}) is not supported here; "
                                 "supported: Input, Output, Affine, Linear, Conv2d, Flatten, SumPool2d, "
                                 "AvgPool2d, Scale, IF, LIF, CubaLIF, LI (last)")
            if shape is None:
                shape = self._shape()
        return self._network(input_shape, readout, out_leak)

    def _shape(self) -> tuple:
        layers = self.layers
        graph = Graph.sequential(self._input_shape, layers) if layers else None
        return graph.shapes[graph.outputs[0]] if graph else self._input_shape

    def _fold_into_output(self, name: str, rows: np.ndarray) -> None:
        """Scale the last weighted layer's rows (the output layer of the engine) by `rows` * factor."""
        if not self.layers or not isinstance(self.layers[-1], (Dense, Conv2d)):
            raise ModelError(f"NIR node '{name}': the last neuron layer must follow a weighted layer "
                             "directly")
        layer = self.layers[-1]
        g = np.asarray(rows, dtype=np.float64) * self.factor
        if isinstance(layer, Conv2d):
            g = _per_channel(g, g.shape, name, "the output")
        g = g.reshape(-1)
        layer.weight = layer.weight * g.reshape((-1,) + (1,) * (layer.weight.ndim - 1))
        layer.bias = layer.bias * g
        self.factor = np.asarray(1.0)

    def _network(self, input_shape: tuple, readout: str, out_leak: float) -> NirNetwork:
        if not self.layers or isinstance(self.layers[-1], ReLU):
            raise ModelError("NIR graph: the engine's output must be a weighted layer (Affine, Linear, "
                             "Conv2d)")
        if len(self.resets) > 1:
            raise ModelError(f"NIR graph mixes reset modes {sorted(self.resets)}; the engine has one per "
                             "network")
        reset = self.resets.pop() if self.resets else (self.reset_option or "zero")
        graph = Graph.sequential(input_shape, self.layers)
        rename = {layer.name: name for layer, name in zip(self.layers, graph.order)}
        pops = graph.populations()
        v_th = {rename[p]: v for p, v in self.v_th.items()}
        scale = {p: np.asarray(1.0) for p in pops}
        leaks = {rename[p]: v for p, v in self.leak.items()}
        out = graph.outputs[0]
        if readout == "counts":  # the output neurons leak like a population
            leaks[out] = out_leak
        uniform = set(leaks.values())
        leak = uniform.pop() if len(uniform) == 1 else 0.0
        layer_leak = {} if len(set(leaks.values())) <= 1 else {k: v for k, v in leaks.items() if v}
        if readout == "membrane" and out_leak:  # the engine's membrane readout leaks only when told
            layer_leak[out] = out_leak
        leaks[out] = out_leak
        meta = self.meta
        net = SpikingNetwork(graph, v_th, scale, reset=reset, leak=leak,
                             init_membrane_fraction=float(meta.get("init_membrane_fraction", 0.0)),
                             encoding=str(meta.get("encoding", "analog")), readout=readout,
                             input_scale=float(meta.get("input_scale", 1.0)), output_v_th=1.0,
                             threshold_method=str(meta.get("threshold_method", "nir")), layer_leak=layer_leak)
        source = "--reset" if self.reset_option else "metadata" if self.project else "v_reset"
        conventions = [f"reset {reset} ({source})",
                       f"readout {readout}", f"leak per layer {leaks}"]
        if self.dt_option is not None:
            conventions.append(f"dt {self.dt_option:g} (--dt)")
        return NirNetwork(net, self.conventions + conventions)


def _compact(values: np.ndarray) -> np.ndarray:
    """A per-neuron array back to the smallest form: scalar, per channel (C, 1, 1), or as is."""
    values = np.asarray(values, dtype=np.float64)
    if np.all(values == values.flat[0]):
        return np.asarray(values.flat[0])
    if values.ndim == 3:
        per_channel = values[:, :1, :1]
        if np.all(values == per_channel):
            return per_channel.copy()
    return values.copy()


def from_nir_graph(graph, dt: float | None = None, reset: str | None = None) -> NirNetwork:
    """nir.NIRGraph -> NirNetwork (see the module docstring for the conventions)."""
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise ParameterError(f"--dt must be finite and > 0, got {dt}")
    if reset is not None and reset not in RESETS:
        raise ParameterError(f"--reset must be one of {RESETS}, got {reset!r}")
    import nir

    reader = _Reader(graph, dt, reset)
    order = _chain(graph)
    declared = tuple(int(d) for d in np.atleast_1d(graph.nodes[order[0]].input_type["input"]))
    first = graph.nodes[order[1]]
    rank = 1 if isinstance(first, (nir.Affine, nir.Linear)) else 3 if isinstance(first, nir.Conv2d) else None
    shape = declared
    while rank is not None and len(shape) > rank and shape[0] == 1:
        shape = shape[1:]
    if shape != declared:
        reader.conventions.append(f"input type {declared} read as {shape} (leading axes of size 1 dropped)")
    reader._input_shape = shape
    return reader.read()


def read_nir_network(path: str | os.PathLike, dt: float | None = None,
                     reset: str | None = None) -> NirNetwork:
    """Read a NIR HDF5 file into a NirNetwork."""
    import nir

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: NIR file not found")
    skipped = None
    try:
        graph = nir.read(path)
    except ValueError as exc:
        if "Type inference error" not in str(exc):
            raise ModelError(f"{path}: not a readable NIR file ({exc})") from None
        skipped, graph = str(exc), nir.read(path, type_check=False)
    except (OSError, KeyError) as exc:
        raise ModelError(f"{path}: not a readable NIR file ({exc})") from None
    network = from_nir_graph(graph, dt, reset)
    if skipped:
        network.conventions.append(f"read without nir's type check ({skipped})")
    return network
