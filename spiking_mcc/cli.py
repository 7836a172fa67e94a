"""The `spiking-mcc` command: one subcommand per stage.

Each subcommand is a module in `spiking_mcc.commands` with `HELP` (one line),
`add_arguments(parser)` and `run(args) -> int`. Modules import heavy packages
(Brian2, Lava) inside `run`, so `spiking-mcc --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from spiking_mcc import __version__
from spiking_mcc.errors import SpikingMCCError

# Order shown in --help; a module that is not present is simply not offered.
COMMANDS = ("cells", "train", "compare", "convert", "loihi", "energy", "sbe", "run", "lowlatency")


def _load_commands() -> dict:
    modules = {}
    for name in COMMANDS:
        try:
            modules[name] = importlib.import_module(f"spiking_mcc.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"spiking_mcc.commands.{name}":
                raise
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    modules = _load_commands()
    parser = argparse.ArgumentParser(
        prog="spiking-mcc",
        description="Spiking two-point cells, MCC networks, DNN-to-SNN conversion, "
        "Loihi-style Lava simulation and event-based energy estimates. "
        "Every subcommand writes JSON + PNG figures into --out DIR.",
    )
    parser.add_argument("--version", action="version", version=f"spiking-mcc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in modules.items():
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except SpikingMCCError as err:
        if os.environ.get("SPIKING_MCC_DEBUG"):
            raise
        print(f"spiking-mcc {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        if os.environ.get("SPIKING_MCC_DEBUG"):
            raise
        print(f"spiking-mcc {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spiking-mcc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
