"""The converted MCC network in Brian2 (equation level, one NeuronGroup per population holding all samples)
agrees with the batched numpy engine (docs/architecture.md, docs/twopoint_unit.md)."""

from __future__ import annotations

import numpy as np
import pytest

from conversion import mcc_brian, mcc_engine, twopoint_spiking
from conversion.importers.mcc import two_stream_graph
from conversion.ir import Dense, Graph, ReLU, SpikingNetwork
from spiking_mcc.data.avdigits import load_avdigits
from spiking_mcc.errors import ModelError
from spiking_mcc.mcc.train import TrainConfig, train_model

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
        # same discrete equations and order: only float round-off at an exact tie could differ
        assert np.mean(brian.predictions[k] == result.predictions) >= 0.95
        assert abs(brian.accuracy(labels)[k] - result.accuracy(labels)) <= 1.0 / SAMPLES
        for population, counts in result.spikes.items():
            assert counts.sum() > 0, population
            assert abs(brian.spikes[k][population].sum() - counts.sum()) <= 0.001 * counts.sum()
        np.testing.assert_allclose(brian.readout[k], result.readout, atol=1e-6 * np.abs(result.readout).max())
    assert brian.n_synapses > SAMPLES * 16 * 16  # block-diagonal copies: one synapse set per sample


def test_brian2_table_lookup_is_the_units_gain_table():
    """The equation strings index the gain table exactly as conversion.twopoint_unit.table_index."""
    import brian2 as b2

    from conversion import twopoint_unit

    u_c = np.linspace(-5.0, 5.0, 101) * 7  # apical integrals after 8 steps (7 context steps)
    params = twopoint_unit.float_params(1.0, 1.0, 0.0, 0.5, 16)
    expected = params.gain[twopoint_unit.table_index(params, u_c, 8)]
    equations = "uC : volt\nk : 1\n" + "\n".join(
        line for line in mcc_brian.TWO_POINT_EQUATIONS.splitlines() if line.startswith(("C_bar", "G =")))
    lut_dt = 1.0 * b2.second
    group = b2.NeuronGroup(u_c.size, equations, namespace={
        "v_unit": b2.mV, "lut_step": twopoint_unit.LUT_STEP, "lut_half": twopoint_unit.LUT_SIZE // 2,
        "lut_last": twopoint_unit.LUT_SIZE - 1, "lut_dt": lut_dt,
        "gain_lut": b2.TimedArray(params.gain, dt=lut_dt)})
    b2.Network(group).run(0 * b2.ms)  # a group that never joins a run makes Brian2 warn
    group.uC, group.k = u_c * b2.mV, 8
    np.testing.assert_allclose(np.asarray(group.G[:]), expected, rtol=1e-12)


def test_brian2_rejects_graphs_outside_the_two_point_layout():
    graph = Graph.sequential((3,), [Dense(np.ones((2, 3)), np.zeros(2)), ReLU(), Dense(np.ones((2, 2)),
                                                                                        np.zeros(2))])
    net = SpikingNetwork(graph, {"relu": np.array(1.0)}, {"relu": np.array(1.0)})
    with pytest.raises(ModelError, match="layer 'dense'"):
        mcc_brian.simulate_brian2(net, {"input": np.ones((2, 3))}, [4])
