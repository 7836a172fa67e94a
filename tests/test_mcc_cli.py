"""`spiking-mcc train` and `spiking-mcc compare --quick`: files written, contract keys, exit code 2."""

import json

import pytest

from spiking_mcc.mcc.network import load_network


def test_train_writes_model_and_report(cli, tmp_path):
    argv = ["train", "--model", "point", "--setup", "supervised", "--epochs", "2", "--out", str(tmp_path)]
    assert cli(argv) == 0
    report = json.loads((tmp_path / "train_point.json").read_text())
    assert report["test_accuracy"] > 0.8
    assert report["energy_uj_per_sample"] == pytest.approx(report["transmissions_per_sample"] * 8e-5)
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    last = report["history"][-1]
    assert last["transmissions_per_sample"] == pytest.approx(report["transmissions_per_sample"])
    (workload,) = report["workloads"]
    assert workload["kind"] == "transmissions" and workload["model"] == "point"
    events = sum(layer["synaptic_events"] for layer in workload["layers"])
    assert events == pytest.approx(report["transmissions_per_sample"])
    net = load_network(tmp_path / "point.npz")
    assert net.model == "point" and net.n_visual == 64


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["train", "--theta", "-1"],
                                  ["train", "--audio-snr-db", "nan"]])
def test_train_bad_parameters_exit_2(cli, tmp_path, capsys, argv):
    assert cli([*argv, "--out", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_compare_quick(cli, tmp_path):
    assert cli(["compare", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "compare.json").read_text())
    for name in ("accuracy_vs_transmissions.png", "learning_speed.png", "resilience.png"):
        assert (tmp_path / name).stat().st_size > 1000
    # a noise curve needs two SNR levels; quick mode has one, so no single-point noise.png
    levels = {r["audio_snr_db"] for r in report["noise"]}
    assert len(levels) == 1 and not (tmp_path / "noise.png").exists()
    runs = {(r["setup"], r["model"]): r for r in report["runs"]}
    assert set(runs) == {(s, m) for s in ("supervised", "semi") for m in ("mcc", "point")}
    assert runs[("supervised", "point")]["test_accuracy"] > 0.9
    for setup in ("supervised", "semi"):
        for model in ("mcc", "point"):
            curve = report["curves"][setup][model]
            assert curve[0]["theta"] == 0.0
            # raising the threshold can only remove transmissions
            costs = [p["transmissions_per_sample"] for p in curve]
            assert all(b <= a for a, b in zip(costs, costs[1:]))
        assert {r["target_accuracy"] for r in report["equal_accuracy"][setup]} == {0.8, 0.9, 0.95}
    assert len(report["learning_speed"]["supervised"]["mcc"]) == report["epochs"]
    per_epoch = report["per_epoch_ratio_point_over_mcc"]["supervised"]["per_feedforward"]
    assert len(per_epoch["by_epoch"]) == report["epochs"] and per_epoch["max"] == max(per_epoch["by_epoch"])
    assert {w["model"] for w in report["workloads"]} == {"mcc", "point"}
    assert report["damage"]["test_time"]["mcc"][-1]["drop"] > 0
