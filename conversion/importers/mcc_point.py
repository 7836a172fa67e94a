"""Import the point-neuron baseline of an ``spiking-mcc/mcc-v1`` file (``model="point"``) as a Graph.

The file's keys are documented in :mod:`spiking_mcc.mcc.network`. The data vector is
``x = [audio, visual]`` (the avdigits loader's order). Graph: one Dense(+ReLU) chain per stream
(``audio0``, ``audio0_relu``, ...), whose first layer reads its own slice of x (the other modality's
columns are zero weights, which count as no synapses) with the stream's input standardisation
``(x - mean) / std`` folded into its weights and bias; the concatenating classifier is split into
``out_audio`` + ``out_visual`` summed by an Add node ``out`` (the output).

Files with ``model="mcc"`` (two-point units with context) are converted by the MCC conversion, not here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conversion.ir import Add, Dense, Graph, ReLU
from spiking_mcc.errors import ModelError

FORMAT = "spiking-mcc/mcc-v1"
STREAMS = ("audio", "visual")


def _array(arrays: dict, key: str, path: Path) -> np.ndarray:
    if key not in arrays:
        raise ModelError(f"{path}: missing array '{key}' (mcc-v1 point model)")
    return np.asarray(arrays[key], dtype=np.float64)


def read_point_model(arrays: dict, path: Path) -> Graph:
    """mcc-v1 arrays of a point baseline -> Graph with input 'input' of n_audio + n_visual features."""
    model = str(arrays.get("model", ""))
    if model != "point":
        raise ModelError(f"{path}: model is '{model}'; only the point baseline (model='point') converts to "
                         "point neurons (two-point MCC files go through the MCC conversion)")
    sizes = {"audio": int(_array(arrays, "n_audio", path)), "visual": int(_array(arrays, "n_visual", path))}
    hidden = [int(n) for n in np.atleast_1d(_array(arrays, "hidden", path))]
    n_input = sizes["audio"] + sizes["visual"]
    offsets = {"audio": 0, "visual": sizes["audio"]}
    nodes: dict = {}
    edges: list[tuple[str, str]] = []
    last: dict[str, str] = {}
    for stream in STREAMS:
        previous = "input"
        for layer in range(len(hidden)):
            weight = _array(arrays, f"{stream}{layer}_w_r", path)
            bias = _array(arrays, f"{stream}{layer}_b_r", path)
            if layer == 0:
                mean = _array(arrays, f"{stream}_mean", path)
                std = _array(arrays, f"{stream}_std", path)
                if np.any(std <= 0) or mean.shape != (sizes[stream],) or std.shape != (sizes[stream],):
                    raise ModelError(f"{path}: {stream}_mean/{stream}_std must be ({sizes[stream]},), "
                                     "std > 0")
                if weight.shape[1:] != (sizes[stream],):
                    raise ModelError(f"{path}: layer '{stream}0' has {weight.shape[1:]} inputs, expected "
                                     f"({sizes[stream]},)")
                folded = weight / std
                bias = bias - folded @ mean
                weight = np.zeros((weight.shape[0], n_input))
                weight[:, offsets[stream]:offsets[stream] + sizes[stream]] = folded
            name = f"{stream}{layer}"
            nodes[name] = Dense(weight, bias, name=name)
            nodes[name + "_relu"] = ReLU(name=name + "_relu")
            edges += [(previous, name), (name, name + "_relu")]
            previous = name + "_relu"
        last[stream] = previous
    out_w, out_b = _array(arrays, "out_w", path), _array(arrays, "out_b", path)
    n_last = hidden[-1]
    if out_w.shape[1:] != (2 * n_last,):
        raise ModelError(f"{path}: out_w has shape {out_w.shape}, expected (n_classes, {2 * n_last})")
    nodes["out_audio"] = Dense(out_w[:, :n_last], out_b, name="out_audio")
    nodes["out_visual"] = Dense(out_w[:, n_last:], np.zeros_like(out_b), name="out_visual")
    nodes["out"] = Add(name="out")
    edges += [(last["audio"], "out_audio"), (last["visual"], "out_visual"), ("out_audio", "out"),
              ("out_visual", "out")]
    try:
        return Graph(nodes, edges, {"input": (n_input,)}, ["out"])
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
