"""ONNX importer: an ONNX file -> a validated Graph (batch norm folded, biases merged).

Reads the graphs that skl2onnx, PyTorch's TorchScript and dynamo exporters and tf2onnx (Keras) write.
Supported operators: Gemm, MatMul, Add (bias or residual), Conv (explicit pads or symmetric SAME
auto_pad), Relu, Clip (min 0: ReLU6), AveragePool, MaxPool, GlobalAveragePool, ReduceMean over the
spatial axes, Flatten, Reshape (to (batch, features); a target computed by Shape / Gather / Unsqueeze /
Concat nodes, as PyTorch exports ``x.view(n, -1)``, is recognised), BatchNormalization (folded into the
preceding Gemm/MatMul/Conv, else kept as an affine node), Identity, Dropout and a float-to-float Cast
(pass-through), Transpose (tf2onnx's NHWC <-> NCHW pairs around Conv: tracked as a layout; a transposed
tensor that is flattened into a Gemm/MatMul has its permutation folded into that layer's weight columns).
Nodes whose inputs are all constants (Transpose / Cast / Reshape / Unsqueeze / Squeeze / Concat / Gather
of weights) are folded into constants.

Classifier post-processing is cut off with one note naming every cut node: Softmax, LogSoftmax, Sigmoid,
ArgMax, skl2onnx's label lookup (ArrayFeatureExtractor and the Reshape / Cast of the label) and ZipMap;
the graph ends at the scores. Anything else raises one ModelError listing every unsupported operator with
its node name.
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
             "ReduceMean", "Flatten", "Reshape", "BatchNormalization", "Identity", "Dropout", "Constant",
             "Cast", "Transpose"}
POST_PROCESSING = {"Softmax", "LogSoftmax", "ArgMax", "Sigmoid", "ArrayFeatureExtractor", "ZipMap"}
# Operators that only carry a post-processing result on (skl2onnx's label: Reshape -> Cast -> Cast).
PASSIVE = {"Identity", "Cast", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
SHAPE_OPS = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Constant"}
FOLDABLE = {"Identity", "Cast", "Transpose", "Reshape", "Unsqueeze", "Squeeze", "Concat", "Gather"}
FLOAT_TYPES = {1, 11}  # TensorProto.FLOAT, DOUBLE: a Cast between them is a no-op for the float64 IR


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


def _tail_nodes(nodes) -> set[int]:
    """Indices of post-processing nodes (POST_PROCESSING, or PASSIVE nodes reading a post-processing
    result) whose outputs feed only other tail nodes or graph outputs."""
    consumers: dict[str, list[int]] = {}
    produced_by_post: set[str] = set()
    post: set[int] = set()
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
        if node.op_type in POST_PROCESSING or (
                node.op_type in PASSIVE and node.input and node.input[0] in produced_by_post):
            post.add(i)
            produced_by_post.update(node.output)
    tail: set[int] = set()
    for i in reversed(range(len(nodes))):
        if i in post and all(all(c in tail for c in consumers.get(out, [])) for out in nodes[i].output):
            tail.add(i)
    return tail


def _fold_constant(node, values: list[np.ndarray], attrs: dict) -> np.ndarray:
    """numpy value of a FOLDABLE node whose inputs are all constants."""
    op, x = node.op_type, values[0]
    if op in ("Identity", "Cast"):
        return x
    if op == "Transpose":
        return np.transpose(x, attrs.get("perm"))
    if op == "Reshape":
        shape = [x.shape[i] if int(d) == 0 and not attrs.get("allowzero", 0) else int(d)
                 for i, d in enumerate(values[1])]
        return x.reshape(shape)
    axes = attrs.get("axes", values[1].astype(int).tolist() if len(values) > 1 else None)
    if op == "Unsqueeze":
        rank = x.ndim + len(axes)
        return np.expand_dims(x, tuple(sorted(a % rank for a in axes)))
    if op == "Squeeze":
        return np.squeeze(x, None if axes is None else tuple(a % x.ndim for a in axes))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in values], axis=attrs.get("axis", 0))
    return np.take(x, values[1].astype(np.int64), axis=attrs.get("axis", 0))  # Gather


def _folded_constants(nodes, constants: dict[str, np.ndarray]) -> set[int]:
    """Fold FOLDABLE nodes whose inputs are all constants into `constants` (in place); their indices."""
    folded: set[int] = set()
    for i, node in enumerate(nodes):
        inputs = [name for name in node.input if name]
        if node.op_type in FOLDABLE and inputs and all(name in constants for name in inputs):
            constants[node.output[0]] = _fold_constant(node, [constants[n] for n in inputs],
                                                       _attributes(node)).astype(np.float64)
            folded.add(i)
    return folded


def _pads(attrs: dict, node_name: str, kernel=None, in_shape=None) -> tuple[int, int]:
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER", "SAME_LOWER") and kernel is not None and in_shape is not None:
        strides = attrs.get("strides", [1, 1])
        totals = [max((-(-size // s) - 1) * s + k - size, 0)
                  for size, s, k in zip(in_shape[-2:], strides, kernel)]
        if any(t % 2 for t in totals):
            raise ModelError(f"ONNX node '{node_name}': auto_pad={auto_pad} pads this input asymmetrically "
                             f"(total padding {totals}); asymmetric pads are not supported")
        return totals[0] // 2, totals[1] // 2
    if auto_pad not in ("NOTSET", "VALID"):
        raise ModelError(f"ONNX node '{node_name}': auto_pad={auto_pad!r} is not supported; "
                         "use explicit pads")
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise ModelError(f"ONNX node '{node_name}': asymmetric pads {pads} are not supported")
    return int(pads[0]), int(pads[1])


class _Builder:
    """Accumulates IR nodes while walking the ONNX nodes in their (topological) order.

    Layouts: ``layout[t] = perm`` records that ONNX tensor t is the IR tensor transposed by perm (batch
    axis included; absent = the IR's own C-order layout), as tf2onnx's NHWC Transposes produce.
    ``feature_order[t] = idx`` records that the flat ONNX tensor t is the IR's flat tensor reordered:
    ``t[:, k] = ir[:, idx[k]]`` (a transposed image flattened)."""

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
        self.layout: dict[str, tuple[int, ...]] = {}
        self.feature_order: dict[str, np.ndarray] = {}

    def source(self, tensor: str, onnx_node) -> str:
        if tensor not in self.producer:
            raise ModelError(f"{self.path}: ONNX node '{onnx_node.name}' ({onnx_node.op_type}) reads tensor "
                             f"'{tensor}' that is neither computed nor a weight")
        return self.producer[tensor]

    def canonical(self, tensor: str, onnx_node) -> str:
        """The IR source of `tensor`, which must be in the IR's own layout (not transposed/reordered)."""
        source = self.source(tensor, onnx_node)
        if tensor in self.layout or tensor in self.feature_order:
            raise ModelError(f"{self.path}: ONNX node '{onnx_node.name}' ({onnx_node.op_type}) reads tensor "
                             f"'{tensor}' in a transposed layout {self.layout.get(tensor, '(reordered)')}; "
                             "only NCHW images and flat features are supported here")
        return source

    def add(self, name: str, layer, sources: list[str], output: str, like: str | None = None) -> None:
        """Add an IR node; `like`: the ONNX input whose layout the (elementwise) output keeps."""
        name = name or f"{type(layer).__name__.lower()}{len(self.nodes)}"
        while name in self.nodes or name == self.input_name:
            name += "_"
        layer.name = name
        shape = self.shapes[sources[0]]
        self.shapes[name] = layer.output_shape(shape, sources[0])
        self.nodes[name] = layer
        self.edges += [(s, name) for s in sources]
        self.producer[output] = name
        if like is not None:
            self.keep_layout(output, like)

    def keep_layout(self, output: str, tensor: str) -> None:
        if tensor in self.layout:
            self.layout[output] = self.layout[tensor]
        if tensor in self.feature_order:
            self.feature_order[output] = self.feature_order[tensor]

    def follow(self, output: str, tensor: str, onnx_node) -> None:
        """`output` is `tensor` (a pass-through node)."""
        self.producer[output] = self.source(tensor, onnx_node)
        self.keep_layout(output, tensor)

    def weighted_producer(self, tensor: str) -> Dense | Conv2d | None:
        """The Dense/Conv2d computing `tensor` if nothing else reads it (so a bias or BN can be folded)."""
        node = self.nodes.get(self.producer.get(tensor, ""))
        return node if isinstance(node, (Dense, Conv2d)) and self.consumers.get(tensor, 0) == 1 else None

    def transpose(self, node, perm: list[int]) -> None:
        tensor, out = node.input[0], node.output[0]
        source = self.source(tensor, node)
        if tensor in self.feature_order or not perm or perm[0] != 0:
            raise ModelError(f"{self.path}: ONNX node '{node.name}' (Transpose): perm {perm} moves the batch "
                             "axis or reorders flat features; only NHWC <-> NCHW image transposes are "
                             "supported")
        current = self.layout.get(tensor, tuple(range(len(perm))))
        composed = tuple(current[q] for q in perm)
        shape = self.shapes[source]
        if source == self.input_name and tensor not in self.layout and len(shape) == 3 \
                and tuple(perm) == (0, 3, 1, 2):
            # tf2onnx: an NHWC input (H, W, C) turned NCHW. With one channel the two orders are the same
            # memory: the IR input becomes (1, H, W) and reads the user's samples unchanged.
            if shape[2] != 1 or self.consumers.get(tensor, 0) != 1:
                raise ModelError(f"{self.path}: ONNX node '{node.name}' (Transpose) turns the NHWC input "
                                 f"{shape} into NCHW; with {shape[2]} channels the samples would have to be "
                                 "reordered: export with tf2onnx --inputs-as-nchw (input NCHW, no "
                                 "Transpose)")
            self.shapes[source] = (1, shape[0], shape[1])
            composed = tuple(range(len(perm)))
        self.producer[out] = source
        if composed != tuple(range(len(perm))):
            self.layout[out] = composed

    def flatten(self, name: str, node, tensor: str, output: str) -> None:
        """A Flatten IR node; a transposed image input leaves a feature order on `output`."""
        source = self.source(tensor, node)
        self.add(name, Flatten(name=name or "flatten"), [source], output)
        if tensor in self.layout:
            shape = self.shapes[source]
            per_sample = [p - 1 for p in self.layout[tensor][1:]]
            self.feature_order[output] = np.arange(int(np.prod(shape))).reshape(shape).transpose(
                per_sample).ravel()
        elif tensor in self.feature_order:
            self.feature_order[output] = self.feature_order[tensor]

    def bias_vector(self, tensor: str, value: np.ndarray, n_out: int, node) -> np.ndarray:
        """A constant added to `tensor` as a per-channel (per-output) bias of length n_out."""
        rank = len(self.shapes[self.producer[tensor]]) + 1
        perm = self.layout.get(tensor, tuple(range(rank)))
        value = np.asarray(value, dtype=np.float64)
        shaped = value.reshape((1,) * max(rank - value.ndim, 0) + value.shape)
        axes = [i for i, d in enumerate(shaped.shape) if d != 1]
        if shaped.ndim != rank or any(perm[a] != 1 for a in axes) or shaped.size not in (1, n_out):
            raise ModelError(f"{self.path}: ONNX node '{node.name}' (Add): constant of shape {value.shape} "
                             f"is not a per-channel bias of the {n_out} outputs of tensor '{tensor}'")
        if tensor in self.feature_order:
            raise ModelError(f"{self.path}: ONNX node '{node.name}' (Add): bias on reordered features")
        return np.broadcast_to(shaped.reshape(-1), (n_out,))


def _convert_node(b: _Builder, node) -> None:
    op, name, attrs = node.op_type, node.name, _attributes(node)
    const = lambda i: b.constants.get(node.input[i]) if len(node.input) > i and node.input[i] else None  # noqa
    if op in ("Identity", "Dropout"):
        b.follow(node.output[0], node.input[0], node)
        return
    if op == "Cast":
        if attrs.get("to") not in FLOAT_TYPES:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Cast): a cast of the data to ONNX type "
                             f"{attrs.get('to')} is not supported; only float/double casts (no-ops) are")
        b.follow(node.output[0], node.input[0], node)
        return
    if op == "Transpose":
        b.transpose(node, list(attrs.get("perm", [])))
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
        tensor = node.input[0]
        order = b.feature_order.get(tensor)
        if order is not None and order.size == weight.shape[1]:  # fold the input permutation
            reordered = np.empty_like(weight)
            reordered[:, order] = weight
            weight = reordered
            source = b.source(tensor, node)
        else:
            source = b.canonical(tensor, node)
        layer = Dense(weight, bias, name=name or "dense")
        b.add(name, layer, [source], node.output[0])
        return
    if op == "Conv":
        if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelError(f"{b.path}: ONNX node '{name}' (Conv): groups and dilations are not supported")
        weight = const(1)
        bias = const(2)
        if weight is None:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Conv): weight must be an initializer")
        source = b.canonical(node.input[0], node)
        bias = np.zeros(weight.shape[0]) if bias is None else bias
        strides = tuple(attrs.get("strides", [1, 1]))
        pads = _pads(attrs, name, weight.shape[2:], b.shapes[source])
        layer = Conv2d(weight, bias, strides, pads, name=name or "conv")
        b.add(name, layer, [source], node.output[0])
        return
    if op == "Add":
        operands = [const(0), const(1)]
        if operands[0] is None and operands[1] is None:
            mixed = len({b.layout.get(t) for t in node.input}) != 1
            if mixed or any(t in b.feature_order for t in node.input):
                raise ModelError(f"{b.path}: ONNX node '{name}' (Add): operands in different layouts")
            b.add(name, Add(name=name or "add"), [b.source(t, node) for t in node.input], node.output[0],
                  like=node.input[0])
            return
        which = 1 if operands[1] is not None else 0
        bias_value, tensor = operands[which], node.input[1 - which]
        b.source(tensor, node)
        layer = b.weighted_producer(tensor)
        if layer is None:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Add): a constant can only be added to the "
                             "output of a Gemm/MatMul/Conv")
        layer.bias = layer.bias + b.bias_vector(tensor, bias_value, layer.weight.shape[0], node)
        b.follow(node.output[0], tensor, node)
        return
    if op == "BatchNormalization":
        gamma, beta, mean, var = (const(i) for i in range(1, 5))
        bn = BatchNorm(gamma, beta, mean, var, attrs.get("epsilon", 1e-5), name=name or "batchnorm")
        source = b.canonical(node.input[0], node)
        layer = b.weighted_producer(node.input[0])
        if layer is not None:
            folded = fold_batchnorm(layer, bn)
            layer.weight, layer.bias = folded.weight, folded.bias
            b.follow(node.output[0], node.input[0], node)
        else:
            b.add(name, bn, [source], node.output[0])
        return
    source = b.source(node.input[0], node)
    if op == "Relu":
        b.add(name, ReLU(name=name or "relu"), [source], node.output[0], like=node.input[0])
    elif op == "Clip":
        low = const(1) if const(1) is not None else attrs.get("min", None)
        high = const(2) if const(2) is not None else attrs.get("max", None)
        if low is None or float(low) != 0.0:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Clip): only min=0 (a clipped ReLU) is "
                             f"supported, got min={low}")
        layer = ReLU(None if high is None else float(high), name=name or "clip")
        b.add(name, layer, [source], node.output[0], like=node.input[0])
    elif op in ("AveragePool", "MaxPool"):
        source = b.canonical(node.input[0], node)
        cls = AvgPool2d if op == "AveragePool" else MaxPool2d
        kernel = tuple(attrs["kernel_shape"])
        pads = _pads(attrs, name, kernel, b.shapes[source])
        if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise ModelError(f"{b.path}: ONNX node '{name}' ({op}): ceil_mode/dilations are not supported")
        if op == "AveragePool" and any(pads) and not attrs.get("count_include_pad", 0):
            raise ModelError(f"{b.path}: ONNX node '{name}' (AveragePool): padding is supported only with "
                             "count_include_pad=1")
        layer = cls(kernel, tuple(attrs.get("strides", kernel)), pads, name=name or op.lower())
        b.add(name, layer, [source], node.output[0])
    elif op in ("GlobalAveragePool", "ReduceMean"):
        source = b.canonical(node.input[0], node)
        shape = b.shapes[source]
        axes = attrs.get("axes", None if const(1) is None else const(1).astype(int).tolist())
        spatial = op == "ReduceMean" and axes is not None and sorted(a % 4 for a in axes) == [2, 3]
        if len(shape) != 3 or (op == "ReduceMean" and not spatial):
            raise ModelError(f"{b.path}: ONNX node '{name}' ({op}) is supported as a mean over the height "
                             f"and width of an image only, got input {shape} and axes {axes}")
        b.add(name, AvgPool2d(shape[1:], shape[1:], name=name or "globalpool"), [source], node.output[0])
        if op == "ReduceMean" and not attrs.get("keepdims", 1):
            pooled = node.output[0]
            b.add(f"{name}_flatten", Flatten(name=f"{name}_flatten"), [b.producer[pooled]], pooled)
    elif op == "Flatten":
        if attrs.get("axis", 1) != 1:
            raise ModelError(f"{b.path}: ONNX node '{name}' (Flatten): only axis=1 is supported")
        b.flatten(name, node, node.input[0], node.output[0])
    elif op == "Reshape":
        target = const(1)
        features = int(np.prod(b.shapes[source]))
        computed_rank = b.ranks.get(node.output[0], b.target_lengths.get(node.input[1]))
        if target is None and computed_rank == 2:  # a computed target of length 2: (batch, features)
            target = np.array([-1, features])
        if target is None or target.size != 2 or int(target[-1]) not in (-1, features):
            raise ModelError(f"{b.path}: ONNX node '{name}' (Reshape): only a reshape to (batch, features) "
                             f"is supported, got target {None if target is None else target.tolist()}")
        b.flatten(name, node, node.input[0], node.output[0])


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
    constants = {init.name: numpy_helper.to_array(init).astype(np.float64) for init in graph.initializer}
    for n in nodes:
        if n.op_type == "Constant":
            constants[n.output[0]] = numpy_helper.to_array(_attributes(n)["value"]).astype(np.float64)
    post = _tail_nodes(nodes)
    skipped = post | _shape_nodes(nodes) | _folded_constants(nodes, constants)
    unsupported = [f"{n.op_type} (node '{n.name or f'#{i}'}')" for i, n in enumerate(nodes)
                   if i not in skipped and n.op_type not in SUPPORTED]
    if unsupported:
        raise ModelError(f"{path}: {len(unsupported)} unsupported ONNX operator(s): "
                         f"{', '.join(unsupported)}; supported: {sorted(SUPPORTED)}")
    if not any(i not in skipped and n.op_type != "Constant" for i, n in enumerate(nodes)):
        raise ModelError(f"{path}: the ONNX graph has no layers (nothing between its input and its output)")
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
            if i not in skipped:
                _convert_node(builder, node)
        kept = [n for i, n in enumerate(nodes) if i not in skipped and n.op_type != "Constant"]
        if not kept:
            raise ModelError("no layers left after cutting post-processing")
        scores = kept[-1].output[0]
        if scores in builder.layout or scores in builder.feature_order:
            raise ModelError(f"the scores '{scores}' are in a transposed layout; end the graph at NCHW or "
                             "flat features")
        notes = []
        if post:
            cut = ", ".join(f"{nodes[i].op_type} (node '{nodes[i].name or f'#{i}'}')" for i in sorted(post))
            notes.append(f"cut post-processing {cut}: the graph ends at the scores '{scores}'")
        result = Graph(builder.nodes, builder.edges, {input_name: builder.shapes[input_name]},
                       [builder.producer[scores]])
    except ModelError as err:
        message = str(err)
        raise ModelError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    result.notes = notes
    return result
