"""Burst and event detection (SPEC.md s5): consecutive spikes with ISI <= 16 ms form one event;
an event of >= 2 spikes is a burst; burst probability = bursts / events. Vectorised over all cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BURST_ISI_MS = 16.0  # Naud & Sprekeler 2018: spikes closer than 16 ms belong to one event


@dataclass(frozen=True)
class EventCounts:
    """Per-cell counts, each an int array of shape (n_cells,)."""

    spikes: np.ndarray
    events: np.ndarray
    bursts: np.ndarray


def count_events(cell_index: np.ndarray, spike_time_ms: np.ndarray, n_cells: int,
                 max_isi_ms: float = BURST_ISI_MS) -> EventCounts:
    """Group each cell's spikes into events (ISI <= max_isi_ms) and count spikes, events and bursts."""
    cell_index = np.asarray(cell_index, dtype=np.int64)
    spike_time_ms = np.asarray(spike_time_ms, dtype=float)
    order = np.lexsort((spike_time_ms, cell_index))
    cell, time = cell_index[order], spike_time_ms[order]
    new_cell = np.r_[True, cell[1:] != cell[:-1]] if cell.size else np.zeros(0, bool)
    starts = new_cell | np.r_[True, np.diff(time) > max_isi_ms][: cell.size]
    start_positions = np.flatnonzero(starts)
    event_sizes = np.diff(np.r_[start_positions, cell.size])
    event_cell = cell[start_positions]
    return EventCounts(
        spikes=np.bincount(cell, minlength=n_cells),
        events=np.bincount(event_cell, minlength=n_cells),
        bursts=np.bincount(event_cell[event_sizes >= 2], minlength=n_cells),
    )


def burst_probability(counts: EventCounts, cells: np.ndarray | None = None) -> float:
    """Pooled bursts / events over `cells` (all when None); NaN when there is no event."""
    select = slice(None) if cells is None else cells
    events = counts.events[select].sum()
    return float(counts.bursts[select].sum() / events) if events else float("nan")
