r"""Loihi-style fixed-point network and a batched engine bit-exact with Lava 0.10.0's ``fixed_pt`` models.

Holds the integer network dataclasses, the quantiser to Loihi limits (``quantize_network``,
``check_limits``; re-exported by ``loihi_targets.quantize``) and the batched engine, so the conversion
stage (``conversion.engine.simulate(mode="fixed")``) runs a quantised network without ``loihi_targets``.

Per population layer (Lava ``Dense`` -> ``LIF``/``LIFReset``, ``lava/proc/dense/models.py`` and
``lava/proc/lif/models.py``), integers throughout, one time step:

.. math::

    a_t &= (W_m s_t) \cdot 2^{e_w}  \quad\text{(left shift, or arithmetic right shift for } e_w < 0)\\
    u_t &= \mathrm{wrap}_{24}\big(\mathrm{rnd}(u_{t-1}(4096 - du - 1) / 4096) + a_t \cdot 2^6\big)\\
    v_t &= \mathrm{clip}_{24}\big(\mathrm{rnd}(v_{t-1}(4096 - dv) / 4096) + u_t + b_m 2^{e_b}\big)\\
    z_t &= v_t > v_{th} \cdot 2^6, \qquad v_t \leftarrow 0 \text{ (reset "zero") or }
           v_t - v_{th} 2^6 \text{ (reset "subtract")}

where rnd truncates towards zero (sign times magnitude right-shifted by 12), wrap_24 folds values
beyond :math:`\pm 2^{23}` back (Lava's rule) and clip_24 saturates at :math:`\pm(2^{23}-1)`.
Each Lava ``Dense`` delays its output by one step; the Lava graph offsets each layer's reset and
readout window by its depth, so every layer sees one sample for exactly T steps and this engine can
simulate samples independently with no delay (see ``loihi_targets.lava_graph``). The output layer is
either a spiking layer ("counts" readout) or an accumulator of :math:`a_t 2^6 + b` over the window
("membrane" readout).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from spiking_mcc.errors import DataError, HardwareLimitError, ModelError

UV_BITS = 24                     # u, v state width (Lava AbstractPyLifModelFixed.uv_bitwidth)
UV_HALF = 2 ** (UV_BITS - 1)     # 2**23
DECAY_SHIFT = 12                 # du, dv are 12-bit fractions of 4096
DECAY_UNITY = 2 ** DECAY_SHIFT
ACT_SHIFT = 6                    # synaptic input is left-shifted by 6 (MSB alignment)
VTH_SHIFT = 6                    # threshold is compared as vth << 6
DS_OFFSET = 1                    # Loihi 1 1-bit offset added to du (so du = 4095 means "no memory")
DM_OFFSET = 0                    # ... and to dv
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


def dense_activation(layer: FixedPointLayer, s_in: np.ndarray) -> np.ndarray:
    """Lava Dense fixed_pt: (W_m s) << weight_exp, arithmetic right shift for negative exponents."""
    accum = s_in @ layer.weight_mant.T
    if layer.weight_exp > 0:
        return np.left_shift(accum, layer.weight_exp)
    return np.right_shift(accum, -layer.weight_exp)


def _decay(state: np.ndarray, factor: int) -> np.ndarray:
    """state * factor / 4096, truncated towards zero (Lava: sign * (|x| >> 12))."""
    prod = state * factor
    return np.sign(prod) * np.right_shift(np.abs(prod), DECAY_SHIFT)


def wrap_current(u: np.ndarray) -> np.ndarray:
    """Lava's 24-bit wrap of the current u: > 2**23 -> - 2**24, <= -2**23 -> + 2**24."""
    wrapped = np.where(u > UV_HALF, u - 2 * UV_HALF, u)
    return np.where(wrapped <= -UV_HALF, u + 2 * UV_HALF, wrapped)


def lif_step(layer: FixedPointLayer, u: np.ndarray, v: np.ndarray, activation: np.ndarray,
             reset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bit-accurate LIF update; returns (u, v, spikes bool). Arrays (batch, neurons) int64."""
    u = wrap_current(_decay(u, DECAY_UNITY - (layer.du + DS_OFFSET)) + np.left_shift(activation, ACT_SHIFT))
    v = _decay(v, DECAY_UNITY - (layer.dv + DM_OFFSET)) + u + layer.effective_bias
    v = np.clip(v, -UV_HALF + 1, UV_HALF - 1)
    spikes = v > layer.effective_vth
    if reset == "zero":
        v = np.where(spikes, 0, v)
    else:
        v = v - spikes * layer.effective_vth
    return u, v, spikes


def simulate_fixed(net: FixedPointNetwork, x: np.ndarray, timesteps: int, batch_size: int = 2048,
                   quantized_input: bool = False) -> FixedPointResult:
    """Run every sample for `timesteps` steps from the reset state; bit-exact with the Lava graph.

    x: (n, n_in) real inputs (quantised with net.quantize_input) or, with quantized_input=True,
    the graded integers themselves. Samples are simulated `batch_size` at a time.
    """
    return simulate_fixed_steps(net, x, [timesteps], batch_size, quantized_input)[0]


def simulate_fixed_steps(net: FixedPointNetwork, x: np.ndarray, steps: list[int], batch_size: int = 2048,
                         quantized_input: bool = False) -> list[FixedPointResult]:
    """As simulate_fixed, read out after each T in `steps` (one run of max(steps) steps)."""
    steps = sorted({int(t) for t in steps})
    if not steps or steps[0] < 1:
        raise DataError(f"timesteps must be integers >= 1, got {steps}")
    x_q = np.asarray(x, dtype=np.int64) if quantized_input else net.quantize_input(x)
    parts = [_simulate_batch(net, x_q[i:i + batch_size], steps) for i in range(0, len(x_q), batch_size)]
    results = []
    for k in range(len(steps)):
        counts = [np.concatenate([p[k][0][i] for p in parts]) for i in range(net.n_populations)]
        output = np.concatenate([p[k][1] for p in parts])
        results.append(FixedPointResult(spike_counts=counts, output=output))
    return results


def _simulate_batch(net: FixedPointNetwork, x_q: np.ndarray, steps: list[int]) -> list[tuple]:
    batch = x_q.shape[0]
    n_pop = net.n_populations
    u = [np.zeros((batch, layer.n_out), np.int64) for layer in net.layers]
    v = [np.full((batch, layer.n_out), v0, np.int64) for layer, v0 in zip(net.layers, net.v_init)]
    counts = [np.zeros((batch, layer.n_out), np.int64) for layer in net.layers[:n_pop]]
    output = np.zeros((batch, net.layers[-1].n_out), np.int64)
    first_activation = dense_activation(net.layers[0], x_q)  # the same graded input every step
    snapshots = []
    for t in range(1, steps[-1] + 1):
        s = None
        for i, layer in enumerate(net.layers):
            activation = first_activation if i == 0 else dense_activation(layer, s)
            if i < n_pop:
                u[i], v[i], spikes = lif_step(layer, u[i], v[i], activation, net.reset)
                counts[i] += spikes
                s = spikes.astype(np.int64)
            else:
                output += np.left_shift(activation, ACT_SHIFT) + layer.effective_bias
        if t in steps:
            snap_out = counts[-1].copy() if net.readout == "counts" else output.copy()
            snapshots.append(([c.copy() for c in counts], snap_out))
    return snapshots


# --------------------------------------------------------------------------------------------------
# Floating-point reference of the same graph (Lava floating_pt Dense + LIF semantics)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """Dense + neuron layer in real units: current W s + b, threshold v_th, leak dv (fraction)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    v_th: float
    dv: float = 0.0
    spiking: bool = True


@dataclass(frozen=True, eq=False)
class FloatNetwork:
    """The real-valued chain the quantiser starts from (thresholds folded to one scalar per layer)."""

    layers: tuple[FloatLayer, ...]
    reset: str = "zero"
    readout: str = "membrane"
    v_init: tuple[float, ...] = ()

    @property
    def n_populations(self) -> int:
        return len(self.layers) - (self.readout == "membrane")


@dataclass(frozen=True)
class FloatResult:
    spike_counts: list
    output: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.output, axis=1)


def simulate_float(net: FloatNetwork, x: np.ndarray, timesteps: int) -> FloatResult:
    """Lava floating_pt semantics: u = a (du = 1), v = (1 - dv) v + u + b, spike v > v_th, reset."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    n_pop = net.n_populations
    v_init = net.v_init or (0.0,) * len(net.layers)
    v = [np.full((n, layer.weight.shape[0]), v0) for layer, v0 in zip(net.layers, v_init)]
    counts = [np.zeros((n, layer.weight.shape[0]), np.int64) for layer in net.layers[:n_pop]]
    output = np.zeros((n, net.layers[-1].weight.shape[0]))
    first_current = x @ net.layers[0].weight.T
    for _ in range(timesteps):
        s = None
        for i, layer in enumerate(net.layers):
            current = first_current if i == 0 else s @ layer.weight.T
            if i < n_pop:
                v[i] = v[i] * (1.0 - layer.dv) + current + layer.bias
                spikes = v[i] > layer.v_th
                counts[i] += spikes
                v[i] = np.where(spikes, 0.0, v[i]) if net.reset == "zero" else v[i] - spikes * layer.v_th
                s = spikes.astype(np.float64)
            else:
                output += current + layer.bias
    if net.readout == "counts":
        output = counts[-1].astype(np.float64)
    return FloatResult(spike_counts=counts, output=output)


# --------------------------------------------------------------------------------------------------
# Quantiser: a real-valued chain -> Loihi integers, with range checks (re-exported by
# loihi_targets.quantize; it lives here so the conversion engine's fixed mode needs no loihi_targets)
# --------------------------------------------------------------------------------------------------

# Loihi 1 limits (Davies et al. 2018; Lava 0.10.0 lava/proc/lif/models.py, lava/proc/dense/models.py,
# lava/utils/weightutils.py). name: (low, high) inclusive.
LIMITS = {
    "weight_mant": (-256, 254),      # 8-bit mantissa, mixed sign: even integers only
    "weight_exp": (-7, 7),
    "bias_mant": (-4096, 4095),      # 13-bit signed
    "bias_exp": (0, 7),              # 3-bit unsigned
    "vth_mant": (1, 2 ** 17 - 1),    # 17-bit, compared as vth << 6
    "du": (0, 4095),                 # 12-bit
    "dv": (0, 4095),
    "u": (-UV_HALF + 1, UV_HALF - 1),  # 24-bit state
    "v": (-UV_HALF + 1, UV_HALF - 1),
    "input": (0, 255),               # graded input spike payload (8 bits)
}
WEIGHT_MANT_SPAN = (256, 254)        # |most negative|, most positive mantissa


def _fail(layer: str, parameter: str, value, limit: tuple) -> HardwareLimitError:
    return HardwareLimitError(f"layer '{layer}': {parameter} = {value} outside the Loihi limit "
                              f"[{limit[0]}, {limit[1]}]")


def _check_range(layer: str, parameter: str, values, limit_key: str | None = None) -> None:
    low, high = LIMITS[limit_key or parameter]
    arr = np.asarray(values)
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise HardwareLimitError(f"layer '{layer}': {parameter} contains NaN/Inf")
    if arr.min() < low:
        raise _fail(layer, parameter, arr.min(), (low, high))
    if arr.max() > high:
        raise _fail(layer, parameter, arr.max(), (low, high))


def worst_case_activation(weight_mant: np.ndarray, weight_exp: int, input_max: int) -> tuple[int, int]:
    """(most negative, most positive) Dense output for inputs in [0, input_max]."""
    pos = np.clip(weight_mant, 0, None).sum(axis=1) * input_max
    neg = np.clip(weight_mant, None, 0).sum(axis=1) * input_max
    shift = (lambda a: np.left_shift(a, weight_exp)) if weight_exp > 0 else \
        (lambda a: np.right_shift(a, -weight_exp))
    return int(shift(neg).min(initial=0)), int(shift(pos).max(initial=0))


def check_limits(net: FixedPointNetwork, timesteps: int) -> None:
    """Range-check every parameter and the worst-case u/v of `net` for `timesteps` steps.

    Raises HardwareLimitError naming layer, parameter, limit and value. Call before building Lava."""
    _check_range("input", "input_bits range", [0, 2 ** net.input_bits - 1], "input")
    input_max = 2 ** net.input_bits - 1
    for i, layer in enumerate(net.layers):
        name = layer.name
        w = layer.weight_mant
        _check_range(name, "weight_mant", w)
        if np.any(w % 2):
            raise HardwareLimitError(f"layer '{name}': weight_mant must be even (8-bit mixed-sign mantissa), "
                                     f"got odd value {int(w[w % 2 != 0][0])}")
        _check_range(name, "weight_exp", layer.weight_exp)
        _check_range(name, "bias_mant", layer.bias_mant)
        _check_range(name, "bias_exp", layer.bias_exp)
        _check_range(name, "du", layer.du)
        _check_range(name, "dv", layer.dv)
        spiking = i < net.n_populations
        if spiking:
            _check_range(name, "vth_mant", layer.vth_mant)
        low, high = worst_case_activation(w, layer.weight_exp, input_max if i == 0 else 1)
        u_low, u_high = low << ACT_SHIFT, high << ACT_SHIFT
        _check_range(name, "worst-case current u", [u_low, u_high], "u")
        bias = layer.effective_bias
        if spiking:
            # v never exceeds threshold + one step of drive (it spikes and resets first)
            v_high = layer.effective_vth + u_high + int(bias.max(initial=0))
            _check_range(name, "worst-case membrane v", v_high, "v")
        else:
            drive = max(abs(u_low + int(bias.min(initial=0))), abs(u_high + int(bias.max(initial=0))))
            _check_range(name, f"worst-case accumulated membrane over {timesteps} steps",
                         drive * timesteps, "v")


def _even_mantissa(weight: np.ndarray, factor: float) -> np.ndarray:
    mant = 2 * np.rint(weight * factor / 2)
    return np.clip(mant, -WEIGHT_MANT_SPAN[0], WEIGHT_MANT_SPAN[1]).astype(np.int64)


def _split_bias(bias_units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer bias (membrane units) -> (mantissa, exponent) per neuron, smallest exponent that fits."""
    low, high = LIMITS["bias_mant"]
    mant = np.rint(bias_units).astype(np.int64)
    exp = np.zeros(mant.shape, np.int64)
    for e in range(1, LIMITS["bias_exp"][1] + 1):
        over = (mant < low) | (mant > high)
        mant = np.where(over, np.rint(bias_units / 2 ** e).astype(np.int64), mant)
        exp = np.where(over, e, exp)
    return mant, exp


def _quantize_layer(layer, index: int, n_pop: int, input_scale: float, input_max: int, timesteps: int,
                    v_init_fraction: float):
    name = layer.name
    w = np.asarray(layer.weight, dtype=np.float64)
    if not np.all(np.isfinite(w)) or not np.all(np.isfinite(layer.bias)):
        raise HardwareLimitError(f"layer '{name}': weights/bias contain NaN/Inf")
    pos, neg = max(w.max(initial=0), 0.0), max(-w.min(initial=0), 0.0)
    spans = [s / m for s, m in zip(WEIGHT_MANT_SPAN[::-1], (pos, neg)) if m > 0]
    mant_per_real = min(spans) if spans else 1.0
    weight_mant = _even_mantissa(w, mant_per_real)
    spiking = index < n_pop
    in_scale = input_scale if index == 0 else 1.0
    last_error = None
    for weight_exp in range(LIMITS["weight_exp"][1], LIMITS["weight_exp"][0] - 1, -1):
        scale = mant_per_real * in_scale * 2.0 ** weight_exp
        vth_mant = int(np.rint(scale * layer.v_th)) if spiking else 1
        bias_mant, bias_exp = _split_bias(np.asarray(layer.bias) * scale * 2 ** ACT_SHIFT)
        dv = int(np.rint(layer.dv * 4096))
        candidate = FixedPointLayer(name=name, weight_mant=weight_mant, weight_exp=weight_exp,
                                    bias_mant=bias_mant, bias_exp=bias_exp, vth_mant=max(vth_mant, 1),
                                    du=4095, dv=min(dv, 4095), scale=scale, spiking=spiking)
        if spiking and vth_mant > LIMITS["vth_mant"][1]:
            last_error = _fail(name, "vth_mant", vth_mant, LIMITS["vth_mant"])
            continue
        try:
            probe = FixedPointNetwork(layers=(candidate,), input_scale=1.0,
                                      input_bits=int(np.log2(input_max + 1)),
                                      readout="counts" if spiking else "membrane")
            check_limits(probe, timesteps)
        except HardwareLimitError as err:
            last_error = err
            continue
        if spiking and vth_mant < 1:
            raise HardwareLimitError(f"layer '{name}': threshold {layer.v_th:g} rounds to vth_mant 0 even "
                                     f"with weight_exp {weight_exp}; weights too large relative to threshold")
        v_init = (int(np.rint(v_init_fraction * vth_mant)) << ACT_SHIFT) if spiking else 0
        return candidate, v_init, _layer_error(layer, candidate, mant_per_real, spiking)
    raise last_error


def _rel(err: np.ndarray, ref: np.ndarray) -> float:
    norm = float(np.linalg.norm(ref))
    return float(np.linalg.norm(err) / norm) if norm > 0 else float(np.linalg.norm(err))


def _layer_error(layer, fixed: FixedPointLayer, mant_per_real: float, spiking: bool) -> dict:
    weight_eff = fixed.weight_mant / mant_per_real
    bias_eff = fixed.effective_bias / (fixed.scale * 2 ** ACT_SHIFT)
    report = {
        "layer": fixed.name,
        "weight_exp": fixed.weight_exp,
        "scale": fixed.scale,
        "weight_rel_rms_error": _rel(weight_eff - layer.weight, layer.weight),
        "bias_rel_rms_error": _rel(bias_eff - layer.bias, layer.bias),
        "max_bias_exp": int(fixed.bias_exp.max(initial=0)),
    }
    if spiking:
        report["vth_mant"] = int(fixed.vth_mant)
        report["vth_rel_error"] = abs(fixed.vth_mant / fixed.scale - layer.v_th) / layer.v_th
    return report


def quantize_network(net: FloatNetwork, timesteps: int, input_max: float = 1.0,
                     input_bits: int = 8, input_min: float = 0.0) -> FixedPointNetwork:
    """Quantise a real-valued chain (`conversion.fixed_point.FloatNetwork`) for Loihi.

    input_max / input_min: the range of real inputs; max(input_max, -input_min) maps to
    2**input_bits - 1; a negative input_min splits every input into [x+, x-] channels (signed_input).
    timesteps: the window length (bounds the accumulated output membrane). Raises HardwareLimitError
    when no weight exponent fits.
    """
    if not np.isfinite(input_max) or input_max <= 0:
        raise HardwareLimitError(f"input: input_max must be finite and > 0, got {input_max}")
    if not np.isfinite(input_min) or input_min > input_max:
        raise HardwareLimitError(f"input: input_min must be finite and <= input_max, got {input_min}")
    signed = input_min < 0
    if signed:
        first = net.layers[0]
        net = dataclasses.replace(net, layers=(dataclasses.replace(
            first, weight=np.concatenate([first.weight, -np.asarray(first.weight)], axis=1)),)
            + tuple(net.layers[1:]))
        input_max = max(input_max, -input_min)
    if not 1 <= input_bits <= 8:
        raise HardwareLimitError(f"input: input_bits = {input_bits} outside the graded-spike limit [1, 8]")
    input_top = 2 ** input_bits - 1
    input_scale = input_top / float(input_max)
    n_pop = net.n_populations
    v_init = net.v_init or (0.0,) * len(net.layers)
    layers, inits, errors = [], [], []
    for i, layer in enumerate(net.layers):
        fixed, v0, err = _quantize_layer(layer, i, n_pop, input_scale, input_top if i == 0 else 1, timesteps,
                                         v_init[i] / layer.v_th if i < n_pop else 0.0)
        layers.append(fixed)
        inits.append(v0)
        errors.append(err)
    result = FixedPointNetwork(layers=tuple(layers), input_scale=input_scale, input_bits=input_bits,
                               reset=net.reset, readout=net.readout, v_init=tuple(inits),
                               quantisation_error=errors, signed_input=signed)
    check_limits(result, timesteps)
    return result


# --------------------------------------------------------------------------------------------------
# Plain-array form (for .npz files and for handing a network to a Lava child process; no pickle)
# --------------------------------------------------------------------------------------------------

_FIXED_FIELDS = ("weight_mant", "weight_exp", "bias_mant", "bias_exp", "vth_mant", "du", "dv", "scale",
                 "spiking")
_FLOAT_FIELDS = ("weight", "bias", "v_th", "dv", "spiking")


def network_to_arrays(net: FixedPointNetwork | FloatNetwork) -> dict[str, np.ndarray]:
    """Flatten a fixed-point or float network into named numpy arrays (strings as 0-d str arrays)."""
    fixed = isinstance(net, FixedPointNetwork)
    arrays = {"kind": np.array("fixed" if fixed else "float"), "n_layers": np.array(len(net.layers)),
              "reset": np.array(net.reset), "readout": np.array(net.readout),
              "v_init": np.asarray(net.v_init or (0,) * len(net.layers), dtype=np.float64)}
    if fixed:
        arrays["input_scale"] = np.array(net.input_scale)
        arrays["input_bits"] = np.array(net.input_bits)
        arrays["signed_input"] = np.array(net.signed_input)
    for i, layer in enumerate(net.layers):
        arrays[f"layer{i}_name"] = np.array(layer.name)
        for key in _FIXED_FIELDS if fixed else _FLOAT_FIELDS:
            arrays[f"layer{i}_{key}"] = np.asarray(getattr(layer, key))
    return arrays


def network_from_arrays(arrays: dict[str, np.ndarray]) -> FixedPointNetwork | FloatNetwork:
    """Inverse of network_to_arrays."""
    fixed = str(arrays["kind"]) == "fixed"
    layers = []
    for i in range(int(arrays["n_layers"])):
        values = {key: arrays[f"layer{i}_{key}"] for key in (_FIXED_FIELDS if fixed else _FLOAT_FIELDS)}
        values = {k: (v.item() if v.ndim == 0 else v) for k, v in values.items()}
        values["spiking"] = bool(values["spiking"])
        cls = FixedPointLayer if fixed else FloatLayer
        if fixed:
            for key in ("weight_exp", "vth_mant", "du", "dv"):
                values[key] = int(values[key])
        layers.append(cls(name=str(arrays[f"layer{i}_name"]), **values))
    common = {"reset": str(arrays["reset"]), "readout": str(arrays["readout"])}
    v_init = arrays["v_init"]
    if fixed:
        return FixedPointNetwork(layers=tuple(layers), input_scale=float(arrays["input_scale"]),
                                 input_bits=int(arrays["input_bits"]), v_init=tuple(int(v) for v in v_init),
                                 signed_input=bool(arrays.get("signed_input", False)),
                                 **common)
    return FloatNetwork(layers=tuple(layers), v_init=tuple(float(v) for v in v_init), **common)


def float_network(snn) -> FloatNetwork:
    """A converted Dense(+ReLU) chain (`conversion.ir.SpikingNetwork`, analog encoding) in the unit form
    the quantiser and Lava use: every hidden threshold 1, every spike worth 1; the output layer is a
    membrane accumulator (readout "membrane") or spikes at `output_v_th` (readout "counts")."""
    if snn.encoding != "analog":
        raise ModelError(f"the Lava/Loihi path supports analog input encoding only, got {snn.encoding!r}")
    chain = snn.dense_chain()
    weights = snn.unit_threshold_weights()
    layers = []
    for k, ((dense, pop), (w, b)) in enumerate(zip(chain, weights)):
        last = k == len(chain) - 1
        if not last and pop is None:
            raise ModelError(f"layer '{dense.name}': a hidden Dense layer needs a ReLU (spiking population)")
        spiking = not last or snn.readout == "counts"
        v_th = 1.0 if (pop is not None or not last) else float(snn.output_v_th)
        layers.append(FloatLayer(name=pop or dense.name, weight=w, bias=b, v_th=v_th, dv=float(snn.leak),
                                 spiking=spiking))
    v_init = tuple(snn.init_membrane_fraction * layer.v_th if layer.spiking else 0.0 for layer in layers)
    return FloatNetwork(layers=tuple(layers), reset=snn.reset, readout=snn.readout, v_init=v_init)


def readout_to_real(net: FixedPointNetwork, output: np.ndarray) -> np.ndarray:
    """Accumulated output membrane (integer units) -> real units of the float network; counts unchanged."""
    if net.readout == "counts":
        return output.astype(np.float64)
    return output / (net.layers[-1].scale * 2 ** ACT_SHIFT)
