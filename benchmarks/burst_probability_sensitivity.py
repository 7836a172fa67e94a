"""Where the single-cell burst probability's distance from the reference comes from (docs/cells.md).

Burst probability at I_d = 0/100/200/300 pA (I_s = 400 pA, OU noise 150 pA per compartment), pooled over
seeds, for the model as it is and with one detail changed at a time: the noise implementation (OU as an
SDE inside the Euler-Maruyama step instead of the exact update before it; the exact update after the step),
the threshold adaptation (delta_thr 1 mV), the bAP kernel (delay 1 ms; width 2.1 / 2.2 ms, i.e. one or two
more 0.1 ms steps; 3 ms), the time step (0.05 ms), and the noise amplitude (sigma / sqrt(2), sigma * sqrt(2),
a convention factor).
Slow (~30 s per variant on 2 shared cores); numpy target.

    .venv/bin/python benchmarks/burst_probability_sensitivity.py [--trials 150] [--seeds 0,1] [--only A,B]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

REFERENCE = (0.03, 0.20, 0.63, 0.93)
LEVELS_PA = (0.0, 100.0, 200.0, 300.0)
VARIANTS = {
    "model": {},
    "noise: SDE in Euler step": {"noise": "sde"},
    "noise: update after step": {"noise": "after"},
    "delta_thr 1 mV": {"params": {"delta_thr": "1 mV"}},
    "bap_delay 1 ms": {"params": {"bap_delay": "1 ms"}},
    "bap_width 2.1 ms": {"params": {"bap_width": "2.1 ms"}},
    "bap_width 2.2 ms": {"params": {"bap_width": "2.2 ms"}},
    "bap_width 3 ms": {"params": {"bap_width": "3 ms"}},
    "dt 0.05 ms": {"dt_ms": 0.05},
    "sigma 106 pA": {"sigma_pa": 106.0},
    "sigma 212 pA": {"sigma_pa": 212.0},
}


def burst_probabilities(variant: dict, trials: int, seeds: list[int], duration_ms: float = 2500.0,
                        warmup_ms: float = 500.0) -> list[float]:
    import brian2 as b2

    from spiking_mcc.brian_state import brian_state
    from spiking_mcc.cells import model
    from spiking_mcc.cells.bursts import count_events
    from spiking_mcc.cells.params import make_params

    level = np.repeat(np.arange(len(LEVELS_PA)), trials)
    bursts, events = np.zeros(len(LEVELS_PA)), np.zeros(len(LEVELS_PA))
    noise = variant.get("noise", "before")
    for seed in seeds:
        with brian_state(target="numpy", seed=seed):
            params = dict(make_params(variant.get("params")))
            equations = model.cell_equations(synaptic=False)
            if noise == "sde":
                for x in "sd":
                    sde = f"dn_{x}/dt = -n_{x}/tau_noise + sigma_{x}*sqrt(2/tau_noise)*xi_{x} : amp\n"
                    equations = equations.replace(f"n_{x} : amp\n", sde)
            group = b2.NeuronGroup(level.size, equations, threshold=model.THRESHOLD, reset=model.RESET,
                                   method="euler", namespace=params,
                                   dt=variant.get("dt_ms", 0.1) * b2.ms)
            group.v_s, group.v_d, group.v_th = params["E_L"], params["E_L"], params["E_thr"]
            group.t_last = -1 * b2.second
            group.sigma_s = group.sigma_d = variant.get("sigma_pa", 150.0) * b2.pA
            group.I_s_tonic = 400 * b2.pA
            group.I_d_tonic = np.asarray(LEVELS_PA)[level] * b2.pA
            if noise != "sde":
                when = "before_groups" if noise == "before" else "after_groups"
                group.run_regularly(model.NOISE_UPDATE, when=when)
            spikes = b2.SpikeMonitor(group)
            b2.Network(group, spikes).run(duration_ms * b2.ms)
            cell, t_ms = np.asarray(spikes.i[:]), np.asarray(spikes.t[:] / b2.ms)
        late = t_ms >= warmup_ms
        counts = count_events(cell[late], t_ms[late], level.size)
        bursts += np.bincount(level, counts.bursts, minlength=len(LEVELS_PA))
        events += np.bincount(level, counts.events, minlength=len(LEVELS_PA))
    return (bursts / events).tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150, help="cells per I_d level and seed")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    print(f"burst probability at I_d = {'/'.join(f'{x:g}' for x in LEVELS_PA)} pA, {args.trials} cells x 2 s "
          f"per level and seed, seeds {seeds}; reference {'/'.join(f'{x:.2f}' for x in REFERENCE)}")
    for name in names:
        start = time.perf_counter()
        probabilities = burst_probabilities(VARIANTS[name], args.trials, seeds)
        worst = max(abs(p - r) for p, r in zip(probabilities, REFERENCE))
        print(f"{name:26s} " + " ".join(f"{p:.3f}" for p in probabilities)
              + f"   max |diff| {worst:.3f}   ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
