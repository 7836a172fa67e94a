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


def _reference_fit(pre: np.ndarray, steps: int, ceiling=None, init: float = 0.0, floor: bool = False):
    """The fit as written before issue 19, kept here only as the slow reference: np.histogram, then a
    Python loop over the alpha candidates. floor=True: its q_T of the old ">=" rule (floor(xT/alpha + f))."""
    x = np.asarray(pre, dtype=np.float64).ravel()
    positive = x[x > 0]
    if positive.size == 0:
        return 1.0, 1.0, 0.0
    mu = float(positive.max()) if ceiling is None else float(min(ceiling, positive.max()))
    hist, edges = np.histogram(positive, bins=thresholds.HISTOGRAM_BINS, range=(0.0, float(positive.max())))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight = hist / x.size
    target = np.clip(centres, 0.0, mu)
    best = (mu, mu, np.inf)
    for alpha in thresholds.ALPHA_GRID * mu:
        if floor:
            levels = np.clip(np.floor(centres * steps / alpha + init), 0, steps) / steps
        else:
            levels = thresholds.spiking_quantise(centres, alpha, 1.0, steps, init)
        denominator = np.sum(weight * levels * levels)
        beta = float(np.sum(weight * levels * target) / denominator) if denominator > 0 else alpha
        mse = float(np.sum(weight * (target - beta * levels) ** 2))
        if mse < best[2]:
            best = (float(alpha), beta, mse)
    return best


@pytest.fixture(scope="module")
def calibration_layers():
    """Per-channel calibration pre-activations of three layers of the tests' digits networks (the MLP's
    hidden layer, first 16 neurons; the CNN's conv channels, first 20,000 values; the CNN's dense layer,
    first 16 neurons)."""
    from conversion.reference_models import train_reference
    from spiking_mcc.data.digits import load_digits_split

    x = load_digits_split(seed=0).x_train
    layers = []
    for kind, population, first in (("digits-mlp", "relu1", 16), ("digits-cnn", "relu1", 8),
                                    ("digits-cnn", "relu2", 16)):
        pre = thresholds.calibration_pre_activations(train_reference(kind, seed=0)[0], x)[population]
        layers.append(np.moveaxis(pre, 1, 0).reshape(pre.shape[1], -1)[:first, :20000])
    return layers


@pytest.mark.parametrize("steps, init, ceiling", [(1, 0.0, None), (4, 0.5, None), (32, 0.5, None),
                                                  (8, 0.0, 3.0)])
def test_vectorised_fit_equals_the_loop_over_candidates(calibration_layers, steps, init, ceiling):
    """Same alpha (the same grid candidate), beta and error as the per-channel, per-candidate loop, to
    round-off; and, on these layers, the same fit as the old ">=" quantiser (no bin centre at a tie)."""
    for rows in calibration_layers:
        alpha, beta, mse = thresholds.fit_channels(rows, steps, ceiling, init)
        for floor in (False, True):
            ref = np.array([_reference_fit(r, steps, ceiling, init, floor) for r in rows])
            np.testing.assert_array_equal(alpha, ref[:, 0])
            np.testing.assert_allclose(beta, ref[:, 1], rtol=1e-9)
            np.testing.assert_allclose(mse, ref[:, 2], rtol=1e-6, atol=1e-12 * ref[:, 2].max())


def test_fit_cache_keeps_the_thresholds_and_belongs_to_one_calibration_set():
    from conversion.reference_models import train_reference
    from spiking_mcc.data.digits import load_digits_split
    from spiking_mcc.errors import ParameterError

    graph, _ = train_reference("digits-cnn", seed=0)
    x = load_digits_split(seed=0).x_train[:300]
    cache = thresholds.FitCache(graph, x)
    for steps in (2, 8, 2):
        cached = thresholds.compute_thresholds(graph, x, "distribution", steps, cache=cache)
        fresh = thresholds.compute_thresholds(graph, x, "distribution", steps)
        for p in graph.populations():
            np.testing.assert_array_equal(cached[0][p], fresh[0][p])
            np.testing.assert_array_equal(cached[1][p], fresh[1][p])
    assert cache.histograms  # the conv layer's histograms were kept
    with pytest.raises(ParameterError, match="another graph or calibration set"):
        thresholds.compute_thresholds(graph, x.copy(), "distribution", 2, cache=cache)
