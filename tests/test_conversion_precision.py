"""Engine precision and the threshold rule (issue 19: float32 where accuracy allows; issue 20: one
comparison, Loihi's V > v_th, in every engine). docs/conversion.md, "Neurons and the engine"."""

import numpy as np
import pytest

from conversion import engine, thresholds
from conversion.reference_models import train_reference
from conversion.thresholds import convert
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import ParameterError


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.mark.parametrize("kind", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("method", ["max", "distribution"])
def test_float32_gives_the_float64_spike_counts_on_the_test_networks(kind, method, digits):
    """Every per-sample, per-layer spike count and every prediction at T = 1, 8, 32 is the same in float32
    as in float64 (analog input, membrane readout: the tests' and the CLI's default networks)."""
    graph, _ = train_reference(kind, seed=0)
    net = convert(graph, digits.x_train, method, timesteps=8, init_membrane_fraction=0.5)
    single = engine.simulate(net, digits.x_test, [1, 8, 32], dtype="float32")
    double = engine.simulate(net, digits.x_test, [1, 8, 32], dtype="float64")
    for a, b in zip(single, double):
        assert set(a.spikes) == set(b.spikes)
        for layer in a.spikes:
            np.testing.assert_array_equal(a.spikes[layer], b.spikes[layer])
        for layer in a.synaptic_events:
            np.testing.assert_array_equal(a.synaptic_events[layer], b.synaptic_events[layer])
        np.testing.assert_array_equal(a.predictions, b.predictions)
        np.testing.assert_allclose(a.readout, b.readout, rtol=1e-4, atol=1e-4 * np.abs(b.readout).max())


def test_a_membrane_exactly_at_threshold_does_not_spike():
    """V > v_th, strictly: with v_th = 1 and input 0.25 (exact in binary) the membrane reaches exactly 1.0
    at step 4 and spikes at step 5, in both precisions; the fit's quantiser counts the same."""
    for dtype in (np.float32, np.float64):
        v, counts = np.zeros(2, dtype), np.zeros(2)
        for t in range(1, 6):
            v, spikes = engine.if_step(v, np.array([0.25, 0.2500001], dtype), dtype(1.0))
            counts += spikes
            if t == 4:
                np.testing.assert_array_equal(counts, [0, 1])
        np.testing.assert_array_equal(counts, [1, 1])
    np.testing.assert_array_equal(thresholds.spike_counts(np.array([0.25, 0.2500001]), 1.0, 4), [0, 1])
    v = np.array([2.0])  # reset to zero also leaves a membrane at threshold alone
    assert engine.if_step(v, np.array([-1.0]), 1.0, reset="zero")[1][0] == 0


def test_batch_size_does_not_change_results_and_is_checked(digits):
    graph, _ = train_reference("digits-cnn", seed=0)
    net = convert(graph, digits.x_train, "max", init_membrane_fraction=0.5)
    x = digits.x_test[:90]
    whole = engine.simulate(net, x, [2, 8], batch_size=512)
    streamed = engine.simulate(net, x, [2, 8], batch_size=7)
    for a, b in zip(whole, streamed):
        np.testing.assert_array_equal(a.predictions, b.predictions)
        for layer in a.spikes:
            np.testing.assert_array_equal(a.spikes[layer], b.spikes[layer])
        assert a.firing_rate == pytest.approx(b.firing_rate, rel=1e-12)
        assert a.activation_error == pytest.approx(b.activation_error, rel=1e-9)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ParameterError, match="batch_size must be an integer >= 1"):
            engine.simulate(net, x, 2, batch_size=bad)
    for bad in ("float16", "no-such-type"):
        with pytest.raises(ParameterError, match="dtype must be one of"):
            engine.simulate(net, x, 2, dtype=bad)
