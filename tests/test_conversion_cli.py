"""`spiking-mcc convert`: output files and JSON contract; exit code 2 with a clear message on bad input."""

import json

import numpy as np
import pytest

from conversion.importers.onnx_export import write_onnx_model
from conversion.ir import Dense, Graph
from spiking_mcc.io import save_npz


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from conversion.reference_models import save_reference

    path, _ = save_reference(tmp_path_factory.mktemp("model") / "mlp.npz", "digits-mlp", seed=0)
    return path


def test_convert_writes_json_nir_and_figure(cli, model_file, tmp_path):
    out = tmp_path / "out"
    assert cli(["convert", str(model_file), "--timesteps", "2,4", "--samples", "120", "--out", str(out)]) == 0
    summary = json.loads((out / "convert.json").read_text())
    assert (out / "model.nir").is_file() and (out / "accuracy_vs_T.png").stat().st_size > 1000
    assert 0.9 < summary["ann_accuracy"] <= 1.0 and summary["n_test"] == 120
    assert [e["timesteps"] for e in summary["snn"]] == [2, 4]
    for entry in summary["snn"]:
        assert {"accuracy", "spikes_per_sample", "synaptic_events_per_sample"} <= set(entry)
        assert set(entry["firing_rate"]) == {"relu1"} and set(entry["activation_error"]) == {"relu1"}
    # energy contract: one "ann" workload and one "snn" per T, layers with every field
    kinds = [(w["kind"], w["timesteps"]) for w in summary["workloads"]]
    assert kinds == [("ann", 1), ("snn", 2), ("snn", 4)]
    fields = {"name", "neurons", "fan_in", "fan_out", "macs", "synaptic_events", "spikes", "analog_input"}
    fc1, fc2 = summary["workloads"][2]["layers"]
    assert set(fc1) == fields and fc1["analog_input"] and not fc2["analog_input"]
    assert (fc1["neurons"], fc1["fan_in"], fc1["fan_out"], fc1["macs"]) == (128, 64, 10.0, 64 * 128)
    assert fc2["synaptic_events"] == pytest.approx(10 * fc1["spikes"])
    assert fc2["synaptic_events"] == pytest.approx(summary["snn"][1]["synaptic_events_per_sample"])


def test_convert_onnx_and_npz_data(cli, model_file, tmp_path):
    from conversion.importers import load_model

    onnx_path = write_onnx_model(tmp_path / "mlp.onnx", load_model(model_file), softmax=True)
    rng = np.random.default_rng(0)
    save_npz(
        tmp_path / "data.npz", x=rng.random((60, 64)), y=rng.integers(0, 10, 60), x_calib=rng.random((30, 64))
    )
    out = tmp_path / "out"
    code = cli(
        [
            "convert",
            str(onnx_path),
            "--data",
            str(tmp_path / "data.npz"),
            "--timesteps",
            "4",
            "--threshold",
            "percentile",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads((out / "convert.json").read_text())
    assert summary["n_calibration"] == 30 and any("Softmax" in n for n in summary["notes"])


@pytest.mark.parametrize(
    "case", ["missing", "timesteps", "features", "unsupported", "nan", "empty_calibration", "init"]
)
def test_bad_input_exits_2_with_a_clear_message(cli, model_file, tmp_path, capsys, case):
    from onnx import helper

    args, expected = [str(model_file)], ""
    if case == "missing":
        args, expected = [str(tmp_path / "none.npz")], "model file not found"
    elif case == "timesteps":
        args, expected = args + ["--timesteps", "0,4"], "--timesteps: values must be >= 1"
    elif case == "features":
        save_npz(tmp_path / "d.npz", x=np.ones((20, 10)), y=np.arange(20) % 2)
        args, expected = args + ["--data", str(tmp_path / "d.npz")], "10 features"
    elif case == "unsupported":
        graph = Graph.sequential((64,), [Dense(np.ones((3, 64)), np.zeros(3), "fc")])
        extra = [
            helper.make_node("Tanh", ["fc.out"], ["t"], name="act"),
            helper.make_node("Erf", ["t"], ["u"]),
        ]
        args = [str(write_onnx_model(tmp_path / "bad.onnx", graph, extra_nodes=extra))]
        expected = "2 unsupported ONNX operator(s): Tanh (node 'act'), Erf"
    elif case == "nan":
        weight = np.ones((10, 64))
        weight[3, 3] = np.inf
        save_npz(
            tmp_path / "nan.npz",
            format=np.array("spiking-mcc/sequential-v1"),
            input_shape=np.array([64]),
            n_layers=np.array(2),
            layer0_kind=np.array("dense"),
            layer0_weight=weight,
            layer0_bias=np.zeros(10),
            layer0_name=np.array("hidden"),
            layer1_kind=np.array("relu"),
        )
        args, expected = [str(tmp_path / "nan.npz")], "layer 'hidden': weight contains 1 NaN/Inf"
    elif case == "empty_calibration":
        save_npz(tmp_path / "d.npz", x=np.ones((20, 64)), y=np.arange(20) % 2, x_calib=np.zeros((0, 64)))
        args, expected = args + ["--data", str(tmp_path / "d.npz")], "x_calib"
    elif case == "init":
        args, expected = args + ["--init-membrane", "1.5"], "--init-membrane: allowed range [0, 1)"
    code = cli(["convert", *args, "--samples", "20", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_empty_calibration_set_from_python_api_is_a_data_error(tmp_path, model_file):
    from conversion.pipeline import EvaluationData, convert_and_evaluate
    from spiking_mcc.errors import DataError

    rng = np.random.default_rng(0)
    data = EvaluationData("mine", rng.random((10, 64)), np.arange(10), np.zeros((0, 64)))
    with pytest.raises(DataError, match="calibration set is empty"):
        convert_and_evaluate(model_file, data, [4], "distribution", tmp_path / "o")
