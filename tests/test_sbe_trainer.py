"""SBE trainer on digits: sgd / mini-batch GD / truncated SVD / SBE (docs/sbe.md)."""

import math

import numpy as np
import pytest

from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import ParameterError
from spiking_mcc.sbe import mlp
from spiking_mcc.sbe.crossbar import CrossbarDevice
from spiking_mcc.sbe.trainer import TrainConfig, plan_runs, train_mlp


@pytest.fixture(scope="module")
def digits():
    split = load_digits_split(seed=0)
    return split.x_train, split.y_train, split.x_test, split.y_test


@pytest.fixture(scope="module")
def reference_runs(digits):
    """SPEC reference setting: 64-100-10, 30 epochs, batch 32; mini-batch GD and SBE rank 1."""
    return {method: train_mlp(*digits, TrainConfig(method=method, batch_size=32, rank=1, epochs=30))
            for method in ("mbgd", "sbe")}


def test_sbe_rank1_matches_minibatch_accuracy_with_32x_fewer_writes(reference_runs, digits):
    mbgd, sbe = reference_runs["mbgd"], reference_runs["sbe"]
    assert sbe.test_accuracy >= 0.95
    assert abs(mbgd.test_accuracy - sbe.test_accuracy) <= 0.02
    n_train = digits[0].shape[0]
    n_batches = math.ceil(n_train / 32)
    # mbgd: one rank-1 write per sample per layer; sbe rank 1: one per batch per layer
    assert mbgd.device_writes == [30 * n_train] * 2
    assert sbe.device_writes == [30 * n_batches] * 2
    assert sum(mbgd.device_writes) / sum(sbe.device_writes) == pytest.approx(n_train / n_batches)
    assert n_train / n_batches > 31
    # state: a*b accumulator for mbgd, k(a+b+1) for sbe (bias column included: b = fan_in + 1)
    assert mbgd.state_floats == [100 * 65, 10 * 101]
    assert sbe.state_floats == [100 + 65 + 1, 10 + 101 + 1]
    losses = [h["loss"] for h in sbe.history]
    assert losses[-1] < 0.5 * losses[0]


def test_exact_svd_at_rank_equal_to_batch_size_is_minibatch_gd(digits):
    runs = {method: train_mlp(*digits, TrainConfig(method=method, batch_size=8, rank=8, epochs=1))
            for method in ("mbgd", "svd")}
    for w_mbgd, w_svd in zip(runs["mbgd"].weights, runs["svd"].weights):
        np.testing.assert_allclose(w_svd, w_mbgd, rtol=0, atol=1e-10)
    assert runs["svd"].history[-1]["loss"] == pytest.approx(runs["mbgd"].history[-1]["loss"], rel=1e-10)


def test_same_seed_same_numbers_and_different_seed_differs(digits):
    small = [array[:200] for array in digits]
    first = train_mlp(*small, TrainConfig(method="sbe", batch_size=16, rank=2, epochs=2, seed=3))
    again = train_mlp(*small, TrainConfig(method="sbe", batch_size=16, rank=2, epochs=2, seed=3))
    other = train_mlp(*small, TrainConfig(method="sbe", batch_size=16, rank=2, epochs=2, seed=4))
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first.weights[0], other.weights[0])


def test_sgd_writes_once_per_sample_and_learns(digits):
    result = train_mlp(*digits, TrainConfig(method="sgd", batch_size=32, epochs=2))
    assert result.config.effective_batch == 1
    assert result.device_writes == [2 * digits[0].shape[0]] * 2
    assert result.state_floats == [0, 0]
    assert result.test_accuracy > 0.85


def test_coarse_device_loses_per_sample_writes_but_not_sbe_writes(digits):
    """33 conductance levels + 10% write noise: mini-batch GD's per-sample writes (eta/n each) fall
    below half a level and are lost; SBE's one larger write per batch still trains."""
    device = CrossbarDevice(levels=33, write_noise=0.1, w_max=1.0)
    runs = {method: train_mlp(*digits, TrainConfig(method=method, batch_size=32, rank=1, epochs=5,
                                                   device=device))
            for method in ("mbgd", "sbe")}
    for result in runs.values():
        for w in result.weights:
            levels = (w + device.w_max) / device.level_step
            np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
            assert np.abs(w).max() <= device.w_max
    assert runs["sbe"].test_accuracy > runs["mbgd"].test_accuracy + 0.3


def test_saved_model_is_sequential_v1_and_predicts_the_same(tmp_path, reference_runs, digits):
    weights = reference_runs["sbe"].weights
    arrays = dict(np.load(mlp.save_sequential(tmp_path / "sbe.npz", weights), allow_pickle=False))
    assert str(arrays["format"]) == "spiking-mcc/sequential-v1"
    assert int(arrays["n_layers"]) == 3 and list(arrays["input_shape"]) == [64]
    assert [str(arrays[f"layer{i}_kind"]) for i in range(3)] == ["dense", "relu", "dense"]
    x_test = digits[2]
    hidden = np.maximum(x_test @ arrays["layer0_weight"].T + arrays["layer0_bias"], 0)
    logits = hidden @ arrays["layer2_weight"].T + arrays["layer2_bias"]
    assert (logits.argmax(axis=1) == mlp.predict(weights, x_test)).mean() > 0.99
    from conversion.importers.npz import read_npz_model  # the reader conversion uses

    graph = read_npz_model(tmp_path / "sbe.npz")
    assert [type(node).__name__ for node in graph.nodes.values()] == ["Dense", "ReLU", "Dense"]


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch size"),
    ({"rank": 0}, "rank"),
    ({"epochs": 0}, "epochs"),
    ({"method": "adam"}, "method"),
    ({"learning_rate": float("nan")}, "learning rate"),
])
def test_bad_config_is_rejected(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        TrainConfig(**kwargs)


def test_rank_larger_than_a_layer_allows_is_rejected(digits):
    with pytest.raises(ParameterError, match=r"rank: .*\[1, 10\] for layer 1"):
        train_mlp(*digits, TrainConfig(method="sbe", rank=11, epochs=1))


@pytest.mark.parametrize("method", ["mbgd", "sbe"])
def test_non_finite_gradient_stops_with_a_clear_error(digits, method):
    small = [array[:100] for array in digits]
    with pytest.raises(ParameterError, match="non-finite gradient.*learning rate"):
        with np.errstate(all="ignore"):
            train_mlp(*small, TrainConfig(method=method, batch_size=10, learning_rate=1e300, epochs=2))


def test_plan_runs_one_run_per_distinct_setting():
    configs = plan_runs(["sgd", "mbgd", "svd", "sbe"], [32, 128], [1, 3], epochs=1)
    keys = [(c.method, c.effective_batch, c.effective_rank) for c in configs]
    assert keys[:3] == [("sgd", 1, None), ("mbgd", 32, None), ("mbgd", 128, None)]
    assert len(keys) == len(set(keys)) == 3 + 2 * 4
