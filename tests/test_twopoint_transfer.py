"""Transfer laws of the rate-based two-point unit (docs/twopoint_laws.md): properties and derivatives."""

import numpy as np
import pytest

from spiking_mcc.errors import ParameterError
from spiking_mcc.twopoint.transfer import ALL_LAWS, KP_EXPONENT_MAX, transfer, transfer_with_grad

RNG = np.random.default_rng(0)
R_GRID = RNG.uniform(-3.0, 3.0, 4000)
C_GRID = RNG.uniform(-3.0, 3.0, 4000)


def test_kp_without_drive_or_context():
    assert np.array_equal(transfer("kp", np.zeros_like(C_GRID), C_GRID), np.zeros_like(C_GRID))
    np.testing.assert_allclose(transfer("kp", R_GRID, np.zeros_like(R_GRID)), R_GRID, rtol=0, atol=1e-12)


def test_kp_keeps_sign_and_amplifies_exactly_when_coherent():
    a = transfer("kp", R_GRID, C_GRID)
    assert np.array_equal(np.sign(a), np.sign(R_GRID))
    coherent = R_GRID * C_GRID > 0
    amplified = np.abs(a) > np.abs(R_GRID)
    assert np.array_equal(amplified, coherent)
    assert coherent.any() and (~coherent).any()


def test_kp_exponent_is_clipped():
    a = transfer("kp", np.array([50.0, -50.0]), np.array([50.0, 50.0]))
    gain_max = 0.5 + 0.5 * np.exp(KP_EXPONENT_MAX)
    gain_min = 0.5 + 0.5 * np.exp(-KP_EXPONENT_MAX)
    np.testing.assert_allclose(a, [50.0 * gain_max, -50.0 * gain_min])
    assert np.all(np.isfinite(transfer("kp", np.array([1e6]), np.array([1e6]))))


def test_coop_context_alone_drives_and_relu6_bounds():
    c = np.linspace(0.0, 6.0, 61)
    np.testing.assert_allclose(transfer("coop", np.zeros_like(c), c), c)
    a = transfer("coop", R_GRID * 3, C_GRID * 3)
    assert a.min() >= 0.0 and a.max() <= 6.0
    assert (a == 6.0).any() and (a == 0.0).any()
    r = np.array([0.5, 1.0])
    np.testing.assert_allclose(transfer("coop", r, np.zeros_like(r)), r * r + 2 * r)


def test_coop_published_is_the_unclamped_polynomial_and_coop_its_relu6_clamp():
    a = transfer("coop_published", R_GRID * 3, C_GRID * 3)
    r, c = R_GRID * 3, C_GRID * 3
    np.testing.assert_allclose(a, r * r + 2 * r + c * (1 + np.abs(r)), rtol=1e-12)
    assert a.max() > 6.0 and a.min() < 0.0  # no clamp
    np.testing.assert_allclose(transfer("coop", r, c), np.clip(a, 0.0, 6.0), rtol=1e-12)


def _fires(law, r, c):
    return np.maximum(transfer(law, r, c), 0.0)


def test_gain_is_the_attenuating_law_and_the_others_are_not():
    """Conflicting context silences, coherent context amplifies, context alone cannot fire the unit."""
    r = np.abs(R_GRID[:500]) + 0.2
    strong = np.full_like(r, 12.0)
    silenced = {law: bool(np.all(_fires(law, r, -strong) < 1e-6 * r)) for law in ALL_LAWS if law != "point"}
    amplified = {law: bool(np.all(_fires(law, r, np.abs(C_GRID[:500]) + 0.1) > r * (1 + 1e-9)))
                 for law in ("kp", "gain", "additive")}
    no_drive = -np.abs(R_GRID)  # R <= 0: the receptive field does not drive the unit
    alone = {law: bool(np.any(_fires(law, no_drive, np.abs(C_GRID) * 2) > 0)) for law in ALL_LAWS}
    assert silenced == {"kp": False, "coop": True, "coop_published": True, "additive": True, "gain": True}
    assert all(amplified.values())
    assert alone == {"kp": False, "coop": True, "coop_published": True, "additive": True, "point": False,
                     "gain": False}
    # kp keeps at least k1 = 0.5 of R under conflicting context (only `gain` has all three properties)
    assert np.all(_fires("kp", r, -strong) >= 0.5 * r * (1 - 1e-9))


def test_additive_and_point():
    np.testing.assert_allclose(transfer("additive", R_GRID, C_GRID), R_GRID + C_GRID)
    np.testing.assert_allclose(transfer("point", R_GRID, C_GRID), R_GRID)


def test_gain_amplifies_coherent_attenuates_conflicting_and_context_alone_is_silent():
    np.testing.assert_allclose(transfer("gain", R_GRID, np.zeros_like(R_GRID)), R_GRID, atol=1e-12)
    assert np.array_equal(transfer("gain", np.zeros_like(C_GRID), C_GRID), np.zeros_like(C_GRID))
    r = np.abs(R_GRID) + 0.1
    coherent = transfer("gain", r, np.abs(C_GRID) + 0.1)
    conflicting = transfer("gain", r, -np.abs(C_GRID) - 0.1)
    assert np.all(coherent > r) and np.all(coherent < 2.0 * r)
    assert np.all(conflicting < r) and np.all(conflicting > 0)
    # strong conflicting context silences the unit, strong coherent context saturates at 2x
    np.testing.assert_allclose(transfer("gain", np.array([1.0, 1.0]), np.array([-10.0, 10.0])),
                               [0.0, 2.0], atol=1e-8)


def _away_from_kinks(law, r, c, margin=1e-3):
    """Points where the law is differentiable with a margin (relu6 edges, kp clip, abs(R) at 0)."""
    if law == "kp":
        return np.abs(np.abs(2.0 * r * c) - KP_EXPONENT_MAX) > margin
    if law == "coop":
        z = r * r + 2 * r + c * (1 + np.abs(r))
        return (np.abs(z) > margin) & (np.abs(z - 6.0) > margin) & (np.abs(r) > margin)
    if law == "coop_published":
        return np.abs(r) > margin
    return np.ones_like(r, dtype=bool)


@pytest.mark.parametrize("law", ALL_LAWS)
def test_derivatives_match_finite_differences(law):
    ok = _away_from_kinks(law, R_GRID, C_GRID)
    r, c = R_GRID[ok], C_GRID[ok]
    assert len(r) > 3000
    _, d_r, d_c = transfer_with_grad(law, r, c)
    eps = 1e-7
    num_r = (transfer(law, r + eps, c) - transfer(law, r - eps, c)) / (2 * eps)
    num_c = (transfer(law, r, c + eps) - transfer(law, r, c - eps)) / (2 * eps)
    np.testing.assert_allclose(d_r, num_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_c, num_c, rtol=1e-5, atol=1e-6)


def test_unknown_law_names_parameter():
    with pytest.raises(ParameterError, match="law"):
        transfer("sigmoid", R_GRID, C_GRID)
