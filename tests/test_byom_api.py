"""Bring your own model and data: arrays used as named (a split the tool makes is recorded), one set of
conversion defaults for the CLI and the Python API, results in memory without an out_dir."""

import argparse
import inspect

import numpy as np

from conversion import defaults, thresholds
from conversion.importers.npz import write_npz_model
from conversion.ir import Dense, Graph, ReLU
from spiking_mcc.io import save_npz

RNG = np.random.default_rng(3)


def _separable(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Two-class data a fixed Dense-ReLU-Dense network separates most of the time (not always)."""
    x = rng.random((n, 6))
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0.5).astype(np.int64)
    return x, y


def _graph() -> Graph:
    w1 = np.zeros((4, 6))
    w1[0, 0], w1[1, 0] = 4.0, -4.0
    return Graph.sequential((6,), [Dense(w1, np.array([0.0, 2.0, 0.1, 0.1]), "fc1"), ReLU(name="r1"),
                                   Dense(np.array([[0.0, 1.0, 0, 0], [1.0, 0.0, 0, 0]]), np.zeros(2), "fc2")])


def test_npz_with_calibration_and_no_test_array_is_tested_whole(tmp_path, cli, capsys):
    from conversion import ops
    from conversion.pipeline import convert_and_evaluate
    from spiking_mcc.data.loaders import load_dataset

    x, y = _separable(80, RNG)
    path = tmp_path / "mine.npz"
    save_npz(path, x=x, y=y, x_calib=RNG.random((30, 6)))
    data = load_dataset(str(path))
    np.testing.assert_array_equal(data.y_test, y)
    assert len(data.x_train) == 0 and "all 80 samples" in data.origin["test"]
    graph = _graph()
    user_accuracy = float(np.mean(ops.predict(graph, x) == y))
    assert 0.55 < user_accuracy < 1.0  # a tested sub-split would almost surely give another value
    summary = convert_and_evaluate(graph, str(path), [4], samples=None)
    assert summary["n_test"] == 80 and summary["n_calibration"] == 30
    assert summary["ann_accuracy"] == user_accuracy
    assert "'x', 'y', all 80 samples" in summary["data_origin"]["test"]
    assert "'x_calib' (30 samples)" in summary["data_origin"]["calibration"]
    model = write_npz_model(tmp_path / "m.npz", graph)
    args = ["convert", str(model), "--data", str(path), "--timesteps", "2", "--out", str(tmp_path / "o")]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "test samples (80): mine.npz: 'x', 'y', all 80 samples" in out


def test_split_made_by_the_tool_is_recorded(tmp_path):
    from conversion.pipeline import convert_and_evaluate

    x, y = _separable(80, RNG)
    save_npz(tmp_path / "plain.npz", x=x, y=y)
    summary = convert_and_evaluate(_graph(), str(tmp_path / "plain.npz"), [2], seed=5)
    assert summary["n_test"] == 20
    assert "seeded stratified split of 'x', 'y' (seed 5): 20 of 80" in summary["data_origin"]["test"]
    assert "training inputs" in summary["data_origin"]["calibration"]
    assert "60 of 80" in summary["data_origin"]["calibration"]


def test_cli_and_python_api_share_every_conversion_default():
    from conversion.pipeline import convert_and_evaluate
    from spiking_mcc.commands.convert import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cli = vars(parser.parse_args(["model.onnx"]))
    api = {k: p.default for k, p in inspect.signature(convert_and_evaluate).parameters.items()}
    pairs = {"threshold": "threshold", "percentile": "percentile", "granularity": "granularity",
             "init_membrane": "init_membrane_fraction", "encoding": "encoding", "readout": "readout",
             "leak": "leak"}
    for cli_name, api_name in pairs.items():
        assert cli[cli_name] == api[api_name], cli_name
    # --reset stays unset until the command knows the model kind (a .nir file states its own reset);
    # for every other model it resolves to the shared default
    assert cli["reset"] is None and api["reset"] == defaults.RESET
    assert cli["timesteps"] == list(api["timesteps"])  # the CLI parses its default like any T list
    net = thresholds.convert(_graph(), RNG.random((40, 6)))
    assert net.threshold_method == api["threshold"] == "distribution"
    assert net.init_membrane_fraction == api["init_membrane_fraction"] == 0.5
    assert (net.encoding, net.readout, net.reset, net.leak) == (defaults.ENCODING, defaults.READOUT,
                                                                 defaults.RESET, defaults.LEAK)


def test_convert_and_evaluate_without_out_dir_writes_nothing(tmp_path, monkeypatch):
    from conversion.pipeline import convert_and_evaluate

    monkeypatch.chdir(tmp_path)
    x, y = _separable(60, RNG)
    save_npz(tmp_path / "d.npz", x=x, y=y, x_calib=x[:20])
    before = sorted(p.name for p in tmp_path.iterdir())
    summary = convert_and_evaluate(_graph(), str(tmp_path / "d.npz"), [2, 4])
    assert [e["timesteps"] for e in summary["snn"]] == [2, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_run_loihi_without_out_dir_returns_the_report_and_writes_nothing(tmp_path, monkeypatch):
    from loihi_targets.pipeline import run_loihi

    monkeypatch.chdir(tmp_path)
    x, y = _separable(30, RNG)
    report = run_loihi(_graph(), (x, y, x), samples=6, timesteps=4, mode="fixed", timeout_s=120)
    assert report["samples"] == 6 and report["spike_counts_equal"] is True
    assert report["network"] == {"threshold": "percentile", "init_membrane_fraction": 0.5,
                                 "signed_input_split": False}
    assert list(tmp_path.iterdir()) == []


def test_run_report_says_when_the_lava_network_differs():
    from spiking_mcc.report.build import _loihi_differences

    convert = {"threshold": "distribution", "neuron": {"init_membrane_fraction": 0.5}}
    same = {"mode": "float", "network": {"threshold": "distribution", "init_membrane_fraction": 0.5,
                                         "signed_input_split": False}}
    assert _loihi_differences(same, convert) == "yes"
    other = {"mode": "fixed", "network": {"threshold": "percentile", "init_membrane_fraction": 0.0,
                                          "signed_input_split": True}}
    text = _loihi_differences(other, convert)
    assert text.startswith("no: ") and "percentile (convert: distribution)" in text
    assert "initial membrane 0.0 (convert: 0.5)" in text and "[x+, x-]" in text


def test_sbe_refuses_an_npz_that_is_only_a_test_set(tmp_path, cli, capsys):
    x, y = _separable(40, RNG)
    save_npz(tmp_path / "t.npz", x=x, y=y, x_calib=x[:10])
    assert cli(["sbe", "--data", str(tmp_path / "t.npz"), "--out", str(tmp_path / "o")]) == 2
    assert "no training samples" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
