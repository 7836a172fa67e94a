"""The trained MCC network (64-32, law gain) as spiking two-point units in Lava fixed point.

Per seed (default 3): train the MCC on AV digits, calibrate for each T in (4, 8, 16, 32) and print test
accuracy (300 samples) of the rate network, the ideal T-step rate code (every population outputs the
T-step quantiser of its rate activation: what an exact-rate unit gives under constant drive), the
Loihi unit in float and in fixed point (batched engine), and Lava fixed_pt on the first --samples test
samples at T = 16 (--lava-all-t: at every T): Lava == engine spike for spike (every population, both
compartments, the readout), its accuracy and wall time (child start-up, build, compile, run, read,
stop). Then the bad-input checks: an MCC file trained with law kp, weights beyond Loihi's range and
T = 0 must each give a one-line error before any Lava child starts.
Usage: python benchmarks/bench_lava_mcc.py [--seeds 3] [--samples 100] [--epochs 8] [--lava-all-t]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

STEPS = (4, 8, 16, 32)
LAVA_T = 16


def _ideal_rate_code(graph, snn, inputs, timesteps: int) -> np.ndarray:
    from conversion import ops
    from conversion.thresholds import spiking_quantise

    f0 = snn.init_membrane_fraction
    values, _ = ops.forward_values(graph, inputs, quantiser=lambda name, pre: spiking_quantise(
        pre, snn.v_th[name], snn.output_scale[name], timesteps, f0))
    return values[graph.outputs[0]].argmax(axis=1)


def _bad_inputs(units, inputs, data, tmp: Path) -> None:
    from conversion.mcc_pipeline import convert_mcc
    from loihi_targets import runner
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.errors import SpikingMCCError
    from spiking_mcc.mcc.network import save_network
    from spiking_mcc.mcc.train import train_model

    started = []
    real_popen = runner.subprocess.Popen
    runner.subprocess.Popen = lambda *a, **k: started.append(a) or real_popen(*a, **k)
    kp_network = train_model("mcc", "supervised", load_avdigits(0), 1, 0, law="kp").network
    kp = save_network(kp_network, tmp / "kp.npz")
    unit = units.units[2]
    heavy = dataclasses.replace(unit, rf=dataclasses.replace(unit.rf, weight=unit.rf.weight * 8))
    cases = {
        "law kp": lambda: convert_mcc(kp, data, [16]),
        "weights beyond range": lambda: runner.run_lava_mcc(dataclasses.replace(
            units, units=(*units.units[:2], heavy, *units.units[3:])), inputs, LAVA_T),
        "T = 0": lambda: runner.run_lava_mcc(units, inputs, 0),
    }
    try:
        for name, case in cases.items():
            try:
                case()
                print(f"  {name}: NO ERROR (bug)")
            except SpikingMCCError as err:
                one_line = "\n" not in str(err)
                print(f"  {name}: {type(err).__name__} ({'one line' if one_line else 'MULTI-LINE'}): {err}")
    finally:
        runner.subprocess.Popen = real_popen
    print(f"  Lava children started by the bad inputs: {len(started)} (target 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lava-all-t", action="store_true")
    args = parser.parse_args()

    from conversion import mcc_engine, twopoint_spiking
    from conversion.importers.mcc import two_stream_graph
    from conversion.mcc_pipeline import load_av_data
    from loihi_targets.runner import run_lava_mcc
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.mcc.train import train_model

    table: dict[tuple[str, int], list[float]] = {}
    walls, equal_all = [], True
    last = None
    for seed in range(args.seeds):
        network = train_model("mcc", "supervised", load_avdigits(seed), args.epochs, seed).network
        graph = two_stream_graph(network)
        data = load_av_data("avdigits", network.n_audio, seed)
        y = data.y_test
        rate = float(np.mean(twopoint_spiking.ann_predict(graph, data.test) == y))
        for t in STEPS:
            snn = twopoint_spiking.calibrate(graph, data.calibration, "distribution", t)
            table.setdefault(("rate network", t), []).append(rate)
            table.setdefault(("ideal T-step rate code", t), []).append(
                float(np.mean(_ideal_rate_code(graph, snn, data.test, t) == y)))
            for mode in ("float", "fixed"):
                result = mcc_engine.simulate(snn, data.test, [t], mode=mode, calibration=data.calibration)[0]
                table.setdefault((f"Loihi unit, engine {mode}", t), []).append(result.accuracy(y))
            if t == LAVA_T or args.lava_all_t:
                units = mcc_engine.unit_network(snn, t, "fixed", data.calibration)
                x = {k: v[:args.samples] for k, v in data.test.items()}
                engine = mcc_engine.run_units(units, x, [t])[0]
                t0 = time.perf_counter()
                lava = run_lava_mcc(units, x, t, timeout_s=600)
                wall = time.perf_counter() - t0
                equal = np.array_equal(lava.output, engine["readout"]) and all(
                    np.array_equal(lava.window_counts[p], c.sum(axis=1))
                    and np.array_equal(lava.neuron_counts[p], c.sum(axis=0))
                    for p, c in engine["counts"].items())
                equal_all &= equal
                table.setdefault((f"Lava fixed_pt ({args.samples} samples)", t), []).append(
                    float(np.mean(lava.predictions == y[:args.samples])))
                table.setdefault((f"rate network ({args.samples} samples)", t), []).append(
                    float(np.mean(twopoint_spiking.ann_predict(graph, x) == y[:args.samples])))
                if t == LAVA_T:
                    walls.append(wall)
                    last = units, x, data
                print(f"seed {seed} T {t}: Lava == engine spike for spike (all {len(engine['counts'])} "
                      f"populations, readout): {equal}; Lava wall {wall:.1f} s")
    print(f"\naccuracy (%), mean [min, max] over {args.seeds} seeds, epochs {args.epochs}")
    rows = sorted({name for name, _ in table}, key=lambda n: [k for k, _ in table].index(n))
    print(f"{'':42s}" + "".join(f"T={t:<16d}" for t in STEPS))
    for name in rows:
        cells = []
        for t in STEPS:
            v = table.get((name, t))
            cells.append(f"{100 * np.mean(v):5.1f} [{100 * min(v):4.1f},{100 * max(v):5.1f}]" if v else "-")
        print(f"{name:42s}" + "".join(f"{c:18s}" for c in cells))
    gap = [100 * (r - s) for r, s in zip(table[("rate network", LAVA_T)],
                                         table[("Loihi unit, engine fixed", LAVA_T)])]
    print(f"\nrate - Lava-equivalent fixed point at T = {LAVA_T} (300 samples): mean {np.mean(gap):.2f}, "
          f"worst {max(gap):.2f} points (target <= 1.5)")
    cost = [100 * (i - f) for i, f in zip(table[("ideal T-step rate code", LAVA_T)],
                                          table[("Loihi unit, engine float", LAVA_T)])]
    print(f"ideal T-step rate code - Loihi unit (float) at T = {LAVA_T}: mean {np.mean(cost):.2f}, worst "
          f"{max(cost):.2f} points")
    print(f"Lava == engine spike for spike on every seed: {equal_all}")
    print(f"Lava wall, {args.samples} samples x T = {LAVA_T} incl. start-up: median "
          f"{statistics.median(walls):.1f} s, max {max(walls):.1f} s (target < 60 s)")
    print("bad input (each must be a one-line error before Lava starts):")
    with tempfile.TemporaryDirectory() as tmp:
        _bad_inputs(*last, Path(tmp))


if __name__ == "__main__":
    main()
