"""Time, power and energy-delay product per inference (docs/energy.md, "Time and power"): Davies et al.
2018's times per operation on Loihi, Blouw et al. 2019's idle power, the TPU v1's MAC rate for the INT8
ANN, and "not given" where a source gives no time."""

from __future__ import annotations

import json

import pytest

from loihi_targets.devices import load_device_file
from loihi_targets.energy import energy_report
from spiking_mcc.errors import ParameterError

NS = 1e-9


def _workload(chips: int = 1, cores: int = 2) -> dict:
    layers = [{"name": "l1", "neurons": 10, "fan_in": 5, "fan_out": 5, "macs": 50.0, "synaptic_events": 0.0,
               "spikes": 4.0, "analog_input": True},
              {"name": "l2", "neurons": 5, "fan_in": 10, "fan_out": 0, "macs": 50.0, "synaptic_events": 20.0,
               "spikes": 2.0, "analog_input": False}]
    mapping = {"method": "measured", "cores_used": cores, "chips": chips, "intercore_spikes": 3,
               "hops_ew": 1, "hops_ns": 0}
    return {"name": "w", "model": "snn", "kind": "snn", "timesteps": 2, "layers": layers, "mapping": mapping}


def _row(report: dict, device: str) -> dict:
    return next(r for r in report["rows"] if r["device"] == device)


def test_loihi_time_is_the_per_core_share_of_the_operations_plus_a_barrier_per_step():
    report = energy_report([_workload()], devices=["loihi1"])
    row = _row(report, "loihi1")
    # (50 analog MACs + 20 events) x 3.5 ns + (30 - 6) inactive x 5.3 ns + 6 active x 8.4 ns, over 2 cores,
    # + 2 steps x 113 ns (2 cores: one tile)
    expected_s = ((50 + 20) * 3.5 + 24 * 5.3 + 6 * 8.4) * NS / 2 + 2 * 113 * NS
    assert row["time_s"] == pytest.approx(expected_s, rel=1e-12)
    assert row["static_w"] == pytest.approx(0.029)
    assert row["power_w"] == pytest.approx(row["energy_j"] / expected_s + 0.029, rel=1e-12)
    assert row["edp_js"] == pytest.approx((row["energy_j"] + 0.029 * expected_s) * expected_s, rel=1e-12)
    # the INT8 ANN: 100 MACs at the TPU v1's 92 TOPS = 46e12 MAC/s
    summary = report["workloads"][0]
    assert summary["int8_ann_s"] == pytest.approx(100 / 46e12, rel=1e-12)
    assert summary["int8_ann_w"] == pytest.approx(summary["int8_ann_j"] / summary["int8_ann_s"], rel=1e-12)


def test_more_than_a_tile_waits_for_the_chip_barrier_and_more_than_a_chip_has_no_time():
    five = _row(energy_report([_workload(cores=5)], devices=["loihi1"]), "loihi1")
    assert five["time_s"] == pytest.approx(((50 + 20) * 3.5 + 24 * 5.3 + 6 * 8.4) * NS / 5 + 2 * 465 * NS)
    two_chips = _row(energy_report([_workload(chips=2)], devices=["loihi1"]), "loihi1")
    assert two_chips["time_s"] is None and two_chips["power_w"] is None and two_chips["edp_js"] is None
    assert two_chips["energy_j"] > 0


def test_devices_without_a_sourced_time_say_so_and_energies_are_unchanged(tmp_path):
    report = energy_report([_workload()], devices=["spinnaker", "cmos45-fp32", "fpga-ultrascale"])
    assert all(r["time_s"] is None and r["power_w"] is None for r in report["rows"])
    # a user device with its own times gets them; a negative time is refused
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"mine": {"synop_j": 1e-12, "synop_s": 1e-9, "neuron_s": 1e-9,
                                         "sync_tile_s": 0.0, "sync_chip_s": 0.0}}))
    mine = _row(energy_report([_workload()], devices=["mine"], device_file=path), "mine")
    assert mine["time_s"] == pytest.approx((70 + 30) * 1e-9 / 2)
    assert mine["static_w"] is None and mine["power_w"] == pytest.approx(mine["energy_j"] / mine["time_s"])
    path.write_text(json.dumps({"mine": {"synop_j": 1e-12, "synop_s": -1.0}}))
    with pytest.raises(ParameterError, match="'synop_s' must be a finite number >= 0 s"):
        load_device_file(path)
