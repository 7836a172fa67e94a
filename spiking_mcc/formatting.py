"""How every number a person reads is printed: the report's tables, the CLI's tables, figure titles.

`fmt` prints a number, `pct` an accuracy or other fraction as a percentage, `count` a count with its
noun in the right number. Accuracy is a percentage everywhere a person reads it; the JSON files keep
fractions. A core module (no project imports), so the cell, MCC and Loihi figure code can use it.
"""

from __future__ import annotations

import math
from typing import Any

NOT_AVAILABLE = "n/a"


def fmt(value: Any) -> str:
    """A number as the report prints it: integers exactly, floats to 4 significant digits (in exponent
    form below 1e-3 and from 1e4 up, as '%.4g' does above)."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return NOT_AVAILABLE
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        if abs(value) < 1e-3:  # 5.113e-04, not 0.0005113: small values read alike in a column
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def pct(fraction: Any) -> str:
    """A fraction in [0, 1] (accuracy, burst probability) printed as a percentage with 2 decimals."""
    if fraction is None or isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
        return NOT_AVAILABLE
    return f"{100.0 * fraction:.2f}"


def count(n: Any, noun: str, plural: str | None = None) -> str:
    """'1 spike', '0 spikes', '3 spikes': a count with its noun in the right number."""
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{fmt(n)} {word}"
