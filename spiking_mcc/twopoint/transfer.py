"""Transfer laws of a rate-based two-point unit: A = f(R, C), with analytic dA/dR and dA/dC.

R is the receptive-field (basal/somatic) drive, C the integrated context (apical) drive;
the unit's output is y = phi(A) (ReLU in the MCC network). docs/twopoint_laws.md:

| law        | A(R, C)                                             | source                          |
|------------|-----------------------------------------------------|---------------------------------|
| `kp`       | R [k1 + (1 - k1) exp(k2 R C)], k1 = 0.5, k2 = 2     | Kay & Phillips 2011             |
| `coop`     | relu6(R^2 + 2R + C (1 + abs(R)))                    | cooperation law, relu6 clamp    |
| `coop_published` | R^2 + 2R + C (1 + abs(R))                     | cooperation law as published    |
| `additive` | R + C                                               | context as a second drive       |
| `point`    | R                                                   | point neuron (context ignored)  |
| `gain`     | R g(C), g(C) = GAIN_MAX / (1 + exp(-GAIN_K C))      | apical gain of the L5PC         |

`kp`'s exponent k2 R C is clipped to [-KP_EXPONENT_MAX, KP_EXPONENT_MAX] so a large coherent
input cannot overflow; inside the clip the derivatives are exact, outside it the exponent is
constant (its derivative is zero). Properties (tested): kp: A(0, c) = 0, A(r, 0) = r,
sign(A) = sign(r), abs(A) > abs(r) exactly when r c > 0; coop: A(0, C) = C for C in [0, 6],
0 <= A <= 6; coop_published: the same polynomial without the clamp (the clamp is the option `coop`);
additive: A(r, 0) = A(0, r) = r; point: A = R.

`gain` is the multiplicative apical gain that the two-compartment L5PC shows (tonic apical input
roughly doubles the somatic f-I slope, Larkum et al. 1999; Naud & Sprekeler 2018): g(0) = 1 so
A(r, 0) = r; coherent context (r > 0, c > 0) amplifies up to GAIN_MAX x; conflicting context
(r > 0, c < 0) attenuates towards 0; context alone cannot drive the unit: A(0, c) = 0. g is a
smooth function of C alone, so a spiking unit realises it with one lookup table on its apical state.
`gain` is the project's attenuating law: of the laws here it is the only one with all three of
"conflicting context drives relu(A) to 0", "coherent context amplifies", "relu(A(R <= 0, C)) = 0"
(kp attenuates only to k1 = 0.5 x; coop, coop_published and additive let context alone fire).
"""

from __future__ import annotations

import numpy as np

from spiking_mcc.errors import ParameterError

LAWS = ("kp", "coop", "additive", "point", "gain")  # the laws fitted to the L5PC rate surface
# Every law a two-point unit can use (the MCC network, `train --law`, `compare --law`): LAWS plus the
# cooperation law in its published, unclamped form (the L5PC fit needs coop's ceiling to fix its scale).
ALL_LAWS = (*LAWS, "coop_published")
CONTEXT_LAWS = tuple(law for law in ALL_LAWS if law != "point")  # the laws an MCC unit can use
# The law the spiking two-compartment unit of converted networks realises (one lookup table on its
# apical state): the law the L5PC rate-surface fit reports as `law_used` and the MCC network's default.
UNIT_LAW = "gain"

KP_K1 = 0.5  # Kay & Phillips 2011: share of A that does not depend on context
KP_K2 = 2.0  # Kay & Phillips 2011: context gain inside the exponent
# Clip of k2 R C: the gain k1 + (1 - k1) e^z stays in [0.57, 4.19]. Measured on AV digits (64-32 MCC,
# Adam 2e-3, 15 epochs): clip 2 -> 99.3% test accuracy, clip 4 -> 92%, clip 8 -> 51% (stacked layers
# amplify each other's activity until training diverges).
KP_EXPONENT_MAX = 2.0
COOP_CEILING = 6.0  # relu6 upper bound of the cooperation law
GAIN_MAX = 2.0  # `gain`: largest amplification (the L5PC's apical input about doubles its f-I slope)
GAIN_K = 2.0  # `gain`: slope of the logistic gain in C (g'(0) = GAIN_MAX * GAIN_K / 4 = 1)


def check_law(law: str) -> str:
    """Return `law` if it is one of ALL_LAWS, else raise ParameterError naming it."""
    if law not in ALL_LAWS:
        raise ParameterError(f"law: expected one of {list(ALL_LAWS)}, got {law!r}")
    return law


def transfer(law: str, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """A(R, C) for `law`; r and c broadcast together (c is ignored by `point`)."""
    return transfer_with_grad(law, r, c)[0]


def transfer_with_grad(law: str, r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, dA/dR, dA/dC) elementwise for `law`; all three have the broadcast shape of r and c."""
    check_law(law)
    r = np.asarray(r)
    c = np.asarray(c)
    r, c = np.broadcast_arrays(r, c)
    if law == "kp":
        z_raw = KP_K2 * r * c
        z = np.clip(z_raw, -KP_EXPONENT_MAX, KP_EXPONENT_MAX)
        inside = (np.abs(z_raw) < KP_EXPONENT_MAX).astype(r.dtype)
        e = np.exp(z)
        gain = KP_K1 + (1.0 - KP_K1) * e
        a = r * gain
        slope = r * (1.0 - KP_K1) * e * KP_K2 * inside  # d(gain)/dz * dz/d(RC) * R
        return a, gain + slope * c, slope * r
    if law == "coop_published":
        abs_r = np.abs(r)
        return r * r + 2.0 * r + c * (1.0 + abs_r), 2.0 * r + 2.0 + c * np.sign(r), 1.0 + abs_r
    if law == "coop":
        abs_r = np.abs(r)
        z = r * r + 2.0 * r + c * (1.0 + abs_r)
        a = np.clip(z, 0.0, COOP_CEILING)
        linear = ((z > 0.0) & (z < COOP_CEILING)).astype(r.dtype)
        return a, (2.0 * r + 2.0 + c * np.sign(r)) * linear, (1.0 + abs_r) * linear
    if law == "additive":
        return r + c, np.ones_like(r), np.ones_like(c)
    if law == "gain":
        g, dg = gain_with_grad(c)
        return r * g, g, r * dg
    return r.copy(), np.ones_like(r), np.zeros_like(c)


def gain_with_grad(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(g(C), dg/dC) of the `gain` law: g = GAIN_MAX * logistic(GAIN_K * C), overflow-free."""
    from scipy.special import expit

    s = expit(GAIN_K * np.asarray(c, dtype=float))
    return GAIN_MAX * s, GAIN_MAX * GAIN_K * s * (1.0 - s)
