"""Importers: sequential-v1 npz, ONNX (checked against onnx's reference evaluator), PyTorch (optional)."""

import numpy as np
import pytest

from conversion import ops
from conversion.importers import load_model
from conversion.importers.npz import FORMAT, write_npz_model
from conversion.importers.onnx_export import write_onnx_model
from conversion.ir import AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU
from spiking_mcc.errors import ModelError
from spiking_mcc.io import save_npz

RNG = np.random.default_rng(1)


def _cnn() -> Graph:
    return Graph.sequential(
        (1, 8, 8),
        [
            Conv2d(RNG.normal(size=(4, 1, 3, 3)), RNG.normal(size=4), 1, 1, name="conv1"),
            ReLU(name="relu1"),
            MaxPool2d(2, name="mpool"),
            Conv2d(RNG.normal(size=(6, 4, 3, 3)), RNG.normal(size=6), 1, 1, name="conv2"),
            ReLU(3.0, name="clip2"),
            AvgPool2d(2, padding=1, name="apool"),
            Flatten(name="flat"),
            Dense(RNG.normal(size=(10, 54)), RNG.normal(size=10), name="fc"),
        ],
    )


def _onnx_reference(path, x):
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(str(path)).run(None, {"input": x.astype(np.float32)})[0]


def test_npz_round_trip_keeps_every_layer(tmp_path):
    graph = _cnn()
    path = write_npz_model(tmp_path / "m.npz", graph)
    loaded = load_model(path)
    assert loaded.describe() == graph.describe()
    x = RNG.random((5, 64))
    np.testing.assert_allclose(ops.forward(loaded, x)["fc"], ops.forward(graph, x)["fc"], rtol=1e-12)


def test_npz_batchnorm_is_folded_exactly(tmp_path):
    w, b = RNG.normal(size=(5, 3)), RNG.normal(size=5)
    gamma, beta, mean, var = (
        RNG.uniform(0.5, 2, 5),
        RNG.normal(size=5),
        RNG.normal(size=5),
        RNG.uniform(0.2, 2, 5),
    )
    save_npz(
        tmp_path / "bn.npz",
        format=np.array(FORMAT),
        input_shape=np.array([3]),
        n_layers=np.array(2),
        layer0_kind=np.array("dense"),
        layer0_weight=w,
        layer0_bias=b,
        layer1_kind=np.array("batchnorm"),
        layer1_gamma=gamma,
        layer1_beta=beta,
        layer1_mean=mean,
        layer1_var=var,
        layer1_eps=np.array(1e-3),
    )
    graph = load_model(tmp_path / "bn.npz")
    assert len(graph.nodes) == 1
    x = RNG.normal(size=(4, 3))
    expected = gamma * (x @ w.T + b - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(ops.forward(graph, x)[graph.outputs[0]], expected, rtol=1e-12, atol=1e-12)


def test_npz_bad_files_name_the_problem(tmp_path):
    weight = np.ones((3, 4))
    weight[0, 0] = np.nan
    save_npz(
        tmp_path / "nan.npz",
        format=np.array(FORMAT),
        input_shape=np.array([4]),
        n_layers=np.array(1),
        layer0_kind=np.array("dense"),
        layer0_weight=weight,
        layer0_bias=np.zeros(3),
    )
    with pytest.raises(ModelError, match="nan.npz.*layer 'dense0'.*NaN/Inf"):
        load_model(tmp_path / "nan.npz")
    save_npz(
        tmp_path / "kind.npz",
        format=np.array(FORMAT),
        input_shape=np.array([4]),
        n_layers=np.array(1),
        layer0_kind=np.array("lstm"),
    )
    with pytest.raises(ModelError, match="layer0_kind is 'lstm'"):
        load_model(tmp_path / "kind.npz")
    save_npz(tmp_path / "fmt.npz", format=np.array("other"), input_shape=np.array([4]))
    with pytest.raises(ModelError, match="format is 'other'"):
        load_model(tmp_path / "fmt.npz")
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "missing.onnx")


def test_onnx_import_matches_onnx_reference_and_cuts_softmax(tmp_path):
    graph = _cnn()
    path = write_onnx_model(tmp_path / "cnn.onnx", graph, softmax=True)
    loaded = load_model(path)
    assert [type(n).__name__ for _, n in loaded] == [type(n).__name__ for _, n in graph]
    assert loaded.nodes["clip2"].max == 3.0
    assert any("Softmax" in note for note in loaded.notes)
    x = RNG.random((6, 1, 8, 8))
    logits = np.log(_onnx_reference(path, x))  # softmax output -> log-probabilities
    ours = ops.forward(loaded, x)[loaded.outputs[0]]
    np.testing.assert_allclose(
        ours - ours.max(1, keepdims=True), logits - logits.max(1, keepdims=True), atol=1e-4
    )


def test_onnx_unsupported_operators_are_all_listed(tmp_path):
    from onnx import helper

    graph = Graph.sequential((4,), [Dense(RNG.normal(size=(3, 4)), np.zeros(3), "fc")])
    extra = [
        helper.make_node("Tanh", ["fc.out"], ["t"], name="squash"),
        helper.make_node("LRN", ["t"], ["u"], name="norm", size=1),
        helper.make_node("Softmax", ["u"], ["p"], name="softmax"),
    ]
    path = write_onnx_model(tmp_path / "bad.onnx", graph, extra_nodes=extra)
    with pytest.raises(ModelError) as err:
        load_model(path)
    message = str(err.value)
    assert "2 unsupported ONNX operator(s)" in message
    assert "Tanh (node 'squash')" in message and "LRN (node 'norm')" in message
    assert "Softmax" not in message.split("supported:")[0]


def test_onnx_matmul_add_batchnorm_globalpool_reshape(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    conv_w, conv_b = RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    bn = [RNG.uniform(0.5, 2, 3), RNG.normal(size=3), RNG.normal(size=3), RNG.uniform(0.2, 2, 3)]
    mat, bias = RNG.normal(size=(3, 5)), RNG.normal(size=5)
    inits = [
        numpy_helper.from_array(a.astype(np.float32), n)
        for a, n in [
            (conv_w, "cw"),
            (conv_b, "cb"),
            (bn[0], "g"),
            (bn[1], "b"),
            (bn[2], "m"),
            (bn[3], "v"),
            (mat, "W"),
            (bias, "B"),
        ]
    ]
    inits.append(numpy_helper.from_array(np.array([-1, 3], dtype=np.int64), "shape"))
    nodes = [
        helper.make_node("Conv", ["input", "cw", "cb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], name="bn", epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="reshape"),
        helper.make_node("MatMul", ["f", "W"], ["mm"], name="mm"),
        helper.make_node("Add", ["mm", "B"], ["out"], name="bias"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 6, 6])],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 5])],
            inits,
        ),
        opset_imports=[helper.make_opsetid("", 15)],
    )  # onnx's reference BN before opset 14 uses batch stats
    onnx.save(model, str(tmp_path / "m.onnx"))
    graph = load_model(tmp_path / "m.onnx")
    assert not any(isinstance(n, BatchNorm) for n in graph.nodes.values())
    x = RNG.random((4, 2, 6, 6))
    np.testing.assert_allclose(
        ops.forward(graph, x)[graph.outputs[0]], _onnx_reference(tmp_path / "m.onnx", x), rtol=1e-4, atol=1e-4
    )


def test_pytorch_sequential_import_matches_torch():
    torch = pytest.importorskip("torch")  # optional importer: torch is not a project dependency
    from conversion.importers.torch_import import from_torch_sequential

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 10),
        torch.nn.Softmax(dim=1),
    ).eval()
    graph = from_torch_sequential(model, (1, 8, 8))
    x = np.random.default_rng(0).random((3, 1, 8, 8))
    with torch.no_grad():
        probs = model(torch.tensor(x, dtype=torch.float32)).numpy()
    ours = ops.forward(graph, x)[graph.outputs[0]]
    np.testing.assert_array_equal(ours.argmax(1), probs.argmax(1))
    assert graph.notes


def test_point_baseline_of_mcc_file_imports_with_standardisation_folded(tmp_path):
    from spiking_mcc.mcc.network import fit_standardisation, forward, init_network, save_network

    net = init_network("point", 12, 64, (16, 8))
    audio, visual = RNG.normal(2.0, 3.0, size=(40, 12)), RNG.random((40, 64))
    fit_standardisation(net, audio, visual)
    graph = load_model(save_network(net, tmp_path / "point.npz"))
    # one chain: each hidden population holds both streams (block-diagonal weights), so Lava can run it
    assert graph.outputs == ["out"] and graph.is_chain() and len(graph.populations()) == 2
    logits = ops.forward(graph, np.hstack([audio, visual]))["out"]
    np.testing.assert_allclose(logits, forward(net, audio, visual).logits, rtol=1e-10, atol=1e-10)
    mcc = init_network("mcc", 12, 64, (16, 8))
    fit_standardisation(mcc, audio, visual)
    with pytest.raises(ModelError, match="only the point baseline"):
        load_model(save_network(mcc, tmp_path / "mcc.npz"))


def test_onnx_reshape_with_computed_shape_as_pytorch_exports_view(tmp_path):
    """x.view(x.size(0), -1) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    conv_w, fc_w = RNG.normal(size=(2, 1, 3, 3)), RNG.normal(size=(4, 32))
    inits = [
        numpy_helper.from_array(conv_w.astype(np.float32), "cw"),
        numpy_helper.from_array(fc_w.astype(np.float32), "fw"),
        numpy_helper.from_array(np.zeros(4, np.float32), "fb"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "cw"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero_axes"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "target"], ["f"], name="view"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["out"], name="fc", transB=1),
    ]
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "zero_axes"))
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 6, 6])],
            [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 4])],
            inits,
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    onnx.save(model, str(tmp_path / "view.onnx"))
    graph = load_model(tmp_path / "view.onnx")
    assert [type(n).__name__ for _, n in graph] == ["Conv2d", "ReLU", "Flatten", "Dense"]
    x = RNG.random((3, 1, 6, 6))
    np.testing.assert_allclose(
        ops.forward(graph, x)[graph.outputs[0]],
        _onnx_reference(tmp_path / "view.onnx", x),
        rtol=1e-4,
        atol=1e-4,
    )
