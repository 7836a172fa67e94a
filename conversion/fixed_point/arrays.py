"""Plain-array form of a fixed-point or float network, for .npz files and for handing a network to the
Lava child process (named numpy arrays, strings as 0-d str arrays; no pickle)."""

from __future__ import annotations

import numpy as np

from conversion.fixed_point.float_reference import FloatLayer, FloatNetwork
from conversion.fixed_point.network import FixedPointLayer, FixedPointNetwork

_FIXED_FIELDS = ("weight_mant", "weight_exp", "bias_mant", "bias_exp", "vth_mant", "du", "dv", "scale",
                 "spiking")
_FLOAT_FIELDS = ("weight", "bias", "v_th", "dv", "spiking")


def network_to_arrays(net: FixedPointNetwork | FloatNetwork) -> dict[str, np.ndarray]:
    """Flatten a fixed-point or float network into named numpy arrays (strings as 0-d str arrays)."""
    fixed = isinstance(net, FixedPointNetwork)
    arrays = {"kind": np.array("fixed" if fixed else "float"), "n_layers": np.array(len(net.layers)),
              "reset": np.array(net.reset), "readout": np.array(net.readout),
              "v_init": np.asarray(net.v_init or (0,) * len(net.layers), dtype=np.float64)}
    if fixed:
        arrays["input_scale"] = np.array(net.input_scale)
        arrays["input_bits"] = np.array(net.input_bits)
        arrays["signed_input"] = np.array(net.signed_input)
    for i, layer in enumerate(net.layers):
        arrays[f"layer{i}_name"] = np.array(layer.name)
        for key in _FIXED_FIELDS if fixed else _FLOAT_FIELDS:
            arrays[f"layer{i}_{key}"] = np.asarray(getattr(layer, key))
    return arrays


def network_from_arrays(arrays: dict[str, np.ndarray]) -> FixedPointNetwork | FloatNetwork:
    """Inverse of network_to_arrays."""
    fixed = str(arrays["kind"]) == "fixed"
    layers = []
    for i in range(int(arrays["n_layers"])):
        values = {key: arrays[f"layer{i}_{key}"] for key in (_FIXED_FIELDS if fixed else _FLOAT_FIELDS)}
        values = {k: (v.item() if v.ndim == 0 else v) for k, v in values.items()}
        values["spiking"] = bool(values["spiking"])
        cls = FixedPointLayer if fixed else FloatLayer
        if fixed:
            for key in ("weight_exp", "vth_mant", "du", "dv"):
                values[key] = int(values[key])
        layers.append(cls(name=str(arrays[f"layer{i}_name"]), **values))
    common = {"reset": str(arrays["reset"]), "readout": str(arrays["readout"])}
    v_init = arrays["v_init"]
    if fixed:
        return FixedPointNetwork(layers=tuple(layers), input_scale=float(arrays["input_scale"]),
                                 input_bits=int(arrays["input_bits"]), v_init=tuple(int(v) for v in v_init),
                                 signed_input=bool(arrays.get("signed_input", False)),
                                 **common)
    return FloatNetwork(layers=tuple(layers), v_init=tuple(float(v) for v in v_init), **common)
