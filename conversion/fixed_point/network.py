"""The integer network dataclasses of the Loihi fixed-point form and the decoding of its output.

A network is a chain of population layers, each one Lava ``Dense`` connection (an integer weight
matrix; a convolution or a pooled connection is lowered to its matrix, :mod:`.lowering`) feeding one
LIF population or, last, an output accumulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from conversion.fixed_point.arithmetic import ACT_SHIFT, VTH_SHIFT
from spiking_mcc.errors import DataError, ModelError

READOUTS = ("membrane", "counts")
RESETS = ("zero", "subtract")


@dataclass(frozen=True, eq=False)
class FixedPointLayer:
    """One Dense + neuron layer in Loihi integer form.

    weight_mant (out, in) int: even integers in [-256, 254]; weight_exp int in [-7, 7];
    bias_mant (out,) int in [-4096, 4095]; bias_exp (out,) int in [0, 7]; vth_mant int (17-bit);
    du, dv: 12-bit decay constants; scale: integer membrane units (before the << 6) per real unit,
    i.e. a real current c becomes about c * scale * 2**6 in v (for reports and readout decoding);
    spiking: False for an output layer read as an accumulated membrane.
    """

    name: str
    weight_mant: np.ndarray
    weight_exp: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    vth_mant: int
    du: int = 4095
    dv: int = 0
    scale: float = 1.0
    spiking: bool = True

    def __post_init__(self):
        w = np.asarray(self.weight_mant)
        if w.ndim != 2:
            raise ModelError(f"layer '{self.name}': weight_mant must be 2-D, got shape {w.shape}")
        for key in ("bias_mant", "bias_exp"):
            arr = np.broadcast_to(np.asarray(getattr(self, key), dtype=np.int64), (w.shape[0],))
            object.__setattr__(self, key, arr.copy())
        object.__setattr__(self, "weight_mant", w.astype(np.int64))

    @property
    def n_out(self) -> int:
        return int(self.weight_mant.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.weight_mant.shape[1])

    @property
    def effective_bias(self) -> np.ndarray:
        """bias_mant << bias_exp (int64, membrane units)."""
        return np.left_shift(self.bias_mant, self.bias_exp)

    @property
    def effective_vth(self) -> int:
        return int(self.vth_mant) << VTH_SHIFT


@dataclass(frozen=True, eq=False)
class FixedPointNetwork:
    """A quantised Dense chain. Inputs x (real) enter as graded integers round(x * input_scale)
    clipped to [0, 2**input_bits - 1] (Loihi 2 graded spikes into the first Dense). With
    signed_input, each feature is split into two unsigned channels [x+, x-] and the first layer holds
    [W, -W], so negative inputs need no signed payload.

    reset: "zero" (Lava LIF/LIFReset) or "subtract"; v_init: membrane after each periodic reset,
    per layer (int, membrane units); readout: "membrane" (last layer accumulates) or "counts".
    quantisation_error: per-layer report from the quantiser (free-form, JSON-able).
    """

    layers: tuple[FixedPointLayer, ...]
    input_scale: float
    input_bits: int = 8
    reset: str = "zero"
    readout: str = "membrane"
    v_init: tuple[int, ...] = ()
    quantisation_error: list = field(default_factory=list)
    signed_input: bool = False

    def __post_init__(self):
        if not self.layers:
            raise ModelError("a fixed-point network needs at least one layer")
        if self.signed_input and self.layers[0].n_in % 2:
            raise ModelError(f"layer '{self.layers[0].name}': a signed-input layer needs an even number of "
                             f"input channels ([x+, x-]), got {self.layers[0].n_in}")
        for prev, layer in zip(self.layers, self.layers[1:]):
            if layer.n_in != prev.n_out:
                raise ModelError(f"shape mismatch: layer '{prev.name}' gives {prev.n_out} outputs but layer "
                                 f"'{layer.name}' expects {layer.n_in}")
        if self.reset not in RESETS:
            raise ModelError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if self.readout not in READOUTS:
            raise ModelError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        v_init = tuple(int(v) for v in self.v_init) or (0,) * len(self.layers)
        if len(v_init) != len(self.layers):
            raise ModelError(f"v_init needs one value per layer ({len(self.layers)}), got {len(v_init)}")
        object.__setattr__(self, "v_init", v_init)

    @property
    def n_populations(self) -> int:
        """Spiking layers (all but the output layer when it is read as a membrane)."""
        return len(self.layers) - (self.readout == "membrane")

    @property
    def n_features(self) -> int:
        """Real input features (half the first layer's channels with signed_input)."""
        return self.layers[0].n_in // (2 if self.signed_input else 1)

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Real inputs (n, features) -> graded integer input (n, channels) int64, saturating at
        2**input_bits - 1; NaN/Inf raise, and so do negatives unless signed_input."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise DataError(f"input must have shape (samples, {self.n_features}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise DataError(f"input contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")
        if x.size and x.min() < 0 and not self.signed_input:
            raise DataError(f"input must be >= 0 (the network was quantised for unsigned input), got min "
                            f"{x.min():.4g}")
        if self.signed_input:
            x = np.concatenate([np.clip(x, 0, None), np.clip(-x, 0, None)], axis=1)
        top = 2 ** self.input_bits - 1
        return np.clip(np.rint(x * self.input_scale), 0, top).astype(np.int64)


@dataclass(frozen=True)
class FixedPointResult:
    """Per-sample results. spike_counts[i]: (n, neurons of population i) int64; output: (n, n_out) int64
    (accumulated membrane units or output spike counts); predictions: (n,) argmax of output."""

    spike_counts: list
    output: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.output, axis=1)


def readout_to_real(net: FixedPointNetwork, output: np.ndarray) -> np.ndarray:
    """Accumulated output membrane (integer units) -> real units of the float network; counts unchanged."""
    if net.readout == "counts":
        return output.astype(np.float64)
    return output / (net.layers[-1].scale * 2 ** ACT_SHIFT)
