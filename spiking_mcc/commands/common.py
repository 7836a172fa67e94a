"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse

from spiking_mcc.errors import ParameterError


def add_out_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, metavar="DIR",
                        help=f"output folder for JSON and PNG files (default: {default})")


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed (default: {default})")


def parse_int_list(text: str, name: str, minimum: int = 1) -> list[int]:
    """Parse '1,2,4' into [1, 2, 4]; every value must be an integer >= minimum."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ParameterError(f"--{name}: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise ParameterError(f"--{name}: empty list")
    bad = [v for v in values if v < minimum]
    if bad:
        raise ParameterError(f"--{name}: values must be >= {minimum}, got {bad}")
    return values


def parse_str_list(text: str, name: str, allowed: tuple[str, ...]) -> list[str]:
    """Parse 'a,b' into ['a', 'b'], each one of `allowed`."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ParameterError(f"--{name}: expected a comma-separated subset of {list(allowed)}, got {text!r}")
    return values


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """Print a small aligned summary table to stdout."""
    if not rows:
        return
    columns = columns or list(rows[0])
    cells = [[_fmt(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
