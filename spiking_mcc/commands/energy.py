"""`spiking-mcc energy RESULT.json... --devices cpu,loihi1 --out DIR`: energy per inference by device."""

from __future__ import annotations

import argparse
from pathlib import Path

from spiking_mcc.commands.common import add_out_argument, print_table
from spiking_mcc.errors import DataError, ParameterError

HELP = ("energy (J), time (s), power (W) per inference of ANN/SNN/MCC workloads on CPU, GPU, Loihi, "
        "SpiNNaker, FPGA and 45 nm CMOS (docs/energy.md)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results",
        nargs="+",
        metavar="RESULT.json",
        help="result files with a 'workloads' list (from train/convert/loihi/run)",
    )
    parser.add_argument(
        "--devices",
        default=None,
        help="comma-separated device names (default: every preset and file device); "
        "presets: cmos45-fp32, cmos45-int8, loihi1, fpga-ultrascale, spinnaker, "
        "spinnaker2, cpu, gpu, arm",
    )
    parser.add_argument(
        "--device-file",
        default=None,
        metavar="JSON",
        help='extra or overriding devices: {"name": {"synop_j": 1e-12, ...}}',
    )
    parser.add_argument(
        "--mapper",
        choices=("greedy", "cluster"),
        default="greedy",
        help="core mapper for the Loihi NoC terms (default: greedy)",
    )
    add_out_argument(parser, "results/energy")


def load_workloads(paths: list[str]) -> list[dict]:
    """Workloads of every result file, each tagged with its source file; bad files -> DataError."""
    from spiking_mcc.io import read_json

    workloads = []
    for path in paths:
        content = read_json(path)
        if not isinstance(content, dict) or "workloads" not in content:
            raise DataError(f"{path}: no 'workloads' key (not a result file energy can read)")
        if not isinstance(content["workloads"], list) or not content["workloads"]:
            raise DataError(f"{path}: 'workloads' must be a non-empty list")
        for workload in content["workloads"]:
            if not isinstance(workload, dict):
                raise DataError(f"{path}: every workload must be an object")
            workloads.append({**workload, "source_file": str(path)})
    return workloads


def _given(value: float | None) -> float | str:
    """A figure, or "not given" where the device's sources give no time (docs/energy.md)."""
    return "not given" if value is None else value


def run(args: argparse.Namespace) -> int:
    from loihi_targets.energy import energy_report, write_energy_figure
    from spiking_mcc.io import ensure_dir, write_json

    devices = None
    if args.devices is not None:
        devices = [part.strip() for part in args.devices.split(",") if part.strip()]
        if not devices:
            raise ParameterError(f"--devices: empty list {args.devices!r}")
    workloads = load_workloads(args.results)
    report = energy_report(workloads, devices=devices, device_file=args.device_file, mapper=args.mapper)
    out = ensure_dir(args.out)
    write_json(Path(out) / "energy.json", report)
    write_energy_figure(report, Path(out) / "energy.png")
    int8_time = {w["name"]: w["int8_ann_s"] for w in report["workloads"]}
    print_table(
        [
            {
                "workload": r["workload"],
                "model": r["model"],
                "device": r["device"],
                "J/inference": r["energy_j"],
                "s/inference": _given(r["time_s"]),
                "W": _given(r["power_w"]),
                "EDP J*s": _given(r["edp_js"]),
                "INT8 ANN J": r["int8_ann_j"],
                "INT8 ANN s": _given(int8_time[r["workload"]]),
                "x INT8": r["ratio_to_int8_ann"],
            }
            for r in report["rows"]
        ]
    )
    for note in report["notes"] + list(report["interpretations"]):
        print(f"note: {note}")
    print(f"wrote {Path(out) / 'energy.json'} and {Path(out) / 'energy.png'}")
    return 0
