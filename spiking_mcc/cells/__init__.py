"""Spiking two-point (two-compartment) L5 pyramidal cells in Brian2 (docs/cells.md).

Modules: `params` (parameter table), `model` (equations, `two_point_cells`), `bursts` (event/burst
detection), `protocols` (BAC, f-I, multiplexing; `run_cell_protocols`), `population` (burst multiplexing
in a population; `run_population`), `rate_surface` (rate surface, transfer-law fits and
their figure, docs/twopoint_laws.md), `figures` (`write_cell_figures`).
"""

from spiking_mcc.cells.model import set_conditions, two_point_cells

__all__ = ["set_conditions", "two_point_cells"]
