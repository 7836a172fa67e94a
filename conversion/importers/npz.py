"""The project's plain-ANN file format ``spiking-mcc/sequential-v1`` (.npz, allow_pickle=False).

A sequential network: input -> layer 0 -> layer 1 -> ... -> layer n-1 (the output, class scores).
Keys (all numpy arrays; "string" means a 0-d unicode array):

=====================  ==========================================================================
``format``             string, exactly ``"spiking-mcc/sequential-v1"``
``input_shape``        int array, per-sample input shape: ``[features]`` or ``[channels, height, width]``
``n_layers``           int scalar, number of layers n
``layer{i}_kind``      string, one of ``dense conv2d avgpool2d maxpool2d flatten relu clip batchnorm``
``layer{i}_name``      string, optional layer name (default ``{kind}{i}``)
``layer{i}_weight``    dense: float (out, in); conv2d: float (out_c, in_c, kh, kw)
``layer{i}_bias``      dense: float (out,); conv2d: float (out_c,)
``layer{i}_stride``    conv2d / pooling: int (2,) or scalar (default 1 for conv2d, the kernel for pooling)
``layer{i}_padding``   conv2d / pooling: int (2,) or scalar, zero padding (default 0)
``layer{i}_kernel``    pooling: int (2,) or scalar window size
``layer{i}_max``       clip: float scalar, the clipped-ReLU ceiling (relu: optional, same meaning)
``layer{i}_gamma``,    batchnorm: float (channels,) each; ``layer{i}_eps`` float scalar (default 1e-5);
``_beta _mean _var``   folded into the preceding dense/conv2d layer at import
=====================  ==========================================================================

Files with ``format="spiking-mcc/mcc-v1"`` (the MCC network's point baseline) are read by
:mod:`conversion.importers.mcc_point`.

Optional metadata: ``classes`` (int array of class labels), ``trained_on`` (string), ``test_accuracy``
(float scalar). Unknown keys are ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion.ir import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    MaxPool2d,
    ReLU,
    fold_batchnorm,
)
from spiking_mcc.errors import DataError, ModelError
from spiking_mcc.io import load_npz, save_npz

FORMAT = "spiking-mcc/sequential-v1"
POINT_FORMAT = "spiking-mcc/mcc-v1"  # the MCC helper's files: the point baseline converts (mcc_point.py)
KINDS = ("dense", "conv2d", "avgpool2d", "maxpool2d", "flatten", "relu", "clip", "batchnorm")


def _get(arrays: dict, key: str, path: Path, default=None):
    if key in arrays:
        return arrays[key]
    if default is None:
        raise ModelError(f"{path}: missing array '{key}'")
    return default


def _layer_from_arrays(arrays: dict, i: int, path: Path):
    kind = str(_get(arrays, f"layer{i}_kind", path))
    if kind not in KINDS:
        raise ModelError(f"{path}: layer{i}_kind is '{kind}'; supported kinds are {list(KINDS)}")
    name = str(arrays.get(f"layer{i}_name", f"{kind}{i}"))
    g = lambda key, default=None: _get(arrays, f"layer{i}_{key}", path, default)  # noqa: E731
    try:
        if kind == "dense":
            return Dense(g("weight"), g("bias"), name=name)
        if kind == "conv2d":
            return Conv2d(g("weight"), g("bias"), g("stride", np.array(1)), g("padding", np.array(0)),
                          name=name)
        if kind in ("avgpool2d", "maxpool2d"):
            cls = AvgPool2d if kind == "avgpool2d" else MaxPool2d
            kernel = g("kernel")
            return cls(kernel, g("stride", np.asarray(kernel)), g("padding", np.array(0)), name=name)
        if kind == "flatten":
            return Flatten(name=name)
        if kind == "relu":
            return ReLU(float(arrays[f"layer{i}_max"]) if f"layer{i}_max" in arrays else None, name=name)
        if kind == "clip":
            return ReLU(float(g("max")), name=name)
        return BatchNorm(g("gamma"), g("beta"), g("mean"), g("var"), float(g("eps", np.array(1e-5))),
                         name=name)
    except (TypeError, ValueError) as err:
        raise ModelError(f"{path}: layer{i} ('{name}', {kind}): {err}") from None


def read_npz_model(path: str | os.PathLike) -> Graph:
    """Read a sequential-v1 file into a validated Graph (batch norm folded)."""
    path = Path(path)
    try:
        arrays = load_npz(path)
    except DataError as err:
        raise ModelError(str(err)) from None
    fmt = str(arrays.get("format", ""))
    if fmt == POINT_FORMAT:
        from conversion.importers.mcc_point import read_point_model

        return read_point_model(arrays, path)
    if fmt != FORMAT:
        raise ModelError(f"{path}: format is '{fmt}', expected '{FORMAT}'")
    input_shape = tuple(int(d) for d in np.atleast_1d(_get(arrays, "input_shape", path)))
    n_layers = int(_get(arrays, "n_layers", path))
    if n_layers < 1:
        raise ModelError(f"{path}: n_layers must be >= 1, got {n_layers}")
    layers = []
    for i in range(n_layers):
        layer = _layer_from_arrays(arrays, i, path)
        if isinstance(layer, BatchNorm):
            if not layers or not isinstance(layers[-1], (Dense, Conv2d)):
                raise ModelError(f"{path}: batch norm layer{i} must follow a dense or conv2d layer")
            layers[-1] = fold_batchnorm(layers[-1], layer)
        else:
            layers.append(layer)
    try:
        return Graph.sequential(input_shape, layers)
    except ModelError as err:
        raise ModelError(f"{path}: {err}") from None


def write_npz_model(path: str | os.PathLike, graph: Graph, **metadata) -> Path:
    """Write a chain Graph (Dense/Conv2d/pooling/Flatten/ReLU nodes) as a sequential-v1 file."""
    if not graph.is_chain():
        raise ModelError("only a single chain of layers can be written as sequential-v1")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "input_shape": np.asarray(next(iter(graph.inputs.values())), dtype=np.int64),
        "n_layers": np.array(len(graph.order)),
    }
    for i, (name, node) in enumerate(graph.layers_in_order()):
        key = f"layer{i}_"
        arrays[key + "name"] = np.array(name)
        if isinstance(node, Dense):
            arrays.update({key + "kind": np.array("dense"), key + "weight": node.weight,
                           key + "bias": node.bias})
        elif isinstance(node, Conv2d):
            arrays.update({key + "kind": np.array("conv2d"), key + "weight": node.weight,
                           key + "bias": node.bias, key + "stride": np.asarray(node.stride),
                           key + "padding": np.asarray(node.padding)})
        elif isinstance(node, (AvgPool2d, MaxPool2d)):
            kind = "avgpool2d" if isinstance(node, AvgPool2d) else "maxpool2d"
            arrays.update({key + "kind": np.array(kind), key + "kernel": np.asarray(node.kernel),
                           key + "stride": np.asarray(node.stride),
                           key + "padding": np.asarray(node.padding)})
        elif isinstance(node, Flatten):
            arrays[key + "kind"] = np.array("flatten")
        elif isinstance(node, ReLU):
            arrays[key + "kind"] = np.array("relu" if node.max is None else "clip")
            if node.max is not None:
                arrays[key + "max"] = np.array(node.max)
        else:
            raise ModelError(f"layer '{name}': {type(node).__name__} cannot be written as sequential-v1")
    for key, value in metadata.items():
        arrays[key] = np.asarray(value)
    return save_npz(path, **arrays)
