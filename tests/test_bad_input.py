"""Bad input gets one clear line and exit 2, or a specific error from the Python API: never a traceback,
a hang, exhausted memory or a silently wrong number (issue 11, "Bad input"). Limits: spiking_mcc.limits."""

import struct
from types import SimpleNamespace

import numpy as np
import pytest

from conversion.importers import load_model
from conversion.pipeline import convert_and_evaluate
from loihi_targets.energy import energy_report, validate_workload
from loihi_targets.mapper import LayerSpec, map_network
from spiking_mcc.cli import build_parser, main
from spiking_mcc.errors import DataError, HardwareLimitError, ModelError, ParameterError
from spiking_mcc.limits import LIMITS

SEED_COMMANDS = {  # every subcommand with --seed, with its required positional arguments
    "cells": [], "train": [], "compare": [], "convert": ["model.npz"], "loihi": ["model.npz"], "sbe": [],
    "run": [],
}


def one_line_refusal(capsys, argv: list[str]) -> str:
    """Parse argv as the CLI does; it must exit 2 with exactly one line on stderr (returned)."""
    parser, _ = build_parser()
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def sequential_npz(path, weights: list[np.ndarray]):
    """A Dense/ReLU chain in the sequential-v1 format (64 inputs)."""
    arrays = {"format": np.array("spiking-mcc/sequential-v1"), "input_shape": np.array([weights[0].shape[1]]),
              "n_layers": np.array(2 * len(weights) - 1)}
    for i, weight in enumerate(weights):
        arrays[f"layer{2 * i}_kind"] = np.array("dense")
        arrays[f"layer{2 * i}_weight"] = weight
        arrays[f"layer{2 * i}_bias"] = np.zeros(weight.shape[0])
        if i < len(weights) - 1:
            arrays[f"layer{2 * i + 1}_kind"] = np.array("relu")
    np.savez(path, **arrays)
    return path


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [-1, 2**32])
@pytest.mark.parametrize("command", sorted(SEED_COMMANDS))
def test_seed_outside_the_rngs_range_is_refused_on_one_line(capsys, command, seed):
    err = one_line_refusal(capsys, [command, *SEED_COMMANDS[command], "--seed", str(seed)])
    assert "--seed" in err and str(int(LIMITS["seed"].maximum)) in err


def test_python_entry_points_check_the_seed(tmp_path):
    from conversion import engine, thresholds
    from spiking_mcc.data.avdigits import load_avdigits
    from spiking_mcc.data.loaders import load_dataset
    from spiking_mcc.sbe.trainer import TrainConfig

    model = sequential_npz(tmp_path / "m.npz", [np.ones((10, 64))])
    x = np.random.default_rng(0).random((5, 64))
    net = thresholds.convert(load_model(model), x, "max")
    for call in (lambda: load_dataset("digits", seed=-1), lambda: load_avdigits(seed=2**32),
                 lambda: TrainConfig(seed=-3), lambda: engine.simulate(net, x, 2, seed=-1),
                 lambda: map_network([LayerSpec("a", 4, fan_in=2)], seed=2**32),
                 lambda: convert_and_evaluate(model, "digits", [1], "max", tmp_path / "out", seed=2**40)):
        with pytest.raises(ParameterError, match="seed"):
            call()
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- data files


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("arrays, message", [
    (dict(y=np.array([str(v % 10) for v in range(40)])), "array 'y': labels must be integers"),
    (dict(n_classes=np.array([10, 10])), "array 'n_classes': expected one integer"),
    (dict(n_classes=np.array(10.5)), "array 'n_classes': expected one integer"),
    (dict(n_classes=np.array("ten")), "array 'n_classes': expected one integer"),
    (dict(x=np.zeros((40, 0), np.float32)), "array 'x': samples have zero features"),
    (dict(y=np.r_[np.arange(39) % 10, 1e300], n_classes=np.array(10)), r"labels must be in 0..9, got 1e\+3"),
])
def test_bad_npz_data_files_raise_data_error_naming_the_array(tmp_path, arrays, message):
    from spiking_mcc.data.loaders import load_dataset

    base = dict(x=np.random.default_rng(0).random((40, 64)), y=np.arange(40) % 10)
    path = _npz(tmp_path / "data.npz", **{**base, **arrays})
    with pytest.raises(DataError, match=message):
        load_dataset(str(path))


def test_idx_header_whose_dimensions_overflow_is_a_data_error(tmp_path):
    """4 dims of 2**16 multiply to 2**64, which wraps to 0 in int64 and matched an empty payload."""
    from spiking_mcc.data.loaders import read_idx

    path = tmp_path / "images.idx"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *(2**16,) * 4))
    with pytest.raises(DataError, match=r"need 18446744073709551616 data bytes, file has 0"):
        read_idx(path)


# ---------------------------------------------------------------- models


def test_onnx_with_an_empty_graph_is_a_model_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    tensor = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])
    onnx.save(helper.make_model(helper.make_graph([], "empty", [tensor], [tensor])), tmp_path / "empty.onnx")
    with pytest.raises(ModelError, match="has no layers"):
        load_model(tmp_path / "empty.onnx")


def test_weights_that_overflow_inside_the_ann_name_the_layer(tmp_path):
    """Today: accuracy 0.2 and RuntimeWarnings. 64 x 1e200 stays finite in dense0, dense2 reaches inf."""
    model = sequential_npz(tmp_path / "m.npz", [np.full((32, 64), 1e200), np.full((10, 32), 1e200)])
    with pytest.raises(ModelError, match=r"layer 'dense2': \d+ non-finite activation"):
        convert_and_evaluate(model, "digits", [1], "max", tmp_path / "out", samples=20)


@pytest.mark.parametrize("method", ["max", "distribution"])
def test_calibration_data_that_overflows_names_the_layer(tmp_path, method):
    """The thresholds' calibration pass is the only ANN pass over the calibration set: it must refuse an
    overflow itself (here only the calibration data is large enough to reach inf in dense2)."""
    from conversion.thresholds import convert

    weights = [np.full((32, 64), 1e150), np.full((10, 32), 1e150)]
    graph = load_model(sequential_npz(tmp_path / "m.npz", weights))
    convert(graph, np.ones((5, 64)), method, timesteps=2)  # dense2: 32 x 64e150 x 1e150 stays finite
    with pytest.raises(ModelError, match=r"layer 'dense2': 20 non-finite activation.*calibration data, first "
                                         r"in sample 3"):
        convert(graph, np.r_[np.ones((3, 64)), np.full((2, 64), 1e10)], method, timesteps=2)


def test_output_count_must_match_the_data_classes(tmp_path):
    rng = np.random.default_rng(0)
    three = sequential_npz(tmp_path / "three.npz", [rng.normal(size=(8, 64)), rng.normal(size=(3, 8))])
    with pytest.raises(ModelError, match="has 3 scores but digits has 10 classes"):
        convert_and_evaluate(three, "digits", [1], "max", tmp_path / "out", samples=20)
    ten = sequential_npz(tmp_path / "ten.npz", [rng.normal(size=(8, 64)), rng.normal(size=(10, 8))])
    x = rng.random((30, 64))
    labels_beyond = SimpleNamespace(name="mine", x_train=x, x_test=x, y_test=np.arange(30) % 12)
    with pytest.raises(ModelError, match="has 10 scores but mine's test labels go up to 11"):
        convert_and_evaluate(ten, labels_beyond, [1], "max", tmp_path / "out")


# ---------------------------------------------------------------- unbounded work


@pytest.mark.parametrize("argv, name", [
    (["convert", "m.npz", "--timesteps", "100000000"], "--timesteps"),
    (["convert", "m.npz", "--timesteps", "1,2,20000"], "--timesteps"),
    (["sbe", "--epochs", "100000000"], "--epochs"),
    (["train", "--epochs", "100000000"], "--epochs"),
    (["sbe", "--hidden", "100000000"], "--hidden"),
    (["sbe", "--hidden", "64,100000000"], "--hidden"),
])
def test_unbounded_work_is_refused_up_front_with_the_limit(capsys, argv, name):
    err = one_line_refusal(capsys, argv)
    assert name in err and "limit:" in err


def test_cell_time_step_has_a_lower_bound():
    from spiking_mcc.cells.protocols import check_dt

    with pytest.raises(ParameterError, match=r"dt_ms: time step must be in \[0.01, 0.5\] ms, got 1e-09"):
        check_dt(1e-9)
    assert check_dt(0.01) == 0.01


def test_sbe_api_limits_epochs_hidden_units_and_weights():
    from spiking_mcc.sbe.trainer import TrainConfig, check_ranks

    with pytest.raises(ParameterError, match="epochs"):
        TrainConfig(epochs=10**8)
    with pytest.raises(ParameterError, match="hidden"):
        TrainConfig(hidden=(10**8,))
    # two layers of 10,000 units each are allowed alone, but 100.8 M weights together are not
    with pytest.raises(ParameterError, match=r"hidden \[10000, 10000\] on 64 inputs: 100,760,010 weights"):
        check_ranks([TrainConfig(hidden=(10_000, 10_000))], 64, 10)
    check_ranks([TrainConfig(hidden=(100,))], 64, 10)


def test_mapper_refuses_networks_beyond_the_chips_or_its_own_size_limit():
    """Up front, before any per-neuron array: 10^7 neurons exceed 64 chips' compartments; 2^17 + 1
    one-synapse neurons fit the chips but not the mapper's (sources x cores) table."""
    with pytest.raises(HardwareLimitError, match=r"'big'.*10,000,000 compartments, more than 8192 cores"):
        map_network([LayerSpec("big", 10**7, fan_in=100)], max_chips=64)
    with pytest.raises(ParameterError, match="above the mapper's limit 131,072"):
        map_network([LayerSpec("wide", 2**17 + 1, fan_in=1)], max_chips=64)
    with pytest.raises(ParameterError, match=r"\(cluster\): 32,769 neurons is above the mapper's limit"):
        map_network([LayerSpec("wide", 2**15 + 1, fan_in=1)], max_chips=64, method="cluster")


def _workload(timesteps=4, **layer) -> dict:
    base = {"name": "l0", "neurons": 10, "fan_in": 64, "fan_out": 10, "macs": 640.0, "synaptic_events": 50.0,
            "spikes": 5.0, "analog_input": True}
    return {"name": "w", "model": "snn", "kind": "snn", "timesteps": timesteps, "layers": [{**base, **layer}]}


def test_energy_of_ten_million_neurons_omits_only_the_noc_term():
    """Today the mapping of this workload was OOM-killed after 72 s; the energy itself is arithmetic."""
    report = energy_report([_workload(neurons=10**7, fan_in=1, spikes=0.0)], devices=["loihi1"])
    assert any("does not fit Loihi" in note and "compartments" in note for note in report["notes"])
    assert report["rows"][0]["breakdown_j"]["noc"] == 0.0 and report["rows"][0]["energy_j"] > 0


# ---------------------------------------------------------------- impossible numbers


@pytest.mark.parametrize("workload, message", [
    (_workload(spikes=1000.0), "1000.0 spikes per sample, more than its 10 neurons x 4 time steps"),
    (_workload(synaptic_events=1e300), "synaptic_events = 1e[+]300 is above"),
    (_workload(macs="many"), "macs must be a finite number"),
    (_workload(timesteps=10**30), "timesteps must be <= 10000"),
    (_workload(timesteps=1e30), "timesteps must be an integer"),
    (_workload(compartments="two"), "compartments must be an integer >= 1"),
])
def test_energy_workloads_that_cannot_be_physical_are_data_errors(workload, message):
    with pytest.raises(DataError, match=message):
        validate_workload(workload, "result.json")


@pytest.mark.parametrize("argv", [
    ["train", "--theta", "nan"],
    ["train", "--energy-per-transmission-uj", "nan"],
    ["train", "--energy-per-transmission-uj", "inf"],
    ["sbe", "--learning-rate", "nan"],
    ["convert", "m.npz", "--leak", "nan"],
    ["cells", "--dt-ms", "inf"],
])
def test_non_finite_floats_are_refused_on_one_line(capsys, argv):
    err = one_line_refusal(capsys, argv)
    assert f"argument {argv[-2]}: must be a finite number" in err


@pytest.mark.parametrize("text, message", [
    ("2,,4", "empty item"), ("2,4,2", r"\[2\] repeated"), ("4,", "empty item"), ("", "empty list"),
    ("2,x", "comma-separated integers"), ("0,2", ">= 1"),
])
def test_time_step_lists_are_strict(capsys, text, message):
    import re

    err = one_line_refusal(capsys, ["convert", "m.npz", "--timesteps", text])
    assert re.search(message, err), err


def test_the_cli_turns_a_bad_data_file_into_one_line_and_exit_2(tmp_path, capsys):
    rng = np.random.default_rng(0)
    model = sequential_npz(tmp_path / "m.npz", [rng.normal(size=(10, 64))])
    data = _npz(tmp_path / "d.npz", x=rng.random((40, 64)), y=np.arange(40) % 10, n_classes=np.array(10.5))
    out = str(tmp_path / "o")
    code = main(["convert", str(model), "--data", str(data), "--timesteps", "1", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "n_classes" in err
