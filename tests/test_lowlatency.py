"""Datta & Beerel 2022 pipeline pieces (docs/lowlatency.md): exact gradients of stage 1 (clipped-ReLU
training) and stage 3 (BPTT through the T-step SNN), the uniform baseline, the fine-tuner's forward pass
= conversion/engine.py, and the export that `convert` reads back."""

import numpy as np
import pytest

from conversion import engine, thresholds
from conversion.importers.npz import read_npz_model
from conversion.ir import SpikingNetwork
from conversion.lowlatency import finetune as ft
from conversion.lowlatency.clip_training import set_initial_clips
from conversion.lowlatency.export import save_finetuned
from conversion.reference_models import loss_and_gradients, mlp, small_cnn


def _tiny(kind: str):
    if kind == "cnn":
        return small_cnn(0, channels=2, hidden=5, input_shape=(1, 4, 4), n_classes=3)
    return mlp(0, (16, 6, 3))


def _data(n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 16)), rng.integers(0, 3, n)


def _numeric(loss, holder, key, eps=1e-6):
    """Central difference of loss() in holder[key] (an array element) or holder.key (an attribute)."""
    get = (lambda: holder[key]) if isinstance(holder, np.ndarray) else (lambda: getattr(holder, key))
    put = holder.__setitem__ if isinstance(holder, np.ndarray) else (lambda k, v: setattr(holder, k, v))
    old = get()
    put(key, old + eps)
    plus = loss()
    put(key, old - eps)
    minus = loss()
    put(key, old)
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_stage1_clipped_relu_gradients_match_finite_differences(kind):
    x, y = _data()
    graph = set_initial_clips(_tiny(kind), x, percentile=60)  # ceilings inside the activations: mu matters
    for p in graph.populations():  # off any activation value, so that finite differences see no kink
        graph.nodes[p].max *= 1.0137
    l2, decay = 1e-3, 1e-2
    _, grads = loss_and_gradients(graph, x, y, l2, decay)
    loss = lambda: loss_and_gradients(graph, x, y, l2, decay)[0]  # noqa: E731
    checked = 0
    for key, grad in grads.items():
        layer, part = key.rsplit(".", 1)
        node = graph.nodes[layer]
        for i in range(min(3, grad.size)):
            holder, index = (node, "max") if part == "max" else (getattr(node, part).reshape(-1), i)
            expected = _numeric(loss, holder, index)
            assert grad.reshape(-1)[i] == pytest.approx(expected, rel=1e-5, abs=1e-8), key
            checked += 1
    assert {k for k in grads if k.endswith(".max")} == {f"{p}.max" for p in graph.populations()}
    assert all(abs(float(grads[k][0])) > 1e-4 for k in grads if k.endswith(".max"))
    assert checked > 10


def _spiking(kind: str, leak: float = 0.1) -> SpikingNetwork:
    graph = _tiny(kind)
    pops = graph.populations()
    v_th = {p: np.array(0.7) for p in pops}
    shape = graph.shapes[pops[0]]
    v_th[pops[0]] = np.linspace(0.5, 0.9, shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    scale = {p: np.array(0.9) for p in pops}
    return SpikingNetwork(graph, v_th, scale, leak=leak, init_membrane_fraction=0.5)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_stage3_bptt_gradients_match_finite_differences(kind):
    """With the smooth spike s = sigmoid(k (V/theta - 1)) the BPTT gradients are exact: weights, biases,
    per-layer and per-channel thresholds, leak; through 3 steps, the reset and V_0 = f theta."""
    x, y = _data(4, seed=1)
    net = _spiking(kind)
    _, _, grads = ft.forward_backward(net, x, y, 3, smooth=True)
    loss = lambda: ft.forward_backward(net, x, y, 3, smooth=True)[1]  # noqa: E731
    params = ft.parameters(net)
    assert set(grads) == set(params)
    for key, value in params.items():
        for i in range(min(3, value.size)):
            holder, index = (net, "leak") if key == "leak" else (value.reshape(-1), i)
            expected = _numeric(loss, holder, index)
            assert np.asarray(grads[key]).reshape(-1)[i] == pytest.approx(expected, rel=1e-5, abs=1e-9), key


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_finetuner_forward_is_the_engine(kind):
    """Same spikes as conversion/engine.py: identical readouts and predictions (leak, reset, V_0)."""
    x, _ = _data(40, seed=2)
    net = _spiking(kind, leak=0.2)
    for t in (1, 2, 4):
        mean, _, _ = ft.forward_backward(net, x, None, t)
        result = engine.simulate(net, x, [t], dtype="float64")[0]  # the fine-tuner runs float64
        np.testing.assert_allclose(mean * t, result.readout, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(ft.predict(net, x, t), result.predictions)


def test_finetune_is_seeded_and_leaves_its_input_alone():
    x, y = _data(64, seed=3)
    net = _spiking("cnn", leak=0.0)
    before = {p: v.copy() for p, v in net.v_th.items()}
    config = ft.FinetuneConfig(epochs=2, batch_size=16)
    a, b = (ft.finetune(net, x, y, 2, seed=5, config=config) for _ in range(2))
    for p in net.v_th:
        np.testing.assert_array_equal(net.v_th[p], before[p])
        np.testing.assert_array_equal(a.v_th[p], b.v_th[p])
        assert not np.allclose(a.v_th[p], before[p])  # thresholds are trained
    np.testing.assert_array_equal(a.graph.nodes["fc2"].weight, b.graph.nodes["fc2"].weight)
    assert a.leak == b.leak and 0.0 <= a.leak < 1.0


def test_uniform_threshold_is_the_clip_ceiling():
    x, _ = _data(50)
    graph = set_initial_clips(_tiny("cnn"), x, percentile=90)
    v_th, scale, _ = thresholds.compute_thresholds(graph, x, "uniform")
    for p in graph.populations():
        assert float(v_th[p]) == pytest.approx(graph.nodes[p].max) and float(scale[p]) == float(v_th[p])
    pre = thresholds.calibration_pre_activations(_tiny("cnn"), x)  # no ceiling: the calibration maximum
    v_th, _, _ = thresholds.compute_thresholds(_tiny("cnn"), x, "uniform")
    assert float(v_th["relu1"]) == pytest.approx(pre["relu1"].max())


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_saved_finetuned_model_converts_back_to_the_same_network(kind, tmp_path):
    """The sequential-v1 file (thresholds folded, ReLU clipped at 1) + `uniform` thresholds + the stored
    leak and initial membrane reproduce the fine-tuned network's predictions."""
    x, _ = _data(200, seed=4)
    net = _spiking(kind, leak=0.15)
    path = save_finetuned(tmp_path / "ft.npz", net, 3)
    arrays = np.load(path)
    graph = read_npz_model(path)
    rebuilt = thresholds.convert(graph, x, "uniform", 3, leak=float(arrays["snn_leak"]),
                                 init_membrane_fraction=float(arrays["snn_init_membrane"]))
    original, again = (engine.simulate(n, x, [3])[0] for n in (net, rebuilt))
    assert np.mean(original.predictions == again.predictions) >= 0.99
    np.testing.assert_allclose(original.spikes_per_sample, again.spikes_per_sample, rtol=0.01)
