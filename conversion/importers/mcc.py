"""MCC / point-neuron model files (``spiking-mcc/mcc-v1``, see :mod:`spiking_mcc.mcc.network`) -> network IR.

Two graphs can be built from one file:

- :func:`two_stream_graph` (what :mod:`conversion.mcc_pipeline` converts): inputs ``audio`` and ``visual``
  (raw features; the input standardisation is folded into layer 0), and per layer l and stream s
  (o = the other stream)::

      {s}{l}_r  Dense(W_R, b_R)          receptive-field drive R_s from the previous layer (or input s)
      {s}{l}_q  ReLU                     Q_s = relu(R_s): the receptive-field population (context carrier)
      {s}{l}    TwoPoint(W_R, b_R, law,  soma gets R_s (same weights as {s}{l}_r), apical gets
                 context {s}{l}_q: M_ss,  C_s = Q_s M_ss^T + Q_o M_so^T
                         {o}{l}_q: M_so)
      {s}{l}_y  ReLU                     y_s = relu(law(R_s, C_s)): the two-point output population

  then ``out_audio`` Dense(out_w[:, :n], out_b), ``out_visual`` Dense(out_w[:, n:], 0) and ``logits``
  Add (concatenation fusion written as a sum of two Dense nodes). The universal context is folded into
  the context matrices, since u = [mean Q_a, mean Q_v] is linear in Q:
  M_ss = W_P (diagonal 0) + W_U[:, s] 1^T / n and M_so = W_D + W_U[:, o] 1^T / n (columns of W_U:
  0 = audio, 1 = visual). ``{s}{l}_r`` and ``{s}{l}`` share their receptive-field weights: in the spiking
  network they are one unit whose basal compartment also fires the context spikes (one set of synapses).
  A point model gives the same graph with law ``point``, no context and no ``_r``/``_q`` nodes.
- for the ordinary conversion path, a point baseline is read by :mod:`conversion.importers.mcc_point`
  (one input [audio, visual], two Dense/ReLU streams, split classifier); :func:`read_mcc_model` returns
  that graph for point files, so :func:`conversion.thresholds.convert` and :func:`conversion.engine.
  simulate` convert it like any MLP.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion.ir import Add, Dense, Graph, ReLU, TwoPoint
from spiking_mcc.errors import DataError, ModelError
from spiking_mcc.io import load_npz
from spiking_mcc.mcc.network import FORMAT, STREAMS, Network, load_network

INPUTS = ("audio", "visual")
OUTPUT = "logits"


def is_mcc_file(path: str | os.PathLike, model: str | None = None) -> bool:
    """True if `path` is an .npz in the MCC format (and, if given, its `model` is `model`: "mcc" or
    "point"). The `convert` command sends model="mcc" files to conversion.mcc_pipeline."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    try:
        arrays = load_npz(path)
    except DataError:
        return False
    same_model = model is None or str(arrays.get("model", "")) == model
    return str(arrays.get("format", "")) == FORMAT and same_model


def load_mcc_network(path: str | os.PathLike) -> Network:
    """Read an MCC/point model file; any problem (format, shapes, NaN) -> ModelError naming file and array."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        net = load_network(path)
    except DataError as err:
        raise ModelError(str(err)) from None
    if net.model == "mcc" and net.context_source != "broadcast":
        raise ModelError(f"{path}: context_source is {net.context_source!r}; the spiking conversion reads "
                         "'broadcast' MCC networks only (docs/mcc.md)")
    return net


def _standardised_first_layer(net: Network, stream: str) -> tuple[np.ndarray, np.ndarray]:
    """W_R, b_R of layer 0 acting on raw features: W' = W / std, b' = b - W' mean."""
    weight = net.params[f"{stream}0_w_r"] / net.norm[f"{stream}_std"][None, :]
    bias = net.params[f"{stream}0_b_r"] - weight @ net.norm[f"{stream}_mean"]
    return weight, bias


def _receptive_field(net: Network, stream: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
    if layer == 0:
        return _standardised_first_layer(net, stream)
    return net.params[f"{stream}{layer}_w_r"], net.params[f"{stream}{layer}_b_r"]


def context_matrices(net: Network, stream: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(M_own, M_other), each (n, n): C_s = Q_s M_own^T + Q_o M_other^T, universal context folded in."""
    p = net.params
    n = net.hidden[layer]
    own_col, other_col = (0, 1) if stream == "audio" else (1, 0)
    universal = p[f"{stream}{layer}_w_u"]
    own = p[f"{stream}{layer}_w_p"] * (1.0 - np.eye(n)) + np.outer(universal[:, own_col], np.ones(n)) / n
    other = p[f"{stream}{layer}_w_d"] + np.outer(universal[:, other_col], np.ones(n)) / n
    return own, other


def two_stream_graph(net: Network) -> Graph:
    """Two-input IR of an MCC (TwoPoint nodes with context) or point network (TwoPoint, law point)."""
    nodes: dict = {}
    edges: list[tuple[str, str]] = []
    previous = {s: s for s in STREAMS}
    mcc = net.model == "mcc"
    for layer in range(net.n_layers):
        if mcc:
            for s in STREAMS:
                weight, bias = _receptive_field(net, s, layer)
                nodes[f"{s}{layer}_r"] = Dense(weight, bias)
                nodes[f"{s}{layer}_q"] = ReLU()
                edges += [(previous[s], f"{s}{layer}_r"), (f"{s}{layer}_r", f"{s}{layer}_q")]
        for s, o in (("audio", "visual"), ("visual", "audio")):
            weight, bias = _receptive_field(net, s, layer)
            context = {}
            if mcc:
                own, other = context_matrices(net, s, layer)
                context = {f"{s}{layer}_q": own, f"{o}{layer}_q": other}
            nodes[f"{s}{layer}"] = TwoPoint(weight, bias, context, law=net.law)
            nodes[f"{s}{layer}_y"] = ReLU()
            edges += [(previous[s], f"{s}{layer}"), (f"{s}{layer}", f"{s}{layer}_y")]
            edges += [(source, f"{s}{layer}") for source in context]
        previous = {s: f"{s}{layer}_y" for s in STREAMS}
    n_last = net.hidden[-1]
    nodes["out_audio"] = Dense(net.params["out_w"][:, :n_last], net.params["out_b"])
    nodes["out_visual"] = Dense(net.params["out_w"][:, n_last:], np.zeros(net.n_classes))
    nodes[OUTPUT] = Add()
    edges += [(previous["audio"], "out_audio"), (previous["visual"], "out_visual"),
              ("out_audio", OUTPUT), ("out_visual", OUTPUT)]
    graph = Graph(nodes, edges, {"audio": (net.n_audio,), "visual": (net.n_visual,)}, [OUTPUT])
    graph.notes.append(f"{net.model} network, law {net.law}; input standardisation folded into layer 0; "
                       "universal context folded into the context matrices")
    return graph


def read_mcc_model(path: str | os.PathLike) -> Graph:
    """Model file -> Graph: the two-stream TwoPoint graph for "mcc", the ordinary point-neuron graph
    (conversion.importers.mcc_point, single input [audio, visual]) for "point"."""
    net = load_mcc_network(path)
    if net.model == "point":
        from conversion.importers.mcc_point import read_point_model

        return read_point_model(load_npz(path), Path(path))
    try:
        return two_stream_graph(net)
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
