"""Two-compartment L5 pyramidal cell (SPEC.md s5; Naud & Sprekeler 2018, Payeur et al. 2021) in Brian2.

Soma:      C_s dV_s/dt = -(C_s/tau_s)(V_s - E_L) + g_s f(V_d) + b_ws w_s + I_s + n_s
Dendrite:  C_d dV_d/dt = -(C_d/tau_d)(V_d - E_L) + g_d f(V_d) + a_wd w_d + I_d + n_d + c_d K(t - t_last)
f(V) = 1/(1 + exp(-(V - E_d)/D));  dw_s/dt = -w_s/tau_ws (w_s += 1 per spike);
tau_wd dw_d/dt = (V_d - E_L) - w_d;  tau_thr dV_th/dt = E_thr - V_th;
spike when V_s > V_th, then V_s -> E_L, V_th += delta_thr;  n_s, n_d: OU currents (tau_noise, std sigma).

Choices the SPEC leaves open, each the smallest one that reproduces its behaviours, from the sources:
- K is a 2 ms box that starts `bap_delay` = 0.5 ms after the somatic spike (Naud & Sprekeler 2018 delay the
  bAP by 0.5 ms). Starting it at 0 ms lowers the burst probability at I_d = 300 pA to ~0.79.
- No absolute refractory period: the reset to E_L plus the threshold jump are the only refractoriness
  (an extra 2-3 ms refractory period lowers burst probabilities by 0.05-0.1 below the SPEC's figures).
- Noise: each compartment gets an independent Ornstein-Uhlenbeck current with stationary std `sigma_*`
  (tau_noise dn = -n dt + sigma sqrt(2 tau_noise) dW), updated exactly once per step before the Euler step.
Time windows compare whole time steps (Brian2's `timestep`), so a 2 ms pulse is exactly 2 ms / dt steps.
Every condition-specific input is a per-neuron variable, so one NeuronGroup runs many conditions at once:
I_s = I_s_tonic + I_s_pulse [t_s_on <= t < t_s_on + s_pulse_width] (same for the dendrite).
"""

from __future__ import annotations

from collections.abc import Mapping

CELL_EQUATIONS = """
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
now = timestep(t, dt) : integer
in_s_pulse = int(now >= timestep(t_s_on, dt))*int(now < timestep(t_s_on + s_pulse_width, dt)) : 1
in_d_pulse = int(now >= timestep(t_d_on, dt))*int(now < timestep(t_d_on + d_pulse_width, dt)) : 1
I_s = I_s_tonic + I_s_pulse*in_s_pulse : amp
I_d = I_d_tonic + I_d_pulse*in_d_pulse : amp
I_s_tonic : amp (constant)
I_d_tonic : amp (constant)
I_s_pulse : amp (constant)
I_d_pulse : amp (constant)
t_s_on : second (constant)
t_d_on : second (constant)
s_pulse_width : second (constant)
d_pulse_width : second (constant)
sigma_s : amp (constant)
sigma_d : amp (constant)
t_last : second
"""

THRESHOLD = "v_s > v_th"
# Exact OU update once per step (statement order fixes the order of the random draws, so a seed gives the
# same numbers in every process; two `xi_*` terms are drawn in hash-dependent order by Brian2).
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

# Per-neuron inputs a protocol may set, with their unit names (all default to 0, pulses off).
CONDITION_VARIABLES = {
    "I_s_tonic": "pA", "I_d_tonic": "pA", "I_s_pulse": "pA", "I_d_pulse": "pA",
    "t_s_on": "ms", "t_d_on": "ms", "s_pulse_width": "ms", "d_pulse_width": "ms",
    "sigma_s": "pA", "sigma_d": "pA",
}


def make_cell_group(n_cells: int, params: Mapping, dt_ms: float = 0.1, name: str = "cells",
                    noise: bool = True):
    """A NeuronGroup of `n_cells` two-point cells at rest (Euler, step dt_ms), parameters in its namespace.

    noise=False leaves out the OU update (n_s = n_d = 0): deterministic protocols then skip two Gaussian
    draws per cell and step, the main cost of a step.
    """
    import brian2 as b2

    group = b2.NeuronGroup(n_cells, CELL_EQUATIONS, threshold=THRESHOLD, reset=RESET, method="euler",
                           namespace=dict(params), dt=dt_ms * b2.ms, name=name)
    group.v_s = params["E_L"]
    group.v_d = params["E_L"]
    group.w_d = 0 * b2.mV
    group.v_th = params["E_thr"]
    group.t_last = -1 * b2.second
    if noise:
        group.run_regularly(NOISE_UPDATE, when="before_groups", name=f"{name}_noise")
    return group


def set_conditions(group, conditions: Mapping) -> None:
    """Set per-neuron inputs from {variable: array of floats in CONDITION_VARIABLES units}."""
    import brian2.units as units

    for variable, values in conditions.items():
        setattr(group, variable, values * getattr(units, CONDITION_VARIABLES[variable]))
