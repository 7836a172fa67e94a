"""Quantiser to Loihi limits and the bit-accurate batched engine (pure numpy; no Lava here).

Limits from docs/loihi.md / Lava 0.10.0; fixed-point arithmetic from lava/proc/lif/models.py and
lava/proc/dense/models.py (agreement with Lava itself is in test_loihi_lava.py)."""

import dataclasses

import numpy as np
import pytest

from conversion.fixed_point.arithmetic import UV_HALF, dense_activation, lif_step, wrap_current
from conversion.fixed_point.arrays import network_from_arrays, network_to_arrays
from conversion.fixed_point.float_reference import FloatLayer, FloatNetwork, simulate_float
from conversion.fixed_point.limits import LIMITS
from conversion.fixed_point.network import FixedPointLayer, FixedPointNetwork
from conversion.fixed_point.quantiser import quantize_network
from conversion.fixed_point.simulate import simulate_fixed
from loihi_targets.quantize import check_limits, quantize
from spiking_mcc.errors import DataError, HardwareLimitError

T = 8


@pytest.fixture(scope="module")
def digits_snn():
    from conversion import reference_models, thresholds
    from spiking_mcc.data.digits import load_digits_split

    graph, _ = reference_models.train_reference("digits-mlp", seed=0)
    split = load_digits_split(0)
    snn = thresholds.convert(graph, split.x_train[:500], timesteps=T)
    return snn, split


@pytest.fixture(scope="module")
def digits_fixed(digits_snn):
    return quantize(digits_snn[0], T)


def _random_float_net(seed=0, sizes=(20, 12, 6), readout="membrane", reset="zero"):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(FloatLayer(name=f"l{i}", weight=rng.normal(0, 1.0 / np.sqrt(n_in), (n_out, n_in)),
                                 bias=rng.normal(0, 0.05, n_out), v_th=1.0,
                                 spiking=not last or readout == "counts"))
    return FloatNetwork(layers=tuple(layers), readout=readout, reset=reset)


# -- quantiser ---------------------------------------------------------------------------------------
def test_quantised_parameters_are_within_loihi_limits(digits_fixed):
    for layer in digits_fixed.layers:
        w = layer.weight_mant
        assert w.min() >= -256 and w.max() <= 254 and np.all(w % 2 == 0)
        assert np.abs(w).max() >= 200, "the mantissa range should be used (max |w| near 254)"
        assert -7 <= layer.weight_exp <= 7
        assert np.all((layer.bias_mant >= -4096) & (layer.bias_mant <= 4095))
        assert np.all((layer.bias_exp >= 0) & (layer.bias_exp <= 7))
        assert 0 <= layer.du <= 4095 and 0 <= layer.dv <= 4095
    hidden = digits_fixed.layers[0]
    assert 1 <= hidden.vth_mant <= 2 ** 17 - 1
    check_limits(digits_fixed, T)  # no exception


def test_quantisation_error_is_reported_and_small(digits_fixed):
    report = digits_fixed.quantisation_error
    assert [r["layer"] for r in report] == [layer.name for layer in digits_fixed.layers]
    for row in report:
        # 8-bit mantissa over the full range: relative RMS error well under 2 %, but never exactly 0
        assert 0 < row["weight_rel_rms_error"] < 0.02
        assert row["bias_rel_rms_error"] < 0.02
    assert report[0]["vth_rel_error"] < 1e-3


def test_fixed_point_accuracy_matches_float_engine(digits_snn, digits_fixed):
    from conversion import engine

    snn, split = digits_snn
    fixed = simulate_fixed(digits_fixed, split.x_test, T)
    acc_fixed = float(np.mean(fixed.predictions == split.y_test))
    acc_float = engine.simulate(snn, split.x_test, [T], mode="float")[0].accuracy(split.y_test)
    assert acc_float > 0.9
    assert abs(acc_fixed - acc_float) <= 0.02
    # the conversion engine's fixed mode is this engine
    via_engine = engine.simulate(snn, split.x_test, [T], mode="fixed")[0]
    np.testing.assert_array_equal(via_engine.predictions, fixed.predictions)


@pytest.mark.parametrize("field, value, parameter", [
    ("weight_mant", 300, "weight_mant"),
    ("weight_mant", -258, "weight_mant"),
    ("weight_exp", 8, "weight_exp"),
    ("bias_mant", 5000, "bias_mant"),
    ("bias_exp", 8, "bias_exp"),
    ("vth_mant", 2 ** 17, "vth_mant"),
    ("du", 4096, "du"),
    ("dv", -1, "dv"),
])
def test_check_limits_names_layer_parameter_limit_and_value(digits_fixed, field, value, parameter):
    layer = digits_fixed.layers[0]
    if field == "weight_mant":
        w = layer.weight_mant.copy()
        w[0, 0] = value
        value = w
    elif field in ("bias_mant", "bias_exp"):
        arr = getattr(layer, field).copy()
        arr[3] = value
        value = arr
    bad = dataclasses.replace(layer, **{field: value})
    net = dataclasses.replace(digits_fixed, layers=(bad,) + digits_fixed.layers[1:])
    with pytest.raises(HardwareLimitError) as err:
        check_limits(net, T)
    message = str(err.value)
    assert f"layer '{layer.name}'" in message and parameter in message and "[" in message


def test_odd_weight_mantissa_is_rejected(digits_fixed):
    layer = digits_fixed.layers[1]
    w = layer.weight_mant.copy()
    w[0, 0] = 3
    net = dataclasses.replace(digits_fixed, layers=(digits_fixed.layers[0], dataclasses.replace(layer,
                                                                                                weight_mant=w)))
    with pytest.raises(HardwareLimitError, match="even"):
        check_limits(net, T)


def test_accumulated_output_membrane_must_fit_24_bits(digits_fixed):
    check_limits(digits_fixed, T)
    with pytest.raises(HardwareLimitError, match="accumulated membrane"):
        check_limits(digits_fixed, 100_000)


# -- per-core resources and weight resolution, before Lava ------------------------------------------
def _wide_network(hidden=5000, seed=0):
    """64 -> `hidden` -> 10: each output neuron has ~`hidden` synapses, more than one core's 4,096
    input axons (Loihi 1). Lava itself runs it to the end; only the mapping fails."""
    rng = np.random.default_rng(seed)
    layers = (FloatLayer(name="h", weight=rng.normal(0, .1, (hidden, 64)), bias=np.zeros(hidden), v_th=1.0),
              FloatLayer(name="o", weight=rng.normal(0, .05, (10, hidden)), bias=np.zeros(10), v_th=1.0,
                         spiking=False))
    return FloatNetwork(layers=layers, reset="subtract")


def test_every_core_limit_is_checked_before_lava_starts(monkeypatch):
    from loihi_targets import runner

    real = _wide_network()
    fixed = quantize_network(real, T)
    synapses = int((fixed.layers[1].weight_mant != 0).sum(axis=1).max())
    assert synapses > 4096
    with pytest.raises(HardwareLimitError) as err:
        check_limits(fixed, T)
    message = str(err.value)
    assert "layer 'o'" in message and "input axons" in message and f"= {synapses}" in message \
        and "4096" in message and "\n" not in message

    def no_child(*args, **kwargs):
        raise AssertionError("a Lava child was started for a network that does not fit Loihi's cores")

    monkeypatch.setattr(runner.subprocess, "Popen", no_child)
    x = np.random.default_rng(1).random((2, 64))
    for net in (fixed, real):  # --mode fixed and --mode float
        with pytest.raises(HardwareLimitError, match="layer 'o'.*input axons"):
            runner.run_lava(net, x, T)
    check_limits(quantize_network(_wide_network(hidden=4000), T), T)  # just fits: no error


def _outlier_layer_network(tiny: int, normal: int):
    """One input-layer weight of 1.0 sets the mantissa step; `tiny` weights of 1e-3 round to 0,
    `normal` weights of 0.5 survive."""
    weight = np.zeros((1, 1 + tiny + normal))
    weight[0, 0] = 1.0
    weight[0, 1:1 + tiny] = 1e-3
    weight[0, 1 + tiny:] = 0.5
    layers = (FloatLayer(name="h", weight=weight, bias=np.zeros(1), v_th=1.0),
              FloatLayer(name="o", weight=np.ones((2, 1)), bias=np.zeros(2), v_th=1.0, spiking=False))
    return FloatNetwork(layers=layers)


def test_a_layer_quantised_mostly_to_zero_is_refused_with_its_name():
    from loihi_targets.quantize import ZERO_WEIGHT_SHARE_LIMIT

    assert ZERO_WEIGHT_SHARE_LIMIT == 0.5
    ok = quantize(_outlier_layer_network(tiny=49, normal=50), T)  # 49 % lost: allowed
    assert int((ok.layers[0].weight_mant == 0).sum()) == 49
    with pytest.raises(HardwareLimitError) as err:
        quantize(_outlier_layer_network(tiny=51, normal=48), T)  # 51 % lost
    message = str(err.value)
    assert "layer 'h'" in message and "51 of 100" in message and "quantise to 0" in message
    with pytest.raises(HardwareLimitError, match="layer 'h': 99 of 100"):
        quantize(_outlier_layer_network(tiny=99, normal=0), T)  # all but the outlier vanish


def test_trained_digits_layers_keep_most_of_their_weights(digits_snn, digits_fixed):
    """The real networks the README quotes pass the resolution check with a margin."""
    from conversion.fixed_point.lowering import float_network

    for real, fixed in zip(float_network(digits_snn[0]).layers, digits_fixed.layers):
        lost = np.mean(fixed.weight_mant[:, :real.weight.shape[1]][real.weight != 0] == 0)
        assert lost < 0.3, real.name


def test_network_that_cannot_be_represented_raises():
    net = _random_float_net()
    huge = dataclasses.replace(net.layers[0], v_th=1e9)  # threshold 1e9 x the weights: > 17 bits
    with pytest.raises(HardwareLimitError, match="layer 'l0'.*vth_mant"):
        quantize_network(dataclasses.replace(net, layers=(huge,) + net.layers[1:]), T)


def test_nan_weights_and_bad_inputs_raise(digits_fixed):
    net = _random_float_net()
    w = net.layers[0].weight.copy()
    w[1, 1] = np.nan
    with pytest.raises(HardwareLimitError, match="NaN"):
        quantize_network(dataclasses.replace(net, layers=(dataclasses.replace(net.layers[0], weight=w),)
                                             + net.layers[1:]), T)
    x = np.full((2, 64), 0.5)
    x[1, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        digits_fixed.quantize_input(x)
    with pytest.raises(DataError, match="shape"):
        digits_fixed.quantize_input(np.zeros((2, 63)))
    with pytest.raises(DataError, match=">= 0"):
        digits_fixed.quantize_input(-np.ones((1, 64)))


# -- bit-accurate arithmetic (Lava's rules, hand-computed) -------------------------------------------
def _layer(**kw):
    base = dict(name="x", weight_mant=np.array([[2]]), weight_exp=0, bias_mant=np.array([0]),
                bias_exp=np.array([0]), vth_mant=10, du=4095, dv=0)
    base.update(kw)
    return FixedPointLayer(**base)


def test_current_wraps_at_24_bits_like_lava():
    u = np.array([UV_HALF + 5, UV_HALF, -UV_HALF, -UV_HALF - 3, 7])
    np.testing.assert_array_equal(wrap_current(u), [-UV_HALF + 5, UV_HALF, UV_HALF, UV_HALF - 3, 7])


def test_decay_truncates_towards_zero_and_voltage_saturates():
    layer = _layer(dv=2048, du=2047, vth_mant=2 ** 17 - 1)  # v halves each step; u keeps half
    u = np.array([[-5 * 2 ** 6]])
    v = np.array([[-5]])
    u2, v2, spikes = lif_step(layer, u, v, np.array([[0]]), "zero")
    # u: -320 * (4096 - 2048) / 4096 = -160; v: -5 * 2048 / 4096 = -2.5 -> -2 (towards zero) then + u
    assert u2.item() == -160 and v2.item() == -2 - 160 and not spikes.any()
    low = lif_step(_layer(), np.array([[0]]), np.array([[-UV_HALF + 10]]), np.array([[-1000]]), "zero")[1]
    assert low.item() == -UV_HALF + 1  # v saturates at -(2**23 - 1) (Lava clips v, wraps u)


def test_weight_exponent_shifts_and_threshold_is_vth_times_64():
    layer = _layer(weight_mant=np.array([[6, -6]]), weight_exp=-1)
    # (6 - 6*1) >> 1 ... with inputs (1, 1): 0; (1, 0): 6 >> 1 = 3; (0, 1): -6 >> 1 = -3 (floor)
    spikes = np.array([[1, 1], [1, 0], [0, 1]])
    np.testing.assert_array_equal(dense_activation(layer, spikes), [[0], [3], [-3]])
    spiking = _layer(weight_mant=np.array([[10]]), vth_mant=10)
    # activation 10 -> u = 640 = vth << 6: not above threshold; one more step crosses it
    u, v, s = lif_step(spiking, np.array([[0]]), np.array([[0]]), np.array([[10]]), "subtract")
    assert v.item() == 640 and not s.any()
    u, v, s = lif_step(spiking, u, v, np.array([[10]]), "subtract")
    assert s.all() and v.item() == 1280 - 640


def test_fixed_engine_is_deterministic_and_batch_independent(digits_fixed, digits_snn):
    x = digits_snn[1].x_test[:64]
    whole = simulate_fixed(digits_fixed, x, T, batch_size=64)
    pieces = simulate_fixed(digits_fixed, x, T, batch_size=7)
    np.testing.assert_array_equal(whole.output, pieces.output)
    for a, b in zip(whole.spike_counts, pieces.spike_counts):
        np.testing.assert_array_equal(a, b)
    assert whole.spike_counts[0].max() <= T


def test_float_reference_rate_approximates_relu():
    # one IF layer with reset by subtraction: counts/T -> relu(W x + b) / v_th within 1/T
    net = _random_float_net(sizes=(20, 12, 6), reset="subtract")
    x = np.random.default_rng(1).random((50, 20))
    res = simulate_float(net, x, 64)
    rate = res.spike_counts[0] / 64
    target = np.clip(x @ net.layers[0].weight.T + net.layers[0].bias, 0, 1)
    assert np.max(np.abs(rate - target)) <= 1 / 64 + 1e-9


def test_network_arrays_round_trip(digits_fixed):
    back = network_from_arrays(network_to_arrays(digits_fixed))
    assert isinstance(back, FixedPointNetwork)
    for a, b in zip(digits_fixed.layers, back.layers):
        np.testing.assert_array_equal(a.weight_mant, b.weight_mant)
        fields = ("weight_exp", "vth_mant", "du", "dv", "name")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    x = np.random.default_rng(0).random((5, 64))
    np.testing.assert_array_equal(simulate_fixed(digits_fixed, x, T).output,
                                  simulate_fixed(back, x, T).output)


def test_limits_table_matches_spec():
    assert LIMITS["weight_mant"] == (-256, 254) and LIMITS["weight_exp"] == (-7, 7)
    assert LIMITS["du"] == LIMITS["dv"] == (0, 4095)
    assert LIMITS["vth_mant"][1] == 2 ** 17 - 1 and LIMITS["bias_mant"] == (-4096, 4095)
    assert LIMITS["v"] == (-(2 ** 23) + 1, 2 ** 23 - 1)


def test_signed_input_is_split_into_two_unsigned_channels():
    net = _random_float_net(reset="subtract")
    fixed = quantize_network(net, T, input_max=2.0, input_min=-2.0)
    assert fixed.signed_input and fixed.layers[0].n_in == 2 * 20
    w = fixed.layers[0].weight_mant
    np.testing.assert_array_equal(w[:, 20:], -w[:, :20])  # [W, -W]: the mantissa range is symmetric
    x = np.random.default_rng(2).normal(0, 0.7, (40, 20)).clip(-2, 2)
    x_q = fixed.quantize_input(x)
    assert x_q.min() >= 0 and np.all((x_q[:, :20] == 0) | (x_q[:, 20:] == 0))
    exact = simulate_float(net, x, T)
    approx = simulate_fixed(fixed, x, T)
    assert np.mean(exact.predictions == approx.predictions) >= 0.95
    unsigned = quantize_network(net, T, input_max=2.0)
    with pytest.raises(DataError, match=">= 0"):
        unsigned.quantize_input(x)
