"""Burst and event detection (docs/cells.md): consecutive spikes with ISI <= 16 ms form one event;
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


def events_of(cell_index: np.ndarray, spike_time_ms: np.ndarray,
              max_isi_ms: float = BURST_ISI_MS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every event as (cell, onset time in ms, number of spikes), ordered by cell then time."""
    cell_index = np.asarray(cell_index, dtype=np.int64)
    spike_time_ms = np.asarray(spike_time_ms, dtype=float)
    order = np.lexsort((spike_time_ms, cell_index))
    cell, time = cell_index[order], spike_time_ms[order]
    new_cell = np.r_[True, cell[1:] != cell[:-1]] if cell.size else np.zeros(0, bool)
    starts = new_cell | np.r_[True, np.diff(time) > max_isi_ms][: cell.size]
    start_positions = np.flatnonzero(starts)
    return cell[start_positions], time[start_positions], np.diff(np.r_[start_positions, cell.size])


def count_events(cell_index: np.ndarray, spike_time_ms: np.ndarray, n_cells: int,
                 max_isi_ms: float = BURST_ISI_MS) -> EventCounts:
    """Group each cell's spikes into events (ISI <= max_isi_ms) and count spikes, events and bursts."""
    event_cell, _, event_sizes = events_of(cell_index, spike_time_ms, max_isi_ms)
    return EventCounts(
        spikes=np.bincount(np.asarray(cell_index, dtype=np.int64), minlength=n_cells),
        events=np.bincount(event_cell, minlength=n_cells),
        bursts=np.bincount(event_cell[event_sizes >= 2], minlength=n_cells),
    )


def burst_probability(counts: EventCounts, cells: np.ndarray | None = None) -> float:
    """Pooled bursts / events over `cells` (all when None); NaN when there is no event."""
    select = slice(None) if cells is None else cells
    events = counts.events[select].sum()
    return float(counts.bursts[select].sum() / events) if events else float("nan")
