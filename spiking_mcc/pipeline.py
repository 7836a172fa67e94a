"""`spiking-mcc run`: every stage on the embedded default data, then the report.

cells -> train MCC and point -> compare study -> convert both to spiking networks (batched
engine, Brian2 subset) -> Lava fixed-point subset -> energy across device presets (+ core
mapping) -> report. Each stage is a function that calls that stage's public API and writes its
JSON into the run folder atomically; `run.json` records versions, seeds, the command line, and
each stage's status and wall time, and is rewritten after every stage. The report is written
last, from the JSON files on disk only, so a run killed mid-way never leaves a report that
disagrees with its JSON files. The run folder is held through spiking_mcc.outdir (lock, manifest):
a new run first removes only the files an earlier command provably wrote there.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import io
import os
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spiking_mcc import __version__
from spiking_mcc.errors import ParameterError, SpikingMCCError
from spiking_mcc.interrupts import check_interrupted, handle_signals, pause_if_asked, received_signal
from spiking_mcc.io import ensure_dir, read_json, write_json
from spiking_mcc.limits import check_seed
from spiking_mcc.mcc.activity import ENERGY_PER_TRANSMISSION_UJ
from spiking_mcc.outdir import output_folder
from spiking_mcc.twopoint.transfer import UNIT_LAW

RUN_JSON = "run.json"
MODELS = ("mcc", "point")
LOIHI_FILES = {"mcc": "loihi_mcc.json", "point": "loihi.json"}  # Lava fixed-point result per network
# Result files whose workloads the energy stage costs, in report order.
ENERGY_SOURCES = ("train_mcc.json", "train_point.json", "convert_mcc.json", "convert_point.json",
                  "loihi_mcc.json", "loihi.json")
VERSIONED_PACKAGES = ("numpy", "scipy", "brian2", "lava-nc", "onnx", "nir", "scikit-learn", "matplotlib")


@dataclass(frozen=True)
class RunConfig:
    """Sizes of one run. `quick` keeps everything small enough for the tests (< 2 min).

    epochs equal the comparison study's budget (spiking_mcc.mcc.study QUICK_PLAN / FULL_PLAN), so the
    saved networks are the study's supervised runs, trained again with the same seed.
    """

    quick: bool
    seed: int
    epochs: int
    timesteps: tuple[int, ...]
    threshold: str
    brian2_samples: int  # test samples re-run in Brian2 at the largest T
    lava_samples: int
    lava_timesteps: int
    energy_timesteps: int
    audio_snr_db: float | None
    law: str = UNIT_LAW  # the law the spiking two-point unit realises (docs/twopoint_unit.md)

    @classmethod
    def for_mode(cls, quick: bool, seed: int) -> RunConfig:
        if quick:
            return cls(quick=True, seed=seed, epochs=4, timesteps=(1, 2, 4, 8, 16), threshold="distribution",
                       brian2_samples=20, lava_samples=40, lava_timesteps=8,
                       energy_timesteps=8, audio_snr_db=None)
        return cls(quick=False, seed=seed, epochs=20, timesteps=(1, 2, 4, 8, 16, 32),
                   threshold="distribution", brian2_samples=100, lava_samples=200,
                   lava_timesteps=8, energy_timesteps=8, audio_snr_db=None)


@dataclass
class StageRecord:
    name: str
    status: str = "pending"  # pending | interrupted (by a signal) | done | missing | skipped | failed
    files: list[str] = field(default_factory=list)
    note: str = ""
    wall_s: float = 0.0
    traceback: str = ""


@dataclass
class RunContext:
    """What a stage function gets: the run folder, the sizes, and a place to record outputs."""

    out_dir: Path
    config: RunConfig
    progress: bool = True
    figures: dict[str, str] = field(default_factory=dict)
    artefacts: dict[str, Path] = field(default_factory=dict)

    def rel(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.out_dir.resolve()).as_posix()

    def add_figure(self, key: str, path: str | Path) -> None:
        self.figures[key] = self.rel(path)


class StageUnavailable(Exception):
    """A stage's public API is not importable in this installation; the run goes on without it."""


class StageSkipped(Exception):
    """A stage has nothing to work on in this run (e.g. no workloads for energy); the run goes on."""


def require(module: str, *names: str) -> Any:
    """Import `module` (and check it defines `names`); raise StageUnavailable if it does not."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and (module == err.name or module.startswith(err.name + ".")):
            raise StageUnavailable(f"{module} is not available") from None
        raise
    missing = [name for name in names if not hasattr(mod, name)]
    if missing:
        raise StageUnavailable(f"{module} has no {', '.join(missing)}")
    return mod


# ---------------------------------------------------------------- stages
# Each stage: (ctx) -> the files it wrote. A stage reads what earlier stages left in the run folder.

def stage_cells(ctx: RunContext) -> list[Path]:
    """Two-point L5PC protocols in Brian2 -> cells.json, BAC / f-I / multiplexing figures; rate surface and
    law fits -> rate_surface.json, rate_surface.png; burst multiplexing in a population -> population.json."""
    protocols = require("spiking_mcc.cells.protocols", "run_cell_protocols")
    figures = require("spiking_mcc.cells.figures", "write_cell_figures")
    results = protocols.run_cell_protocols(quick=ctx.config.quick, seed=ctx.config.seed,
                                           progress=ctx.progress)
    json_path = write_json(ctx.out_dir / "cells.json", results)
    paths = figures.write_cell_figures(results, ctx.out_dir)
    surface = require("spiking_mcc.cells.rate_surface", "write_rate_surface")  # docs/twopoint_laws.md
    _, surface_json, surface_png = surface.write_rate_surface(ctx.out_dir, quick=ctx.config.quick,
                                                              seed=ctx.config.seed)
    paths.append(surface_png)
    for path in paths:
        ctx.add_figure(Path(path).stem, path)
    population = require("spiking_mcc.cells.population", "run_population", "write_population_figure")
    settings = population.QUICK_POPULATION if ctx.config.quick else population.FULL_POPULATION
    decoded = population.run_population(settings, seed=ctx.config.seed)
    paths += [write_json(ctx.out_dir / "population.json", decoded),
              population.write_population_figure(decoded, ctx.out_dir / "population.png")]
    ctx.add_figure("population", paths[-1])
    return [json_path, surface_json, *paths]


def stage_train(ctx: RunContext) -> list[Path]:
    """MCC and point baseline on clean AV digits, exactly as `spiking-mcc train` does it."""
    train_command = require("spiking_mcc.commands.train", "run")
    written = []
    for model in MODELS:
        args = argparse.Namespace(model=model, setup="supervised", law=ctx.config.law,
                                  epochs=ctx.config.epochs, audio_snr_db=ctx.config.audio_snr_db,
                                  visual_snr_db=None, theta=0.0,
                                  energy_per_transmission_uj=ENERGY_PER_TRANSMISSION_UJ,
                                  seed=ctx.config.seed, out=str(ctx.out_dir))
        with contextlib.redirect_stdout(io.StringIO()):  # its summary table; ours comes at the end
            train_command.run(args)
        ctx.artefacts[f"{model}_model"] = ctx.out_dir / f"{model}.npz"
        ctx.add_figure(f"train_{model}", ctx.out_dir / f"train_{model}.png")
        written += [ctx.out_dir / f"{model}.npz", ctx.out_dir / f"train_{model}.json",
                    ctx.out_dir / f"train_{model}.png"]
    return written


def stage_compare(ctx: RunContext) -> list[Path]:
    """The MCC vs point study: accuracy vs transmissions, noise, damage, learning speed."""
    study = require("spiking_mcc.mcc.study", "run_compare")
    before = set(ctx.out_dir.glob("*.png"))
    study.run_compare(ctx.out_dir, quick=ctx.config.quick, seed=ctx.config.seed, progress=ctx.progress)
    paths = sorted(set(ctx.out_dir.glob("*.png")) - before)
    for path in paths:
        ctx.add_figure(path.stem, path)
    return [ctx.out_dir / "compare.json", *paths]


def stage_convert(ctx: RunContext) -> list[Path]:
    """Both trained networks -> two-compartment spiking units: accuracy vs T in the batched engine,
    and the first `brian2_samples` test samples again in Brian2 at the largest T."""
    mcc_pipeline = require("conversion.mcc_pipeline", "convert_mcc", "plot_accuracy_vs_timesteps")
    from spiking_mcc.data.avdigits import load_avdigits

    data = load_avdigits(seed=ctx.config.seed, audio_snr_db=ctx.config.audio_snr_db)
    written = []
    for model in MODELS:
        summary = mcc_pipeline.convert_mcc(ctx.artefacts[f"{model}_model"], data, list(ctx.config.timesteps),
                                           seed=ctx.config.seed, brian_samples=ctx.config.brian2_samples,
                                           threshold=ctx.config.threshold, progress=ctx.progress)
        # one result file per network, convert_<model>.json, at the top of the run folder; its figure in
        # convert_<model>/ (the `convert` command's own convert_mcc.json is not written by the run)
        written.append(write_json(ctx.out_dir / f"convert_{model}.json", summary))
        figure = ensure_dir(ctx.out_dir / f"convert_{model}") / "accuracy_vs_T.png"
        mcc_pipeline.plot_accuracy_vs_timesteps(figure, summary)
        ctx.add_figure(f"accuracy_vs_T_{model}", figure)
        written.append(figure)
    return written


def stage_loihi(ctx: RunContext) -> list[Path]:
    """Both networks in Lava, bit-accurate fixed point, against the batched engine's same arithmetic: the
    point network as a Dense/LIF chain (loihi.json), the MCC network as two-point units
    (loihi_mcc.json, docs/twopoint_unit.md) at lava_timesteps and, for the report's accuracy-vs-T
    table, at half and twice that T (its "sweep")."""
    loihi = require("loihi_targets.pipeline", "run_loihi")
    common = {"samples": ctx.config.lava_samples, "mode": "fixed", "seed": ctx.config.seed,
              "progress": ctx.progress}
    main_t = ctx.config.lava_timesteps
    loihi.run_loihi(ctx.artefacts["point_model"], "avdigits", timesteps=main_t, out_dir=ctx.out_dir,
                    threshold=ctx.config.threshold, **common)
    written = [ctx.out_dir / LOIHI_FILES["point"], ctx.out_dir / "loihi_counts.png"]
    ctx.add_figure("loihi_counts", ctx.out_dir / "loihi_counts.png")
    sweep, main = [], None
    for t in sorted({max(1, main_t // 2), main_t, 2 * main_t}):
        folder = ctx.out_dir / "loihi_mcc" / f"T{t}"
        report = loihi.run_loihi(ctx.artefacts["mcc_model"], "avdigits", timesteps=t, out_dir=folder,
                                 threshold=ctx.config.threshold, **common)
        sweep.append({k: report[k] for k in ("timesteps", "accuracy_rate", "accuracy_engine", "accuracy_lava",
                                             "spike_counts_equal", "lava_wall_s")})
        written += [folder / "loihi.json", folder / "loihi_counts.png"]
        if t == main_t:
            main = report
    written.append(write_json(ctx.out_dir / LOIHI_FILES["mcc"], {**main, "sweep": sweep}))
    ctx.add_figure("loihi_counts_mcc", ctx.out_dir / "loihi_mcc" / f"T{main_t}" / "loihi_counts.png")
    return written


def stage_mapping(ctx: RunContext) -> list[Path]:
    """Each converted network's SNN workload on Loihi cores, greedy fill vs spike-aware clustering."""
    energy = require("loihi_targets.energy", "validate_workload", "workload_mapping")
    mapper = require("loihi_targets.mapper", "METHODS")
    rows = []
    for model in MODELS:
        source = ctx.out_dir / f"convert_{model}.json"
        if not source.is_file():
            continue
        for workload in read_json(source)["workloads"]:
            if workload["kind"] != "snn" or workload["timesteps"] != ctx.config.energy_timesteps:
                continue
            checked = energy.validate_workload(workload, source.name)
            for method in mapper.METHODS:
                rows.append({"model": model, "workload": workload["name"], "source_file": source.name,
                             "timesteps": workload["timesteps"], "method": method,
                             **energy.workload_mapping(checked, method=method)})
    for model, name in LOIHI_FILES.items():  # the Lava graphs themselves (MCC: context synapses included)
        source = ctx.out_dir / name
        if source.is_file():
            report = read_json(source)
            mapping = {k: v for k, v in report.get("mapping", {}).items() if not k.endswith("_per_core")}
            rows.append({"model": model, "workload": f"{model} Lava graph", "source_file": name,
                         "timesteps": report["timesteps"], **mapping})
    return [write_json(ctx.out_dir / "mapping.json", {"rows": rows})]


def stage_energy(ctx: RunContext) -> list[Path]:
    """Energy per inference of every workload the run measured, on every device preset."""
    energy = require("loihi_targets.energy", "energy_report", "write_energy_figure")
    sources = [name for name in ENERGY_SOURCES if (ctx.out_dir / name).is_file()]
    if not sources:
        raise StageSkipped("no result file with workloads in this run (" + ", ".join(ENERGY_SOURCES) + ")")
    workloads = []
    for name in sources:
        for workload in read_json(ctx.out_dir / name).get("workloads", []):
            if _energy_workload_wanted(name, workload, ctx.config):
                workloads.append({**workload, "name": _workload_label(name, workload), "source_file": name})
    report = energy.energy_report(workloads)
    report["sources"] = sources
    json_path = write_json(ctx.out_dir / "energy.json", report)
    figure = ctx.out_dir / "energy.png"
    energy.write_energy_figure(report, figure)
    ctx.add_figure("energy", figure)
    return [json_path, figure]


def _workload_label(source: str, workload: dict) -> str:
    """A readable, unique name: which network, which form (rate, ANN, SNN at T, Lava)."""
    lava = {file: model for model, file in LOIHI_FILES.items()}
    model = lava.get(source) or source.removesuffix(".json").split("_")[-1]
    network = {"mcc": "MCC", "point": "point"}[model]
    if source.startswith("train_"):
        return f"{network} rate network ({workload['kind']})"
    if source in lava:
        return f"{network} SNN in Lava, T={workload['timesteps']}"
    if workload["kind"] == "ann":
        return f"{network} ANN"
    return f"{network} SNN, T={workload['timesteps']}"


def _energy_workload_wanted(source: str, workload: dict, config: RunConfig) -> bool:
    """One SNN workload per converted network (at the report's T) keeps the device chart readable."""
    if source.startswith("convert_") and workload.get("kind") == "snn":
        return workload.get("timesteps") == config.energy_timesteps
    return True


# ---------------------------------------------------------------- orchestration

# (name, function, stages it needs)
STAGES: tuple[tuple[str, Callable[[RunContext], list[Path]], tuple[str, ...]], ...] = (
    ("cells", stage_cells, ()),
    ("train", stage_train, ()),
    ("compare", stage_compare, ()),
    ("convert", stage_convert, ("train",)),
    ("loihi", stage_loihi, ("train",)),
    ("energy", stage_energy, ()),
    ("mapping", stage_mapping, ("convert",)),
)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "spiking-mcc": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def run_pipeline(out_dir: str | Path, quick: bool = False, seed: int = 0,
                 stages: tuple[str, ...] | None = None, argv: list[str] | None = None,
                 progress: bool = True) -> dict:
    """Run the stages into `out_dir`, then the report; return the final run record (as in run.json).

    A stage that raises is recorded as "failed" (message, and traceback for a bug) and the run goes
    on; the caller decides what a failed stage means (the CLI exits 1). Set SPIKING_MCC_DEBUG=1 to
    let the exception through instead. SIGINT, SIGTERM and SIGHUP stop the run at the next safe point
    (between stages, epochs, time-step sweeps): run.json then says `"interrupted": "SIGTERM"`, no report
    is written, and Interrupted (a KeyboardInterrupt) is raised to the caller."""
    names = [name for name, _, _ in STAGES]
    selected = list(names) if stages is None else list(stages)
    unknown = [name for name in selected if name not in names]
    if unknown:
        raise ParameterError(f"--stages: unknown stage(s) {unknown}; allowed: {names}")
    check_seed(seed, "--seed")
    if argv is None:
        argv = ["--out", str(out_dir), "--seed", str(seed)] + (["--quick"] if quick else [])
    with handle_signals(), output_folder(out_dir, command="run") as folder:
        # Only files the folder's manifest proves an earlier command wrote go; everything else stays.
        folder.remove_previous_outputs()
        return _run_stages(folder.path, quick, seed, selected, argv, progress)


def _run_stages(out: Path, quick: bool, seed: int, selected: list[str], argv: list[str],
                progress: bool) -> dict:
    from tqdm import tqdm

    names = [name for name, _, _ in STAGES]
    config = RunConfig.for_mode(quick, seed)
    ctx = RunContext(out_dir=out, config=config, progress=progress)
    records = [StageRecord(name) for name in names]
    command = " ".join(["spiking-mcc", "run", *argv])
    run_record: dict[str, Any] = {
        "command": command, "seed": seed, "quick": quick, "config": asdict(config),
        "versions": versions(), "complete": False, "interrupted": None, "stages": [], "figures": {},
    }
    started = time.perf_counter()

    def save(complete: bool = False) -> None:
        run_record.update(stages=[asdict(r) for r in records], figures=dict(ctx.figures), complete=complete,
                          wall_s=round(time.perf_counter() - started, 3))
        write_json(out / RUN_JSON, run_record)

    save()
    done: set[str] = set()
    bar = tqdm(STAGES, desc="spiking-mcc run", unit="stage", disable=not progress, file=sys.stderr)
    record = records[0]
    try:
        for (name, function, needs), record in zip(bar, records):
            check_interrupted()  # the safe point between stages
            bar.set_postfix_str(name)
            if name not in selected:
                record.status, record.note = "skipped", "not selected with --stages"
            elif any(need not in done for need in needs):
                record.status = "skipped"
                record.note = "needs " + ", ".join(n for n in needs if n not in done)
            else:
                t0 = time.perf_counter()
                try:
                    files = function(ctx)
                except StageUnavailable as err:
                    record.status, record.note = "missing", str(err)
                    print(f"spiking-mcc run: stage '{name}' skipped: {err}", file=sys.stderr)
                except StageSkipped as err:
                    record.status, record.note = "skipped", str(err)
                except Exception as err:
                    # Recorded, and the run goes on: later stages that need it are skipped, the report
                    # shows the failure, and `spiking-mcc run` exits non-zero. A bug (not a
                    # SpikingMCCError) keeps its traceback in run.json and on stderr.
                    if os.environ.get("SPIKING_MCC_DEBUG"):
                        raise
                    record.status, record.note = "failed", f"{type(err).__name__}: {err}"
                    if not isinstance(err, SpikingMCCError):
                        record.traceback = traceback.format_exc()
                        print(record.traceback, file=sys.stderr)
                    print(f"spiking-mcc run: stage '{name}' failed: {record.note}", file=sys.stderr)
                else:
                    record.status = "done"
                    record.files = sorted({ctx.rel(f) for f in files})
                    done.add(name)
                record.wall_s = round(time.perf_counter() - t0, 3)
            save()
            pause_if_asked(name)  # test hook: SPIKING_MCC_PAUSE_AT=STAGE
        check_interrupted()
    except KeyboardInterrupt:  # a signal (Interrupted at a safe point) or Ctrl-C twice: no report
        signum = received_signal()
        run_record["interrupted"] = signal.Signals(signum).name if signum else "KeyboardInterrupt"
        if record.status == "pending":
            record.status, record.note = "interrupted", f"interrupted by {run_record['interrupted']}"
        bar.close()
        save()
        raise
    bar.close()
    save(complete=True)
    from spiking_mcc.report import build_report

    build_report(out)
    return read_json(out / RUN_JSON)
