"""Quantise converted networks to Loihi's integer limits and range-check integer networks.

Loihi 1 / Lava 0.10.0 limits (``LIMITS``): 8-bit mixed-sign weight mantissa (even integers in
[-256, 254]) with a weight exponent in [-7, 7]; 12-bit du, dv; 17-bit threshold mantissa compared as
vth << 6; 13-bit signed bias mantissa with a 3-bit exponent; 24-bit u and v. Lava checks none of
them and a bad value can hang its runtime, so :func:`check_limits` runs before any Lava object
exists. The arithmetic lives in :mod:`conversion.fixed_point` (the conversion engine's fixed mode
uses it too, and conversion must not import this package); this module is the Loihi-facing entry.
"""

from __future__ import annotations

import numpy as np

from conversion.fixed_point import (
    LIMITS,
    FixedPointNetwork,
    FloatNetwork,
    check_limits,
    float_network,
    quantize_network,
    worst_case_activation,
)
from conversion.ir import SpikingNetwork

__all__ = ["LIMITS", "check_limits", "quantize", "quantize_network", "quantisation_table",
           "worst_case_activation"]


def quantize(model: SpikingNetwork | FloatNetwork, timesteps: int, input_max: float | None = None,
             input_bits: int = 8, input_min: float = 0.0) -> FixedPointNetwork:
    """A converted SpikingNetwork (analog Dense chain) or a FloatNetwork -> FixedPointNetwork.

    input_max: the largest real input (default: the network's input_scale for a SpikingNetwork,
    1.0 otherwise); a negative input_min splits inputs into [x+, x-] channels. Raises
    HardwareLimitError naming layer, parameter, limit and value."""
    net = float_network(model) if isinstance(model, SpikingNetwork) else model
    if input_max is None:
        input_max = float(model.input_scale) if isinstance(model, SpikingNetwork) else 1.0
    return quantize_network(net, timesteps, input_max=input_max, input_bits=input_bits, input_min=input_min)


def quantisation_table(net: FixedPointNetwork) -> list[dict]:
    """Per-layer rows for reports: exponents, threshold mantissa and relative errors (rounded)."""
    rows = []
    for row in net.quantisation_error:
        rows.append({k: (float(np.round(v, 6)) if isinstance(v, float) else v) for k, v in row.items()})
    return rows
