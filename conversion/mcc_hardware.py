r"""A converted MCC network as populations of two-point units (:mod:`conversion.twopoint_unit`), in float
or Loihi integer form, and the quantiser that turns one into the other within Loihi's limits.

One :class:`UnitNetwork` is what the batched engine (:mod:`conversion.mcc_engine`), Brian2
(:mod:`conversion.mcc_brian`) and Lava (:mod:`loihi_targets.lava_mcc_graph`) all run. Per population
(a TwoPoint node of :func:`conversion.importers.mcc.two_stream_graph` with its soma ``{s}{l}_y`` and its
receptive-field population ``{s}{l}_q``) one :class:`UnitLayer`: receptive-field synapses from the input
(analog) or the previous layer's somata, context synapses from the receptive-field spikes of both
streams of the same layer (proximal lateral, distal, universal summary folded in), and the unit
parameters; a :class:`Readout` sums the last somata through the fused classifier. Synapse weights are
the value one source spike carries (float: W x beta of the source) or an even 8-bit mantissa with an
exponent (fixed).

Quantiser (:func:`quantize`): per unit layer the receptive-field weights get the largest exponent at
which thresholds (17-bit), biases (13-bit mantissa, 3-bit exponent) and the worst-case integrators over
T steps (24-bit; the soma product at gain 2 included) fit; the context weights get the table-index
shift ``ctx_shift`` at which the largest context weight uses the full mantissa; the readout one
exponent for both streams. Inputs enter as 8-bit graded spikes; a stream with negative calibration
values is split into [x+, x-] channels. :func:`check_limits` re-checks a fixed network before Lava.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from conversion.fixed_point.limits import LIMITS, WEIGHT_MANT_SPAN, worst_case_activation
from conversion.fixed_point.quantiser import split_bias
from conversion.ir import Dense, SpikingNetwork, TwoPoint
from conversion.twopoint_spiking import layout
from conversion.twopoint_unit import (
    ACT_SHIFT,
    GAIN_SHIFT,
    LUT_STEP,
    MAX_TIMESTEPS,
    RECIP_SHIFT,
    UnitParams,
    check_law,
    float_params,
    gain_table_fixed,
    reciprocal_table,
)
from spiking_mcc.errors import DataError, HardwareLimitError, ParameterError

INPUT_BITS = 8
CTX_SHIFT_RANGE = (-RECIP_SHIFT + 1, 16)
DRIVE_MARGIN = 1.5  # analog layer 0: headroom over the calibration set's largest drive


@dataclass(frozen=True, eq=False)
class Synapses:
    """Weights (n_post, n_pre) from `source` (an input, a soma or a receptive-field population)."""

    source: str
    weight: np.ndarray
    exp: int = 0


@dataclass(frozen=True, eq=False)
class UnitLayer:
    """One population of two-point units. rf_pop: its receptive-field spike population (None: the unit
    has no context role, e.g. law point); scale: integer U_R units per real unit; drive_bound (fixed,
    analog layer 0): the largest |Dense output| the quantiser allowed for (1.5 x the calibration
    maximum; :func:`check_inputs` refuses samples beyond it)."""

    name: str
    soma: str
    rf_pop: str | None
    depth: int
    rf: Synapses
    context: tuple[Synapses, ...]
    params: UnitParams
    scale: float = 1.0
    drive_bound: int | None = None

    @property
    def n(self) -> int:
        return int(self.rf.weight.shape[0])


@dataclass(frozen=True, eq=False)
class Readout:
    """The classifier: sum over sources of the weighted soma spikes plus bias, accumulated each step."""

    name: str
    sources: tuple[Synapses, ...]
    bias: np.ndarray
    scale: float = 1.0


@dataclass(frozen=True, eq=False)
class UnitNetwork:
    """inputs: name -> real features; input_scale / signed (fixed only): graded = rint(x * scale)."""

    units: tuple[UnitLayer, ...]
    readout: Readout
    inputs: dict
    timesteps: int
    law: str
    input_scale: dict | None = None
    signed: dict | None = None

    @property
    def fixed(self) -> bool:
        return self.input_scale is not None

    @property
    def depth(self) -> int:
        return max(u.depth for u in self.units) + 1

    def quantize_input(self, name: str, x: np.ndarray) -> np.ndarray:
        """Real input of one stream (n, features) -> graded integers (n, channels), saturating at 255."""
        x = np.asarray(x, dtype=np.float64)
        if self.signed[name]:
            x = np.concatenate([np.clip(x, 0, None), np.clip(-x, 0, None)], axis=1)
        return np.clip(np.rint(x * self.input_scale[name]), 0, 2 ** INPUT_BITS - 1).astype(np.int64)


# -- float form -------------------------------------------------------------------------------------------
def _beta(net: SpikingNetwork, source: str, n: int) -> np.ndarray:
    if source in net.graph.inputs:
        return np.ones((1, n))
    return np.broadcast_to(net.output_scale[source], (n,))[None, :]


def from_spiking(net: SpikingNetwork, timesteps: int) -> UnitNetwork:
    """The float unit network of a converted two-point graph (thresholds as calibrated)."""
    if not 1 <= int(timesteps) <= MAX_TIMESTEPS:
        raise ParameterError(f"timesteps must be in [1, {MAX_TIMESTEPS}] for the two-point unit, got "
                             f"{timesteps}")
    graph = net.graph
    plan = layout(graph)
    f0 = net.init_membrane_fraction
    units = []
    for tp in plan.units:
        node: TwoPoint = graph.nodes[tp.name]
        law = check_law(node.law, f"layer '{tp.name}'")
        weight = node.rf_weight * _beta(net, tp.rf_source, node.rf_weight.shape[1])
        context = tuple(Synapses(s, w * _beta(net, s, w.shape[1])) for s, w in node.context_weights.items())
        theta_s = np.asarray(net.v_th[tp.soma], float)
        theta_q = np.asarray(net.v_th[tp.rf_pop], float) if tp.rf_pop else theta_s
        params = float_params(theta_q, theta_s, node.rf_bias, f0, timesteps, law)
        units.append(UnitLayer(tp.name, tp.soma, tp.rf_pop, tp.depth, Synapses(tp.rf_source, weight), context,
                               params))
    readout_sources, bias = [], 0.0
    for name, source in plan.readouts:
        dense: Dense = graph.nodes[name]
        readout_sources.append(Synapses(source, dense.weight * _beta(net, source, dense.weight.shape[1])))
        bias = bias + dense.bias
    readout = Readout(graph.outputs[0], tuple(readout_sources), np.asarray(bias, float))
    laws = {graph.nodes[t.name].law for t in plan.units}
    return UnitNetwork(tuple(units), readout, {k: int(np.prod(s)) for k, s in graph.inputs.items()},
                       int(timesteps), laws.pop() if len(laws) == 1 else "mixed")


# -- quantiser --------------------------------------------------------------------------------------------
def _even_mantissa(weight: np.ndarray, factor: float) -> np.ndarray:
    mant = 2 * np.rint(np.asarray(weight) * factor / 2)
    return np.clip(mant, -WEIGHT_MANT_SPAN[0], WEIGHT_MANT_SPAN[1]).astype(np.int64)


def _mant_per_real(weights: list[np.ndarray], where: str) -> float:
    stacked = np.concatenate([np.asarray(w, float).ravel() for w in weights])
    if not np.all(np.isfinite(stacked)):
        raise HardwareLimitError(f"layer '{where}': weights contain NaN/Inf")
    pos, neg = max(stacked.max(initial=0), 0.0), max(-stacked.min(initial=0), 0.0)
    spans = [s / m for s, m in ((WEIGHT_MANT_SPAN[1], pos), (WEIGHT_MANT_SPAN[0], neg)) if m > 0]
    return min(spans) if spans else 1.0


def _shift(acc: np.ndarray | int, exp: int):
    return np.left_shift(acc, exp) if exp > 0 else np.right_shift(acc, -exp)


def _unit_bounds(unit: UnitLayer, input_max: int, timesteps: int) -> dict[str, int]:
    """Worst-case |values| of a fixed unit layer over T steps (what must fit 24 bits)."""
    p = unit.params
    if unit.drive_bound is not None:
        step = unit.drive_bound
    else:
        step = max(abs(v) for v in worst_case_activation(unit.rf.weight, unit.rf.exp, input_max))
    u_r = timesteps * (step + int(np.abs(p.bias).max(initial=0)))
    u_c = timesteps * sum(max(abs(v) for v in worst_case_activation(s.weight, s.exp, 1))
                          for s in unit.context)
    vth = int(max(np.max(p.vth_q), np.max(p.vth_s)))
    soma = (u_r * int(p.gain.max()) >> GAIN_SHIFT) + vth
    return {"integrated receptive field U_R": u_r + vth, "soma product U_R G": soma,
            "integrated context U_C": u_c}


def _check_unit(unit: UnitLayer, input_max: int, timesteps: int) -> None:
    where = f"layer '{unit.name}'"
    p = unit.params
    for key, values in (("weight_mant", unit.rf.weight), ("weight_exp", unit.rf.exp)):
        _range(where, key, values)
    for syn in unit.context:
        _range(where, f"context weight_mant from '{syn.source}'", syn.weight, "weight_mant")
        _range(where, f"context weight_exp from '{syn.source}'", syn.exp, "weight_exp")
    for key, values in (("vth_q", p.vth_q), ("vth_s", p.vth_s)):
        _range(where, key, values, "vth_mant")
    if not CTX_SHIFT_RANGE[0] <= p.ctx_shift <= CTX_SHIFT_RANGE[1]:
        raise HardwareLimitError(f"{where}: ctx_shift = {p.ctx_shift} outside [{CTX_SHIFT_RANGE[0]}, "
                                 f"{CTX_SHIFT_RANGE[1]}]")
    for key, value in _unit_bounds(unit, input_max, timesteps).items():
        _range(where, f"worst-case {key} over {timesteps} steps", value, "v")


def _range(where: str, parameter: str, values, key: str | None = None) -> None:
    low, high = LIMITS[key or parameter]
    arr = np.asarray(values)
    if arr.size and (arr.min() < low or arr.max() > high):
        bad = arr.min() if arr.min() < low else arr.max()
        raise HardwareLimitError(f"{where}: {parameter} = {bad} outside the Loihi limit [{low}, {high}]")


def _quantize_unit(unit: UnitLayer, in_scale: float, signed: bool, input_max: int, timesteps: int,
                   graded: np.ndarray | None) -> UnitLayer:
    weight = unit.rf.weight / in_scale
    if signed:
        weight = np.concatenate([weight, -weight], axis=1)
    mpr = _mant_per_real([weight], unit.name)
    mant = _even_mantissa(weight, mpr)
    p = unit.params
    context_weights = [s.weight for s in unit.context]
    c_max = max((float(np.abs(w).max(initial=0)) for w in context_weights), default=0.0)
    # one table step = 2**ctx_shift integer units of the context mean: the largest weight near 254
    base_shift = int(np.floor(np.log2(WEIGHT_MANT_SPAN[1] * LUT_STEP / c_max))) if c_max > 0 else 0
    if base_shift < CTX_SHIFT_RANGE[0]:
        raise HardwareLimitError(f"layer '{unit.name}': context weights up to {c_max:.3g} are too large for "
                                 f"the 8-bit mantissa at the gain table's resolution")
    ctx_shift = int(min(base_shift, CTX_SHIFT_RANGE[1]))
    ctx_factor = 2.0 ** ctx_shift / LUT_STEP
    context = tuple(Synapses(s.source, _even_mantissa(s.weight, ctx_factor), 0) for s in unit.context)
    last_error = None
    for exp in range(LIMITS["weight_exp"][1], LIMITS["weight_exp"][0] - 1, -1):
        scale = mpr * 2.0 ** exp
        vth_q = np.maximum(np.rint(p.vth_q * scale), 1).astype(np.int64)
        vth_s = np.maximum(np.rint(p.vth_s * scale), 1).astype(np.int64)
        bias_mant, bias_exp = split_bias(np.broadcast_to(p.bias, (unit.n,)) * scale)
        f0 = float(np.mean(p.v_init_s / p.vth_s))
        params = UnitParams(np.left_shift(bias_mant, bias_exp), vth_q, vth_s,
                            np.rint(f0 * vth_q).astype(np.int64), np.rint(f0 * vth_s).astype(np.int64),
                            gain_table_fixed(unit_law(p)), reciprocal_table(timesteps, fixed=True), ctx_shift)
        bound = None
        if graded is not None:
            bound = int(np.ceil(DRIVE_MARGIN * np.abs(_shift(graded @ mant.T, exp)).max(initial=1)))
        candidate = dataclasses.replace(unit, rf=Synapses(unit.rf.source, mant, exp), context=context,
                                        params=params, scale=scale, drive_bound=bound)
        try:
            _range(f"layer '{unit.name}'", "bias_mant", bias_mant)
            _check_unit(candidate, input_max, timesteps)
        except HardwareLimitError as err:
            last_error = err
            continue
        return candidate
    raise last_error


def unit_law(params: UnitParams) -> str:
    """The law a float parameter set's gain table realises."""
    return "point" if np.all(params.gain == 1.0) else check_law("gain")


def quantize(net: UnitNetwork, calibration: dict[str, np.ndarray]) -> UnitNetwork:
    """Float unit network -> Loihi integers. calibration: per input real samples; max(|min|, max) maps
    to 255, a negative min splits the stream into [x+, x-]; their drive bounds layer 0's integrator."""
    if net.fixed:
        return net
    timesteps = net.timesteps
    scales, signed = {}, {}
    for name in net.inputs:
        low, high = float(np.min(calibration[name])), float(np.max(calibration[name]))
        top = max(high, -low)
        if not (np.isfinite(low) and np.isfinite(high)) or top <= 0:
            raise DataError(f"input '{name}': calibration range [{low}, {high}] has no positive extent")
        scales[name] = (2 ** INPUT_BITS - 1) / top
        signed[name] = low < 0
    fixed = dataclasses.replace(net, input_scale=scales, signed=signed)
    units = []
    for unit in net.units:
        source = unit.rf.source
        analog = source in net.inputs
        graded = fixed.quantize_input(source, calibration[source]) if analog else None
        units.append(_quantize_unit(unit, scales[source] if analog else 1.0, analog and signed[source],
                                    2 ** INPUT_BITS - 1 if analog else 1, timesteps, graded))
    readout = _quantize_readout(net.readout, timesteps)
    return dataclasses.replace(fixed, units=tuple(units), readout=readout)


def check_inputs(net: UnitNetwork, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Graded integer inputs of a fixed network; HardwareLimitError if a sample drives an analog layer
    beyond the bound its integrator was sized for (before Lava starts)."""
    graded = {k: net.quantize_input(k, v) for k, v in inputs.items()}
    for unit in net.units:
        if unit.drive_bound is None:
            continue
        drive = np.abs(_shift(graded[unit.rf.source] @ unit.rf.weight.T, unit.rf.exp)).max(axis=1)
        if drive.max(initial=0) > unit.drive_bound:
            k = int(np.argmax(drive))
            raise HardwareLimitError(f"layer '{unit.name}': input sample {k} drives it to {int(drive[k])}, "
                                     f"beyond the {unit.drive_bound} its 24-bit integrator was sized for "
                                     "(calibration maximum x 1.5)")
    return graded


def _quantize_readout(readout: Readout, timesteps: int) -> Readout:
    mpr = _mant_per_real([s.weight for s in readout.sources] + [np.zeros(1)], readout.name)
    last_error = None
    for exp in range(LIMITS["weight_exp"][1], LIMITS["weight_exp"][0] - 1, -1):
        scale = mpr * 2.0 ** exp
        bias_mant, bias_exp = split_bias(readout.bias * scale * 2 ** ACT_SHIFT)
        candidate = Readout(readout.name, tuple(Synapses(s.source, _even_mantissa(s.weight, mpr), exp)
                                                for s in readout.sources),
                            np.left_shift(bias_mant, bias_exp), scale)
        try:
            _range(f"layer '{readout.name}'", "bias_mant", bias_mant)
            _check_readout(candidate, timesteps)
        except HardwareLimitError as err:
            last_error = err
            continue
        return candidate
    raise last_error


def _check_readout(readout: Readout, timesteps: int) -> None:
    where = f"layer '{readout.name}'"
    drive = 0
    for syn in readout.sources:
        _range(where, "weight_mant", syn.weight)
        _range(where, "weight_exp", syn.exp)
        drive += max(abs(v) for v in worst_case_activation(syn.weight, syn.exp, 1)) << ACT_SHIFT
    drive += int(np.abs(readout.bias).max(initial=0))
    _range(where, f"worst-case accumulated readout over {timesteps} steps", drive * timesteps, "v")


def check_limits(net: UnitNetwork, timesteps: int) -> None:
    """Every Loihi limit of a fixed unit network for `timesteps` steps; HardwareLimitError if one fails."""
    if not net.fixed:
        raise ParameterError("check_limits needs a quantised (fixed) unit network")
    if not 1 <= int(timesteps) <= net.timesteps:
        raise ParameterError(f"timesteps must be in [1, {net.timesteps}] (the network was quantised for "
                             f"T = {net.timesteps}), got {timesteps}")
    for unit in net.units:
        analog = unit.rf.source in net.inputs
        _check_unit(unit, 2 ** INPUT_BITS - 1 if analog else 1, int(timesteps))
    _check_readout(net.readout, int(timesteps))


def readout_to_real(net: UnitNetwork, output: np.ndarray) -> np.ndarray:
    """Accumulated readout (integer units for fixed) -> real units."""
    return output / (net.readout.scale * 2 ** ACT_SHIFT) if net.fixed else np.asarray(output, float)


# -- plain arrays (for the Lava child; no pickle) ---------------------------------------------------------
_PARAM_FIELDS = ("bias", "vth_q", "vth_s", "v_init_q", "v_init_s", "gain", "reciprocal")


def to_arrays(net: UnitNetwork) -> dict[str, np.ndarray]:
    """Flatten a unit network into named numpy arrays."""
    out = {"kind": np.array("mcc"), "n_units": np.array(len(net.units)), "timesteps": np.array(net.timesteps),
           "law": np.array(net.law), "inputs": np.array(list(net.inputs)),
           "input_sizes": np.array(list(net.inputs.values())), "fixed": np.array(net.fixed),
           "readout_name": np.array(net.readout.name), "readout_bias": np.asarray(net.readout.bias),
           "readout_scale": np.array(net.readout.scale), "n_readout": np.array(len(net.readout.sources))}
    if net.fixed:
        out["input_scale"] = np.array([net.input_scale[k] for k in net.inputs])
        out["signed"] = np.array([net.signed[k] for k in net.inputs])
    for k, syn in enumerate(net.readout.sources):
        out |= _synapse_arrays(f"readout{k}", syn)
    for i, unit in enumerate(net.units):
        key = f"unit{i}_"
        out |= {key + "name": np.array(unit.name), key + "soma": np.array(unit.soma),
                key + "rf_pop": np.array(unit.rf_pop or ""), key + "depth": np.array(unit.depth),
                key + "scale": np.array(unit.scale), key + "n_context": np.array(len(unit.context)),
                key + "ctx_shift": np.array(-99 if unit.params.ctx_shift is None else unit.params.ctx_shift),
                key + "drive_bound": np.array(-1 if unit.drive_bound is None else unit.drive_bound)}
        out |= {key + f: np.asarray(getattr(unit.params, f)) for f in _PARAM_FIELDS}
        out |= _synapse_arrays(key + "rf", unit.rf)
        for k, syn in enumerate(unit.context):
            out |= _synapse_arrays(key + f"ctx{k}", syn)
    return out


def _synapse_arrays(key: str, syn: Synapses) -> dict[str, np.ndarray]:
    return {key + "_source": np.array(syn.source), key + "_weight": np.asarray(syn.weight),
            key + "_exp": np.array(syn.exp)}


def _synapses(arrays: dict, key: str) -> Synapses:
    return Synapses(str(arrays[key + "_source"]), arrays[key + "_weight"], int(arrays[key + "_exp"]))


def from_arrays(arrays: dict[str, np.ndarray]) -> UnitNetwork:
    """Inverse of to_arrays."""
    fixed = bool(arrays["fixed"])
    units = []
    for i in range(int(arrays["n_units"])):
        key = f"unit{i}_"
        shift, bound = int(arrays[key + "ctx_shift"]), int(arrays[key + "drive_bound"])
        params = UnitParams(**{f: arrays[key + f] for f in _PARAM_FIELDS}, ctx_shift=shift if fixed else None)
        units.append(UnitLayer(str(arrays[key + "name"]), str(arrays[key + "soma"]),
                               str(arrays[key + "rf_pop"]) or None, int(arrays[key + "depth"]),
                               _synapses(arrays, key + "rf"),
                               tuple(_synapses(arrays, key + f"ctx{k}")
                                     for k in range(int(arrays[key + "n_context"]))),
                               params, float(arrays[key + "scale"]),
                               None if bound < 0 else bound))
    readout = Readout(str(arrays["readout_name"]),
                      tuple(_synapses(arrays, f"readout{k}") for k in range(int(arrays["n_readout"]))),
                      arrays["readout_bias"], float(arrays["readout_scale"]))
    names = [str(n) for n in arrays["inputs"]]
    inputs = dict(zip(names, (int(v) for v in arrays["input_sizes"])))
    scales = dict(zip(names, (float(v) for v in arrays["input_scale"]))) if fixed else None
    signed = dict(zip(names, (bool(v) for v in arrays["signed"]))) if fixed else None
    return UnitNetwork(tuple(units), readout, inputs, int(arrays["timesteps"]), str(arrays["law"]), scales,
                       signed)


def compartments(net: UnitNetwork) -> int:
    """Compartments of the network on Loihi: two per two-point neuron (apical + basal/somatic)."""
    return 2 * sum(u.n for u in net.units)


def validate_run(net: UnitNetwork, inputs: dict[str, np.ndarray], timesteps: int) -> dict[str, np.ndarray]:
    """Everything a Lava run needs checked before any Lava object exists; returns the input payload per
    stream (graded int32 for fixed point, float64 otherwise). One-line errors naming what and where."""
    if isinstance(timesteps, bool) or not isinstance(timesteps, (int, np.integer)) or \
            not 1 <= timesteps <= net.timesteps:
        raise ParameterError(f"timesteps must be an integer in [1, {net.timesteps}] for this network, got "
                             f"{timesteps!r}")
    missing = [k for k in net.inputs if k not in inputs]
    if missing:
        raise DataError(f"inputs: missing stream(s) {missing}; the network expects {list(net.inputs)}")
    n = None
    for name, size in net.inputs.items():
        x = np.asarray(inputs[name], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != size:
            raise DataError(f"input '{name}': expected shape (samples, {size}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise DataError(f"input '{name}': contains {int(np.sum(~np.isfinite(x)))} NaN/Inf value(s)")
        if n is not None and len(x) != n:
            raise DataError(f"input '{name}': {len(x)} samples, but the other stream has {n}")
        n = len(x)
    if not n:
        raise DataError("no samples to run")
    if not net.fixed:
        for unit in net.units:
            for syn in (unit.rf, *unit.context):
                if not np.all(np.isfinite(syn.weight)):
                    raise DataError(f"layer '{unit.name}': weights from '{syn.source}' contain NaN/Inf")
        return {k: np.asarray(inputs[k], dtype=np.float64) for k in net.inputs}
    check_limits(net, int(timesteps))
    return {k: v.astype(np.int32) for k, v in check_inputs(net, {k: inputs[k] for k in net.inputs}).items()}
