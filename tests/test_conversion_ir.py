"""Conversion IR: validation at construction (SPEC section 8 bad input), BN folding, chain helpers."""

import numpy as np
import pytest

from conversion import ops
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
    SpikingNetwork,
    TwoPoint,
    fold_batchnorm,
)
from spiking_mcc.errors import ModelError

RNG = np.random.default_rng(0)


def _mlp():
    return Graph.sequential(
        (4,),
        [
            Dense(RNG.normal(size=(3, 4)), np.zeros(3), "fc1"),
            ReLU(name="relu1"),
            Dense(RNG.normal(size=(2, 3)), np.zeros(2), "fc2"),
        ],
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_name_the_layer(bad):
    weight = np.ones((3, 4))
    weight[1, 2] = bad
    with pytest.raises(ModelError, match="layer 'hidden'.*NaN/Inf"):
        Dense(weight, np.zeros(3), name="hidden")
    with pytest.raises(ModelError, match="layer 'c1'.*bias"):
        Conv2d(np.ones((2, 1, 3, 3)), np.array([0.0, bad]), name="c1")


def test_shape_mismatch_names_both_layers():
    with pytest.raises(ModelError, match="layer 'flat'.*\\(128,\\).*layer 'fc'.*\\(64,\\)"):
        Graph.sequential((2, 8, 8), [Flatten(name="flat"), Dense(np.ones((10, 64)), np.zeros(10), "fc")])
    with pytest.raises(ModelError, match="layer 'input' gives 3 channels but layer 'conv'"):
        Graph.sequential((3, 8, 8), [Conv2d(np.ones((4, 1, 3, 3)), np.zeros(4), name="conv")])
    with pytest.raises(ModelError, match="bias has 2 entries"):
        Dense(np.ones((3, 4)), np.zeros(2), "fc")


def test_graph_structure_errors():
    dense = Dense(np.ones((2, 2)), np.zeros(2), "a")
    with pytest.raises(ModelError, match="unknown source 'nowhere'"):
        Graph({"a": dense}, [("nowhere", "a")], {"x": (2,)}, ["a"])
    with pytest.raises(ModelError, match="'s'.*Add.*at least 2"):
        Graph({"a": dense, "s": Add()}, [("x", "a"), ("a", "s")], {"x": (2,)}, ["s"])
    with pytest.raises(ModelError, match="shape mismatch at 's'"):
        Graph(
            {"a": Dense(np.ones((3, 2)), np.zeros(3)), "s": Add()},
            [("x", "a"), ("a", "s"), ("x", "s")],
            {"x": (2,)},
            ["s"],
        )
    with pytest.raises(ModelError, match="cycle"):
        Graph(
            {"a": dense, "b": Add(), "c": Dense(np.ones((2, 2)), np.zeros(2))},
            [("x", "a"), ("a", "b"), ("c", "b"), ("b", "c")],
            {"x": (2,)},
            ["c"],
        )


def test_residual_add_and_shapes():
    g = Graph(
        {"a": Dense(np.eye(3), np.zeros(3)), "r": ReLU(), "s": Add()},
        [("x", "a"), ("a", "r"), ("r", "s"), ("x", "s")],
        {"x": (3,)},
        ["s"],
    )
    out = ops.forward(g, np.array([[1.0, -2.0, 3.0]]))["s"]
    np.testing.assert_allclose(out, [[2.0, -2.0, 6.0]])
    assert not g.is_chain()


def test_pool_and_conv_output_shapes():
    g = Graph.sequential(
        (1, 9, 9),
        [
            Conv2d(np.ones((4, 1, 3, 3)), np.zeros(4), stride=2, padding=1),
            ReLU(),
            MaxPool2d(2),
            AvgPool2d(2, padding=1),
            Flatten(),
        ],
    )
    assert g.shapes["conv"] == (4, 5, 5) and g.shapes["maxpool"] == (4, 2, 2)
    assert g.shapes["avgpool"] == (4, 2, 2) and g.output_shape == (16,)
    with pytest.raises(ModelError, match="kernel 5.*does not fit"):
        Graph.sequential((1, 3, 3), [AvgPool2d(5, name="big")])


def test_two_point_node_validates_sources_and_shapes():
    rf = Dense(np.ones((5, 4)), np.zeros(5), "audio")
    tp = TwoPoint(np.ones((3, 5)), np.zeros(3), {"visual": np.ones((3, 6))}, law="cooperation", name="tp")
    vis = Dense(np.ones((6, 4)), np.zeros(6), "visual")
    g = Graph(
        {"audio": rf, "visual": vis, "tp": tp},
        [("x", "audio"), ("x", "visual"), ("audio", "tp"), ("visual", "tp")],
        {"x": (4,)},
        ["tp"],
    )
    assert g.rf_source("tp") == "audio" and g.shapes["tp"] == (3,)
    with pytest.raises(ModelError, match="context source\\(s\\) \\['visual'\\] have no edge"):
        Graph({"audio": rf, "tp": tp}, [("x", "audio"), ("audio", "tp")], {"x": (4,)}, ["tp"])
    with pytest.raises(ModelError, match="layer 'tp'.*context weight from 'v'.*2 outputs"):
        TwoPoint(np.ones((3, 5)), np.zeros(3), {"v": np.ones((2, 6))}, name="tp")
    bad_vis = Dense(np.ones((7, 4)), np.zeros(7), "visual")
    with pytest.raises(ModelError, match="layer 'visual' gives \\(7,\\) but layer 'tp' expects context"):
        Graph(
            {"audio": rf, "visual": bad_vis, "tp": tp},
            [("x", "audio"), ("x", "visual"), ("audio", "tp"), ("visual", "tp")],
            {"x": (4,)},
            ["tp"],
        )


def test_batchnorm_folding_is_exact_for_dense_and_conv():
    bn = BatchNorm(
        RNG.uniform(0.5, 2, 4), RNG.normal(size=4), RNG.normal(size=4), RNG.uniform(0.1, 3, 4), 1e-3
    )
    x = RNG.normal(size=(5, 6))
    dense = Dense(RNG.normal(size=(4, 6)), RNG.normal(size=4))
    expected = bn.gamma * (ops.dense(x, dense) - bn.mean) / np.sqrt(bn.var + bn.eps) + bn.beta
    np.testing.assert_allclose(ops.dense(x, fold_batchnorm(dense, bn)), expected, rtol=1e-12, atol=1e-12)
    conv = Conv2d(RNG.normal(size=(4, 2, 3, 3)), RNG.normal(size=4), padding=1)
    xi = RNG.normal(size=(3, 2, 5, 5))
    c = (slice(None), None, None)
    expected = bn.gamma[c] * (ops.conv2d(xi, conv) - bn.mean[c]) / np.sqrt(bn.var[c] + bn.eps) + bn.beta[c]
    np.testing.assert_allclose(ops.conv2d(xi, fold_batchnorm(conv, bn)), expected, rtol=1e-12, atol=1e-12)


def test_conv_matches_direct_sum():
    conv = Conv2d(RNG.normal(size=(2, 3, 3, 3)), RNG.normal(size=2), stride=2, padding=1)
    x = RNG.normal(size=(1, 3, 6, 6))
    out = ops.conv2d(x, conv)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    direct = conv.weight[1].ravel() @ xp[0, :, 2:5, 4:7].ravel() + conv.bias[1]
    assert out.shape == (1, 2, 3, 3)
    assert out[0, 1, 1, 2] == pytest.approx(direct, rel=1e-12)


def test_spiking_network_validation_and_unit_threshold_weights():
    g = _mlp()
    with pytest.raises(ModelError, match="v_th missing for population\\(s\\) \\['relu1'\\]"):
        SpikingNetwork(g, {}, {"relu1": 1.0})
    with pytest.raises(ModelError, match="layer 'relu1': v_th of shape \\(4,\\) does not broadcast"):
        SpikingNetwork(g, {"relu1": np.ones(4)}, {"relu1": 1.0})
    with pytest.raises(ModelError, match="reset must be one of"):
        SpikingNetwork(g, {"relu1": 1.0}, {"relu1": 1.0}, reset="half")
    net = SpikingNetwork(g, {"relu1": np.array([1.0, 2.0, 4.0])}, {"relu1": np.array([0.5, 1.0, 2.0])})
    (w1, b1), (w2, b2) = net.unit_threshold_weights()
    np.testing.assert_allclose(w1, g.nodes["fc1"].weight / np.array([1.0, 2.0, 4.0])[:, None])
    np.testing.assert_allclose(w2, g.nodes["fc2"].weight * np.array([0.5, 1.0, 2.0])[None, :])
    assert [name for name, _ in g.layers_in_order()] == ["fc1", "relu1", "fc2"]
    assert [pop for _, pop in net.dense_chain()] == ["relu1", None]
