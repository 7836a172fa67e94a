"""Two-compartment L5 pyramidal cell (Naud & Sprekeler 2018, Payeur et al. 2021) as a Brian2 NeuronGroup.

`two_point_cells(n, ...)` is the public constructor (docs/cells.md); the protocols build on it. The model:

.. math::

    C_s \\frac{dV_s}{dt} &= -\\frac{C_s}{\\tau_s}(V_s - E_L) + g_s f(V_d) + b_{ws} w_s + I_s + n_s \\\\
    C_d \\frac{dV_d}{dt} &= -\\frac{C_d}{\\tau_d}(V_d - E_L) + g_d f(V_d) + a_{wd} w_d + I_d + n_d
        + c_d K(t - \\hat t) \\\\
    f(V) &= 1 / (1 + e^{-(V - E_d)/D}), \\quad \\frac{dw_s}{dt} = -\\frac{w_s}{\\tau_{ws}}, \\quad
    \\tau_{wd} \\frac{dw_d}{dt} = (V_d - E_L) - w_d, \\quad \\tau_{thr} \\frac{dV_{th}}{dt} = E_{thr} - V_{th}

spike when V_s > V_th, then V_s <- E_L, V_th += delta_thr, w_s += 1. Inputs into each compartment x in
{s, d}: I_x = I_x_tonic + I_syn_x + g_exc_x (E_exc - V_x) + g_inh_x (E_inh - V_x) (+ the protocols' pulses),
where I_syn_x, g_exc_x, g_inh_x decay with tau_syn, tau_exc, tau_inh (synapses add to them on_pre).
n_s, n_d: optional Ornstein-Uhlenbeck currents (tau_noise, stationary std sigma_s / sigma_d).

Choices the equations leave open, each the smallest one that reproduces the cell's behaviours:
- K is a 2 ms box that starts `bap_delay` = 0.5 ms after the somatic spike (Naud & Sprekeler 2018 delay the
  bAP by 0.5 ms). Starting it at 0 ms lowers the burst probability at I_d = 300 pA to ~0.79.
- No absolute refractory period: the reset to E_L plus the threshold jump are the only refractoriness
  (an extra 2-3 ms refractory period lowers burst probabilities by 0.05-0.1).
- Noise: the exact OU update once per step, before the Euler step
  (n <- n e^{-dt/tau} + sigma sqrt(1 - e^{-2 dt/tau}) N(0, 1)); its statement order fixes the order of the
  random draws, so a seed gives the same numbers in every process.
Time windows compare whole time steps (Brian2's `timestep`), so a 2 ms pulse is exactly 2 ms / dt steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from spiking_mcc.cells.params import ROWS, make_params
from spiking_mcc.errors import ParameterError

# The cell itself. {I_s} / {I_d} are the input terms of each compartment (see INPUTS below).
CORE_EQUATIONS = """
dv_s/dt = -(v_s - E_L)/tau_s + (g_s*f_d + b_ws*w_s + I_s + n_s)/C_s : volt
dv_d/dt = -(v_d - E_L)/tau_d + (g_d*f_d + a_wd*w_d + I_d + n_d + c_d*K)/C_d : volt
f_d = 1/(1 + exp(-(v_d - E_d)/D)) : 1 (constant over dt)
since_spike = timestep(t - t_last, dt) : integer
K = int(since_spike >= timestep(bap_delay, dt))*int(since_spike < timestep(bap_delay + bap_width, dt)) : 1
dw_s/dt = -w_s/tau_ws : 1
dw_d/dt = ((v_d - E_L) - w_d)/tau_wd : volt
dv_th/dt = (E_thr - v_th)/tau_thr : volt
n_s : amp
n_d : amp
sigma_s : amp (constant)
sigma_d : amp (constant)
t_last : second
I_s_tonic : amp
I_d_tonic : amp
"""

# Synaptic input variables of each compartment x: a current and two conductances, each decaying
# exponentially; `Synapses(..., on_pre='I_syn_d += w')` (w in amp) or `'g_exc_s += w'` (w in siemens).
SYNAPTIC_EQUATIONS = """
dI_syn_{x}/dt = -I_syn_{x}/tau_syn : amp
dg_exc_{x}/dt = -g_exc_{x}/tau_exc : siemens
dg_inh_{x}/dt = -g_inh_{x}/tau_inh : siemens
"""
SYNAPTIC_CURRENT = "I_syn_{x} + g_exc_{x}*(E_exc - v_{x}) + g_inh_{x}*(E_inh - v_{x})"

# Square pulses for the protocols: I_x_pulse during [t_x_on, t_x_on + x_pulse_width).
PULSE_EQUATIONS = """
now_{x} = timestep(t, dt) : integer
start_{x} = timestep(t_{x}_on, dt) : integer
in_{x}_pulse = int(now_{x} >= start_{x})*int(now_{x} < timestep(t_{x}_on + {x}_pulse_width, dt)) : 1
I_{x}_pulse : amp (constant)
t_{x}_on : second (constant)
{x}_pulse_width : second (constant)
"""

THRESHOLD = "v_s > v_th"
NOISE_UPDATE = """
n_s = n_s*exp(-dt/tau_noise) + sigma_s*sqrt(1 - exp(-2*dt/tau_noise))*randn()
n_d = n_d*exp(-dt/tau_noise) + sigma_d*sqrt(1 - exp(-2*dt/tau_noise))*randn()
"""
RESET = """
v_s = E_L
v_th += delta_thr
w_s += 1
t_last = t
"""

# Per-neuron inputs `set_conditions` may set, with their units (all default to 0, pulses off).
INPUT_VARIABLES = {"I_s_tonic": "pA", "I_d_tonic": "pA", "sigma_s": "pA", "sigma_d": "pA"}
PULSE_VARIABLES = {"I_s_pulse": "pA", "I_d_pulse": "pA", "t_s_on": "ms", "t_d_on": "ms",
                   "s_pulse_width": "ms", "d_pulse_width": "ms"}
CONDITION_VARIABLES = {**INPUT_VARIABLES, **PULSE_VARIABLES}
MAX_DT_MS = 0.5
BASE_UNITS = {"mV": "volt", "ms": "second", "pA": "amp", "pF": "farad", "nS": "siemens"}  # table unit -> SI


def cell_equations(heterogeneous: Iterable[str] = (), synaptic: bool = True, pulses: bool = False) -> str:
    """The model's equations: core, input terms, one `NAME : unit (constant)` per heterogeneous parameter."""
    inputs = {x: [f"I_{x}_tonic"] for x in "sd"}
    text = CORE_EQUATIONS
    for x in "sd":
        if synaptic:
            text += SYNAPTIC_EQUATIONS.format(x=x)
            inputs[x].append(SYNAPTIC_CURRENT.format(x=x))
        if pulses:
            text += PULSE_EQUATIONS.format(x=x)
            inputs[x].append(f"I_{x}_pulse*in_{x}_pulse")
    text += "".join(f"I_{x} = {' + '.join(inputs[x])} : amp\n" for x in "sd")
    for name in heterogeneous:
        text += f"{name} : {BASE_UNITS[ROWS[name].unit]} (constant)\n"
    return text


def check_dt(dt) -> object:
    """A Brian2 time step: a Quantity in (0, 0.5] ms; ParameterError names the value otherwise."""
    from brian2 import ms
    from brian2.units.fundamentalunits import Quantity, get_dimensions

    if not isinstance(dt, Quantity) or get_dimensions(dt) != ms.dim or getattr(dt, "size", 1) != 1:
        raise ParameterError(f"dt: expected a time Quantity such as 0.1*ms, got {dt!r}")
    value_ms = float(dt / ms)
    if not math.isfinite(value_ms) or not 0 < value_ms <= MAX_DT_MS:
        raise ParameterError(f"dt: time step must be in (0, {MAX_DT_MS}] ms, got {value_ms:g} ms")
    return dt


def _noise_levels(noise):
    """None -> no OU update; a current Quantity or a (soma, dendrite) pair of them -> their stds."""
    from brian2 import pA
    from brian2.units.fundamentalunits import Quantity, get_dimensions

    if noise is None or noise is False:
        return None
    levels = tuple(noise) if isinstance(noise, (tuple, list)) else (noise, noise)
    if len(levels) != 2 or not all(isinstance(level, Quantity) and get_dimensions(level) == pA.dim
                                   and getattr(level, "size", 1) == 1 for level in levels):
        raise ParameterError(f"noise: expected a current such as 150*pA, or a (soma, dendrite) pair, "
                             f"got {noise!r}")
    if not all(math.isfinite(float(level / pA)) and float(level / pA) >= 0 for level in levels):
        raise ParameterError(f"noise: standard deviations must be finite and >= 0 pA, got {noise!r}")
    return levels


def two_point_cells(n: int, params: Mapping | None = None, heterogeneous: Iterable[str] = (),
                    name: str | None = None, dt=None, noise=None, synaptic: bool = True,
                    pulses: bool = False):
    """A Brian2 NeuronGroup of `n` two-point L5 pyramidal cells at rest (Euler).

    Equations (units: V in volt, I in amp, g in siemens; x = s (soma) or d (dendrite))::

        dv_s/dt = -(v_s - E_L)/tau_s + (g_s*f_d + b_ws*w_s + I_s + n_s)/C_s
        dv_d/dt = -(v_d - E_L)/tau_d + (g_d*f_d + a_wd*w_d + I_d + n_d + c_d*K)/C_d
        f_d = 1/(1 + exp(-(v_d - E_d)/D));  K = 1 during [bap_delay, bap_delay + bap_width) after a spike
        dw_s/dt = -w_s/tau_ws;  tau_wd dw_d/dt = (v_d - E_L) - w_d;  tau_thr dv_th/dt = E_thr - v_th
        I_x = I_x_tonic + I_syn_x + g_exc_x*(E_exc - v_x) + g_inh_x*(E_inh - v_x)
        dI_syn_x/dt = -I_syn_x/tau_syn;  dg_exc_x/dt = -g_exc_x/tau_exc;  dg_inh_x/dt = -g_inh_x/tau_inh
        threshold v_s > v_th;  reset v_s = E_L, v_th += delta_thr, w_s += 1

    params: overrides of the parameter table (docs/cells.md), {name: Quantity or 'NUMBER UNIT'}.
    heterogeneous: parameter names that become per-neuron state variables (initialised to their value,
        then e.g. `G.tau_d = [7, 9]*ms`); the others are shared constants in the group's namespace.
    name: the group's name; default a unique 'two_point_cells', 'two_point_cells_1', ... (Brian2 numbers
        it), so several groups fit one Network.
    dt: the group's time step (a Quantity in (0, 0.5] ms); None uses Brian2's defaultclock.
    noise: None for none, or the OU std (150*pA, or a (soma, dendrite) pair): the per-neuron sigma_s and
        sigma_d start at it and each step draws two Gaussians per cell.
    synaptic: include the synaptic input variables (I_syn_x, g_exc_x, g_inh_x); pulses: the protocols'
        square-pulse inputs (I_x_pulse, t_x_on, x_pulse_width).
    """
    import brian2 as b2

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError(f"n: number of cells must be a positive integer, got {n!r}")
    values = dict(make_params(params))
    heterogeneous = tuple(heterogeneous)
    unknown = [p for p in heterogeneous if p not in ROWS]
    if unknown:
        raise ParameterError(f"heterogeneous: unknown cell parameter(s) {unknown}; "
                             f"allowed: {', '.join(ROWS)}")
    levels = _noise_levels(noise)
    if name is not None and (not isinstance(name, str) or not name.isidentifier()):
        raise ParameterError(f"name: must be a Python identifier, got {name!r}")
    clock = {} if dt is None else {"dt": check_dt(dt)}
    namespace = {key: value for key, value in values.items() if key not in heterogeneous}
    group = b2.NeuronGroup(n, cell_equations(heterogeneous, synaptic, pulses), threshold=THRESHOLD,
                           reset=RESET, method="euler", namespace=namespace,
                           name="two_point_cells*" if name is None else name, **clock)
    for key in heterogeneous:
        setattr(group, key, values[key])
    group.v_s = values["E_L"]
    group.v_d = values["E_L"]
    group.v_th = values["E_thr"]
    group.t_last = -1 * b2.second
    if levels is not None:
        group.sigma_s, group.sigma_d = levels
        group.run_regularly(NOISE_UPDATE, when="before_groups", name=f"{group.name}_noise")
    return group


def set_conditions(group, conditions: Mapping) -> None:
    """Set per-neuron inputs {variable: Quantity (scalar or one per cell)}, e.g. {'I_s_tonic': 400*pA}.

    Allowed: I_s_tonic, I_d_tonic, sigma_s, sigma_d (and the pulse variables when the group has them).
    """
    import brian2.units as units
    from brian2.units.fundamentalunits import Quantity, get_dimensions

    allowed = {**INPUT_VARIABLES, **{k: u for k, u in PULSE_VARIABLES.items() if k in group.variables}}
    for variable, value in conditions.items():
        if variable not in allowed:
            raise ParameterError(f"set_conditions: unknown input {variable!r}; allowed: {', '.join(allowed)}")
        unit = getattr(units, allowed[variable])
        if not isinstance(value, Quantity) or get_dimensions(value) != unit.dim:
            raise ParameterError(f"set_conditions: {variable} needs a Quantity in {allowed[variable]} "
                                 f"(e.g. 400*{allowed[variable]}), got {value!r}")
        setattr(group, variable, value)
