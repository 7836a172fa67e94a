"""`spiking-mcc cells`: BAC firing, f-I gain and burst multiplexing of the two-point L5PC in Brian2."""

from __future__ import annotations

import argparse

from spiking_mcc.commands.common import add_out_argument, add_seed_argument, finite_float, print_table
from spiking_mcc.limits import bounds_text

HELP = ("two-point L5PC protocols in Brian2 (BAC firing, f-I gain, burst multiplexing) -> cells.json + PNGs; "
        "rate surface and transfer-law fits -> rate_surface.json + PNG (docs/twopoint_laws.md)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_out_argument(parser, "results/cells")
    add_seed_argument(parser)
    parser.add_argument("--quick", action="store_true",
                        help="fewer conditions, trials and shorter runs (every behaviour still measured)")
    parser.add_argument("--dt-ms", type=finite_float, default=0.1, metavar="MS",
                        help=f"Euler time step in ms, in {bounds_text('dt_ms')} (default: 0.1)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE_WITH_UNIT",
                        help="override a cell parameter of docs/cells.md, e.g. --param C_s=370pF "
                             "--param tau_d=7ms (repeatable)")
    parser.add_argument("--target", choices=("numpy", "cython"), default=None,
                        help="Brian2 code-generation target (default: cython when a compiler works)")
    parser.add_argument("--population", action="store_true",
                        help="instead of the protocols: burst multiplexing in a population (somatic and "
                             "dendritic signals decoded from event rate and burst fraction) -> "
                             "population.json + population.png (docs/cells.md)")


def run(args: argparse.Namespace) -> int:
    from spiking_mcc.cells.params import parse_overrides
    from spiking_mcc.cells.protocols import check_dt
    from spiking_mcc.io import ensure_dir, write_json

    overrides = parse_overrides(args.param)  # validate everything before Brian2 is imported
    dt_ms = check_dt(args.dt_ms)
    out = ensure_dir(args.out)
    if args.population:
        return _run_population(args, overrides, dt_ms, out)

    from spiking_mcc.cells.figures import write_cell_figures
    from spiking_mcc.cells.protocols import run_cell_protocols
    from spiking_mcc.cells.rate_surface import write_rate_surface

    results = run_cell_protocols(quick=args.quick, seed=args.seed, params_override=overrides, dt_ms=dt_ms,
                                 target=args.target, progress=True)
    json_path = write_json(out / "cells.json", results)
    figures = write_cell_figures(results, out)
    print_table([{"offset_ms": row["offset_ms"], "spikes": row["spikes"], "max_vd_mv": row["max_vd_mv"]}
                 for row in results["bac"]]
                + [{"offset_ms": "soma only", "spikes": results["soma_only_spikes"],
                    "max_vd_mv": results["soma_only_max_vd_mv"]},
                   {"offset_ms": "apical only", "spikes": results["apical_only_spikes"],
                    "max_vd_mv": results["apical_only_max_vd_mv"]}])
    print()
    print_table(results["multiplexing"], ["i_d_pa", "burst_probability", "event_rate_hz", "events"])
    print()
    print_table(results["fi_gain"])
    surface, surface_path, _ = write_rate_surface(out, quick=args.quick, seed=args.seed,
                                                  params_override=overrides, dt_ms=dt_ms, target=args.target)
    print(f"\nrate surface fits (law_used {surface['law_used']}, best fit {surface['best_fit_law']}):")
    print_table(surface["fits"], ["law", "rmse_hz", "r2"])
    print(f"\nwrote {json_path}, {surface_path} and {len(figures) + 1} figures in {out}")
    return 0


def _run_population(args: argparse.Namespace, overrides: dict, dt_ms: float, out) -> int:
    from spiking_mcc.cells import population
    from spiking_mcc.io import write_json

    settings = population.QUICK_POPULATION if args.quick else population.FULL_POPULATION
    results = population.run_population(settings, seed=args.seed, params=overrides, dt_ms=dt_ms,
                                        target=args.target)
    json_path = write_json(out / "population.json", results)
    figure = population.write_population_figure(results, out / "population.png")
    print_table([{"decoding": key, "pearson_r": value} for key, value in results["decoding"].items()])
    print(f"\nwrote {json_path} and {figure}")
    return 0
