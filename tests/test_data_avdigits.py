"""Audio-visual digits (docs/data.md): label-consistent pairing, no image across the split,
seeded, noise at the requested SNR, loads from the shipped file alone."""

from pathlib import Path

import numpy as np
import pytest

from spiking_mcc.data.avdigits import FEATURE_FILE, load_avdigits, pair_images
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.data.noise import add_noise_at_snr
from spiking_mcc.errors import ParameterError


@pytest.fixture(scope="module")
def clean():
    return load_avdigits(seed=0)


def _row_set(x):
    return {row.tobytes() for row in np.asarray(x, dtype=np.float32)}


def test_shapes_types_and_official_split(clean):
    assert clean.audio_train.shape == (2700, 320) and clean.audio_test.shape == (300, 320)
    assert clean.visual_train.shape == (2700, 64) and clean.visual_test.shape == (300, 64)
    assert clean.audio_train.dtype == clean.visual_train.dtype == np.float32
    assert clean.y_train.dtype == np.int64 and clean.n_audio == 320 and clean.audio_shape == (16, 20)
    assert np.array_equal(np.bincount(clean.y_test), np.full(10, 30))
    assert 0.0 <= clean.visual_train.min() and clean.visual_train.max() <= 1.0
    # standardised with TRAIN statistics: train exactly zero-mean/unit-std, test only approximately
    np.testing.assert_allclose(clean.audio_train.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(clean.audio_train.std(axis=0), 1.0, atol=1e-3)
    assert not np.allclose(clean.audio_test.mean(axis=0), 0.0, atol=1e-3)
    assert set(clean.speaker_test.tolist()) == set(range(6))


def test_pairing_labels_agree_and_no_image_crosses_the_split(clean):
    digits = load_digits_split(seed=0)
    train_images = dict(zip((r.tobytes() for r in digits.x_train), digits.y_train))
    test_images = dict(zip((r.tobytes() for r in digits.x_test), digits.y_test))
    for x, y, own in ((clean.visual_train, clean.y_train, train_images),
                      (clean.visual_test, clean.y_test, test_images)):
        paired_labels = [own.get(row.tobytes(), -1) for row in x]  # -1: image not from its own split
        assert np.array_equal(paired_labels, y)
    assert not _row_set(clean.visual_train) & _row_set(clean.visual_test)


def test_images_used_evenly():
    rng = np.random.default_rng(0)
    audio_labels = np.repeat(np.arange(3), [10, 7, 3])
    image_labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    chosen = pair_images(audio_labels, image_labels, rng)
    assert np.array_equal(image_labels[chosen], audio_labels)
    uses = np.bincount(chosen, minlength=10)
    assert uses[:3].max() - uses[:3].min() <= 1 and uses[3:5].tolist() in ([4, 3], [3, 4])
    assert np.all(uses[5:] <= 1)


def test_same_seed_same_data_other_seed_other_pairing(clean):
    again = load_avdigits(seed=0)
    for name in ("audio_train", "visual_train", "y_train", "audio_test", "visual_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(clean, name), err_msg=name)
    other = load_avdigits(seed=1)
    assert not np.array_equal(other.visual_train, clean.visual_train)
    noisy_a = load_avdigits(seed=2, audio_snr_db=5.0, visual_snr_db=5.0)
    noisy_b = load_avdigits(seed=2, audio_snr_db=5.0, visual_snr_db=5.0)
    np.testing.assert_array_equal(noisy_a.audio_test, noisy_b.audio_test)
    np.testing.assert_array_equal(noisy_a.visual_train, noisy_b.visual_train)


def test_audio_noise_grows_as_snr_falls_and_respects_noisy_splits(clean):
    def distortion(snr_db):
        noisy = load_avdigits(seed=0, audio_snr_db=snr_db)
        np.testing.assert_array_equal(noisy.visual_test, clean.visual_test)  # other modality untouched
        return np.mean((noisy.audio_test - clean.audio_test) ** 2)

    assert distortion(0.0) > distortion(10.0) > distortion(30.0) > 0.0
    test_only = load_avdigits(seed=0, audio_snr_db=0.0, noisy_splits="test")
    np.testing.assert_array_equal(test_only.audio_train, clean.audio_train)
    assert not np.allclose(test_only.audio_test, clean.audio_test)


def test_visual_noise_clipped_and_snr_achieved(clean):
    noisy = load_avdigits(seed=0, visual_snr_db=0.0)
    assert noisy.visual_test.min() >= 0.0 and noisy.visual_test.max() <= 1.0
    assert np.mean(np.abs(noisy.visual_test - clean.visual_test)) > 0.1
    rng = np.random.default_rng(0)
    for snr_db in (0.0, 10.0):
        noise = add_noise_at_snr(clean.visual_train, snr_db, rng) - clean.visual_train
        achieved = 10 * np.log10(np.mean(clean.visual_train**2, axis=1) / np.mean(noise**2, axis=1))
        assert abs(np.mean(achieved) - snr_db) < 0.5


def test_bad_arguments_raise_parameter_errors():
    with pytest.raises(ParameterError, match="noisy_splits"):
        load_avdigits(noisy_splits="validation")
    with pytest.raises(ParameterError, match="snr_db"):
        load_avdigits(audio_snr_db=float("nan"))
    with pytest.raises(ParameterError, match="audio_snr_db"):
        load_avdigits(audio_snr_db="loud")


def test_loads_from_the_shipped_file_only(monkeypatch, clean):
    """A fresh clone has no ../shared: only the feature file inside the package may be read."""
    import builtins

    import spiking_mcc.data.avdigits as avdigits

    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
            name = str(file)
            assert "shared" not in name and not name.endswith(".wav"), f"load_avdigits read {name}"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    avdigits._load_feature_file.cache_clear()
    fresh = load_avdigits(seed=0)
    np.testing.assert_array_equal(fresh.audio_test, clean.audio_test)
    assert FEATURE_FILE.is_file() and FEATURE_FILE.parent == Path(avdigits.__file__).parent
