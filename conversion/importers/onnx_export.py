"""Write a chain Graph to ONNX with ``onnx.helper`` (no PyTorch): Dense -> Gemm (transB=1), Conv2d -> Conv,
ReLU -> Relu or Clip(0, max), pooling -> AveragePool / MaxPool, Flatten -> Flatten; optionally a trailing
Softmax. Used by tests and the notebook to produce ONNX files the importer must read back."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion.ir import AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU
from spiking_mcc.errors import ModelError

OPSET = 13


def _node_for(name: str, node, source: str, out: str, initializers: list):
    from onnx import helper, numpy_helper

    def weight(key: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), f"{name}.{key}"))
        return f"{name}.{key}"

    if isinstance(node, Dense):
        inputs = [source, weight("weight", node.weight), weight("bias", node.bias)]
        return [helper.make_node("Gemm", inputs, [out], name=name, transB=1)]
    if isinstance(node, Conv2d):
        ph, pw = node.padding
        return [helper.make_node("Conv", [source, weight("weight", node.weight), weight("bias", node.bias)],
                                 [out], name=name, strides=list(node.stride), pads=[ph, pw, ph, pw],
                                 kernel_shape=list(node.kernel))]
    if isinstance(node, ReLU):
        if node.max is None:
            return [helper.make_node("Relu", [source], [out], name=name)]
        inputs = [source, weight("min", np.array(0.0)), weight("max", np.array(node.max))]
        return [helper.make_node("Clip", inputs, [out], name=name)]
    if isinstance(node, (AvgPool2d, MaxPool2d)):
        ph, pw = node.padding
        op = "AveragePool" if isinstance(node, AvgPool2d) else "MaxPool"
        extra = {"count_include_pad": 1} if op == "AveragePool" else {}  # the IR counts zero padding
        return [helper.make_node(op, [source], [out], name=name, kernel_shape=list(node.kernel),
                                 strides=list(node.stride), pads=[ph, pw, ph, pw], **extra)]
    if isinstance(node, Flatten):
        return [helper.make_node("Flatten", [source], [out], name=name, axis=1)]
    if isinstance(node, BatchNorm):
        inputs = [source] + [weight(k, getattr(node, k)) for k in ("gamma", "beta", "mean", "var")]
        return [helper.make_node("BatchNormalization", inputs, [out], name=name, epsilon=node.eps)]
    raise ModelError(f"layer '{name}': {type(node).__name__} cannot be written to ONNX")


def write_onnx_model(path: str | os.PathLike, graph: Graph, softmax: bool = False,
                     extra_nodes: list | None = None) -> Path:
    """Write a chain graph as an ONNX model (float32, opset 13, dynamic batch). `extra_nodes`: ONNX
    NodeProtos appended after the scores (tests use it to add unsupported operators)."""
    import onnx
    from onnx import TensorProto, helper

    if not graph.is_chain():
        raise ModelError("only a single chain of layers can be written to ONNX by this writer")
    input_name, input_shape = next(iter(graph.inputs.items()))
    initializers: list = []
    nodes = []
    previous = input_name
    for name, node in graph.layers_in_order():
        nodes += _node_for(name, node, previous, f"{name}.out", initializers)
        previous = f"{name}.out"
    if softmax:
        nodes.append(helper.make_node("Softmax", [previous], ["probabilities"], name="softmax", axis=1))
        previous = "probabilities"
    for extra in extra_nodes or []:
        nodes.append(extra)
        previous = extra.output[0]
    out_shape = ["batch", *graph.output_shape]
    onnx_graph = helper.make_graph(
        nodes, "spiking_mcc_model",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, out_shape)],
        initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="spiking-mcc")
    onnx.checker.check_model(model)
    from spiking_mcc.io import atomic_write

    return atomic_write(path, lambda handle: handle.write(model.SerializeToString()))
