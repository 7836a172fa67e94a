"""Crossbar device model: finite conductance levels and write noise on every write."""

import numpy as np
import pytest

from spiking_mcc.errors import ParameterError
from spiking_mcc.sbe.crossbar import CrossbarDevice


def test_writes_round_to_levels_and_clip_to_range():
    device = CrossbarDevice(levels=5, w_max=1.0)  # levels -1, -0.5, 0, 0.5, 1
    weights = np.zeros(4)
    update = np.array([0.2, 0.3, -0.8, 3.0])
    np.testing.assert_allclose(device.write(weights, update, np.random.default_rng(0)), [0.0, 0.5, -1.0, 1.0])


def test_write_noise_is_proportional_to_the_programmed_change():
    device = CrossbarDevice(write_noise=0.2, w_max=10.0)
    rng = np.random.default_rng(0)
    update = np.full(20000, 0.01)
    update[:10000] = 0.0
    written = device.write(np.zeros(20000), update, rng)
    assert np.all(written[:10000] == 0.0)  # devices not asked to change stay put
    assert np.std(written[10000:]) == pytest.approx(0.2 * 0.01, rel=0.05)
    assert np.mean(written[10000:]) == pytest.approx(0.01, rel=0.01)


def test_ideal_device_adds_the_update_exactly():
    device = CrossbarDevice()
    assert device.is_ideal
    weights, update = np.array([0.1, -0.2]), np.array([0.05, 0.01])
    np.testing.assert_array_equal(device.write(weights, update, np.random.default_rng(0)), weights + update)


@pytest.mark.parametrize("kwargs, match", [
    ({"levels": 1}, "levels"),
    ({"levels": 2.5}, "levels"),
    ({"write_noise": -0.1}, "write noise"),
    ({"write_noise": float("inf")}, "write noise"),
    ({"w_max": 0.0}, "w_max"),
])
def test_bad_device_parameters_are_rejected(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        CrossbarDevice(**kwargs)
