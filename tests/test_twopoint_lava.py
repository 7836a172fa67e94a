"""The converted MCC network in Lava (docs/twopoint_unit.md): the fixed_pt TwoPointUnit graph equals the
batched engine's fixed point spike for spike (every layer, both compartments, the readout), and bad input
is refused before any Lava child starts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conversion import mcc_engine, twopoint_spiking
from conversion.importers.mcc import two_stream_graph
from conversion.mcc_pipeline import load_av_data
from loihi_targets import runner
from loihi_targets.runner import run_lava_mcc
from spiking_mcc.errors import DataError, HardwareLimitError, ParameterError
from spiking_mcc.mcc.train import TrainConfig, train_model

T = 8
SAMPLES = 12


@pytest.fixture(scope="module")
def fixed_net():
    data = load_av_data("avdigits", 320, 0)
    from spiking_mcc.data.avdigits import load_avdigits

    network = train_model("mcc", "supervised", load_avdigits(0), 2, 0, config=TrainConfig(hidden=(12, 6)))
    network = network.network
    graph = two_stream_graph(network)
    snn = twopoint_spiking.calibrate(graph, data.calibration, "distribution", T)
    units = mcc_engine.unit_network(snn, T, "fixed", data.calibration)
    return units, {k: v[:SAMPLES] for k, v in data.test.items()}


def test_lava_fixed_pt_equals_the_engine_spike_for_spike(fixed_net):
    net, inputs = fixed_net
    engine = mcc_engine.run_units(net, inputs, [T])[0]
    lava = run_lava_mcc(net, inputs, T, timeout_s=180)
    assert set(lava.window_counts) == set(engine["counts"]) == {
        f"{s}{layer}_{kind}" for s in ("audio", "visual") for layer in (0, 1) for kind in ("q", "y")}
    for population, counts in engine["counts"].items():
        assert counts.sum() > 0, population  # every layer and both compartments are active
        np.testing.assert_array_equal(lava.window_counts[population], counts.sum(axis=1), population)
        np.testing.assert_array_equal(lava.neuron_counts[population], counts.sum(axis=0), population)
    np.testing.assert_array_equal(lava.output, engine["readout"])


def test_bad_input_is_refused_before_lava_starts(fixed_net, monkeypatch):
    net, inputs = fixed_net

    def no_child(*args, **kwargs):
        raise AssertionError("a Lava child was started for invalid input")

    monkeypatch.setattr(runner.subprocess, "Popen", no_child)
    with pytest.raises(ParameterError, match="timesteps must be an integer in"):
        run_lava_mcc(net, inputs, 0)
    unit = net.units[1]
    heavy = dataclasses.replace(unit, rf=dataclasses.replace(unit.rf, weight=unit.rf.weight * 4))
    with pytest.raises(HardwareLimitError, match=f"layer '{unit.name}': weight_mant"):
        run_lava_mcc(dataclasses.replace(net, units=(net.units[0], heavy, *net.units[2:])), inputs, T)
    loud = {**inputs, "audio": inputs["audio"] * 50.0}
    with pytest.raises(HardwareLimitError, match="input sample"):
        run_lava_mcc(net, loud, T)
    with pytest.raises(DataError, match="input 'audio'"):
        run_lava_mcc(net, {**inputs, "audio": inputs["audio"][:, :5]}, T)


def test_cli_loihi_runs_an_mcc_file_and_reports_both_compartments(tmp_path, cli):
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.io import read_json
    from spiking_mcc.mcc.network import save_network

    network = train_model("mcc", "supervised", load_avdigits(0), 2, 0, config=TrainConfig(hidden=(12, 6)))
    path = save_network(network.network, tmp_path / "mcc.npz")
    out = tmp_path / "loihi"
    assert cli(["loihi", str(path), "--data", "avdigits", "--samples", "10", "--timesteps", "8",
                "--mode", "fixed", "--out", str(out)]) == 0
    report = read_json(out / "loihi.json")
    assert report["model_kind"] == "mcc" and report["law"] == "gain"
    assert report["spike_counts_equal"] is True and report["output_equal"] is True
    for key in ("accuracy_rate", "accuracy_lava", "accuracy_engine"):
        assert 0.0 <= report[key] <= 1.0
    assert report["compartments"] == 2 * 2 * (12 + 6)  # two streams, two compartments per neuron
    layers = {row["name"]: row for row in report["workloads"][0]["layers"]}
    for stream in ("audio", "visual"):
        somatic, apical = layers[f"{stream}1"], layers[f"{stream}1_context"]
        assert somatic["synaptic_events"] > 0 and apical["synaptic_events"] > 0  # counted separately
        assert somatic["spikes"] == pytest.approx(np.mean(report["per_layer"][
            [r["layer"] for r in report["per_layer"]].index(f"{stream}1_y")]["spikes_per_sample_lava"]))
    assert report["cores_used"] >= 1 and report["intercore_spikes"] > 0
