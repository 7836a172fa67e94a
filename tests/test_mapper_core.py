"""Core mapper (docs/loihi.md): Loihi per-core limits, greedy vs SpiNeMap-style clustering, hops."""

import numpy as np
import pytest

from loihi_targets.mapper import (
    CoreLimits,
    LayerSpec,
    MeshLayout,
    _improve_placement,
    layers_from_graph,
    layers_from_weights,
    map_network,
)
from spiking_mcc.errors import DataError, HardwareLimitError, ParameterError

TINY = CoreLimits(compartments=2, cores_per_chip=4)
TINY_MESH = MeshLayout(columns=2, rows=2)


def reference_usage(layers, mapping, limits):
    """Recompute per-core usage and inter-core messages from the assignment alone (independent code)."""
    cores = mapping.cores_used
    comps, syn_bits = np.zeros(cores), np.zeros(cores)
    sources = [set() for _ in range(cores)]
    out_axons = np.zeros(cores)
    spikes_sent = 0.0
    names = [la.name for la in layers]
    for i, layer in enumerate(layers):
        assign = mapping.assignment[layer.name]
        conn = np.asarray(layer.connectivity.todense()) != 0
        src = names[i - 1] if i > 0 else None
        for n in range(layer.neurons):
            c = assign[n]
            comps[c] += layer.compartments_per_neuron
            syn_bits[c] += conn[n].sum() * (layer.weight_bits + limits.overhead_bits_per_synapse)
            for s in np.flatnonzero(conn[n]):
                sources[c].add((src, s))
        if i + 1 < len(layers):
            nxt = layers[i + 1]
            nconn = np.asarray(nxt.connectivity.todense()) != 0
            for n in range(layer.neurons):
                dest = set(mapping.assignment[nxt.name][np.flatnonzero(nconn[:, n])])
                out_axons[assign[n]] += len(dest)
                spikes_sent += len(dest - {assign[n]})
    return comps, np.array([len(s) for s in sources]), out_axons, syn_bits, spikes_sent


def random_chain(rng, sizes, density):
    layers = []
    for i, (n_out, n_in) in enumerate(zip(sizes[1:], sizes[:-1])):
        conn = rng.random((n_out, n_in)) < density
        conn[np.arange(n_out), rng.integers(0, n_in, n_out)] = True  # every neuron has an input
        layers.append(
            LayerSpec(f"l{i}", n_out, connectivity=conn, compartments_per_neuron=int(rng.integers(1, 3)))
        )
    return layers


def test_hand_made_example_exact_counts():
    # A: 4 neurons (external fan-in 3), B: 2 neurons fed by all of A; 2 compartments per core
    layers = [LayerSpec("A", 4, fan_in=3), LayerSpec("B", 2)]
    mapping = map_network(
        layers, spikes_per_neuron=[np.array([1.0, 2, 3, 4]), 5.0], limits=TINY, mesh=TINY_MESH
    )
    assert mapping.cores_used == 3 and mapping.chips == 1
    assert mapping.assignment["A"].tolist() == [0, 0, 1, 1]
    assert mapping.assignment["B"].tolist() == [2, 2]
    # each A spike is one message to core 2 (both B neurons there): 1 + 2 + 3 + 4
    assert mapping.intercore_spikes == 10.0
    # serpentine: core 0 (0,0), core 1 (1,0), core 2 (1,1); core0->2: 1 E-W + 1 N-S for 3 spikes,
    # core1->2: 1 N-S for 7 spikes
    assert mapping.core_xy.tolist() == [[0, 0], [1, 0], [1, 1]]
    assert mapping.hops_ew == 3.0 and mapping.hops_ns == 10.0
    assert mapping.input_axons_per_core.tolist() == [3, 3, 4]
    assert mapping.output_axons_per_core.tolist() == [2, 2, 0]
    assert mapping.synapse_bits_per_core.tolist() == [2 * 3 * 8, 2 * 3 * 8, 2 * 4 * 8]
    # greedy is already optimal here; clustering must not do worse
    assert map_network(layers, method="cluster", limits=TINY, mesh=TINY_MESH).intercore_spikes == 4.0 * 1


def test_clustering_strictly_better_on_interleaved_streams():
    # two independent streams interleaved by index parity: h_i -> o_j iff i % 2 == j % 2
    parity = np.arange(8) % 2
    conn = (parity[:, None] == parity[None, :]).astype(float)
    layers = [LayerSpec("h", 8, fan_in=4), LayerSpec("o", 8, connectivity=conn)]
    limits = CoreLimits(compartments=4, cores_per_chip=4)
    greedy = map_network(layers, method="greedy", limits=limits, mesh=TINY_MESH)
    cluster = map_network(layers, method="cluster", limits=limits, mesh=TINY_MESH, seed=3)
    assert greedy.intercore_spikes == 16.0  # every h neuron reaches both o cores
    assert cluster.intercore_spikes <= 8.0 < greedy.intercore_spikes
    assert cluster.cores_used <= greedy.cores_used


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_limits_respected_on_random_networks(seed):
    rng = np.random.default_rng(seed)
    limits = CoreLimits(
        compartments=24, input_axons=30, output_axons=40, synapse_memory_bits=1600, cores_per_chip=16
    )
    mesh = MeshLayout(columns=4, rows=4)
    layers = random_chain(rng, [20, 30, 25, 10], density=0.3)
    spikes = [rng.random(la.neurons) * 4 for la in layers]
    for method in ("greedy", "cluster"):
        m = map_network(
            layers, spikes_per_neuron=spikes, method=method, seed=seed, max_chips=4, limits=limits, mesh=mesh
        )
        comps, in_axons, out_axons, bits, _ = reference_usage(layers, m, limits)
        np.testing.assert_array_equal(m.compartments_per_core, comps)
        np.testing.assert_array_equal(m.input_axons_per_core, in_axons)
        np.testing.assert_array_equal(m.output_axons_per_core, out_axons)
        np.testing.assert_array_equal(m.synapse_bits_per_core, bits)
        assert comps.max() <= limits.compartments and in_axons.max() <= limits.input_axons
        assert out_axons.max() <= limits.output_axons and bits.max() <= limits.synapse_memory_bits
        assert np.all(comps > 0)  # no empty core reported


def test_intercore_spikes_match_reference_with_uniform_spikes():
    rng = np.random.default_rng(5)
    layers = random_chain(rng, [30, 40, 30, 12], density=0.2)
    limits = CoreLimits(compartments=16, cores_per_chip=16)
    for method in ("greedy", "cluster"):
        m = map_network(layers, method=method, limits=limits, mesh=MeshLayout(4, 4))
        assert m.intercore_spikes == reference_usage(layers, m, limits)[4]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_clustering_never_worse_on_structured_traffic(seed):
    # block-structured (4 groups) connectivity, neurons shuffled so index order hides the groups
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(np.arange(n) % 4) for n in (32, 32, 16)]
    layers = [LayerSpec("a", 32, fan_in=10)]
    for name, (g_in, g_out) in zip(("b", "c"), zip(groups[:-1], groups[1:])):
        conn = (g_out[:, None] == g_in[None, :]) & (rng.random((g_out.size, g_in.size)) < 0.8)
        conn[np.arange(g_out.size), np.argmax(g_out[:, None] == g_in[None, :], axis=1)] = True
        layers.append(LayerSpec(name, g_out.size, connectivity=conn))
    limits = CoreLimits(compartments=16, cores_per_chip=16)
    spikes = [rng.random(la.neurons) * 3 for la in layers]
    greedy = map_network(layers, spikes, method="greedy", limits=limits, mesh=MeshLayout(4, 4))
    cluster = map_network(layers, spikes, method="cluster", seed=seed, limits=limits, mesh=MeshLayout(4, 4))
    assert cluster.intercore_spikes <= greedy.intercore_spikes
    assert cluster.intercore_spikes < 0.8 * greedy.intercore_spikes  # the groups are worth finding


def test_cluster_is_deterministic_for_a_seed():
    rng = np.random.default_rng(9)
    layers = random_chain(rng, [20, 30, 20], density=0.2)
    limits = CoreLimits(compartments=8, cores_per_chip=16)
    a = map_network(layers, method="cluster", seed=4, limits=limits, mesh=MeshLayout(4, 4))
    b = map_network(layers, method="cluster", seed=4, limits=limits, mesh=MeshLayout(4, 4))
    for name in a.assignment:
        np.testing.assert_array_equal(a.assignment[name], b.assignment[name])
    assert (a.hops_ew, a.hops_ns) == (b.hops_ew, b.hops_ns)


def test_placement_swaps_never_lengthen_traffic():
    rng = np.random.default_rng(0)
    traffic = rng.random((12, 12)) * (rng.random((12, 12)) < 0.3)
    np.fill_diagonal(traffic, 0)
    xy = np.stack(np.divmod(np.arange(12), 4)[::-1], axis=1)

    def cost(pos):
        d = np.abs(pos[:, None, :] - pos[None, :, :]).sum(axis=2)
        return (traffic * d).sum()

    better = _improve_placement(traffic, xy)
    assert sorted(map(tuple, better)) == sorted(map(tuple, xy))  # a permutation of the same positions
    assert cost(better) < cost(xy)


def test_two_compartment_neurons_use_two_compartments():
    m = map_network([LayerSpec("tp", 1024, fan_in=10, compartments_per_neuron=2)])
    assert m.cores_used == 2 and m.compartments_per_core.tolist() == [1024, 1024]
    m1 = map_network([LayerSpec("pt", 1024, fan_in=10)])
    assert m1.cores_used == 1


def test_synapse_memory_limits_neurons_per_core():
    # 128 KB = 1,048,576 bits; fan-in 4096 x 8 bits = 32,768 bits -> 32 neurons per core
    m = map_network([LayerSpec("wide", 64, fan_in=4096, weight_bits=8)])
    assert m.cores_used == 2 and m.synapse_bits_per_core.tolist() == [1048576, 1048576]


def test_errors_name_layer_limit_and_value():
    with pytest.raises(HardwareLimitError, match=r"layer 'big'.*4097.*4096"):
        map_network([LayerSpec("big", 4, fan_in=4097)])
    with pytest.raises(HardwareLimitError, match=r"layer 'mem'.*synapse memory.*1600.*1000"):
        map_network([LayerSpec("mem", 2, fan_in=200)], limits=CoreLimits(synapse_memory_bits=1000))
    with pytest.raises(HardwareLimitError, match=r"layer 'fat'.*compartments.*2048.*1024"):
        map_network([LayerSpec("fat", 1, fan_in=3, compartments_per_neuron=2048)])
    with pytest.raises(HardwareLimitError, match=r"layer 'many'.*more than 4 cores"):
        map_network([LayerSpec("many", 10, fan_in=2)], limits=TINY, mesh=TINY_MESH)
    with pytest.raises(ParameterError, match="method"):
        map_network([LayerSpec("x", 2, fan_in=2)], method="annealing")
    with pytest.raises(DataError, match="layer 'x'"):
        map_network([LayerSpec("x", 2, fan_in=2)], spikes_per_neuron=[np.ones(3)])


def test_layers_from_weights_and_ir():
    from conversion.ir import Dense, Graph, ReLU

    rng = np.random.default_rng(0)
    w0, w1 = rng.normal(size=(100, 64)), rng.normal(size=(10, 100))
    w1[:, 50:] = 0.0  # pruned synapses do not cost memory or axons
    graph = Graph.sequential(
        (64,), [Dense(w0, np.zeros(100), "fc0"), ReLU(), Dense(w1, np.zeros(10), "fc1"), ReLU()]
    )
    from_ir = map_network(layers_from_graph(graph))
    from_weights = map_network(layers_from_weights([w0, w1], names=["fc0", "fc1"]))
    from_shapes = map_network(layers_from_weights([(100, 64), (10, 100)]))
    assert from_ir.cores_used == from_weights.cores_used == 2
    assert from_ir.input_axons_per_core.tolist() == [64, 50]
    assert from_ir.intercore_spikes == 50.0  # only the 50 unpruned sources talk to core 1
    assert from_shapes.intercore_spikes == 100.0
