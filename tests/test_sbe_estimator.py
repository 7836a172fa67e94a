"""Streaming batch eigenupdate estimator (docs/sbe.md; Hoskins et al. 2019)."""

import numpy as np
import pytest

from spiking_mcc.errors import ParameterError
from spiking_mcc.sbe.estimator import (
    SBEState,
    check_rank,
    init_state,
    low_rank_update,
    state_floats,
    stream_batch,
)


def planted_batch(seed, n_samples, singular=(4.0, 2.0, 1.0), n_out=10, n_in=65, noise=0.05):
    """Samples whose batch gradient (1/n) sum delta_j x_j^T is close to U diag(singular) V^T."""
    rng = np.random.default_rng(seed)
    rank = len(singular)
    left, _ = np.linalg.qr(rng.standard_normal((n_out, rank)))
    right, _ = np.linalg.qr(rng.standard_normal((n_in, rank)))
    codes = rng.standard_normal((n_samples, rank))
    inputs = codes @ right.T + noise * rng.standard_normal((n_samples, n_in))
    errors = (codes * np.asarray(singular)) @ left.T + noise * rng.standard_normal((n_samples, n_out))
    u, s, vt = np.linalg.svd(errors.T @ inputs / n_samples)
    return inputs, errors, u, s, vt, rng


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_low_rank_batch_recovered_in_one_pass(seed):
    inputs, errors, u, s, vt, rng = planted_batch(seed, n_samples=1024)
    state = stream_batch(init_state(10, 65, 1, rng), inputs, errors)
    cos_x = state.x_hat[0] @ vt[0]
    cos_delta = state.delta_hat[0] @ u[:, 0]
    assert abs(cos_x) > 0.99 and abs(cos_delta) > 0.99
    # sigma is signed: sigma * Delta-hat X-hat^T estimates s1 u1 v1^T whatever the hats' signs
    assert state.sigma[0] * np.sign(cos_x * cos_delta) == pytest.approx(s[0], rel=0.01)


def test_per_sample_equations_warm_start_and_signed_sigma():
    """Two samples folded by hand with j = 1, 2: the warm state is the j = 0 estimate, Delta uses the
    new X, and a negative sigma stays negative."""
    rng = np.random.default_rng(5)
    x_vec, delta_vec = rng.standard_normal(4), rng.standard_normal(3)
    sigma = -30.0
    unit = lambda v: v / np.linalg.norm(v)
    state = SBEState(x_vec=x_vec[None].copy(), delta_vec=delta_vec[None].copy(), sigma=np.array([sigma]))
    inputs, errors = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    for j in (1, 2):
        x, d = inputs[j - 1], errors[j - 1]
        x_vec = j / (j + 1) * x_vec + x * (d @ unit(delta_vec)) / (j + 1)
        delta_vec = j / (j + 1) * delta_vec + d * (x @ unit(x_vec)) / (j + 1)
        sigma = j / (j + 1) * sigma + (x @ unit(x_vec)) * (d @ unit(delta_vec)) / (j + 1)
    stream_batch(state, inputs, errors)
    np.testing.assert_allclose(state.x_vec[0], x_vec, rtol=1e-12)
    np.testing.assert_allclose(state.delta_vec[0], delta_vec, rtol=1e-12)
    assert state.sigma[0] == pytest.approx(sigma, rel=1e-12)
    assert state.sigma[0] < 0
    expected = sigma * np.outer(unit(delta_vec), unit(x_vec))
    np.testing.assert_allclose(low_rank_update(state), expected, rtol=1e-12)


def test_deflation_finds_the_later_singular_directions():
    inputs, errors, u, s, vt, rng = planted_batch(3, n_samples=512)
    state = init_state(10, 65, 3, rng)
    for _ in range(5):  # warm start: each pass continues from the previous final X, Delta, sigma
        stream_batch(state, inputs, errors)
    for i in range(3):
        # without deflation every component would converge to the top direction (|cos| with v_i ~ 0)
        assert abs(state.x_hat[i] @ vt[i]) > 0.98
        assert abs(state.delta_hat[i] @ u[:, i]) > 0.95
        assert abs(state.sigma[i]) == pytest.approx(s[i], rel=0.1)
    low_rank = low_rank_update(state)
    exact = (u[:, :3] * s[:3]) @ vt[:3]
    assert np.linalg.norm(low_rank - exact) < 0.1 * np.linalg.norm(exact)


def test_state_size_is_k_times_a_plus_b_plus_1():
    state = init_state(10, 101, 3, np.random.default_rng(0))
    assert state.state_floats == 3 * (10 + 101 + 1) == state_floats(10, 101, 3)
    assert state.state_floats < 10 * 101


@pytest.mark.parametrize("rank", [0, -1, 11, 2.0, True])
def test_rank_outside_what_the_layer_allows_is_rejected(rank):
    with pytest.raises(ParameterError, match=r"rank: .*\[1, 10\].*layer 1"):
        check_rank(rank, 10, 101, layer="layer 1")


def test_batch_shape_mismatch_is_rejected():
    state = init_state(3, 4, 1, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="batch"):
        stream_batch(state, np.zeros((0, 4)), np.zeros((0, 3)))
    with pytest.raises(ParameterError, match="widths"):
        stream_batch(state, np.zeros((2, 5)), np.zeros((2, 3)))


def _unit(v):
    """Unit vector, and a zero vector for a zero one (the estimator's own guard, _unit_rows)."""
    norm = np.linalg.norm(v)
    return v / norm if norm > 0.0 else np.zeros_like(v)


def literal_sbe(x_vec, delta_vec, sigma, inputs, errors):
    """The algorithm written out literally: per sample j = 1..n, per component with deflation."""
    x_vec, delta_vec, sigma = x_vec.copy(), delta_vec.copy(), sigma.copy()
    for j, (x, d) in enumerate(zip(inputs, errors), start=1):
        for i in range(sigma.size):
            x_vec[i] = j / (j + 1) * x_vec[i] + x * (d @ _unit(delta_vec[i])) / (j + 1)
            delta_vec[i] = j / (j + 1) * delta_vec[i] + d * (x @ _unit(x_vec[i])) / (j + 1)
            sigma[i] = j / (j + 1) * sigma[i] + (x @ _unit(x_vec[i])) * (d @ _unit(delta_vec[i])) / (j + 1)
            x = x - (x @ _unit(x_vec[i])) * _unit(x_vec[i])
    return x_vec, delta_vec, sigma


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_streaming_matches_the_literal_equations_over_warm_batches_with_deflation(seed):
    """The Gram-matrix arithmetic equals the per-sample equations. The state is warm and
    non-degenerate (every component has a non-zero X and Delta), so no direction is taken of
    floating-point round-off (a cold X = 0 deflated by its own first sample leaves ~1e-16 of noise,
    whose direction is arbitrary in both forms)."""
    rng = np.random.default_rng(seed)
    n_out, n_in, rank = 10, 65, 3
    state = SBEState(x_vec=rng.standard_normal((rank, n_in)), delta_vec=rng.standard_normal((rank, n_out)),
                     sigma=rng.standard_normal(rank))
    x_vec, delta_vec, sigma = state.x_vec.copy(), state.delta_vec.copy(), state.sigma.copy()
    for _ in range(3):  # three warm-started batches of 128 samples
        inputs = np.maximum(rng.standard_normal((128, n_in)), 0)
        errors = rng.standard_normal((128, n_out)) * 0.1
        gradient_norm = np.linalg.norm(errors.T @ inputs / len(inputs))
        stream_batch(state, inputs, errors)
        x_vec, delta_vec, sigma = literal_sbe(x_vec, delta_vec, sigma, inputs, errors)
        delta_hats = np.stack([_unit(v) for v in delta_vec])
        x_hats = np.stack([_unit(v) for v in x_vec])
        literal_update = (delta_hats * sigma[:, None]).T @ x_hats
        # the crossbar write the two forms apply, to round-off relative to the batch gradient
        np.testing.assert_allclose(low_rank_update(state), literal_update, rtol=0, atol=1e-9 * gradient_norm)
    np.testing.assert_allclose(state.x_vec, x_vec, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state.delta_vec, delta_vec, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(state.sigma, sigma, rtol=1e-9)
