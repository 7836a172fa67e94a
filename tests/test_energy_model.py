"""Energy model (docs/energy.md): presets with sources, E_ANN / E_SNN, INT8-ANN column, device files."""

import json

import pytest

from loihi_targets.devices import PRESETS, load_device_file
from loihi_targets.energy import energy_report, validate_workload, workload_mapping
from spiking_mcc.errors import DataError, ParameterError


def dense_ann(n_in=784, n_out=128, name="keras-dense"):
    return {"name": name, "model": "ann", "kind": "ann", "timesteps": 1,
            "layers": [{"name": "dense", "neurons": n_out, "fan_in": n_in, "fan_out": 0,
                        "macs": float(n_in * n_out), "synaptic_events": 0.0, "spikes": 0.0,
                        "analog_input": True}]}


def mlp_snn(spikes_hidden=150.0, timesteps=8, name="mlp-snn"):
    """64-100-10 SNN: the hidden layer takes analog input; its spikes fan out to 10 outputs."""
    return {"name": name, "model": "snn", "kind": "snn", "timesteps": timesteps,
            "layers": [
                {"name": "h", "neurons": 100, "fan_in": 64, "fan_out": 10, "macs": 6400.0,
                 "synaptic_events": spikes_hidden * 10, "spikes": spikes_hidden, "analog_input": True},
                {"name": "o", "neurons": 10, "fan_in": 100, "fan_out": 0, "macs": 1000.0,
                 "synaptic_events": 0.0, "spikes": 20.0, "analog_input": False}]}


def row(report, workload, device):
    (match,) = [r for r in report["rows"] if r["workload"] == workload and r["device"] == device]
    return match


def test_keras_spiking_dense_784_128_on_cpu():
    # keras-spiking ModelEnergy docstring: Dense(784->128, relu) on "cpu" = 8.64e-04 J per inference,
    # computed as 8.6e-9 J x (100,352 connections + 128 neuron updates)
    report = energy_report([dense_ann()], devices=["cpu"])
    energy = row(report, "keras-dense", "cpu")["energy_j"]
    assert energy == pytest.approx(8.64e-4, rel=0.01)
    assert energy == pytest.approx(8.6e-9 * (784 * 128 + 128), rel=1e-12)


def test_presets_match_their_sources():
    expected = {  # name: (synop, mac, neuron) in J, docs/energy.md
        "cmos45-fp32": (0.9e-12, 4.6e-12, 0.0), "cmos45-int8": (0.03e-12, 0.23e-12, 0.0),
        "loihi1": (23.6e-12, 23.6e-12, 52e-12), "fpga-ultrascale": (80e-12, 80e-12, 0.0),
        "spinnaker": (13.3e-9, 13.3e-9, 26e-9), "spinnaker2": (450e-12, 450e-12, 2.19e-9),
        "cpu": (8.6e-9, 8.6e-9, 8.6e-9), "gpu": (0.3e-9, 0.3e-9, 0.3e-9), "arm": (0.9e-9, 0.9e-9, 0.9e-9)}
    assert set(PRESETS) == set(expected)
    for name, (synop, mac, neuron) in expected.items():
        device = PRESETS[name]
        assert device.synop_j == pytest.approx(synop, rel=1e-9)
        assert device.energy_per_mac_j == pytest.approx(mac, rel=1e-9)
        assert device.neuron_j == pytest.approx(neuron, rel=1e-9)
        assert len(device.source) > 20
    loihi = PRESETS["loihi1"]
    assert (loihi.active_neuron_j, loihi.noc_tile_j, loihi.hop_ew_j, loihi.hop_ns_j) == pytest.approx(
        (81e-12, 1.7e-12, 3.0e-12, 4.0e-12))
    assert "Davies" in loihi.source and "Horowitz" in PRESETS["cmos45-int8"].source
    assert "Adeel" in PRESETS["fpga-ultrascale"].source and "keras-spiking" in PRESETS["cpu"].source


def test_snn_breakdown_on_loihi_follows_the_formula():
    workload = mlp_snn()
    report = energy_report([workload], devices=["loihi1"])
    r = row(report, "mlp-snn", "loihi1")
    parts = r["breakdown_j"]
    assert parts["mac"] == pytest.approx(6400 * 23.6e-12)  # analog-input layer only; no MAC figure -> e_syn
    assert parts["synaptic"] == pytest.approx(1500 * 23.6e-12)
    updates, active = 110 * 8, 150 + 20
    assert parts["neuron"] == pytest.approx((updates - active) * 52e-12 + active * 81e-12)
    noc = report["workloads"][0]["mapping"]
    assert noc["cores_used"] == 2  # greedy: one core per layer
    assert noc["intercore_spikes"] == pytest.approx(150.0)  # every hidden spike: one message to core 1
    assert parts["noc"] == pytest.approx(150 * 1.7e-12 + noc["hops_ew"] * 3e-12 + noc["hops_ns"] * 4e-12)
    assert noc["hops_ew"] + noc["hops_ns"] == pytest.approx(150.0)  # neighbouring cores: one hop
    assert r["energy_j"] == pytest.approx(sum(parts.values()))


def test_a_measured_mapping_of_the_real_graph_gives_the_noc_terms():
    """A workload carrying the mapping of its real graph (loihi.json: MCC context traffic included)
    is costed with that mapping, not with the chain approximation."""
    measured = {"method": "greedy", "cores_used": 5, "chips": 1, "intercore_spikes": 900.0, "hops_ew": 700.0,
                "hops_ns": 300.0}
    report = energy_report([{**mlp_snn(), "mapping": measured}], devices=["loihi1"])
    assert report["workloads"][0]["mapping"] == measured
    noc = row(report, "mlp-snn", "loihi1")["breakdown_j"]["noc"]
    assert noc == pytest.approx(900 * 1.7e-12 + 700 * 3e-12 + 300 * 4e-12)
    with pytest.raises(DataError, match="'mapping' must be an object"):
        validate_workload({**mlp_snn(), "mapping": {"cores_used": 5}})


def test_synaptic_energy_scales_with_measured_events():
    low = energy_report([mlp_snn(spikes_hidden=50)], devices=["spinnaker2"])
    high = energy_report([mlp_snn(spikes_hidden=500)], devices=["spinnaker2"])
    ratio = (row(high, "mlp-snn", "spinnaker2")["breakdown_j"]["synaptic"]
             / row(low, "mlp-snn", "spinnaker2")["breakdown_j"]["synaptic"])
    assert ratio == pytest.approx(10.0)


def test_int8_ann_column_always_present_and_honest_note():
    """800 spikes = every one of the 100 hidden neurons at every one of the 8 steps (the most possible)."""
    report = energy_report([mlp_snn(spikes_hidden=800), dense_ann(64, 100, "ann")], devices=["loihi1"])
    assert "cmos45-int8" in report["devices"]  # reference kept even though not asked for
    for r in report["rows"]:
        assert r["int8_ann_j"] == pytest.approx((6400 + 1000) * 0.23e-12 if r["workload"] == "mlp-snn"
                                                else 6400 * 0.23e-12)
    snn = row(report, "mlp-snn", "loihi1")
    assert not snn["beats_int8_ann"] and snn["ratio_to_int8_ann"] > 1
    assert any("mlp-snn" in note and "loihi1" in note and "INT8 ANN" in note for note in report["notes"])


def test_sparse_snn_on_cheap_accumulates_beats_int8_ann_without_a_note():
    sparse_run = mlp_snn(spikes_hidden=1.0)
    sparse_run["layers"][0]["analog_input"] = False  # spike-encoded input: no MACs at all
    report = energy_report([sparse_run], devices=["cmos45-int8"])
    assert row(report, "mlp-snn", "cmos45-int8")["beats_int8_ann"]
    assert report["notes"] == []


def test_non_spiking_devices_run_spiking_workloads_as_ann():
    # keras-spiking: on cpu/gpu/arm (spiking=False) the network runs as an ANN, independent of spikes
    report = energy_report([mlp_snn(spikes_hidden=10), mlp_snn(spikes_hidden=800, name="busy")],
                           devices=["gpu", "cmos45-fp32"])
    ann_on_gpu = 0.3e-9 * (6400 + 1000 + 110)
    for name in ("mlp-snn", "busy"):
        assert row(report, name, "gpu")["energy_j"] == pytest.approx(ann_on_gpu)
        assert not row(report, name, "gpu")["event_based"]
    # the 45 nm presets are the event-driven accumulate model: spikes matter there
    quiet, busy = row(report, "mlp-snn", "cmos45-fp32"), row(report, "busy", "cmos45-fp32")
    assert quiet["event_based"] and busy["breakdown_j"]["synaptic"] == pytest.approx(8000 * 0.9e-12)
    assert quiet["energy_j"] < busy["energy_j"]
    assert any("gpu" in note and "as an ANN" in note for note in report["notes"])


def test_mcc_transmissions_on_fpga():
    workload = {"name": "mcc", "model": "mcc", "kind": "transmissions", "timesteps": 1,
                "layers": [{"name": "tp", "neurons": 20, "fan_in": 60, "fan_out": 10, "macs": 1200.0,
                            "synaptic_events": 300.0, "spikes": 0.0, "analog_input": False}]}
    report = energy_report([workload], devices=["fpga-ultrascale"])
    assert row(report, "mcc", "fpga-ultrascale")["energy_j"] == pytest.approx(300 * 8e-5 * 1e-6)


def test_device_file_overrides_and_extends(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"loihi1": {"synop_j": 27.1e-12, "source": "keras-spiking 'loihi'"},
                                "my-asic": {"synop_j": 1e-13, "mac_j": 5e-13, "neuron_j": 1e-12}}))
    devices = load_device_file(path)
    assert devices["loihi1"].synop_j == 27.1e-12 and devices["loihi1"].neuron_j == 52e-12  # partial override
    report = energy_report([dense_ann(64, 100, "ann")], devices=["my-asic", "loihi1"], device_file=path)
    assert row(report, "ann", "my-asic")["energy_j"] == pytest.approx(6400 * 5e-13 + 100 * 1e-12)
    assert row(report, "ann", "loihi1")["energy_j"] == pytest.approx(6400 * 27.1e-12 + 100 * 52e-12)


@pytest.mark.parametrize("content, message", [
    ({"cpu": {"energy_per_synop": 1e-9}}, "unknown field"),
    ({"cpu": {"synop_j": -1e-9}}, ">= 0"),
    ({"cpu": {"synop_j": "cheap"}}, "synop_j"),
    ({"new": {"neuron_j": 1e-9}}, "needs 'synop_j'"),
    ({"cpu": {"spiking": "yes"}}, "spiking"),
])
def test_device_file_validation(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ParameterError, match=message):
        load_device_file(path)


def test_device_file_missing_or_corrupt(tmp_path):
    with pytest.raises(DataError, match="nothere.json"):
        load_device_file(tmp_path / "nothere.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json"):
        load_device_file(broken)


def test_bad_workloads_and_devices():
    with pytest.raises(DataError, match="kind"):
        validate_workload({**dense_ann(), "kind": "quantum"})
    bad = dense_ann()
    del bad["layers"][0]["macs"]
    with pytest.raises(DataError, match="'dense' misses 'macs'"):
        validate_workload(bad)
    with pytest.raises(ParameterError, match="nosuch"):
        energy_report([dense_ann()], devices=["nosuch"])


def test_network_too_big_for_loihi_omits_noc_with_a_note():
    wide = mlp_snn()
    wide["layers"][0]["fan_in"] = 5000  # more than 4,096 input axons per core
    report = energy_report([wide], devices=["loihi1"])
    assert "error" in workload_mapping(validate_workload(wide))
    assert row(report, "mlp-snn", "loihi1")["breakdown_j"]["noc"] == 0.0
    assert any("does not fit" in note and "4096" in note for note in report["notes"])
