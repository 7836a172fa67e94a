"""Threshold / normalisation methods (SPEC section 8; Datta & Beerel 2022 for the distribution-aware fit)."""

import numpy as np
import pytest

from conversion import thresholds
from conversion.engine import if_step
from conversion.ir import Dense, Graph, ReLU
from spiking_mcc.errors import DataError, ParameterError


def _identity_graph(n: int = 2, ceiling=None) -> Graph:
    return Graph.sequential(
        (n,),
        [
            Dense(np.eye(n), np.zeros(n), "fc"),
            ReLU(ceiling, name="relu"),
            Dense(np.eye(n), np.zeros(n), "out"),
        ],
    )


def test_max_percentile_channel_values():
    x = np.stack([np.linspace(-1, 10, 1001), np.linspace(0, 2, 1001)], axis=1)
    graph = _identity_graph()
    v_th, scale, _ = thresholds.compute_thresholds(graph, x, "max")
    assert float(v_th["relu"]) == pytest.approx(10.0) and float(scale["relu"]) == pytest.approx(10.0)
    v_th, _, _ = thresholds.compute_thresholds(graph, x, "percentile", percentile=50)
    positive = x[x > 0]
    assert float(v_th["relu"]) == pytest.approx(np.percentile(positive, 50))
    v_th, _, _ = thresholds.compute_thresholds(graph, x, "channel", percentile=100)
    np.testing.assert_allclose(v_th["relu"], [10.0, 2.0])
    v_th, _, _ = thresholds.compute_thresholds(_identity_graph(ceiling=4.0), x, "max")
    np.testing.assert_allclose(v_th["relu"], 4.0)  # never above the clipped ReLU's ceiling


def test_quantiser_is_the_if_neuron_rate_under_constant_input():
    """q_T(x) must equal what an IF neuron with reset by subtraction emits in T steps."""
    x = np.linspace(-0.5, 3.0, 57)
    for init in (0.0, 0.5):
        v, count = init * 1.3 * np.ones_like(x), np.zeros_like(x)
        for _ in range(6):
            v, spikes = if_step(v, x, 1.3)
            count += spikes
        np.testing.assert_allclose(thresholds.spiking_quantise(x, 1.3, 2.0, 6, init), 2.0 * count / 6)


def test_distribution_fit_beats_max_norm_at_few_steps():
    rng = np.random.default_rng(0)
    pre = np.concatenate([rng.exponential(0.3, 20000), [6.0], -rng.random(5000)])  # heavy tail, one outlier
    mu = pre.max()
    target = np.clip(pre, 0, mu)
    for steps in (2, 4, 8):
        fit = thresholds.fit_distribution(pre, steps)
        err_fit = np.mean((target - thresholds.spiking_quantise(pre, fit.alpha, fit.beta, steps)) ** 2)
        err_max = np.mean((target - thresholds.spiking_quantise(pre, mu, mu, steps)) ** 2)
        assert err_fit < 0.5 * err_max
        assert fit.alpha < 0.5 * mu  # the outlier does not set the threshold
        assert fit.mse == pytest.approx(err_fit, rel=0.05)


def test_empty_calibration_and_bad_method_are_clear_errors():
    graph = _identity_graph()
    for method in thresholds.METHODS:
        with pytest.raises(DataError, match="calibration set is empty"):
            thresholds.compute_thresholds(graph, np.zeros((0, 2)), method)
    with pytest.raises(ParameterError, match="threshold method must be one of"):
        thresholds.compute_thresholds(graph, np.ones((3, 2)), "median")
    with pytest.raises(ParameterError, match="percentile must be in"):
        thresholds.compute_thresholds(graph, np.ones((3, 2)), "percentile", percentile=0)
