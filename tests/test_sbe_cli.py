"""`spiking-mcc sbe`: result JSON, figures, saved models, exit code 2 on bad input."""

import json

import numpy as np
import pytest


def test_sbe_command_writes_runs_figures_and_models(cli, tmp_path):
    out = tmp_path / "sbe"
    code = cli(["sbe", "--method", "sgd,mbgd,svd,sbe", "--rank", "1,2", "--batch", "64", "--epochs", "2",
                "--device-levels", "1025", "--write-noise", "0.05", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "sbe.json").read_text())
    keys = [(r["method"], r["batch"], r["rank"]) for r in result["runs"]]
    assert keys == [("sgd", 1, None), ("mbgd", 64, None), ("svd", 64, 1), ("svd", 64, 2),
                    ("sbe", 64, 1), ("sbe", 64, 2)]
    for run in result["runs"]:
        assert {"test_accuracy", "device_writes", "state_floats", "history"} <= set(run)
        assert len(run["history"]) == 2 and 0.0 <= run["test_accuracy"] <= 1.0
        model = np.load(out / run["model"], allow_pickle=False)
        assert str(model["format"]) == "spiking-mcc/sequential-v1"
    by_key = {(r["method"], r["rank"]): r for r in result["runs"]}
    n_train, n_batches = 1347, 22  # digits train split; ceil(1347 / 64) batches per epoch
    assert by_key[("mbgd", None)]["device_writes"] == 2 * 2 * n_train  # epochs x layers x samples
    assert by_key[("sbe", 1)]["device_writes"] == 2 * 2 * n_batches
    assert by_key[("sbe", 2)]["device_writes"] == 2 * 2 * n_batches * 2
    assert by_key[("sbe", 2)]["state_floats"] == 2 * ((100 + 65 + 1) + (10 + 101 + 1))
    for name in ("accuracy_vs_epoch.png", "accuracy_vs_writes.png"):
        assert (out / name).stat().st_size > 1000


@pytest.mark.parametrize("args", [
    ["--rank", "0"],
    ["--rank", "11"],
    ["--batch", "0"],
    ["--method", "adam"],
    ["--epochs", "0"],
    ["--device-levels", "1"],
    ["--data", "nosuchdata"],
    ["--method", "sbe", "--batch", "32", "--rank", "1", "--learning-rate", "1e300"],
])
def test_bad_input_exits_2_with_one_line_error(cli, tmp_path, capsys, args):
    with np.errstate(all="ignore"):
        code = cli(["sbe", "--epochs", "1", *args, "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("spiking-mcc sbe: error:")
