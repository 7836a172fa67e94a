"""`spiking-mcc energy RESULT.json...`: energy.json per workload x device with an INT8-ANN column, a bar
chart, clear errors naming the bad file."""

import json

import pytest


def write_result(path, workloads):
    path.write_text(json.dumps({"accuracy": 0.9, "workloads": workloads}))
    return path


def layer(name, neurons, fan_in, fan_out, spikes, analog):
    return {"name": name, "neurons": neurons, "fan_in": fan_in, "fan_out": fan_out,
            "macs": float(neurons * fan_in), "synaptic_events": spikes * fan_out, "spikes": spikes,
            "analog_input": analog}


@pytest.fixture
def results(tmp_path):
    ann = {"name": "digits-ann", "model": "ann", "kind": "ann", "timesteps": 1,
           "layers": [layer("h", 100, 64, 10, 0.0, True), layer("o", 10, 100, 0, 0.0, False)]}
    snn = {"name": "digits-snn", "model": "snn", "kind": "snn", "timesteps": 8,
           "layers": [layer("h", 100, 64, 10, 200.0, True), layer("o", 10, 100, 0, 16.0, False)]}
    mcc = {"name": "av-mcc", "model": "mcc", "kind": "transmissions", "timesteps": 1,
           "layers": [layer("tp", 50, 80, 10, 40.0, False)]}
    point = {"name": "av-point", "model": "point", "kind": "transmissions", "timesteps": 1,
             "layers": [layer("pt", 50, 80, 30, 40.0, False)]}  # 1200 transmissions
    return [write_result(tmp_path / "convert.json", [ann, snn]),
            write_result(tmp_path / "mcc.json", [mcc, point])]


def test_energy_cli_writes_report_and_figure(cli, results, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli(["energy", *map(str, results), "--devices", "cpu,loihi1,fpga-ultrascale", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "energy.json").read_text())
    assert (out / "energy.png").stat().st_size > 5000
    assert len(report["rows"]) == 4 * 3
    assert {w["model"] for w in report["workloads"]} == {"ann", "snn", "mcc", "point"}
    assert all(w["int8_ann_j"] > 0 for w in report["workloads"])
    assert report["workloads"][2]["source_file"].endswith("mcc.json")
    for r in report["rows"]:
        assert set(r["breakdown_j"]) == {"mac", "synaptic", "neuron", "noc"}
        assert r["energy_j"] == pytest.approx(sum(r["breakdown_j"].values()))
    # the MCC sends a third of the point model's transmissions: a third of the FPGA energy
    mcc, point = (next(r for r in report["rows"] if r["workload"] == w and r["device"] == "fpga-ultrascale")
                  for w in ("av-mcc", "av-point"))
    assert mcc["energy_j"] == pytest.approx(point["energy_j"] / 3)
    printed = capsys.readouterr().out
    assert "digits-snn" in printed and "note:" in printed  # this SNN loses to INT8: said plainly


def test_energy_cli_extra_device_file(cli, results, tmp_path):
    devices = tmp_path / "extra.json"
    devices.write_text(json.dumps({"my-chip": {"synop_j": 2e-12, "neuron_j": 1e-12, "source": "datasheet"}}))
    out = tmp_path / "out"
    assert cli(["energy", str(results[0]), "--devices", "my-chip", "--device-file", str(devices),
                "--out", str(out)]) == 0
    report = json.loads((out / "energy.json").read_text())
    assert report["devices"]["my-chip"]["source"] == "datasheet"
    assert {r["device"] for r in report["rows"]} == {"my-chip"}


def test_energy_cli_bad_files_name_the_file(cli, tmp_path, capsys):
    no_key = tmp_path / "train.json"
    no_key.write_text(json.dumps({"accuracy": 0.9}))
    assert cli(["energy", str(no_key), "--out", str(tmp_path / "o")]) == 2
    assert "train.json" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"workloads": [')
    assert cli(["energy", str(corrupt), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "corrupt.json" in err and "JSON" in err
    bad_layer = write_result(tmp_path / "bad.json", [{"name": "x", "kind": "snn", "timesteps": 4,
                                                      "layers": [{"name": "h", "neurons": -3}]}])
    assert cli(["energy", str(bad_layer), "--out", str(tmp_path / "o")]) == 2
    assert "bad.json" in capsys.readouterr().err
