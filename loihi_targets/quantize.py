"""The Loihi-facing quantisation entry: a converted network -> a fixed-point network that fits Loihi 1,
every limit checked before any Lava object exists.

The quantiser and the parameter limits themselves live in the conversion stage
(:mod:`conversion.fixed_point.quantiser`, :mod:`conversion.fixed_point.limits`): the conversion engine's
fixed mode runs them, and conversion must not import this package (docs/architecture.md). This module
adds what only the Loihi target needs: the per-core resources of ``loihi_targets.mapper``
(:func:`check_core_limits`: compartments, input and output axons, synapse memory, cores per chip;
without it a 5000-wide layer feeding one neuron ran every Lava step and only then failed on 4,096 input
axons), the refusal of a layer whose weights mostly round to zero (:func:`check_weight_resolution`,
``ZERO_WEIGHT_SHARE_LIMIT``), :func:`quantize` from a converted ``SpikingNetwork`` (Dense or
convolutional chain, :mod:`conversion.fixed_point.lowering`) and the report table.
"""

from __future__ import annotations

import numpy as np

from conversion.fixed_point.float_reference import FloatNetwork
from conversion.fixed_point.limits import WEIGHT_MANT_SPAN
from conversion.fixed_point.limits import check_limits as check_value_ranges
from conversion.fixed_point.lowering import float_network
from conversion.fixed_point.network import FixedPointNetwork
from conversion.fixed_point.quantiser import quantize_network
from conversion.ir import SpikingNetwork
from spiking_mcc.errors import HardwareLimitError

__all__ = ["ZERO_WEIGHT_SHARE_LIMIT", "check_core_limits", "check_limits", "check_weight_resolution",
           "quantize", "quantisation_table"]

# A layer may lose at most this share of its non-zero weights to rounding (a weight rounds to 0 when
# it is below half an even-mantissa step, about max|w| / 254). Measured: the digits MLP loses 15-20 %
# of its input layer's weights (seeds 0-2), the audio-visual point network of `spiking-mcc run` 25-37 %
# (seeds 0-2), both the small tail of a bell-shaped distribution (the digits MLP's fixed-point accuracy
# stays within 2 points of float, tests/test_loihi_quantize.py); when most synapses vanish (an outlier
# weight sets the step) the layer no longer computes what it was trained for.
ZERO_WEIGHT_SHARE_LIMIT = 0.5


def check_core_limits(net: FixedPointNetwork | FloatNetwork) -> None:
    """Per-core resources of Loihi 1 for the Dense chain `net`, checked by mapping it (greedy, the
    placement the `loihi` report uses; synapses = non-zero weights). Raises HardwareLimitError naming
    layer, limit and value."""
    from loihi_targets.mapper import layers_from_weights, map_network

    fixed = isinstance(net, FixedPointNetwork)
    weights = [(layer.weight_mant if fixed else layer.weight) != 0 for layer in net.layers]
    map_network(layers_from_weights([w.astype(np.int8) for w in weights],
                                    names=[layer.name for layer in net.layers]), method="greedy")


def check_limits(net: FixedPointNetwork, timesteps: int) -> None:
    """Every Loihi limit of the quantised `net` run for `timesteps` steps per sample: parameter ranges,
    worst-case u/v and per-core resources. Raises HardwareLimitError naming layer, limit and value."""
    check_value_ranges(net, timesteps)
    check_core_limits(net)


def check_weight_resolution(real: FloatNetwork, fixed: FixedPointNetwork) -> None:
    """Refuse a layer of `fixed` that lost more than ZERO_WEIGHT_SHARE_LIMIT of the non-zero weights
    of the same layer of `real` to rounding (all of them included)."""
    for real_layer, fixed_layer in zip(real.layers, fixed.layers):
        weight = np.asarray(real_layer.weight)
        mant = fixed_layer.weight_mant[:, :weight.shape[1]]  # signed input: [W, -W], same zeros twice
        nonzero = int(np.count_nonzero(weight))
        lost = int(np.count_nonzero((mant == 0) & (weight != 0)))
        if nonzero and lost / nonzero > ZERO_WEIGHT_SHARE_LIMIT:
            cut = max(weight.max(initial=0) / WEIGHT_MANT_SPAN[1],
                      -weight.min(initial=0) / WEIGHT_MANT_SPAN[0])
            raise HardwareLimitError(
                f"layer '{real_layer.name}': {lost} of {nonzero} non-zero weights "
                f"({100 * lost / nonzero:.0f} %) quantise to 0 (|weight| < {cut:.3g}, set by the largest "
                f"|weight| and the 8-bit mantissa); limit {100 * ZERO_WEIGHT_SHARE_LIMIT:.0f} %: clip or "
                f"rescale outlier weights")


def quantize(model: SpikingNetwork | FloatNetwork, timesteps: int, input_max: float | None = None,
             input_bits: int = 8, input_min: float = 0.0) -> FixedPointNetwork:
    """A converted SpikingNetwork (analog chain of Dense/Conv2d/AvgPool2d + ReLU) or a FloatNetwork ->
    FixedPointNetwork.

    input_max: the largest real input (default: the network's input_scale for a SpikingNetwork,
    1.0 otherwise); a negative input_min splits inputs into [x+, x-] channels. Raises
    HardwareLimitError naming layer, parameter, limit and value, also when most of a layer's weights
    round to zero (check_weight_resolution)."""
    net = float_network(model) if isinstance(model, SpikingNetwork) else model
    if input_max is None:
        input_max = float(model.input_scale) if isinstance(model, SpikingNetwork) else 1.0
    fixed = quantize_network(net, timesteps, input_max=input_max, input_bits=input_bits, input_min=input_min)
    check_weight_resolution(net, fixed)
    return fixed


def quantisation_table(net: FixedPointNetwork) -> list[dict]:
    """Per-layer rows for reports: exponents, threshold mantissa and relative errors (rounded)."""
    rows = []
    for row in net.quantisation_error:
        rows.append({k: (float(np.round(v, 6)) if isinstance(v, float) else v) for k, v in row.items()})
    return rows
