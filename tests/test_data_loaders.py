"""User data for `--data` (docs/data.md): IDX, NPZ and WAV folders load, and bad files fail with a
DataError that names the file and, for arrays, the array."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from spiking_mcc.data.loaders import (
    MNIST_NAMES,
    load_dataset,
    read_idx,
    validate_features,
    validate_labels,
    write_idx,
)
from spiking_mcc.errors import DataError

FSDD_WAVS = Path(__file__).parent / "data" / "fsdd"  # six FSDD recordings (CC BY-SA 4.0, see NOTICE.md)


def _images_labels(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 6, 5), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(60).reshape(3, 4, 5) - 7).astype(dtype) if dtype != np.uint8 else \
        np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_mnist_format(tmp_path):
    raw = write_idx(tmp_path / "labels", np.array([3, 1, 4], dtype=np.uint8)).read_bytes()
    assert raw == bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 3, 1, 4])  # magic 0x00000801, count 3, data


def test_bad_idx_files_name_the_file(tmp_path):
    good = write_idx(tmp_path / "good", np.zeros((2, 3, 3), dtype=np.uint8)).read_bytes()
    cases = {
        "missing": None,
        "badmagic": b"\x01\x02" + good[2:],
        "badtype": good[:2] + b"\x07" + good[3:],
        "truncated": good[:-1],
        "toolong": good + b"\x00",
        "shortheader": good[:6],
        "badgzip.gz": b"\x1f\x8b not really gzip",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(DataError, match=name):
            read_idx(path)


def test_idx_pair_and_mnist_folder_load(tmp_path):
    images, labels = _images_labels()
    write_idx(tmp_path / "imgs.gz", images)
    write_idx(tmp_path / "labs", labels)
    data = load_dataset(f"{tmp_path / 'imgs.gz'},{tmp_path / 'labs'}", seed=0)
    assert data.x_train.shape == (30, 30) and data.x_test.shape == (10, 30) and data.input_shape == (1, 6, 5)
    assert data.x_train.dtype == np.float32 and 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert np.array_equal(np.sort(np.concatenate([data.y_train, data.y_test])), np.sort(labels))
    folder = tmp_path / "mnist"
    folder.mkdir()
    for key, stem in MNIST_NAMES.items():
        array = images if key.endswith("images") else labels
        write_idx(folder / (stem + ".gz"), array[:20] if key.startswith("test") else array)
    data = load_dataset(str(folder))
    assert data.x_train.shape == (40, 30) and data.x_test.shape == (20, 30)
    np.testing.assert_allclose(data.x_test, images[:20].reshape(20, -1) / 255.0, rtol=1e-6)


def test_idx_count_mismatch_names_labels_file(tmp_path):
    images, labels = _images_labels()
    write_idx(tmp_path / "imgs", images)
    write_idx(tmp_path / "labs", labels[:-1])
    with pytest.raises(DataError, match="labs"):
        load_dataset(f"{tmp_path / 'imgs'},{tmp_path / 'labs'}")


def test_npz_dataset_with_calibration_and_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 2, 3)), np.arange(50) % 4
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y, x_calib=rng.random((7, 6)))
    data = load_dataset(str(path), seed=0)
    assert data.n_classes == 4 and data.input_shape == (2, 3) and data.x_calib.shape == (7, 6)
    assert len(data.y_train) + len(data.y_test) == 50 and len(data.y_test) >= 12
    again = load_dataset(str(path), seed=0)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    np.savez(path, x=x, y=y, x_test=x[:5], y_test=y[:5], n_classes=10)
    data = load_dataset(str(path))
    assert data.n_classes == 10 and len(data.y_train) == 50 and np.array_equal(data.y_test, y[:5])


@pytest.mark.parametrize(
    "arrays, array_name",
    [
        ({"x": np.ones((6, 3)), "y": np.array([0, 1, 2, 0, 1, -1])}, "'y'"),  # label below range
        ({"x": np.ones((6, 3)), "y": np.array([0, 1, 2, 0, 1, 12]), "n_classes": 10}, "'y'"),  # above
        ({"x": np.ones((6, 3)), "y": np.array([0, 1, 0.5, 0, 1, 1])}, "'y'"),  # not integer
        ({"x": np.ones((6, 3)), "y": np.array([0, 1, 0, 1])}, "'y'"),  # count mismatch
        ({"x": np.where(np.eye(6, 3) > 0, np.nan, 1.0), "y": np.arange(6) % 2}, "'x'"),  # NaN
        ({"x": np.full((6, 3), np.inf), "y": np.arange(6) % 2}, "'x'"),  # Inf
        ({"x": np.ones(6), "y": np.arange(6) % 2}, "'x'"),  # no feature axis
        ({"x": np.ones((6, 3)), "y": np.arange(6) % 2, "x_calib": np.ones((2, 4))}, "'x_calib'"),  # width
        ({"x": np.ones((6, 3)), "y": np.arange(6) % 2, "x_test": np.ones((2, 3))}, "'y_test'"),
    ],
)
def test_bad_npz_names_file_and_array(tmp_path, arrays, array_name):
    path = tmp_path / "bad_input.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="bad_input.npz") as info:
        load_dataset(str(path))
    assert array_name in str(info.value)


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="absent.npz"):
        load_dataset(str(tmp_path / "absent.npz"))
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="broken.npz"):
        load_dataset(str(tmp_path / "broken.npz"))
    np.savez(tmp_path / "nox.npz", y=np.arange(4))
    with pytest.raises(DataError, match=r"nox.npz.*'x'"):
        load_dataset(str(tmp_path / "nox.npz"))
    with pytest.raises(DataError, match="nothing_here"):
        load_dataset(str(tmp_path / "nothing_here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_dataset(str(tmp_path / "empty"))


def test_wav_folder_dataset_and_corrupt_wav(tmp_path):
    data = load_dataset(str(FSDD_WAVS))
    assert data.x_train.shape == (5, 320) and data.x_test.shape == (1, 320) and data.input_shape == (16, 20)
    assert data.y_test.tolist() == [6]  # 6_yweweler_3.wav: index 3 is in FSDD's test split
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    for path in FSDD_WAVS.glob("*.wav"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "5_me_0.wav").write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(DataError, match="5_me_0.wav"):
        load_dataset(str(tmp_path))
    (tmp_path / "5_me_0.wav").unlink()
    (tmp_path / "hello.wav").write_bytes(gzip.compress(b"x"))
    with pytest.raises(DataError, match="hello.wav"):
        load_dataset(str(tmp_path))


def test_builtin_specs():
    digits = load_dataset("digits")
    assert digits.x_train.shape[1] == 64 and digits.x_train.max() == 1.0 and digits.input_shape == (1, 8, 8)
    av = load_dataset("avdigits")
    assert av.x_train.shape == (2700, 384) and av.audio_train.shape == (2700, 320)
    np.testing.assert_array_equal(av.x_test[:, 320:], av.visual_test)
    assert av.x_calib is None


def test_validate_helpers():
    assert validate_features(np.ones((3, 2, 2)), 4, "w").shape == (3, 4)
    with pytest.raises(DataError, match="layer0 input.*expected 5 features.*got 4"):
        validate_features(np.ones((3, 4)), 5, "layer0 input")
    with pytest.raises(DataError, match="calib.*NaN"):
        validate_features(np.array([[0.0, np.nan]]), 2, "calib")
    with pytest.raises(DataError, match="labels must be in 0..9"):
        validate_labels(np.array([0, 10]), 10, "y")
