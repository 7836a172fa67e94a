"""Import the point-neuron baseline of an ``spiking-mcc/mcc-v1`` file (``model="point"``) as a Graph.

The file's keys are documented in :mod:`spiking_mcc.mcc.network`. The data vector is
``x = [audio, visual]`` (the avdigits loader's order). The two streams never exchange signals, so
the graph is one Dense(+ReLU) chain (``layer0``, ``layer0_relu``, ..., ``out``) whose hidden layers
hold both streams, audio units first, with block-diagonal weights (cross-stream blocks are zero
weights, which count as no synapses). The stream's input standardisation ``(x - mean) / std`` is
folded into the first layer's weights and bias; ``out`` is the concatenating classifier. Being a
chain, the baseline runs on every engine, Lava included, exactly as the two-stream network does.

Files with ``model="mcc"`` (two-point units with context) are converted by the MCC conversion, not here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conversion.ir import Dense, Graph, ReLU
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
    layers: list = []
    n_prev = {stream: sizes[stream] for stream in STREAMS}
    for layer in range(len(hidden)):
        blocks = {}
        for stream in STREAMS:
            weight = _array(arrays, f"{stream}{layer}_w_r", path)
            bias = _array(arrays, f"{stream}{layer}_b_r", path)
            if weight.shape != (hidden[layer], n_prev[stream]) or bias.shape != (hidden[layer],):
                raise ModelError(f"{path}: layer '{stream}{layer}' has weight {weight.shape} and bias "
                                 f"{bias.shape}, expected ({hidden[layer]}, {n_prev[stream]}) and "
                                 f"({hidden[layer]},)")
            if layer == 0:
                mean = _array(arrays, f"{stream}_mean", path)
                std = _array(arrays, f"{stream}_std", path)
                if np.any(std <= 0) or mean.shape != (sizes[stream],) or std.shape != (sizes[stream],):
                    raise ModelError(f"{path}: {stream}_mean/{stream}_std must be ({sizes[stream]},), "
                                     "std > 0")
                weight = weight / std
                bias = bias - weight @ mean
            blocks[stream] = (weight, bias)
            n_prev[stream] = hidden[layer]
        # Both streams in one population per layer: audio units first, then visual (the classifier's
        # concatenation order). Off-diagonal blocks are zero weights, which count as no synapses.
        (w_a, b_a), (w_v, b_v) = blocks["audio"], blocks["visual"]
        merged = np.zeros((w_a.shape[0] + w_v.shape[0], w_a.shape[1] + w_v.shape[1]))
        merged[: w_a.shape[0], : w_a.shape[1]] = w_a
        merged[w_a.shape[0]:, w_a.shape[1]:] = w_v
        layers += [Dense(merged, np.concatenate([b_a, b_v]), name=f"layer{layer}"),
                   ReLU(name=f"layer{layer}_relu")]
    out_w, out_b = _array(arrays, "out_w", path), _array(arrays, "out_b", path)
    n_last = hidden[-1]
    if out_w.shape[1:] != (2 * n_last,):
        raise ModelError(f"{path}: out_w has shape {out_w.shape}, expected (n_classes, {2 * n_last})")
    layers.append(Dense(out_w, out_b, name="out"))
    try:
        return Graph.sequential((n_input,), layers)
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None
