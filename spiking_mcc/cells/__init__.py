"""Spiking two-point (two-compartment) L5 pyramidal cells in Brian2 (SPEC.md s5).

Modules: `params` (parameter table), `model` (equations, NeuronGroup factory), `bursts` (event/burst
detection), `protocols` (BAC, f-I, multiplexing; `run_cell_protocols`), `figures` (`write_cell_figures`,
`write_rate_surface_figure`), `rate_surface` (rate surface and transfer-law fits, docs/twopoint_laws.md).
"""
