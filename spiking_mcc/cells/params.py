"""Parameter table of the two-compartment L5 pyramidal cell (docs/cells.md), as Brian2 Quantities.

`PARAMETER_TABLE` is the table of docs/cells.md row for row (Naud & Sprekeler 2018, PNAS; Payeur et al.
2021, Nat. Neurosci.): the model's 16 parameters, the constants its equations name (bAP kernel timing,
threshold jump, noise time constant) and the synaptic input constants. `make_params(overrides)` returns a
read-only mapping name -> Quantity; overrides are checked here, at the boundary, so a bad value never
reaches Brian2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from spiking_mcc.errors import ParameterError


@dataclass(frozen=True)
class ParamRow:
    name: str
    value: float
    unit: str  # a Brian2 unit name (mV, ms, pA, pF, nS)
    meaning: str
    source: str = "Naud & Sprekeler 2018 (PNAS), two-compartment model"


PARAMETER_TABLE: tuple[ParamRow, ...] = (
    ParamRow("E_L", -70.0, "mV", "leak reversal, both compartments, and somatic reset"),
    ParamRow("E_thr", -50.0, "mV", "resting spike threshold"),
    ParamRow("tau_thr", 27.0, "ms", "threshold relaxation time constant"),
    ParamRow("tau_s", 16.0, "ms", "somatic membrane time constant"),
    ParamRow("C_s", 370.0, "pF", "somatic capacitance"),
    ParamRow("g_s", 1300.0, "pA", "dendrite-to-soma coupling (times f(V_d))"),
    ParamRow("b_ws", -200.0, "pA", "somatic adaptation current per unit w_s"),
    ParamRow("tau_ws", 100.0, "ms", "somatic adaptation time constant"),
    ParamRow("tau_d", 7.0, "ms", "dendritic membrane time constant"),
    ParamRow("C_d", 170.0, "pF", "dendritic capacitance"),
    ParamRow("g_d", 1200.0, "pA", "dendritic regenerative (Ca2+) current (times f(V_d))"),
    ParamRow("a_wd", -13.0, "nS", "dendritic subthreshold adaptation coupling"),
    ParamRow("tau_wd", 30.0, "ms", "dendritic adaptation time constant"),
    ParamRow("c_d", 2600.0, "pA", "back-propagating AP current amplitude (times K)"),
    ParamRow("E_d", -38.0, "mV", "half-activation of the dendritic nonlinearity f"),
    ParamRow("D", 6.0, "mV", "slope of the dendritic nonlinearity f"),
    # Constants the equations name beyond the model's 16 parameters:
    ParamRow("delta_thr", 2.0, "mV", "threshold jump per spike", "Payeur et al. 2021 (Nat. Neurosci.)"),
    ParamRow("bap_delay", 0.5, "ms", "start of the bAP box kernel K after a somatic spike",
             "Naud & Sprekeler 2018, Methods"),
    ParamRow("bap_width", 2.0, "ms", "duration of the bAP box kernel K", "Naud & Sprekeler 2018"),
    ParamRow("tau_noise", 2.0, "ms", "OU noise time constant, each compartment", "Naud & Sprekeler 2018"),
    # Synaptic inputs (two_point_cells): decay constants and reversal potentials of the COBA benchmark
    ParamRow("tau_syn", 5.0, "ms", "decay of the current-based synaptic input I_syn_s / I_syn_d",
             "Vogels & Abbott 2005 (excitatory decay)"),
    ParamRow("tau_exc", 5.0, "ms", "decay of the excitatory conductances g_exc_s / g_exc_d",
             "Vogels & Abbott 2005"),
    ParamRow("tau_inh", 10.0, "ms", "decay of the inhibitory conductances g_inh_s / g_inh_d",
             "Vogels & Abbott 2005"),
    ParamRow("E_exc", 0.0, "mV", "excitatory synaptic reversal potential", "Vogels & Abbott 2005"),
    ParamRow("E_inh", -80.0, "mV", "inhibitory synaptic reversal potential", "Vogels & Abbott 2005"),
)

ROWS: Mapping[str, ParamRow] = MappingProxyType({row.name: row for row in PARAMETER_TABLE})

# Parameters whose value must be strictly positive (time constants, durations, capacitances, slope).
POSITIVE = frozenset({"tau_thr", "tau_s", "C_s", "tau_ws", "tau_d", "C_d", "tau_wd", "D",
                      "bap_width", "tau_noise", "tau_syn", "tau_exc", "tau_inh"})
NON_NEGATIVE = frozenset({"bap_delay", "delta_thr"})

_VALUE_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)"
                              r"\s*\*?\s*([A-Za-z]+)?\s*$", re.IGNORECASE)


def _unit(name: str):
    import brian2.units as units

    unit = getattr(units, name, None)
    if unit is None or not hasattr(unit, "dim"):
        return None
    return unit


def default_params() -> Mapping:
    """The parameter table as a read-only mapping name -> Brian2 Quantity."""
    return make_params(None)


def parse_quantity(name: str, text: str):
    """Parse '370 pF', '370*pF' or '370pF' into a Quantity; raise ParameterError naming `name`."""
    match = _VALUE_WITH_UNIT.match(text)
    if match is None:
        raise ParameterError(f"parameter {name}: cannot parse {text!r}; expected NUMBER UNIT, e.g. "
                             f"{ROWS[name].value:g} {ROWS[name].unit}" if name in ROWS else
                             f"parameter {name}: cannot parse {text!r}; expected NUMBER UNIT")
    number, unit_name = match.groups()
    if unit_name is None:
        expected = ROWS[name].unit if name in ROWS else "a unit"
        raise ParameterError(f"parameter {name}: value {text!r} has no unit; expected {expected}, "
                             f"e.g. {name}={number}{expected}")
    unit = _unit(unit_name)
    if unit is None:
        raise ParameterError(f"parameter {name}: unknown unit {unit_name!r} in {text!r}")
    return float(number) * unit


def check_parameter(name: str, value) -> object:
    """Validate one override (Quantity, or a 'NUMBER UNIT' string) and return it as a Quantity."""
    from brian2.units.fundamentalunits import Quantity, get_dimensions

    if name not in ROWS:
        raise ParameterError(f"unknown cell parameter {name!r}; allowed: {', '.join(ROWS)}")
    row = ROWS[name]
    if isinstance(value, str):
        value = parse_quantity(name, value)
    if not isinstance(value, Quantity) or get_dimensions(value).is_dimensionless:
        raise ParameterError(f"parameter {name}: value {value!r} has no unit; expected {row.unit} "
                             f"(e.g. {row.value:g}*{row.unit})")
    expected = _unit(row.unit)
    if get_dimensions(value) != get_dimensions(expected):
        raise ParameterError(f"parameter {name}: wrong unit for {value}; expected {row.unit}")
    if value.size != 1:
        raise ParameterError(f"parameter {name}: expected a scalar, got shape {value.shape}")
    magnitude = float(value / expected)
    if not math.isfinite(magnitude):
        raise ParameterError(f"parameter {name}: must be finite, got {magnitude} {row.unit}")
    if name in POSITIVE and magnitude <= 0:
        raise ParameterError(f"parameter {name}: must be > 0 {row.unit}, got {magnitude:g} {row.unit}")
    if name in NON_NEGATIVE and magnitude < 0:
        raise ParameterError(f"parameter {name}: must be >= 0 {row.unit}, got {magnitude:g} {row.unit}")
    return magnitude * expected


def make_params(overrides: Mapping | None = None) -> Mapping:
    """Table defaults with `overrides` (name -> Quantity or 'NUMBER UNIT' string) applied and checked."""
    params = {row.name: row.value * _unit(row.unit) for row in PARAMETER_TABLE}
    for name, value in (overrides or {}).items():
        params[name] = check_parameter(name, value)
    return MappingProxyType(params)


def parse_overrides(items: list[str] | None) -> dict:
    """Parse CLI 'NAME=VALUE_WITH_UNIT' strings into {name: Quantity} (each checked)."""
    overrides = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--param: expected NAME=VALUE_WITH_UNIT (e.g. C_s=370pF), got {item!r}")
        overrides[name.strip()] = check_parameter(name.strip(), text)
    return overrides


def magnitudes(params: Mapping) -> dict[str, float]:
    """Plain floats in each row's own unit (for JSON), e.g. {'C_s': 370.0, ...}."""
    return {name: float(params[name] / _unit(ROWS[name].unit)) for name in ROWS}
