"""NeuroBench's metrics (conversion/neurobench.py, docs/energy.md "NeuroBench metrics") against values
counted by hand on two tiny networks, and beside the project's own counts where the definitions differ."""

from __future__ import annotations

import numpy as np
import pytest

from conversion import engine, neurobench
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError


def _net(graph: Graph, readout: str = "membrane") -> SpikingNetwork:
    pops = graph.populations()
    return SpikingNetwork(graph, v_th={p: 1.0 for p in pops}, output_scale={p: 1.0 for p in pops},
                          init_membrane_fraction=0.0, readout=readout)


def test_mlp_with_zero_weights_and_zero_inputs_counts_as_by_hand():
    # fc1 = [[1, 0, 2], [0, 3, 0]] (3 zeros of 6), fc2 = [[1, 1], [0, 2]] (1 zero of 4), no bias, v_th 1.
    graph = Graph.sequential((3,), [Dense([[1, 0, 2], [0, 3, 0]], [0, 0], "fc1"), ReLU(name="r1"),
                                    Dense([[1, 1], [0, 2]], [0, 0], "fc2")])
    x = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    result = engine.simulate(_net(graph), x, [3], neurobench=True)[0]
    m = neurobench.metrics(_net(graph), x, result)
    # sample 1: current [2, 0]: neuron 0 spikes every step (3), neuron 1 never moves.
    #   fc1 (analog, MAC) per step: x0 (1 synapse) + x2 (1) = 2 -> 6; fc2 (AC): spike of n0 x 1 synapse -> 3
    # sample 2: current [0, 3]: neuron 1 spikes every step (3). fc1: x1 (1) -> 3; fc2: n1 x 2 synapses -> 6
    assert m["Effective_MACs"] == pytest.approx((6 + 3) / 2)
    assert m["Effective_ACs"] == pytest.approx((3 + 6) / 2)
    assert m["Dense"] == pytest.approx((6 + 4) * 3)  # every synapse at every step, zeros included
    # neuron layers: r1 only (a membrane readout is no neuron layer): 3 spikes of 2 x 3 outputs
    assert m["neuron_layers"] == ["r1"]
    assert m["ActivationSparsity"] == pytest.approx(0.5)
    # step 1: both neurons; steps 2, 3: only the driven neuron's membrane changes -> 2 + 1 + 1
    assert m["MembraneUpdates"] == pytest.approx(4)
    assert m["ConnectionSparsity"] == pytest.approx(4 / 10)
    assert m["Footprint"] == 4 * (6 + 2 + 4 + 2)
    # the project's own counts: events = ACs here; the analog layer's MACs once (its 3 non-zero weights)
    assert result.synaptic_events_per_sample == pytest.approx(m["Effective_ACs"])
    assert result.analog_macs == {"fc1": 3.0}


def test_counts_readout_makes_the_output_a_neuron_layer():
    graph = Graph.sequential((1,), [Dense([[2.0]], [0], "fc1"), ReLU(name="r1"), Dense([[1.0]], [0], "out")])
    net = _net(graph, readout="counts")
    x = np.array([[1.0]])
    m = neurobench.metrics(net, x, engine.simulate(net, x, [2], neurobench=True)[0])
    # r1: current 2, v_th 1 -> spikes at both steps; out: current 1 per spike, v_th 1, spike where V > v_th
    # (docs/conversion.md): V = 1 at step 1 (no spike), 2 at step 2 (spike) -> 1 zero output of 4
    assert m["neuron_layers"] == ["r1", "out"]
    assert m["ActivationSparsity"] == pytest.approx(0.25)
    # r1: v 0 -> 1 -> 2 (subtract reset leaves 1, 2): changes both steps; out: every neuron at step 1, then
    # 1 -> 2 - 1 = 1 unchanged
    assert m["MembraneUpdates"] == pytest.approx(2 + 1)


def test_conv_and_average_pooling_count_as_by_hand():
    # input 1x2x2 [[1, 0], [0, 0.5]]; conv 2x2 taps [[1, 0], [0, 1]], padding 1 -> 1x3x3;
    # avgpool 3x3 -> 1x1x1; flatten; dense [[2], [0]].
    graph = Graph.sequential((1, 2, 2), [Conv2d([[[[1, 0], [0, 1]]]], [0], padding=1, name="conv"),
                                         ReLU(name="r1"), AvgPool2d(3, name="pool"), Flatten(name="flat"),
                                         Dense([[2.0], [0.0]], [0, 0], "fc")])
    x = np.array([[1.0, 0.0, 0.0, 0.5]])
    net = _net(graph)
    result = engine.simulate(net, x, [3], neurobench=True)[0]
    m = neurobench.metrics(net, x, result)
    # conv: each input position meets each of the 2 non-zero taps once; non-zero inputs 1 and 0.5 -> 4 per
    # step (analog, MAC) -> 12. Currents y = x[i-1, j-1] + x[i, j]: 1 at (0,0), 1.5 at (1,1), 0.5 at (2,2).
    # Spikes where V > v_th = 1 (docs/conversion.md): (0,0) at steps 2 and 3 (V = 1 at step 1 waits),
    # (1,1) every step, (2,2) at step 3 (V = 0.5, 1.0, 1.5) -> 6 of 27; the pooled value is non-zero at
    # every step, fractional (1/9, 2/9, 3/9): the dense layer counts 1 MAC per step -> 3.
    assert m["layers"]["conv"] == {"operations": 12.0, "kind": "MAC", "dense": 3 * 16}
    assert m["layers"]["fc"] == {"operations": 3.0, "kind": "MAC", "dense": 3 * 2}
    assert m["Effective_MACs"] == pytest.approx(15)
    assert m["Effective_ACs"] == 0
    # Dense without padding: per axis 1 + 2 + 1 = 4 valid (output, tap) pairs -> 16 (36 with padding)
    assert m["Dense"] == pytest.approx(3 * (16 + 2))
    assert m["ActivationSparsity"] == pytest.approx(1 - 6 / 27)
    # step 1: all 9; then (1,1) and (2,2) change at steps 2 and 3; (0,0) goes 1 -> 2 - 1 = 1: unchanged
    # -> 9 + 2 + 2
    assert m["MembraneUpdates"] == pytest.approx(13)
    assert m["ConnectionSparsity"] == pytest.approx(3 / 6)
    assert m["Footprint"] == 4 * (4 + 1 + 2 + 2)
    # the project counts each spike x its synapses through the pool (6 x 1), NeuroBench the pooled value (3)
    assert result.synaptic_events_per_sample == pytest.approx(6)


def test_binary_input_samples_make_the_first_layer_an_ac():
    layers = [Dense([[1.0, 1.0]], [0], "fc1"), ReLU(name="r1"), Dense([[1.0]], [0], "o")]
    graph = Graph.sequential((2,), layers)
    assert neurobench.binary_input(graph, "fc1", np.array([[1.0, 0.0]]), "analog")
    assert not neurobench.binary_input(graph, "fc1", np.array([[0.5, 0.0]]), "analog")
    assert neurobench.binary_input(graph, "o", np.array([[0.5, 0.0]]), "analog")


def test_lava_spike_counts_give_the_same_metrics_but_no_membrane_updates():
    graph = Graph.sequential((3,), [Dense([[1, 0, 2], [0, 3, 0]], [0, 0], "fc1"), ReLU(name="r1"),
                                    Dense([[1, 1], [0, 2]], [0, 0], "fc2")])
    x = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])
    # per-neuron spike totals over both samples, as Lava returns them: n0 3 (sample 1), n1 3 (sample 2)
    m = neurobench.from_lava_counts(_net(graph), x, 3, [np.array([3.0, 3.0])])
    figures = (m["Effective_MACs"], m["Effective_ACs"], m["ActivationSparsity"])
    assert figures == pytest.approx((4.5, 4.5, 0.5))
    assert m["MembraneUpdates"] is None


def test_digits_mlp_reproduces_the_neurobench_measurement_of_effective_macs():
    # NeuroBench 2.3.0 on the digits MLP (64-128-10, no zero weight) rebuilt in snnTorch, seed-0 test split
    # (docs/energy.md): Effective_MACs 16,733 at T = 4 and 33,467 at T = 8; the project computes the
    # constant analog layer once: 64 x 128 = 8,192 MACs.
    from conversion.pipeline import load_evaluation_data
    from conversion.reference_models import mlp

    data = load_evaluation_data("digits", 0)
    net = _net(mlp(seed=0))
    results = engine.simulate(net, data.x_test, [4, 8], neurobench=True)
    found = [neurobench.metrics(net, data.x_test, r)["Effective_MACs"] for r in results]
    assert [round(v) for v in found] == [16733, 33467]
    assert sum(results[0].analog_macs.values()) == 8192.0


def test_a_run_without_the_per_step_counts_is_refused_not_guessed():
    graph = Graph.sequential((1,), [Dense([[2.0]], [0], "fc1"), ReLU(name="r1"), Dense([[1.0]], [0], "out")])
    x = np.array([[1.0]])
    with pytest.raises(ModelError, match="layer 'fc1': .* neurobench=True"):
        neurobench.metrics(_net(graph), x, engine.simulate(_net(graph), x, [2])[0])
