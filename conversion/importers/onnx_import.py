"""ONNX importer: an ONNX file -> a validated Graph (batch norm folded, biases merged).

Supported operators: Gemm, MatMul, Add (bias or residual), Conv, Relu, Clip (min 0), AveragePool,
MaxPool, GlobalAveragePool, Flatten, Reshape (to (batch, features); a target computed by Shape / Gather /
Unsqueeze / Concat nodes, as PyTorch exports ``x.view(n, -1)``, is recognised), BatchNormalization
(folded into the preceding Gemm/MatMul/Conv, else kept as an affine node), Identity, Dropout
(pass-through). A trailing Softmax / LogSoftmax / ArgMax / Sigmoid (classifier post-processing) is cut off
with a note: the graph ends at the scores. Anything else raises one ModelError listing every unsupported
operator with its node name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion.ir import (
    Add,
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
from spiking_mcc.errors import ModelError

SUPPORTED = {"Gemm", "MatMul", "Add", "Conv", "Relu", "Clip", "AveragePool", "MaxPool", "GlobalAveragePool",
             "Flatten", "Reshape", "BatchNormalization", "Identity", "Dropout", "Constant"}
POST_PROCESSING = {"Softmax", "LogSoftmax", "ArgMax", "Sigmoid"}
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Constant"}


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _shape_nodes(nodes) -> set[int]:
    """Indices of shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat ...) that only computes the
    target shape of Reshape nodes, as PyTorch exports ``x.view(x.size(0), -1)``."""
    consumers: dict[str, list[tuple[int, int]]] = {}
    for i, node in enumerate(nodes):
        for position, name in enumerate(node.input):
            consumers.setdefault(name, []).append((i, position))
    found: set[int] = set()
    for i in reversed(range(len(nodes))):
        node = nodes[i]
        uses = [consumers.get(out, []) for out in node.output]
        if node.op_type in SHAPE_OPS and all(uses) and all(
                (nodes[c].op_type == "Reshape" and pos == 1) or c in found for use in uses for c, pos in use):
            found.add(i)
    return found


def _tail_nodes(nodes, graph_outputs: set[str]) -> set[int]:
    """Indices of post-processing nodes whose outputs feed only other tail nodes or graph outputs."""
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    tail: set[int] = set()
    for i in reversed(range(len(nodes))):
        node = nodes[i]
        if node.op_type in POST_PROCESSING and all(
                all(c in tail for c in consumers.get(out, [])) for out in node.output):
            tail.add(i)
    return tail


def _pads(attrs: dict, node_name: str) -> tuple[int, int]:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise ModelError(f"ONNX node '{node_name}': auto_pad={attrs['auto_pad']!r} is not supported; "
                         "use explicit pads")
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise ModelError(f"ONNX node '{node_name}': asymmetric pads {pads} are not supported")
    return int(pads[0]), int(pads[1])


class _Builder:
    """Accumulates IR nodes while walking the ONNX nodes in their (topological) order."""

    def __init__(self, path: Path, constants: dict[str, np.ndarray], input_name: str, input_shape,
                 consumers: dict[str, int], shapes: dict[str, list]):
        self.path = path
        self.consumers = consumers
        # From ONNX shape inference: tensor ranks (batch included) and the lengths of 1-D shape tensors.
        self.ranks = {name: len(dims) for name, dims in shapes.items()}
        self.target_lengths = {name: dims[0] for name, dims in shapes.items()
                               if len(dims) == 1 and isinstance(dims[0], int)}
        self.constants = constants
        self.input_name = input_name
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.shapes: dict[str, tuple] = {input_name: tuple(input_shape)}
        self.producer: dict[str, str] = {input_name: input_name}  # ONNX tensor -> IR node or input name

    def source(self, tensor: str, onnx_node) -> str:
        if tensor not in self.producer:
            raise ModelError(f"{self.path}: ONNX node '{onnx_node.name}' ({onnx_node.op_type}) reads tensor "
                             f"'{tensor}' that is neither computed nor a weight")
        return self.producer[tensor]

    def add(self, name: str, layer, sources: list[str], output: str) -> None:
        name = name or f"{type(layer).__name__.lower()}{len(self.nodes)}"
        while name in self.nodes or name == self.input_name:
            name += "_"
        layer.name = name
        shape = self.shapes[sources[0]]
        self.shapes[name] = layer.output_shape(shape, sources[0])
        self.nodes[name] = layer
        self.edges += [(s, name) for s in sources]
        self.producer[output] = name

    def alias(self, output: str, source: str) -> None:
        self.producer[output] = source

    def weighted_producer(self, tensor: str) -> Dense | Conv2d | None:
        """The Dense/Conv2d computing `tensor` if nothing else reads it (so a bias or BN can be folded)."""
        node = self.nodes.get(self.producer.get(tensor, ""))
        return node if isinstance(node, (Dense, Conv2d)) and self.consumers.get(tensor, 0) == 1 else None


def _convert_node(b: _Builder, node) -> None:
    op, name, attrs = node.op_type, node.name, _attributes(node)
    const = lambda i: b.constants.get(node.input[i]) if len(node.input) > i and node.input[i] else None  # noqa
    if op in ("Identity", "Dropout"):
        b.alias(node.output[0], b.source(node.input[0], node))
        return
    if op == "Constant":
        return
    if op in ("Gemm", "MatMul"):
        weight = const(1)
        if weight is None or weight.ndim != 2:
            raise ModelError(f"{b.path}: ONNX node '{name}' ({op}): the second input must be a 2-D weight")
        if op == "Gemm":
            if attrs.get("transA", 0):
                raise ModelError(f"{b.path}: ONNX node '{name}' (Gemm): transA=1 is not supported")
            weight = weight if attrs.get("transB", 0) else weight.T
            weight = weight * attrs.get("alpha", 1.0)
            bias = const(2)
            bias = (np.zeros(weight.shape[0]) if bias is None
                    else np.broadcast_to(bias * attrs.get("beta", 1.0), (weight.shape[0],)))
        else:
            weight, bias = weight.T, np.zeros(weight.shape[1])
        layer = Dense(weight, bias, name=name or "dense")
        b.add(name, layer, [b.source(node.input[0], node)], node.output[0])
        return
    if op == "Conv":
        if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelError(f"{b.path}: ONNX node '{name}' (Conv): groups and dilations are not supported")
        weight = const(1)
        bias = const(2)
        if weight is None:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Conv): weight must be an initializer")
        bias = np.zeros(weight.shape[0]) if bias is None else bias
        strides = tuple(attrs.get("strides", [1, 1]))
        layer = Conv2d(weight, bias, strides, _pads(attrs, name), name=name or "conv")
        b.add(name, layer, [b.source(node.input[0], node)], node.output[0])
        return
    if op == "Add":
        operands = [const(0), const(1)]
        if operands[0] is not None and operands[1] is not None:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Add): both operands are constants")
        if operands[0] is None and operands[1] is None:
            b.add(name, Add(name=name or "add"), [b.source(t, node) for t in node.input], node.output[0])
            return
        which = 1 if operands[1] is not None else 0
        bias_value, tensor = operands[which], node.input[1 - which]
        source = b.source(tensor, node)
        layer = b.weighted_producer(tensor)
        if layer is None:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Add): a constant can only be added to the "
                             "output of a Gemm/MatMul/Conv")
        n_out = layer.weight.shape[0]
        bias_value = np.asarray(bias_value, dtype=np.float64).reshape(-1)
        layer.bias = layer.bias + np.broadcast_to(bias_value, (n_out,))
        b.alias(node.output[0], source)
        return
    if op == "BatchNormalization":
        gamma, beta, mean, var = (const(i) for i in range(1, 5))
        bn = BatchNorm(gamma, beta, mean, var, attrs.get("epsilon", 1e-5), name=name or "batchnorm")
        source = b.source(node.input[0], node)
        layer = b.weighted_producer(node.input[0])
        if layer is not None:
            folded = fold_batchnorm(layer, bn)
            layer.weight, layer.bias = folded.weight, folded.bias
            b.alias(node.output[0], source)
        else:
            b.add(name, bn, [source], node.output[0])
        return
    source = b.source(node.input[0], node)
    if op == "Relu":
        b.add(name, ReLU(name=name or "relu"), [source], node.output[0])
    elif op == "Clip":
        low = const(1) if const(1) is not None else attrs.get("min", None)
        high = const(2) if const(2) is not None else attrs.get("max", None)
        if low is None or float(low) != 0.0:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Clip): only min=0 (a clipped ReLU) is "
                             f"supported, got min={low}")
        layer = ReLU(None if high is None else float(high), name=name or "clip")
        b.add(name, layer, [source], node.output[0])
    elif op in ("AveragePool", "MaxPool"):
        cls = AvgPool2d if op == "AveragePool" else MaxPool2d
        kernel = tuple(attrs["kernel_shape"])
        pads = _pads(attrs, name)
        if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelError(f"{b.path}: ONNX node '{name}' ({op}): ceil_mode/dilations are not supported")
        if op == "AveragePool" and any(pads) and not attrs.get("count_include_pad", 0):
            raise ModelError(f"{b.path}: ONNX node '{name}' (AveragePool): padding is supported only with "
                             "count_include_pad=1")
        layer = cls(kernel, tuple(attrs.get("strides", kernel)), pads, name=name or op.lower())
        b.add(name, layer, [source], node.output[0])
    elif op == "GlobalAveragePool":
        shape = b.shapes[source]
        if len(shape) != 3:
            raise ModelError(f"{b.path}: ONNX node '{name}' (GlobalAveragePool) needs an image input, "
                             f"got {shape}")
        b.add(name, AvgPool2d(shape[1:], shape[1:], name=name or "globalpool"), [source], node.output[0])
    elif op == "Flatten":
        if attrs.get("axis", 1) != 1:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Flatten): only axis=1 is supported")
        b.add(name, Flatten(name=name or "flatten"), [source], node.output[0])
    elif op == "Reshape":
        target = const(1)
        features = int(np.prod(b.shapes[source]))
        computed_rank = b.ranks.get(node.output[0], b.target_lengths.get(node.input[1]))
        if target is None and computed_rank == 2:  # a computed target of length 2: (batch, features)
            target = np.array([-1, features])
        if target is None or target.size != 2 or int(target[-1]) not in (-1, features):
            raise ModelError(f"{b.path}: ONNX node '{name}' (Reshape): only a reshape to (batch, features) "
                             f"is supported, got target {None if target is None else target.tolist()}")
        b.add(name, Flatten(name=name or "reshape"), [source], node.output[0])


def _inferred_shapes(model) -> dict[str, list]:
    """Tensor shapes from ONNX shape inference (dim value, or None when symbolic); {} if it fails."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is a convenience for computed Reshape targets only
        return {}
    infos = list(inferred.graph.value_info) + list(inferred.graph.output)
    return {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            for v in infos if v.type.tensor_type.HasField("shape")}


def read_onnx_model(path: str | os.PathLike) -> Graph:
    """Read an ONNX file into a Graph. Notes about cut post-processing go to `graph.notes`."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as err:  # onnx raises DecodeError / OSError subclasses
        raise ModelError(f"{path}: not a readable ONNX file ({type(err).__name__}: {err})") from None
    graph = model.graph
    nodes = list(graph.node)
    tail = _tail_nodes(nodes, {o.name for o in graph.output}) | _shape_nodes(nodes)
    unsupported = [f"{n.op_type} (node '{n.name or f'#{i}'}')" for i, n in enumerate(nodes)
                   if i not in tail and n.op_type not in SUPPORTED]
    if unsupported:
        raise ModelError(f"{path}: {len(unsupported)} unsupported ONNX operator(s): "
                         f"{', '.join(unsupported)}; supported: {sorted(SUPPORTED)}")
    if not any(i not in tail and n.op_type != "Constant" for i, n in enumerate(nodes)):
        raise ModelError(f"{path}: the ONNX graph has no layers (nothing between its input and its output)")
    constants = {init.name: numpy_helper.to_array(init).astype(np.float64) for init in graph.initializer}
    for n in nodes:
        if n.op_type == "Constant":
            constants[n.output[0]] = numpy_helper.to_array(_attributes(n)["value"]).astype(np.float64)
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise ModelError(f"{path}: expected one data input, found {[i.name for i in inputs]}")
    dims = inputs[0].type.tensor_type.shape.dim[1:]
    if any(not d.HasField("dim_value") for d in dims):
        raise ModelError(f"{path}: input '{inputs[0].name}' has symbolic non-batch dimensions")
    input_name = "input"
    consumers: dict[str, int] = {}
    for n in nodes:
        for tensor in n.input:
            consumers[tensor] = consumers.get(tensor, 0) + 1
    builder = _Builder(path, constants, input_name, [d.dim_value for d in dims], consumers,
                       _inferred_shapes(model))
    builder.producer[inputs[0].name] = input_name
    try:
        for i, node in enumerate(nodes):
            if i not in tail:
                _convert_node(builder, node)
        notes = [f"cut trailing {nodes[i].op_type} (node '{nodes[i].name}'): the graph ends at the scores"
                 for i in sorted(tail) if nodes[i].op_type in POST_PROCESSING]
        last = [n for i, n in enumerate(nodes) if i not in tail and n.op_type != "Constant"][-1]
        result = Graph(builder.nodes, builder.edges, {input_name: builder.shapes[input_name]},
                       [builder.producer[last.output[0]]])
    except ModelError as err:
        message = str(err)
        raise ModelError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    result.notes = notes
    return result
