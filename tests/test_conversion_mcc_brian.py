"""The converted MCC network in Brian2 (equation level, one NeuronGroup per population holding all samples)
agrees with the batched numpy engine (SPEC.md sections 3 and 8)."""

from __future__ import annotations

import numpy as np
import pytest

from conversion import mcc_brian, mcc_engine, twopoint_spiking
from conversion.importers.mcc import two_stream_graph
from conversion.ir import Dense, Graph, ReLU, SpikingNetwork
from spiking_mcc.data.avdigits import load_avdigits
from spiking_mcc.errors import ModelError
from spiking_mcc.mcc.train import TrainConfig, train_model
from spiking_mcc.twopoint.transfer import transfer

SAMPLES = 24


@pytest.fixture(scope="module")
def setup():
    data = load_avdigits(0)
    network = train_model("mcc", "supervised", data, 3, 0, config=TrainConfig(hidden=(16, 8))).network
    graph = two_stream_graph(network)
    net = twopoint_spiking.calibrate(graph, {"audio": data.audio_train, "visual": data.visual_train},
                                     "distribution", 16)
    inputs = {"audio": data.audio_test[:SAMPLES], "visual": data.visual_test[:SAMPLES]}
    return net, inputs, data.y_test[:SAMPLES]


def test_brian2_and_numpy_engine_agree(setup):
    net, inputs, labels = setup
    engine_results = mcc_engine.simulate(net, inputs, [4, 16])
    brian = mcc_brian.simulate_brian2(net, inputs, [4, 16])
    for k, result in enumerate(engine_results):
        # same discrete equations and order: predictions agree, spike counts within 1% (float round-off)
        assert np.mean(brian.predictions[k] == result.predictions) >= 0.95
        assert abs(brian.accuracy(labels)[k] - result.accuracy(labels)) <= 1.0 / SAMPLES
        for population, counts in result.spikes.items():
            assert counts.sum() > 0, population
            assert abs(brian.spikes[k][population].sum() - counts.sum()) <= 0.01 * counts.sum()
        np.testing.assert_allclose(brian.readout[k], result.readout, atol=1e-6 * np.abs(result.readout).max())
    assert brian.n_synapses > SAMPLES * 16 * 16  # block-diagonal copies: one synapse set per sample


@pytest.mark.parametrize("law", sorted(mcc_brian.LAW_EXPRESSIONS))
def test_brian2_law_expressions_match_the_rate_laws(law):
    import brian2 as b2

    r, c = np.meshgrid(np.linspace(-2, 2, 9), np.linspace(-2, 2, 9))
    group = b2.NeuronGroup(r.size, f"R_bar : 1\nC_bar : 1\nA = {mcc_brian.LAW_EXPRESSIONS[law]} : 1",
                           namespace=dict(mcc_brian.LAW_CONSTANTS))
    b2.Network(group).run(0 * b2.ms)  # a group that never joins a run makes Brian2 warn
    group.R_bar, group.C_bar = r.ravel(), c.ravel()
    np.testing.assert_allclose(np.asarray(group.A[:]), transfer(law, r, c).ravel(), rtol=1e-12, atol=1e-12)


def test_brian2_rejects_graphs_outside_the_two_point_layout():
    graph = Graph.sequential((3,), [Dense(np.ones((2, 3)), np.zeros(2)), ReLU(), Dense(np.ones((2, 2)),
                                                                                        np.zeros(2))])
    net = SpikingNetwork(graph, {"relu": np.array(1.0)}, {"relu": np.array(1.0)})
    with pytest.raises(ModelError, match="layer 'dense'"):
        mcc_brian.simulate_brian2(net, {"input": np.ones((2, 3))}, [4])
