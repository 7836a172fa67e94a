"""Convolutional chains on the Loihi path (docs/loihi.md, "Convolution and pooling"): Conv2d, average
pooling and Flatten lowered to exact connection matrices; Lava fixed_pt equal to the
fixed-point engine on the digits CNN, per layer, per sample and per neuron; unsupported layers refused
by name before Lava starts. The 200-sample equality is measured by benchmarks/bench_lava_cnn.py."""

import json

import numpy as np
import pytest

from conversion import ops, reference_models
from conversion.fixed_point import lowering
from conversion.fixed_point.lowering import float_network, lower, unit_weights
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, SpikingNetwork
from loihi_targets import runner
from loihi_targets.pipeline import run_loihi
from spiking_mcc.errors import ModelError

T = 8
N_SAMPLES = 40


def _unit_network(graph: Graph, rng: np.random.Generator) -> SpikingNetwork:
    """Per-channel / per-neuron thresholds and output scales that differ, so the unit rescaling is seen."""
    v_th, scale = {}, {}
    for pop in graph.populations():
        shape = graph.shapes[pop]
        per = (shape[0], 1, 1) if len(shape) == 3 else shape
        v_th[pop] = rng.uniform(0.5, 2.0, per)
        scale[pop] = rng.uniform(0.5, 2.0, per)
    return SpikingNetwork(graph, v_th=v_th, output_scale=scale)


def _odd_cnn(rng: np.random.Generator) -> Graph:
    """Stride 2 and padding, a padded average pool with stride 1, biases everywhere."""
    return Graph.sequential((2, 9, 7), [
        Conv2d(rng.normal(0, .5, (4, 2, 3, 3)), rng.normal(0, .1, 4), stride=2, padding=1, name="conv"),
        ReLU(name="r1"), AvgPool2d(kernel=2, stride=1, padding=1, name="pool"), Flatten(name="flat"),
        Dense(rng.normal(0, .3, (6, 4 * 6 * 5)), rng.normal(0, .1, 6), name="fc"), ReLU(name="r2"),
        Dense(rng.normal(0, .3, (3, 6)), rng.normal(0, .1, 3), name="out")])


def test_lowered_segments_compute_the_ann_exactly():
    """Each segment's matrix applied to the previous population's output (spikes worth output_scale,
    thresholds 1) reproduces the ANN's pre-activation of the next population."""
    rng = np.random.default_rng(0)
    graph = _odd_cnn(rng)
    snn = _unit_network(graph, rng)
    segments = lower(snn)
    assert [s.population for s in segments] == ["r1", "r2", None]
    assert [s.nodes for s in segments] == [("conv",), ("pool", "flat", "fc"), ("out",)]
    x = rng.random((5, 2, 9, 7))
    values = ops.forward(graph, x)
    pre = ops.forward(graph, x, pre_activations=True)
    previous = x.reshape(5, -1)
    for seg, (w, b) in zip(segments, unit_weights(snn, segments)):
        target = pre[seg.population] if seg.population else values["out"]
        v_th = np.broadcast_to(snn.v_th[seg.population], graph.shapes[seg.population]).reshape(-1) \
            if seg.population else 1.0
        np.testing.assert_allclose(previous @ w.T + b, target.reshape(5, -1) / v_th, rtol=1e-10, atol=1e-12)
        if seg.population:  # next segment takes unit spikes: activation / output_scale
            scale = np.broadcast_to(snn.output_scale[seg.population], graph.shapes[seg.population])
            previous = (values[seg.population] / scale).reshape(5, -1)
    conv = segments[0]
    assert conv.convolutional and conv.weight.shape == (4 * 5 * 4, 2 * 9 * 7)
    assert (conv.weight != 0).sum(axis=1).max() <= 2 * 3 * 3  # a kernel's taps, fewer at the border


def test_a_dense_chain_lowers_to_exactly_the_unit_threshold_weights():
    """The Dense path is unchanged: the same matrices and biases, bit for bit."""
    rng = np.random.default_rng(1)
    snn = _unit_network(reference_models.mlp(seed=1, sizes=(64, 32, 16, 10)), rng)
    segments = lower(snn)
    assert not any(s.convolutional for s in segments)
    for (w_new, b_new), (w_old, b_old) in zip(unit_weights(snn, segments), snn.unit_threshold_weights()):
        assert np.array_equal(w_new, w_old) and np.array_equal(b_new, b_old)


def test_max_pooling_two_weighted_layers_and_oversized_matrices_are_refused_by_name(monkeypatch):
    rng = np.random.default_rng(2)
    conv = Conv2d(rng.normal(0, .5, (2, 1, 3, 3)), np.zeros(2), padding=1, name="c1")
    with_max = Graph.sequential((1, 6, 6), [conv, ReLU(name="r"), MaxPool2d(2, name="mp"), Flatten(),
                                            Dense(rng.normal(0, .3, (3, 18)), np.zeros(3), name="o")])
    with pytest.raises(ModelError, match="'mp'.*max pooling"):
        lower(_unit_network(with_max, rng))
    stacked = Graph.sequential((4,), [Dense(np.ones((3, 4)), np.zeros(3), name="d1"),
                                      Dense(np.ones((2, 3)), np.zeros(2), name="d2")])
    with pytest.raises(ModelError, match="'d1'.*needs a ReLU"):
        lower(_unit_network(stacked, rng))
    monkeypatch.setattr(lowering, "MAX_LOWERED_ENTRIES", 1000)
    plain = Graph.sequential((1, 6, 6), [conv, ReLU(name="r"), Flatten(),
                                         Dense(rng.normal(0, .3, (3, 72)), np.zeros(3), name="o")])
    with pytest.raises(ModelError, match=r"'c1'.*2592 entries \(36 inputs x 72 outputs\).*limit 1000"):
        lower(_unit_network(plain, rng))


@pytest.fixture(scope="module")
def digits_cnn():
    from spiking_mcc.data.digits import load_digits_split

    graph, accuracy = reference_models.train_reference("digits-cnn", seed=0)
    return graph, accuracy, load_digits_split(0)


@pytest.fixture(scope="module")
def cnn_report(digits_cnn):
    graph, _, split = digits_cnn
    return run_loihi(graph, (split.x_test, split.y_test, split.x_train), samples=N_SAMPLES, timesteps=T,
                     mode="fixed", timeout_s=120)


def test_digits_cnn_on_lava_fixed_pt_equals_the_fixed_point_engine(cnn_report):
    report = cnn_report
    assert report["spike_counts_equal"] is True and report["output_equal"] is True
    assert report["max_window_count_difference"] == [0, 0]
    conv, hidden = report["per_layer"]
    assert conv["layer"] == "relu1" and conv["neurons"] == 8 * 8 * 8 and hidden["neurons"] == 64
    assert conv["spikes_per_sample_lava"] > 100 and hidden["spikes_per_sample_lava"] > 10
    assert report["accuracy_lava"] == report["accuracy_engine"] >= 0.9
    assert abs(report["accuracy_lava"] - report["accuracy_conversion_engine_float"]) <= 0.05


def test_cnn_workload_counts_the_synapses_loihi_stores(cnn_report, digits_cnn):
    from conversion import thresholds
    from loihi_targets.quantize import quantize

    graph, _, split = digits_cnn
    net = quantize(thresholds.convert(graph, split.x_train[:500], method="percentile", timesteps=T), T)
    stored = [int(np.count_nonzero(layer.weight_mant)) for layer in net.layers]
    conv, fc1, fc2 = cnn_report["workloads"][0]["layers"]
    taps = 1 * 3 * 3
    assert conv["analog_input"] and conv["macs"] == stored[0] <= 8 * 8 * 8 * taps  # no padding taps
    assert conv["fan_in"] == round(stored[0] / 512) <= taps
    # the 2x2 average pool folds into fc1: each of its 128 pooled inputs becomes 4 synapses
    assert fc1["fan_in"] == round(stored[1] / 64) and 128 < fc1["fan_in"] <= 512
    assert fc2["fan_in"] == 64 and fc2["macs"] == 640  # a Dense layer counts every input, as before
    assert conv["spikes"] == pytest.approx(cnn_report["per_layer"][0]["spikes_per_sample_lava"])
    assert cnn_report["cores_used"] >= 3 and cnn_report["intercore_spikes"] > 0


def test_cli_loihi_runs_a_cnn_file_in_float_mode(digits_cnn, tmp_path, cli):
    from conversion.importers.npz import write_npz_model

    model = write_npz_model(tmp_path / "cnn.npz", digits_cnn[0])
    out = tmp_path / "out"
    assert cli(["loihi", str(model), "--samples", "20", "--timesteps", str(T), "--mode", "float",
                "--out", str(out)]) == 0
    report = json.loads((out / "loihi.json").read_text())
    assert report["spike_counts_equal"] is True and report["accuracy_lava"] >= 0.85


def test_a_cnn_with_max_pooling_is_refused_before_lava(monkeypatch):
    rng = np.random.default_rng(3)
    conv = Conv2d(rng.normal(0, .5, (2, 1, 3, 3)), np.zeros(2), padding=1, name="c")
    graph = Graph.sequential((1, 8, 8), [conv, ReLU(name="r"), MaxPool2d(2, name="mp"), Flatten(),
                                         Dense(rng.normal(0, .3, (10, 32)), np.zeros(10), name="o")])
    monkeypatch.setattr(runner.subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    x = rng.random((30, 64))
    with pytest.raises(ModelError, match="'mp'"):
        run_loihi(graph, (x, np.arange(30) % 10), samples=10, timesteps=T, mode="fixed")


def test_lowered_float_network_keeps_the_cnn_accuracy(digits_cnn):
    """The lowered real-valued chain (Lava floating_pt semantics) classifies as the ANN does."""
    from conversion import thresholds
    from conversion.fixed_point.float_reference import simulate_float

    graph, accuracy, split = digits_cnn
    snn = thresholds.convert(graph, split.x_train[:500], method="percentile", timesteps=32)
    result = simulate_float(float_network(snn), split.x_test, 32)
    assert np.mean(result.predictions == split.y_test) >= accuracy - 0.03


def test_engine_fixed_mode_runs_the_cnn_as_the_float_engine_classifies(digits_cnn):
    """`engine.simulate(mode="fixed")` takes the lowered CNN (not only Dense chains): the Loihi integer
    arithmetic classifies within 3 points of the float engine and reports every population's spikes."""
    from conversion import engine, thresholds

    graph, _, split = digits_cnn
    snn = thresholds.convert(graph, split.x_train[:500], method="percentile", timesteps=T)
    x, y = split.x_test[:200], split.y_test[:200]
    fixed = engine.simulate(snn, x, [T], mode="fixed")[0]
    float_ = engine.simulate(snn, x, [T], dtype="float64")[0]
    assert set(fixed.spikes) == {"relu1", "relu2"}
    assert fixed.spikes["relu1"].shape == (200,) and fixed.spikes["relu1"].mean() > 100
    assert abs(np.mean(fixed.predictions == y) - np.mean(float_.predictions == y)) <= 0.03
