"""Result files: atomic writes, no pickle, clear errors on corrupt input."""

import json

import numpy as np
import pytest

from spiking_mcc.errors import DataError
from spiking_mcc.io import load_npz, read_json, save_npz, write_json


def test_write_json_converts_numpy_and_nan(tmp_path):
    path = write_json(tmp_path / "r.json", {"a": np.float32(1.5), "b": np.arange(3), "c": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None}


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    path = write_json(tmp_path / "r.json", {"ok": 1})
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_npz_round_trip_and_object_arrays_refused(tmp_path):
    save_npz(tmp_path / "m.npz", w=np.eye(2))
    assert np.array_equal(load_npz(tmp_path / "m.npz", required=("w",))["w"], np.eye(2))
    with pytest.raises(DataError, match="dtype object"):
        save_npz(tmp_path / "o.npz", w=np.array([{}], dtype=object))


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        load_npz(bad)
    with pytest.raises(DataError, match="missing array"):
        save_npz(tmp_path / "m.npz", w=np.eye(2))
        load_npz(tmp_path / "m.npz", required=("w", "b"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="bad.json"):
        read_json(tmp_path / "bad.json")
    with pytest.raises(DataError, match="not found"):
        read_json(tmp_path / "nope.json")


def test_result_files_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "r.json", {"ok": 1})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
