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


def test_train_mcc_with_context_on_sent_spikes(cli, tmp_path):
    argv = ["train", "--model", "mcc", "--law", "coop_published", "--context", "sent", "--context-k", "4",
            "--epochs", "2", "--out", str(tmp_path)]
    assert cli(argv) == 0
    report = json.loads((tmp_path / "train_mcc.json").read_text())
    assert (report["law"], report["context_source"], report["context_k"]) == ("coop_published", "sent", 4)
    assert report["test_accuracy"] > 0.8
    assert report["all_events_per_sample"] > report["feedforward_events_per_sample"] > 0
    net = load_network(tmp_path / "mcc.npz")
    assert (net.context_source, net.context_k) == ("sent", 4)


@pytest.mark.parametrize("argv", [["train", "--epochs", "0"], ["train", "--context-k", "-1"],
                                  ["train", "--theta", "-1"],
                                  ["train", "--audio-snr-db", "nan"]])
def test_train_bad_parameters_exit_2(cli, tmp_path, capsys, argv):
    assert cli([*argv, "--out", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_compare_quick_writes_the_output_contract(cli, tmp_path):
    assert cli(["compare", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "compare.json").read_text())
    for name in ("accuracy_vs_transmissions.png", "learning_speed.png", "resilience.png", "noise.png",
                 "training_accounting.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert len(report["seeds"]) >= 3 and report["law"] == "gain" and report["context_source"] == "sent"
    counts = ("active_neurons_per_sample", "feedforward_events_per_sample", "all_events_per_sample")
    for setup in ("supervised", "semi"):
        for model in ("mcc", "point"):
            acc = report["accounting"][setup][model]
            assert all(acc[k] > 0 for k in counts)
            assert acc["all_events_per_sample"] >= acc["feedforward_events_per_sample"]
            curve = report["training_curve"][setup][model]
            assert [c["epoch"] for c in curve] == list(range(1, report["epochs"] + 1))
            for a in ("active_neurons", "feedforward_events", "all_events"):
                cumulative = [c[f"cumulative_{a}"] for c in curve]
                assert all(b > a_ for a_, b in zip(cumulative, cumulative[1:]))  # sums of positive counts
            assert 0 <= curve[-1]["test_accuracy"] <= 1
    # the point control has no context: all its events are feed-forward events
    point = report["accounting"]["supervised"]["point"]
    assert point["all_events_per_sample"] == pytest.approx(point["feedforward_events_per_sample"])
    assert point["context_synapses"] == 0
    assert report["accounting"]["supervised"]["mcc"]["context_synapses"] > 0
    # context on spikes already sent costs no extra active neurons over the point network's kind of count
    assert report["accounting"]["supervised"]["mcc_broadcast"]["all_events_per_sample"] > \
        report["accounting"]["supervised"]["mcc"]["all_events_per_sample"]
    assert report["accounting"]["supervised"]["mcc_local"]["context_synapses"] < \
        report["accounting"]["supervised"]["mcc"]["context_synapses"]
    best = report["best_case_ratios"]
    assert best and all(set(b) >= {"accounting", "ratio", "epoch", "setup"} for b in best)
    assert all(b["ratio"] > 0 and 1 <= b["epoch"] <= report["epochs"] for b in best)
    claims = report["claims"]
    assert len(claims) >= 4 and {c["reproduced"] for c in claims} <= {"yes", "partly", "no"}
    assert all(set(c) >= {"claim", "paper_value", "measured_value", "reproduced"} for c in claims)
    text = " ".join(c["claim"] for c in claims)
    for phrase in ("62 %", "1250x", "fast learning", "resilience"):
        assert phrase in text
    task = report["noisy_task"]
    assert set(task["unimodal_accuracy"]) == {"audio_only", "visual_only"}
    assert {"dnn", "point", "mcc"} <= set(task["accuracy"])
    assert report["incongruent"]["mcc"]["incongruent"]["predicts_audio_label"] >= 0
    assert report["damage"]["test_time"]["mcc"][-1]["drop"] > 0
