"""ONNX as real exporters write it (README, Conversion): skl2onnx (zipmap on and off), PyTorch's TorchScript
and dynamo exporters (fixtures in tests/data/onnx/, written by scripts/make_onnx_fixtures.py with the
logits PyTorch computed), and tf2onnx's NHWC pattern for a Keras CNN. The imported ANN must reproduce the
exporter's outputs on every test sample, and distribution-aware conversion must lose <= 0.5 points at T = 8.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest

from conversion import engine, ops, thresholds
from conversion.importers import load_model
from conversion.ir import Conv2d, Dense, Flatten, ReLU
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import ModelError

FIXTURES = Path(__file__).parent / "data" / "onnx"
TORCH_EXPORTS = [f"{model}_{exporter}" for model in ("cnn", "gap")
                 for exporter in ("torchscript", "torchscript_unfolded", "dynamo")]
MAX_LOSS_POINTS = 0.5
T = 8


def _snn_loss_points(graph, x_calib, x_test, y_test) -> float:
    """ANN accuracy minus SNN accuracy (points) after distribution-aware conversion at T = 8."""
    net = thresholds.convert(graph, x_calib, "distribution", timesteps=T, init_membrane_fraction=0.5)
    snn = engine.simulate(net, x_test, [T])[0].accuracy(y_test)
    ann = float(np.mean(ops.predict(graph, x_test) == y_test))
    return 100.0 * (ann - snn)


def _reference(model: str) -> dict:
    with np.load(FIXTURES / f"{model}_reference.npz") as data:
        return {k: data[k] for k in data.files}


def _assert_same_outputs(ours: np.ndarray, reference: np.ndarray) -> None:
    """Equal to 1e-6 of the logit scale on every sample (float32 weights: the exporters fold BatchNorm in
    float32, which moves logits of size ~10 by ~1e-6 absolute)."""
    scale = float(np.abs(reference).max())
    worst = np.abs(ours - reference).max(axis=1)
    assert worst.max() <= 1e-6 * scale, f"max |ANN - exporter| = {worst.max():.3g} (scale {scale:.3g})"


# ------------------------------------------------------------------------------------------ skl2onnx


def test_skl2onnx_mlp_zipmap_on_and_off_matches_predict_proba_and_converts(tmp_path):
    import onnx
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier

    split = load_digits_split(0)
    losses = []
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warning of the short training
            mlp = MLPClassifier((64,), max_iter=200, random_state=seed).fit(split.x_train, split.y_train)
        expected = mlp.predict_proba(split.x_test)
        for zipmap in (True, False):
            path = tmp_path / f"mlp{seed}_{zipmap}.onnx"
            onnx.save(to_onnx(mlp, split.x_train[:1], options={"zipmap": zipmap}, target_opset=17), str(path))
            graph = load_model(path)
            assert [type(n) for _, n in graph] == [Dense, ReLU, Dense]
            cut = " ".join(graph.notes)
            cut_ops = ("Softmax", "ArgMax", "ArrayFeatureExtractor", "Cast") + (("ZipMap",) if zipmap else ())
            assert all(op in cut for op in cut_ops), cut
            scores = ops.forward(graph, split.x_test)[graph.outputs[0]]
            probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            assert np.abs(probabilities - expected).max() <= 1e-6
            np.testing.assert_array_equal(scores.argmax(axis=1), mlp.predict(split.x_test))
        losses.append(_snn_loss_points(graph, split.x_train, split.x_test, split.y_test))
    assert max(losses) <= MAX_LOSS_POINTS, losses


# ------------------------------------------------------------------------------------------ PyTorch


@pytest.mark.parametrize("export", TORCH_EXPORTS)
def test_pytorch_exports_reproduce_torch_logits(export):
    graph = load_model(FIXTURES / f"{export}.onnx")
    reference = _reference(export.split("_")[0])
    x = reference["x"].reshape(len(reference["x"]), -1)
    ours = ops.forward(graph, x)[graph.outputs[0]]
    _assert_same_outputs(ours, reference["logits"])
    np.testing.assert_array_equal(ours.argmax(axis=1), reference["logits_float32"].argmax(axis=1))
    if export.endswith("_unfolded"):  # BatchNormalization nodes folded here, in float64
        assert np.abs(ours - reference["logits"]).max() <= 1e-9 * np.abs(reference["logits"]).max()


@pytest.mark.parametrize("export", ["gap_torchscript_unfolded", "gap_dynamo"])
def test_pytorch_batchnorm_cnn_converts_within_half_a_point(export):
    """The BatchNorm + global-pool CNN. (The MaxPool + ReLU6 `cnn` fixture loses 2.2 points at T = 8 and
    0.7 at T = 16 with these settings: max pooling is not yet within the target.)"""
    split = load_digits_split(0)
    reference = _reference(export.split("_")[0])
    np.testing.assert_array_equal(reference["y"], split.y_test)  # the fixtures use the project's split
    graph = load_model(FIXTURES / f"{export}.onnx")
    x = reference["x"].reshape(len(reference["x"]), -1)
    loss = _snn_loss_points(graph, split.x_train, x, reference["y"])
    assert loss <= MAX_LOSS_POINTS, loss


# ------------------------------------------------------------------------------------------ tf2onnx


def _tf2onnx_cnn(path: Path, model: str, optimised: bool, channels: int = 1) -> Path:
    """A fixture CNN written as tf2onnx writes the same Keras Sequential: NHWC input (N, 8, 8, C), a
    Transpose to NCHW before the first Conv; Flatten = Transpose back + Reshape([-1, n]) (the Dense weight
    rows in NHWC order); GlobalAveragePooling2D = ReduceMean over H, W (keepdims 0); Dense = MatMul + Add;
    ReLU6 = Clip; Softmax. optimised=True: tf2onnx's transpose optimiser has run (biases fused into Conv);
    False: every Conv and pool wrapped in its own Transpose pair, the BiasAdd an NHWC Add, SAME auto_pad."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    torch_graph = load_model(FIXTURES / f"{model}_dynamo.onnx")
    inits, nodes = [], []
    to_nchw, to_nhwc = [0, 3, 1, 2], [0, 2, 3, 1]

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def add(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [f"{name}:0"], name=name, **attrs))
        return f"{name}:0"

    state = {"x": "input_1", "nhwc": True}

    def layout(nhwc: bool, name: str) -> str:
        if state["nhwc"] != nhwc:
            state["x"] = add("Transpose", [state["x"]], name, perm=to_nhwc if nhwc else to_nchw)
            state["nhwc"] = nhwc
        return state["x"]

    order = None
    for k, (name, layer) in enumerate(torch_graph):
        scope = f"sequential/{type(layer).__name__.lower()}_{k}"
        x = state["x"]
        if isinstance(layer, Conv2d):
            x = layout(False, "sequential/conv2d/BiasAdd__6" if k == 0 else f"{scope}/Conv2D__12")
            weight = layer.weight if channels == 1 else np.repeat(layer.weight, channels, axis=1) / channels
            kernel = const(f"{scope}/Conv2D/ReadVariableOp:0", weight)
            bias = const(f"{scope}/BiasAdd/ReadVariableOp:0", layer.bias)
            if optimised:
                x = add("Conv", [x, kernel, bias], f"{scope}/BiasAdd", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            else:
                x = add("Conv", [x, kernel], f"{scope}/Conv2D", kernel_shape=[3, 3], auto_pad="SAME_UPPER")
                state["x"] = x
                x = add("Add", [layout(True, f"{scope}/Conv2D__14"), bias], f"{scope}/BiasAdd")
        elif isinstance(layer, ReLU) and layer.max is None:
            x = add("Relu", [x], f"{scope}/Relu")
        elif isinstance(layer, ReLU):
            bounds = [const(f"{scope}/min", 0.0), const(f"{scope}/max", layer.max)]
            x = add("Clip", [x, *bounds], f"{scope}/Relu6")
        elif isinstance(layer, Flatten):
            if order is None:  # not after a global pool
                c, h, w = torch_graph.shapes[torch_graph.predecessors(name)[0]]
                order = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
                target = const("const_fold_opt__30", [-1, c * h * w], np.int64)
                x = add("Reshape", [layout(True, f"{scope}/Reshape__28"), target], f"{scope}/Reshape")
        elif isinstance(layer, Dense):
            weight = layer.weight if order is None else layer.weight[:, order]
            order = np.arange(layer.weight.shape[0])
            x = add("MatMul", [x, const(f"{scope}/MatMul/ReadVariableOp:0", weight.T)], f"{scope}/MatMul")
            x = add("Add", [x, const(f"{scope}/BiasAdd/ReadVariableOp:0", layer.bias)], f"{scope}/BiasAdd")
        elif layer.kernel == torch_graph.input_shape(name)[1:]:  # global average pool
            x = add("ReduceMean", [layout(False, f"{scope}/Mean__16")], f"{scope}/Mean", axes=[2, 3],
                    keepdims=0)
            order = np.arange(torch_graph.shapes[name][0])
        else:
            op = "MaxPool" if type(layer).__name__ == "MaxPool2d" else "AveragePool"
            x = add(op, [layout(False, f"{scope}/{op}__20")], f"{scope}/{op}", kernel_shape=[2, 2],
                    strides=[2, 2])
            state["x"] = x
            x = layout(not optimised, f"{scope}/{op}__22")
        state["x"] = x
    x = state["x"]
    nodes.append(helper.make_node("Softmax", [x], ["dense_1"], name="sequential/dense_1/Softmax", axis=1))
    inputs = [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__41", 8, 8, channels])]
    outputs = [helper.make_tensor_value_info("dense_1", TensorProto.FLOAT, ["unk__42", 10])]
    graph = helper.make_graph(nodes, "tf2onnx", inputs, outputs, inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                   producer_name="tf2onnx")
    onnx.checker.check_model(onnx_model)
    onnx.save(onnx_model, str(path))
    return path


@pytest.mark.parametrize("model,optimised", [("cnn", True), ("cnn", False), ("gap", True)])
def test_tf2onnx_nhwc_cnn_matches_and_converts(tmp_path, model, optimised):
    graph = load_model(_tf2onnx_cnn(tmp_path / "keras.onnx", model, optimised))
    assert [type(n).__name__ for _, n in graph][:2] == ["Conv2d", "ReLU"]
    assert any(isinstance(n, Flatten) for _, n in graph)
    assert any("Softmax" in note for note in graph.notes)
    reference = _reference(model)
    x = reference["x"].reshape(len(reference["x"]), -1)  # NHWC with one channel: the same memory order
    _assert_same_outputs(ops.forward(graph, x)[graph.outputs[0]], reference["logits"])
    if model == "gap":  # the MaxPool + ReLU6 CNN loses more at T = 8 (see test_pytorch_cnns_convert...)
        split = load_digits_split(0)
        assert _snn_loss_points(graph, split.x_train, x, reference["y"]) <= MAX_LOSS_POINTS


def test_tf2onnx_multichannel_nhwc_input_names_the_export_option(tmp_path):
    with pytest.raises(ModelError, match="BiasAdd__6.*--inputs-as-nchw"):
        load_model(_tf2onnx_cnn(tmp_path / "rgb.onnx", "cnn", True, channels=3))


def test_onnx_unsupported_data_cast_is_listed_with_its_node(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc"),
             helper.make_node("Cast", ["y"], ["z"], name="to_int", to=TensorProto.INT32),
             helper.make_node("Relu", ["z"], ["r"], name="act")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("r", TensorProto.INT32, ["n", 3])], [w])
    onnx.save(helper.make_model(graph), str(tmp_path / "cast.onnx"))
    with pytest.raises(ModelError, match="to_int.*Cast.*only float/double"):
        load_model(tmp_path / "cast.onnx")
