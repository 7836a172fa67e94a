"""Custom devices in Python: energy_report takes Device objects and dicts as well as names and files;
a per-operation energy outside a plausible physical range is a warning naming the field and the value."""

import warnings

import pytest


def _workload() -> dict:
    layer = {"name": "fc", "neurons": 10, "fan_in": 64, "fan_out": 0.0, "macs": 640, "synaptic_events": 300.0,
             "spikes": 12.0, "analog_input": False}
    return {"name": "snn-T8", "model": "snn", "kind": "snn", "timesteps": 8, "layers": [layer]}


def test_energy_report_takes_device_objects_and_dicts_like_a_file(tmp_path):
    from loihi_targets.devices import Device
    from loihi_targets.energy import energy_report
    from spiking_mcc.io import write_json

    fields = {"synop_j": 2e-12, "neuron_j": 5e-12, "spiking": True}
    write_json(tmp_path / "dev.json", {"my-asic": fields})
    from_file = energy_report([_workload()], devices=["my-asic"], device_file=tmp_path / "dev.json")
    from_object = energy_report([_workload()], devices=[Device("my-asic", **fields)])
    from_dict = energy_report([_workload()], devices=[{"name": "my-asic", **fields}, "loihi1"])
    expected = 300 * 2e-12 + 10 * 8 * 5e-12
    for report in (from_file, from_object, from_dict):
        row = next(r for r in report["rows"] if r["device"] == "my-asic")
        assert row["energy_j"] == pytest.approx(expected, rel=1e-12)
    assert [r["device"] for r in from_dict["rows"]] == ["my-asic", "loihi1"]
    override = energy_report([_workload()], devices=[{"name": "loihi1", "synop_j": 1e-12}])
    assert override["devices"]["loihi1"]["neuron_j"] == from_dict["devices"]["loihi1"]["neuron_j"]
    assert override["devices"]["loihi1"]["synop_j"] == 1e-12


def test_implausible_per_operation_energy_warns_naming_field_and_value(tmp_path):
    from loihi_targets.devices import Device
    from loihi_targets.energy import energy_report
    from spiking_mcc.errors import ParameterError
    from spiking_mcc.io import write_json

    with pytest.warns(UserWarning, match=r"'slip' field 'synop_j' = 2\.36e-05 J is outside"):
        energy_report([_workload()], devices=[{"name": "slip", "synop_j": 23.6e-6}])
    with pytest.warns(UserWarning, match=r"field 'neuron_j' = 5e-24 J"):
        energy_report([_workload()], devices=[Device("tiny", synop_j=1e-12, neuron_j=5e-24)])
    write_json(tmp_path / "dev.json", {"big": {"synop_j": 3.0}})
    with pytest.warns(UserWarning, match=r"dev\.json: device 'big' field 'synop_j' = 3 J"):
        energy_report([_workload()], devices=["big"], device_file=tmp_path / "dev.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the presets are all plausible
        energy_report([_workload()])
    with pytest.raises(ParameterError, match="'neg' field 'synop_j' must be a finite energy"):
        energy_report([_workload()], devices=[Device("neg", synop_j=-1e-12)])
