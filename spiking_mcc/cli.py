"""The `spiking-mcc` command: one subcommand per stage.

Each subcommand is a module in `spiking_mcc.commands` with `HELP` (one line),
`add_arguments(parser)` and `run(args) -> int`. Modules import heavy packages
(Brian2, Lava) inside `run`, so `spiking-mcc --help` stays fast.

`main` runs every subcommand the same way: SIGINT, SIGTERM and SIGHUP are recorded
(spiking_mcc.interrupts) and end the command at its next safe point with one line and exit
128 + the signal number; the command's --out folder is held (locked, manifest of what the tool wrote)
for the whole command (spiking_mcc.outdir).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys

from spiking_mcc import __version__
from spiking_mcc.commands.common import OneLineParser
from spiking_mcc.errors import SpikingMCCError
from spiking_mcc.interrupts import check_interrupted, handle_signals, pause_if_asked, received_signal

# Order shown in --help; a module that is not present is simply not offered.
COMMANDS = ("cells", "train", "compare", "convert", "loihi", "energy", "sbe", "lowlatency", "sweep", "run")


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
    parser = OneLineParser(  # subcommand parsers inherit its class: every argument error is one line
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help / --version (0) or a bad argument, already printed on one line
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    from spiking_mcc.outdir import output_folder  # imports numpy: not needed for --help

    name = args.command
    try:
        with handle_signals():
            try:
                out = getattr(args, "out", None)  # every subcommand has --out today
                with output_folder(out, command=name) if out is not None else contextlib.nullcontext():
                    pause_if_asked("start")  # test hook: SPIKING_MCC_PAUSE_AT=start
                    code = int(modules[name].run(args) or 0)
                check_interrupted()  # a signal that came after the command's last safe point
                return code
            except KeyboardInterrupt:  # Interrupted at a safe point, or the same signal twice
                signum = received_signal()
                why = f"interrupted by {signal.Signals(signum).name}" if signum else "interrupted"
                print(f"spiking-mcc {name}: {why}", file=sys.stderr)
                return 128 + (signum or signal.SIGINT)
    except SpikingMCCError as err:
        if os.environ.get("SPIKING_MCC_DEBUG"):
            raise
        print(f"spiking-mcc {name}: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        if os.environ.get("SPIKING_MCC_DEBUG"):
            raise
        print(f"spiking-mcc {name}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
