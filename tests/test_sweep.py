"""`spiking-mcc sweep` on a real Dask LocalCluster: every cell run, identical to running it alone,
one JSON per cell, resumption, and config errors named in one line."""

import json

import pytest

from spiking_mcc.errors import ParameterError
from spiking_mcc.io import read_json
from spiking_mcc.sweep import CELL_DIR, MAX_CELLS, check_config, expand, run_cell, run_sweep

TRAIN = {"task": "train", "grid": {"seed": [0, 1]}, "fixed": {"model": "point", "epochs": 1}}


def test_grid_expands_in_order_with_stable_ids():
    config = check_config({"task": "train", "grid": {"seed": [0, 1], "law": ["gain", "kp"]},
                           "fixed": {"model": "mcc", "epochs": 2}})
    cells = expand(config)
    assert [(c["params"]["seed"], c["params"]["law"]) for c in cells] == [(0, "gain"), (0, "kp"), (1, "gain"),
                                                                         (1, "kp")]
    assert all(c["params"]["epochs"] == 2 for c in cells)
    assert [c["id"] for c in expand(config)] == [c["id"] for c in cells]
    assert len({c["id"] for c in cells}) == 4


@pytest.mark.parametrize("config, message", [
    ({"task": "fit", "grid": {"seed": [0]}}, "'task' must be one of"),
    ({"task": "train", "grid": {}}, "'grid' must be a non-empty"),
    ({"task": "train", "grid": {"seed": []}, "fixed": {"model": "mcc", "epochs": 1}}, "non-empty list"),
    ({"task": "train", "grid": {"seed": [0]}}, r"needs \['model', 'epochs'\]"),
    ({"task": "train", "grid": {"seed": [0]}, "fixed": {"seed": 1, "model": "mcc", "epochs": 1}},
     "both 'grid' and 'fixed'"),
    ({"task": "train", "grid": {"seed": [0]}, "extra": 1}, "unknown key"),
    ({"task": "train", "grid": {"seed": list(range(MAX_CELLS + 1))}, "fixed": {"model": "mcc", "epochs": 1}},
     "more than the limit"),
])
def test_bad_configs_are_refused_naming_the_key(config, message):
    with pytest.raises(ParameterError, match=message):
        check_config(config)


def test_sweep_on_a_local_cluster_equals_each_cell_run_alone_and_resumes(tmp_path):
    summary = run_sweep(TRAIN, tmp_path, workers=2, progress=False)
    assert summary["n_run"] == 2 and [row["status"] for row in summary["cells"]] == ["done", "done"]
    for cell in expand(check_config(TRAIN)):
        on_cluster = read_json(tmp_path / CELL_DIR / f"{cell['id']}.json")["result"]
        alone = json.loads(json.dumps(run_cell("train", cell["params"])["result"]))
        assert on_cluster == alone  # every number, every epoch
    assert read_json(tmp_path / "sweep.json")["n_cells"] == 2

    again = run_sweep(TRAIN, tmp_path, workers=2, progress=False)
    assert again["n_run"] == 0 and again["n_skipped"] == 2
    assert again["cells"] == summary["cells"]

    # a cell whose file is missing (a killed sweep) runs again, alone
    first, second = (cell["id"] for cell in expand(check_config(TRAIN)))
    (tmp_path / CELL_DIR / f"{first}.json").unlink()
    resumed = run_sweep(TRAIN, tmp_path, workers=1, progress=False)
    assert resumed["n_run"] == 1
    assert read_json(tmp_path / CELL_DIR / f"{first}.json")["status"] == "done"

    # a cell file someone else changed is not ours any more: the cell runs, but the file is not
    # overwritten (the output folder's rule) and the cell is reported as failed, naming the file
    edited = tmp_path / CELL_DIR / f"{second}.json"
    edited.write_text("{not json")
    refused = run_sweep(TRAIN, tmp_path, workers=1, progress=False)
    row = next(row for row in refused["cells"] if row["id"] == second)
    assert row["status"] == "failed" and "did not write" in row["error"]
    assert edited.read_text() == "{not json"


def test_convert_cells_equal_convert_and_evaluate_alone(tmp_path):
    """A convert cell (reference model trained in the cell, conversion, evaluation) on a 1-worker cluster
    gives convert_and_evaluate's numbers for that model and threshold."""
    from conversion.pipeline import convert_and_evaluate
    from conversion.reference_models import train_reference

    config = {"task": "convert", "grid": {"threshold": ["max", "distribution"]},
              "fixed": {"model": "digits-mlp", "data": "digits", "timesteps": [2, 4], "seed": 1,
                        "samples": 60}}
    summary = run_sweep(config, tmp_path, workers=1, progress=False)
    assert [row["status"] for row in summary["cells"]] == ["done", "done"]
    graph = train_reference("digits-mlp", 1)[0]
    for row, threshold in zip(summary["cells"], ("max", "distribution")):
        alone = convert_and_evaluate(graph, "digits", [2, 4], threshold, seed=1, samples=60)
        assert row["ann_accuracy"] == alone["ann_accuracy"]
        assert [row["acc_T2"], row["acc_T4"]] == [entry["accuracy"] for entry in alone["snn"]]
    assert not list(tmp_path.glob("*.nir"))  # cells compute in memory; only the client writes, as JSON


def test_cli_sweep_writes_the_table_and_exit_code(tmp_path, cli, capsys):
    config = tmp_path / "sweep.json"
    config.write_text(json.dumps({"task": "train", "grid": {"model": ["point"]}, "fixed": {"epochs": 1,
                                                                                          "seed": 0}}))
    assert cli(["sweep", str(config), "--workers", "1", "--out", str(tmp_path / "out")]) == 0
    assert "1 cell(s) run" in capsys.readouterr().out
    # a cell that fails is recorded with its error, the others still run, and the command exits 1
    config.write_text(json.dumps({"task": "train", "grid": {"model": ["point", "spiking"]},
                                  "fixed": {"epochs": 1, "seed": 0}}))
    assert cli(["sweep", str(config), "--workers", "1", "--out", str(tmp_path / "out1")]) == 1
    rows = read_json(tmp_path / "out1" / "sweep.json")["cells"]
    assert [row["status"] for row in rows] == ["done", "failed"] and "spiking" in rows[1]["error"]
    config.write_text(json.dumps({"task": "train", "grid": {"model": ["point"]}}))
    assert cli(["sweep", str(config), "--out", str(tmp_path / "out2")]) == 2
    assert "needs ['epochs', 'seed']" in capsys.readouterr().err
