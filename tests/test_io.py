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


def _chain(hidden: int = 8):
    from conversion.ir import Dense, Graph, ReLU

    rng = np.random.default_rng(0)
    return Graph.sequential((6,), [Dense(rng.normal(size=(hidden, 6)), np.zeros(hidden)), ReLU(),
                                   Dense(rng.normal(size=(3, hidden)), np.zeros(3))])


def test_temp_names_are_unique_tagged_and_gone_after_an_interrupt(tmp_path):
    from spiking_mcc.io import atomic_write, is_temp_name

    seen = []

    def interrupted(handle):
        handle.write(b"half")
        seen.extend(p.name for p in tmp_path.iterdir())
        raise KeyboardInterrupt  # what a second Ctrl-C does in the middle of a write

    write_json(tmp_path / "r.json", {"ok": 1})
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "r.json", interrupted)
    temps = [name for name in seen if name != "r.json"]
    assert len(temps) == 1 and is_temp_name(temps[0]) and temps[0].startswith(".r.json.")
    assert not is_temp_name(".notes.txt.tmp") and not is_temp_name(".x.json.1234.tmp")  # a user's
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert json.loads((tmp_path / "r.json").read_text()) == {"ok": 1}


def test_the_writer_never_touches_the_process_umask(tmp_path, monkeypatch):
    import os

    def forbidden(mask):
        raise AssertionError("os.umask changes the umask of every thread in the process")

    umask = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", forbidden)
        path = write_json(tmp_path / "r.json", {"ok": 1})
    finally:
        monkeypatch.undo()
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o640  # the kernel applied the caller's umask


@pytest.mark.parametrize("kind", ["nir", "onnx"])
def test_nir_and_onnx_writers_do_not_collide_and_leave_no_temp(tmp_path, kind):
    """Eight writers of one path at once: today's fixed `.name.tmp` made them fail or read half files."""
    from concurrent.futures import ThreadPoolExecutor

    graph = _chain(8 if kind == "nir" else 20_000)  # a large ONNX file: the writes overlap
    if kind == "nir":
        from conversion.nir_export import read_nir, write_nir
        from conversion.thresholds import convert

        net = convert(graph, np.random.default_rng(1).random((50, 6)), "max", timesteps=4)

        def write(_):
            write_nir(net, tmp_path / "model.nir")
            return tmp_path / "model.nir"

        def check(path):
            assert read_nir(path).v_th.keys() == net.v_th.keys()
    else:
        from conversion.importers import load_model
        from conversion.importers.onnx_export import write_onnx_model

        def write(_):
            return write_onnx_model(tmp_path / "model.onnx", graph)

        def check(path):
            x = np.random.default_rng(2).random((4, 6))
            from conversion import ops

            np.testing.assert_allclose(ops.predict(load_model(path), x), ops.predict(graph, x))
    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(write, range(16)))
    assert len(set(paths)) == 1
    check(paths[0])
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].name]
