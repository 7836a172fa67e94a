"""The one workload contract (spiking_mcc/workload.py, docs/energy.md "The workload contract"): every
producer writes the same JSON keys, events are counted on the receiving layer for the SNN and the MCC
transmissions workloads alike, and a workload read back is the workload written."""

from __future__ import annotations

import numpy as np
import pytest
from test_mcc_network import _hand_made

from conversion import engine
from conversion.ir import Dense, Graph, ReLU, SpikingNetwork
from conversion.pipeline import workloads as conversion_workloads
from spiking_mcc.errors import DataError
from spiking_mcc.mcc.activity import count_transmissions
from spiking_mcc.mcc.activity import workload as mcc_workload
from spiking_mcc.workload import EVENTS_COUNTED_AT, LayerWorkload, Workload

CONTRACT_KEYS = ["name", "neurons", "fan_in", "fan_out", "macs", "synaptic_events", "spikes", "analog_input"]


def _hand_made_mcc():
    """test_mcc_network's hand-made network: audio = visual = [1]; layer 0 R_audio = [1, -1, 2], R_visual =
    [1, 1, 1]; layer 1 all-ones weights."""
    return _hand_made("mcc")


def test_mcc_transmissions_are_counted_on_the_receiving_layer():
    assert EVENTS_COUNTED_AT == "receiving"
    net = _hand_made_mcc()
    one = np.ones((1, 1))
    record = mcc_workload(net, count_transmissions(net, one, one), "hand")
    events = {layer["name"]: layer["synaptic_events"] for layer in record["layers"]}
    # sent: feed-forward audio0 2 units x 2 = 4, visual0 3 x 2 = 6, audio1 / visual1 2 x 4 = 8 each;
    # context (2n per active unit + 2n per active summary): audio0 2x6 + 6 = 18, visual0 3x6 + 6 = 24,
    # audio1 = visual1 = 2x4 + 4 = 12. Each layer receives half the context of both streams of its layer
    # and the feed-forward of the layer below in its stream; the classifier the last layer's feed-forward.
    assert events == pytest.approx({"audio0": (18 + 24) / 2, "visual0": (18 + 24) / 2, "audio1": 4 + 12,
                                    "visual1": 6 + 12, "classifier": 8 + 8})
    assert sum(events.values()) == pytest.approx(26 + 66)  # all transmissions, each counted once
    spikes = {layer["name"]: layer["spikes"] for layer in record["layers"]}
    assert spikes == {"audio0": 2, "visual0": 3, "audio1": 2, "visual1": 2, "classifier": 0}  # own units


def test_snn_events_are_counted_on_the_receiving_layer_with_the_same_keys():
    graph = Graph.sequential((2,), [Dense([[1.0, 0.0], [1.0, 1.0]], [0, 0], "fc1"), ReLU(name="r1"),
                                    Dense([[1.0, 1.0]], [0], "fc2")])
    net = SpikingNetwork(graph, v_th={"r1": 1.0}, output_scale={"r1": 1.0})
    result = engine.simulate(net, np.array([[1.5, 0.0]]), [2])[0]
    ann, snn = conversion_workloads(net, [result])
    assert [list(layer) for layer in snn["layers"]] == [CONTRACT_KEYS, CONTRACT_KEYS]
    # current [1.5, 1.5], v_th 1 (spike where V > v_th): V 1.5 -> spike -> 0.5, then 2.0 -> spike: both
    # neurons spike at both steps (4 spikes), arriving at fc2 over 1 synapse each
    assert [layer["synaptic_events"] for layer in snn["layers"]] == [0.0, 4.0]
    assert [layer["spikes"] for layer in snn["layers"]] == [4.0, 0.0]


def test_a_workload_read_back_is_the_workload_written():
    net = _hand_made_mcc()
    one = np.ones((1, 1))
    record = mcc_workload(net, count_transmissions(net, one, one), "hand")
    assert Workload.from_dict(record).to_dict() == record
    assert list(record) == ["name", "model", "kind", "timesteps", "layers"]
    written = Workload("w", "snn", "snn", 4, (LayerWorkload("l", 2, 3, 1.5, 6.0, 2.0, 1.0, True, 2),),
                       mapping={"method": "measured", "cores_used": 1.0, "chips": 1.0,
                                "intercore_spikes": 0.0, "hops_ew": 0.0, "hops_ns": 0.0},
                       source="Lava fixed spike counts")
    assert Workload.from_dict(written.to_dict()) == written
    with pytest.raises(DataError, match="layer 'l' has 9 spikes per sample, more than its 2 neurons x 4"):
        Workload.from_dict({**written.to_dict(), "layers": [dict(written.layers[0].to_dict(), spikes=9)]})
