"""Batched spiking engine: step functions by hand, fan-out, accuracy targets (issue 4), Brian2 and NIR."""

import numpy as np
import pytest

from conversion import engine, ops
from conversion.ir import Add, AvgPool2d, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, SpikingNetwork
from conversion.reference_models import train_reference
from conversion.thresholds import convert
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import DataError, ModelError

PIPELINE_NEURON = dict(init_membrane_fraction=0.5)  # the convert command's default


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.fixture(scope="module")
def mlp():
    return train_reference("digits-mlp", seed=0)


@pytest.fixture(scope="module")
def cnn():
    return train_reference("digits-cnn", seed=0)


def test_if_step_by_hand():
    v, s = engine.if_step(np.array([0.0, 0.5, 0.9]), np.array([0.5, 0.6, 2.5]), 1.0)
    np.testing.assert_allclose(s, [0, 1, 1])
    np.testing.assert_allclose(v, [0.5, 0.1, 2.4])  # reset by subtraction keeps the residue
    v, s = engine.if_step(np.array([0.0, 0.5, 0.9]), np.array([0.5, 0.6, 2.5]), 1.0, reset="zero")
    np.testing.assert_allclose(v, [0.5, 0.0, 0.0])
    v, s = engine.if_step(np.array([1.0]), np.array([0.2]), 1.0, leak=0.5)
    np.testing.assert_allclose((v, s), ([0.7], [0.0]))


def test_poisson_encoding_is_seeded_and_rate_coded():
    rate = np.array([0.0, 0.25, 1.0, 1.7])
    a = np.stack([engine.poisson_spikes(rate, np.random.default_rng(3)) for _ in range(2)])
    np.testing.assert_array_equal(a[0], a[1])
    rng = np.random.default_rng(0)
    counts = sum(engine.poisson_spikes(np.full(4000, 0.25), rng) for _ in range(20))
    assert counts.mean() / 20 == pytest.approx(0.25, abs=0.01)
    np.testing.assert_array_equal(engine.poisson_spikes(rate[[0, 2, 3]], rng), [0, 1, 1])


def test_gated_maxpool_passes_the_most_active_input():
    value = np.zeros((1, 1, 2, 2))
    value[0, 0, 1, 0] = 1.0  # a spike from the neuron with the highest accumulated input
    gate = np.array([[[[0.0, 3.0], [5.0, 1.0]]]])
    out = ops.gated_maxpool2d(value, gate, MaxPool2d(2))
    assert out.shape == (1, 1, 1, 1) and out[0, 0, 0, 0] == 1.0
    gate[0, 0, 0, 1] = 9.0
    assert ops.gated_maxpool2d(value, gate, MaxPool2d(2))[0, 0, 0, 0] == 0.0


def test_conv_fanout_counts_every_synapse():
    weight = np.ones((3, 2, 3, 3))
    weight[1, 0] = 0.0  # pruned synapses do not count
    graph = Graph.sequential((2, 5, 5), [Conv2d(weight, np.zeros(3), stride=1, padding=1, name="c")])
    fan = engine.fanout_maps(graph)["c"]["input"]
    # brute force: every output position and tap whose input pixel lies inside the 5x5 image
    expected = np.zeros((2, 5, 5))
    for out_c, in_c, oy, ox, ky, kx in np.ndindex(3, 2, 5, 5, 3, 3):
        y, x = oy + ky - 1, ox + kx - 1
        if 0 <= y < 5 and 0 <= x < 5 and weight[out_c, in_c, ky, kx] != 0:
            expected[in_c, y, x] += 1
    np.testing.assert_array_equal(fan, expected)
    assert fan[0, 2, 2] == 2 * 9 and fan[1, 0, 0] == 3 * 4


def test_rates_approach_ann_activations_at_large_t(mlp, digits):
    graph, _ = mlp
    net = convert(graph, digits.x_train, "max", **PIPELINE_NEURON)
    r8, r64 = engine.simulate(net, digits.x_test[:100], [8, 64])
    assert r64.activation_error["relu1"] < 0.5 * r8.activation_error["relu1"]
    assert r64.activation_error["relu1"] < 0.03
    logits = ops.forward(graph, digits.x_test[:100])["fc2"]
    np.testing.assert_allclose(r64.readout / 64, logits, atol=0.05 * np.abs(logits).max())


SEEDS = (0, 1, 2, 3, 4)  # each seed: its own data split, model initialisation/training and calibration


def _losses_over_seeds(kind: str, runs: list[tuple[str, int]], seed0) -> tuple[dict, object]:
    """Accuracy loss in points vs the ANN, {(method, T): array over SEEDS}; also the seed-0 result of the
    last run. seed0: (graph, ann_accuracy) of seed 0 (the module fixture, trained once)."""
    losses = {run: [] for run in runs}
    for seed in SEEDS:
        split = load_digits_split(seed=seed)
        graph, ann_accuracy = seed0 if seed == 0 else train_reference(kind, seed=seed)
        for method, steps in runs:
            net = convert(graph, split.x_train, method, timesteps=steps, **PIPELINE_NEURON)
            result = engine.simulate(net, split.x_test, steps)[0]
            losses[method, steps].append(100 * (ann_accuracy - result.accuracy(split.y_test)))
            if seed == 0:
                first = result
    return {run: np.array(values) for run, values in losses.items()}, first


def test_mlp_accuracy_targets(mlp):
    """Issue 4's targets over 5 seeds (one test sample = 0.22 points). Measured loss, seeds 0-4:
    distribution T=4 0/0/0/0.44/0, T=8 -0.22/0/0.22/0.22/0; max T=4 1.33/0/-0.44/0.44/0.89."""
    loss, _ = _losses_over_seeds("digits-mlp", [("distribution", 4), ("distribution", 8), ("max", 4)], mlp)
    assert loss["distribution", 4].mean() <= 0.3 and loss["distribution", 4].max() <= 0.7
    assert loss["distribution", 8].mean() <= 0.2 and loss["distribution", 8].max() <= 0.5
    assert loss["max", 4].mean() > loss["distribution", 4].mean()  # max-norm needs more steps


def test_cnn_accuracy_target(cnn):
    """Over 5 seeds; measured distribution-aware loss at T=8, seeds 0-4: -0.22/0/0/0.67/0 points."""
    loss, result = _losses_over_seeds("digits-cnn", [("distribution", 8)], cnn)
    assert loss["distribution", 8].mean() <= 0.3 and loss["distribution", 8].max() <= 0.9
    assert set(result.firing_rate) == {"relu1", "relu2"} and all(
        0 < r < 1 for r in result.firing_rate.values()
    )
    # synaptic events = spikes x fan-out: relu2 -> fc2 has fan-out 10 per spike
    np.testing.assert_allclose(result.synaptic_events["fc2"], 10 * result.spikes["relu2"])


def test_data_errors(mlp, digits):
    graph, _ = mlp
    net = convert(graph, digits.x_train[:50], "max")
    with pytest.raises(ModelError, match="samples have 63 features.*expects 64"):
        engine.simulate(net, digits.x_test[:5, :63], 4)
    bad = digits.x_test[:5].copy()
    bad[2, 3] = np.nan
    with pytest.raises(ModelError, match="NaN/Inf"):
        engine.simulate(net, bad, 4)
    poisson = convert(graph, digits.x_train[:50], "max", encoding="poisson")
    with pytest.raises(DataError, match="Poisson rate encoding needs inputs >= 0"):
        engine.simulate(poisson, digits.x_test[:5] - 0.5, 4)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_brian2_agrees_with_numpy_engine(model, request, digits):
    """Same converted network in Brian2 (samples batched per NeuronGroup, float64): identical spike
    counts; the readout equal to round-off against the engine in float64."""
    from conversion.brian_engine import simulate_brian2

    graph, _ = request.getfixturevalue(model)
    net = convert(graph, digits.x_train, "distribution", timesteps=8, **PIPELINE_NEURON)
    x = digits.x_test[:20]
    ours = engine.simulate(net, x, 8, dtype="float64")[0]
    theirs = simulate_brian2(net, x, 8)
    assert set(theirs.spikes) == set(graph.populations())
    for population, counts in theirs.spikes.items():
        np.testing.assert_array_equal(counts, ours.spikes[population])
    np.testing.assert_allclose(theirs.readout, ours.readout, atol=1e-9)


def test_counts_readout_and_poisson_encoding_run(mlp, digits):
    graph, ann_accuracy = mlp
    net = convert(graph, digits.x_train, "percentile", readout="counts", encoding="poisson")
    assert isinstance(net, SpikingNetwork)
    result = engine.simulate(net, digits.x_test[:200], 32, seed=1)[0]
    assert result.accuracy(digits.y_test[:200]) > ann_accuracy - 0.1
    assert result.spikes["input"].mean() > 0 and result.synaptic_events["fc1"].mean() > 0


def test_fixed_mode_runs_the_channelwise_network_on_loihi_arithmetic(mlp, digits):
    """Per-channel thresholds stay within Loihi's per-layer weight range (floor), so mode="fixed" keeps
    the float network's accuracy instead of silencing every neuron."""
    graph, _ = mlp
    net = convert(graph, digits.x_train, "distribution", timesteps=8, **PIPELINE_NEURON)
    alpha = np.asarray(net.v_th["relu1"])
    assert alpha.min() >= 0.1 * alpha.max() - 1e-12
    floating = engine.simulate(net, digits.x_test, 8)[0]
    fixed = engine.simulate(net, digits.x_test, 8, mode="fixed")[0]
    assert fixed.spikes["relu1"].mean() == pytest.approx(floating.spikes["relu1"].mean(), rel=0.05)
    assert abs(fixed.accuracy(digits.y_test) - floating.accuracy(digits.y_test)) <= 0.005


def test_python_api_computes_without_drawing(mlp, tmp_path):
    """convert_and_evaluate writes convert.json and model.nir but no figure; plot_summary draws it (the
    CLI does so after the JSON is written)."""
    from conversion.pipeline import convert_and_evaluate, plot_summary

    graph, _ = mlp
    summary = convert_and_evaluate(graph, "digits", [1, 4], "max", tmp_path, samples=40, batch_size=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["convert.json", "model.nir"]
    assert summary["n_test"] == 40 and len(summary["snn"]) == 2
    plot_summary(tmp_path / "accuracy_vs_T.png", summary)
    assert (tmp_path / "accuracy_vs_T.png").stat().st_size > 1000


def _stepwise_readout(net: SpikingNetwork, x: np.ndarray, steps: int) -> np.ndarray:
    """Reference: every node evaluated every step (ops.apply_linear), the readout summed step by step."""
    graph = net.graph
    x = ops.check_input(graph, x)
    membrane = {p: np.zeros((len(x),) + graph.shapes[p]) + net.init_membrane_fraction * net.v_th[p]
                for p in graph.populations()}
    readout = 0.0
    for _ in range(steps):
        values = {next(iter(graph.inputs)): x}
        for name in graph.order:
            if isinstance(graph.nodes[name], ReLU):
                membrane[name], fired = engine.if_step(membrane[name], values[graph.predecessors(name)[0]],
                                                       net.v_th[name], reset=net.reset)
                values[name] = fired * net.output_scale[name]
            else:
                values[name] = ops.apply_linear(graph, name, values)
        readout = readout + values[graph.outputs[0]].reshape(len(x), -1)
    return readout


def _tail_graphs(rng) -> dict[str, Graph]:
    """conv -> relu -> avgpool -> flatten -> dense (a three-node linear tail), and an MLP whose output
    adds a constant skip path from the analog input to the spikes' path (a constant entering the tail)."""
    conv = Graph.sequential((1, 8, 8), [Conv2d(rng.normal(0, 0.5, (4, 1, 3, 3)), rng.normal(0, 0.2, 4),
                                               padding=1, name="conv"), ReLU(name="relu"),
                                        AvgPool2d((2, 2), (2, 2), name="pool"), Flatten(name="flat"),
                                        Dense(rng.normal(0, 0.3, (10, 64)), rng.normal(0, 0.2, 10), "fc")])
    nodes = {"fc1": Dense(rng.normal(0, 0.2, (32, 64)), rng.normal(0, 0.1, 32)), "relu1": ReLU(),
             "fc2": Dense(rng.normal(0, 0.3, (10, 32)), rng.normal(0, 0.1, 10)),
             "skip": Dense(rng.normal(0, 0.05, (10, 64)), rng.normal(0, 0.1, 10)), "add": Add()}
    edges = [("input", "fc1"), ("fc1", "relu1"), ("relu1", "fc2"), ("input", "skip"), ("fc2", "add"),
             ("skip", "add")]
    return {"conv": conv, "skip": Graph(nodes, edges, {"input": (64,)}, ["add"])}


@pytest.mark.parametrize("kind", ["conv", "skip"])
def test_linear_tail_readout_equals_the_step_by_step_sum(digits, kind):
    """The engine reads the linear nodes after the last spikes out once per T (docs/conversion.md,
    "Engine"): A(S_T) + (T - 1) A(0) must equal summing every step's output current, bias and constant
    paths included, and give the same predictions."""
    graph = _tail_graphs(np.random.default_rng(3))[kind]
    x = digits.x_test[:60]
    net = convert(graph, digits.x_train[:200], "max", timesteps=8)
    results = engine.simulate(net, x, [1, 3, 8], dtype="float64")
    for result in results:
        reference = _stepwise_readout(net, x, result.timesteps)
        assert np.abs(reference).max() > 1.0  # a readout worth comparing
        np.testing.assert_allclose(result.readout, reference, rtol=1e-9, atol=1e-9)
        assert np.array_equal(result.predictions, reference.argmax(axis=1))


def test_a_relu_output_is_read_out_by_its_spike_values(digits):
    """A graph may end in a ReLU population (no linear tail): the readout sums its spike values."""
    rng = np.random.default_rng(4)
    graph = Graph.sequential((64,), [Dense(rng.normal(0, 0.2, (10, 64)), rng.normal(0, 0.1, 10), "fc"),
                                     ReLU(name="out")])
    x = digits.x_test[:40]
    net = convert(graph, digits.x_train[:200], "max", timesteps=8)
    result = engine.simulate(net, x, [8], dtype="float64")[0]
    reference = _stepwise_readout(net, x, 8)
    assert reference.max() > 0
    np.testing.assert_allclose(result.readout, reference, rtol=1e-12, atol=1e-12)
