"""Core mapper: greedy vs SpiNeMap-style clustering on a few networks (inter-core spikes, hops, wall time).

Run: .venv/bin/python benchmarks/bench_mapper.py   (about a minute on 2 cores)
Prints medians over repeats; cluster/greedy ratios < 1 mean the clustering saved traffic.
"""

from __future__ import annotations

import time

import numpy as np

from loihi_targets.mapper import LayerSpec, layers_from_weights, map_network


def structured(rng: np.random.Generator, sizes: list[int], groups: int, density: float,
               compartments: int = 1) -> list[LayerSpec]:
    """Chain whose connectivity is block-structured by a hidden, shuffled group label."""
    labels = [rng.permutation(np.arange(n) % groups) for n in sizes]
    layers = [LayerSpec("l0", sizes[0], fan_in=64, compartments_per_neuron=compartments)]
    for i in range(1, len(sizes)):
        same = labels[i][:, None] == labels[i - 1][None, :]
        conn = same & (rng.random(same.shape) < density)
        conn[np.arange(sizes[i]), np.argmax(same, axis=1)] = True
        layers.append(LayerSpec(f"l{i}", sizes[i], connectivity=conn, compartments_per_neuron=compartments))
    return layers


def networks(rng: np.random.Generator):
    yield "digits MLP 64-100-10", layers_from_weights([(100, 64), (10, 100)]), None, 3
    yield "MLP 784-500-500-10", layers_from_weights([(500, 784), (500, 500), (10, 500)]), \
        [rng.random(500) * 4, rng.random(500) * 4, 1.0], 1
    layers = structured(rng, [1200, 1200, 400], groups=8, density=0.2, compartments=2)
    yield "8-group 1200-1200-400, 2-comp", layers, [rng.random(la.neurons) * 3 for la in layers], 1


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'network':34s} {'method':8s} {'cores':>5s} {'intercore':>11s} {'hops E-W':>10s} "
          f"{'hops N-S':>10s} {'wall s':>8s}")
    for name, layers, spikes, repeats in networks(rng):
        results = {}
        for method in ("greedy", "cluster"):
            walls = []
            for _ in range(repeats):
                start = time.perf_counter()
                mapping = map_network(layers, spikes_per_neuron=spikes, method=method, seed=0, max_chips=4)
                walls.append(time.perf_counter() - start)
            results[method] = mapping
            print(f"{name:34s} {method:8s} {mapping.cores_used:5d} {mapping.intercore_spikes:11.1f} "
                  f"{mapping.hops_ew:10.1f} {mapping.hops_ns:10.1f} {np.median(walls):8.2f}")
        g, c = results["greedy"], results["cluster"]
        ratio = c.intercore_spikes / g.intercore_spikes if g.intercore_spikes else float("nan")
        hops = (c.hops_ew + c.hops_ns) / max(g.hops_ew + g.hops_ns, 1e-12)
        print(f"{'':34s} cluster/greedy: inter-core spikes {ratio:.3f}, hops {hops:.3f}")


if __name__ == "__main__":
    main()
