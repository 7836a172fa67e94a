"""Audio features (docs/data.md): the shipped FSDD log-mel file is what the derivation code
gives for the WAVs, WAV reading fails clearly, and waveform-equivalent noise matches real noise."""

from pathlib import Path

import numpy as np
import pytest

from spiking_mcc.data.audio import (
    LogMelParams,
    hz_to_mel,
    logmel,
    mel_filterbank,
    mel_to_hz,
    pool_frames,
    read_wav,
    wav_logmel,
)
from spiking_mcc.data.avdigits import FEATURE_FILE, load_fsdd_features
from spiking_mcc.data.build_features import build_feature_arrays, main, parse_fsdd_name
from spiking_mcc.data.noise import add_noise_at_snr, noisy_logmel
from spiking_mcc.errors import DataError
from spiking_mcc.io import load_npz

FSDD_WAVS = Path(__file__).parent / "data" / "fsdd"  # six FSDD recordings (CC BY-SA 4.0, see NOTICE.md)


@pytest.fixture(scope="module")
def derived():
    return build_feature_arrays(FSDD_WAVS)


def test_derivation_reproduces_shipped_features(derived):
    shipped = load_fsdd_features()
    rows = [int(np.flatnonzero(shipped["file_names"] == name)[0]) for name in derived["file_names"]]
    assert len(rows) == 6
    for key in ("labels", "speakers", "recording_index", "is_test", "n_samples"):
        np.testing.assert_array_equal(derived[key], shipped[key][rows], err_msg=key)
    np.testing.assert_allclose(derived["signal_power"], shipped["signal_power"][rows], rtol=1e-6)
    # both float16: identical arithmetic gives identical rounding
    np.testing.assert_array_equal(derived["features"], shipped["features"][rows])
    assert LogMelParams.from_arrays(shipped) == LogMelParams()


def test_shipped_file_covers_fsdd_with_official_split():
    shipped = load_fsdd_features()
    assert shipped["features"].shape == (3000, 16, 20)
    assert FEATURE_FILE.stat().st_size < 3e6
    assert np.array_equal(shipped["is_test"], shipped["recording_index"] <= 4)
    assert shipped["is_test"].sum() == 300  # 6 speakers x 10 digits x indices 0-4
    assert np.array_equal(np.bincount(shipped["labels"]), np.full(10, 300))
    assert (FEATURE_FILE.parent / "FSDD_NOTICE.md").read_text().count("CC BY-SA 4.0") >= 1


def test_build_features_command_writes_loadable_file(tmp_path, derived):
    out = tmp_path / "feat.npz"
    assert main([str(FSDD_WAVS), str(out)]) == 0
    written = load_npz(out)
    np.testing.assert_array_equal(written["features"], derived["features"])
    assert main([str(tmp_path / "missing"), str(tmp_path / "x.npz")]) == 2


def test_logmel_is_deterministic_fixed_shape_and_rate_independent():
    path = sorted(FSDD_WAVS.glob("*.wav"))[0]
    wave, rate_hz = read_wav(path)
    first = wav_logmel(path)
    assert first.shape == (16, 20)
    np.testing.assert_array_equal(first, wav_logmel(path))
    assert logmel(wave[:100], rate_hz).shape == (16, 20)  # shorter than one FFT window
    # the same clip at 16 kHz is resampled to 8 kHz: speech band features agree within ~1 dB
    from scipy.signal import resample_poly

    upsampled = logmel(resample_poly(wave, 2, 1), 2 * rate_hz)
    assert np.median(np.abs(upsampled - first)) < 1.0


def test_mel_filterbank_and_pooling_preserve_power():
    bank = mel_filterbank()
    assert bank.shape == (20, 129) and bank.max() <= 1.0
    assert np.all(bank.sum(axis=1) > 0)  # no empty band
    bin_hz = np.fft.rfftfreq(256, d=1 / 8000)
    centres_hz = mel_to_hz(np.linspace(0.0, hz_to_mel(4000.0), 22))[1:-1]
    first_centre_hz, last_centre_hz = centres_hz[0], centres_hz[-1]
    inside = (bin_hz >= first_centre_hz) & (bin_hz <= last_centre_hz)
    np.testing.assert_allclose(bank.sum(axis=0)[inside], 1.0, atol=1e-9)  # overlapping triangles tile
    values = np.random.default_rng(0).random((37, 4))
    np.testing.assert_allclose(pool_frames(values, 16).mean(axis=0), values.mean(axis=0))
    np.testing.assert_allclose(pool_frames(values[:32], 16), values[:32].reshape(16, 2, 4).mean(axis=1))


def test_fsdd_name_parsing():
    assert parse_fsdd_name("7_jackson_32.wav") == (7, "jackson", 32)
    with pytest.raises(DataError, match="notes.wav"):
        parse_fsdd_name("notes.wav")


def test_missing_and_corrupt_wav_raise_data_error_naming_file(tmp_path):
    with pytest.raises(DataError, match="nope.wav"):
        read_wav(tmp_path / "nope.wav")
    corrupt = tmp_path / "3_x_1.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(DataError, match="3_x_1.wav"):
        read_wav(corrupt)
    truncated = tmp_path / "4_x_1.wav"
    source = sorted(FSDD_WAVS.glob("*.wav"))[0]
    truncated.write_bytes(source.read_bytes()[:30])
    with pytest.raises(DataError, match="4_x_1.wav"):
        read_wav(truncated)


def test_wav_snr_is_achieved():
    wave, _ = read_wav(sorted(FSDD_WAVS.glob("*.wav"))[1])
    rng = np.random.default_rng(3)
    for snr_db in (-5.0, 0.0, 10.0, 20.0):
        noise = add_noise_at_snr(wave, snr_db, rng) - wave
        achieved = 10 * np.log10(np.mean(wave**2) / np.mean(noise**2))
        assert abs(achieved - snr_db) < 0.5


@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_feature_domain_noise_matches_real_waveform_noise(snr_db):
    """noisy_logmel (used for the shipped features) ~ log-mel of the waveform with real noise."""
    gaps, shifts = [], []
    for path in sorted(FSDD_WAVS.glob("*.wav")):
        wave, rate_hz = read_wav(path)
        clean = logmel(wave, rate_hz)
        rng = np.random.default_rng(0)
        real = np.mean([logmel(add_noise_at_snr(wave, snr_db, rng), rate_hz) for _ in range(4)], axis=0)
        simulated = np.mean([noisy_logmel(clean[None], np.array([np.mean(wave**2)]), np.array([wave.size]),
                                          snr_db, rng)[0] for _ in range(4)], axis=0)
        gaps.append(np.mean(real - simulated))
        shifts.append(np.mean(real - clean))
    assert np.min(shifts) > 3.0  # the noise really changes the features by several dB ...
    assert np.max(np.abs(gaps)) < 0.5  # ... and the simulation reproduces that within 0.5 dB

