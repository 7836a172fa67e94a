"""Argument helpers shared by subcommands: the argparse types that check every value at the boundary
(limits from `spiking_mcc.limits`), and the parser that reports a bad argument on one line."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from spiking_mcc.errors import ParameterError
from spiking_mcc.limits import bounds_text, check_finite, check_int, check_seed, check_timesteps


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr ('PROG: error: MESSAGE'), exit 2."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _argparse_type(check: Callable, name: str) -> Callable:
    """An argparse type from a check that raises ParameterError: argparse shows its message."""
    def convert(text: str):
        try:
            return check(text)
        except ParameterError as err:
            # argparse prefixes 'argument --NAME: ' itself
            raise argparse.ArgumentTypeError(re.sub(r"^-*[\w-]+: ", "", str(err))) from None
    convert.__name__ = name
    return convert


def _parse_int(text: str, name: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected an integer, got {text!r}") from None


def finite_float(text: str) -> float:
    """argparse type: a finite float ('nan', 'inf' and non-numbers refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}") from None
    try:
        return check_finite(value, "value")
    except ParameterError:
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}") from None


def bounded_int(limit: str) -> Callable[[str], int]:
    """argparse type: an integer inside LIMITS[limit]."""
    return _argparse_type(lambda text: check_int(_parse_int(text, limit), limit, limit), limit)


def int_list(name: str, limit: str | None = None) -> Callable[[str], list[int]]:
    """argparse type: '1,2,4' -> [1, 2, 4] (see parse_int_list), each item >= 1 or inside LIMITS[limit]."""
    def parse(text: str) -> list[int]:
        values = parse_int_list(text, name)
        return [check_int(v, name, limit, f"--{name}") for v in values] if limit else values
    return _argparse_type(parse, name)


seed_type = _argparse_type(lambda text: check_seed(_parse_int(text, "seed"), "seed"), "seed")
timesteps_type = _argparse_type(lambda text: parse_timesteps(text, "timesteps"), "timesteps")


def add_out_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, metavar="DIR",
                        help=f"output folder for JSON and PNG files (default: {default})")


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=seed_type, default=default,
                        help=f"random seed, an integer in {bounds_text('seed')} (default: {default})")


def parse_int_list(text: str, name: str, minimum: int = 1) -> list[int]:
    """Parse '1,2,4' into [1, 2, 4]: each item an integer >= minimum, none empty or repeated."""
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        raise ParameterError(f"--{name}: empty list")
    if not all(parts):
        raise ParameterError(f"--{name}: empty item in {text!r}; expected comma-separated integers")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise ParameterError(f"--{name}: expected comma-separated integers, got {text!r}") from None
    bad = [v for v in values if v < minimum]
    if bad:
        raise ParameterError(f"--{name}: values must be >= {minimum}, got {bad}")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ParameterError(f"--{name}: each value may appear once, {repeated} repeated in {text!r}")
    return values


def parse_timesteps(text: str, name: str = "timesteps") -> list[int]:
    """The one parser of T lists ('1,2,4'): distinct integers inside LIMITS['timesteps']."""
    return check_timesteps(parse_int_list(text, name), f"--{name}")


def parse_str_list(text: str, name: str, allowed: tuple[str, ...]) -> list[str]:
    """Parse 'a,b' into ['a', 'b'], each one of `allowed`."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ParameterError(f"--{name}: expected a comma-separated subset of {list(allowed)}, got {text!r}")
    return values


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """Print a small aligned summary table to stdout. Numbers are printed as the report prints them
    (`spiking_mcc.formatting.fmt`); callers give accuracies as `pct(...)` under an '(%)' header."""
    from spiking_mcc.formatting import fmt

    if not rows:
        return
    columns = columns or list(rows[0])
    cells = [[fmt(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))

