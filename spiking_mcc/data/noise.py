"""Additive white Gaussian noise at a chosen signal-to-noise ratio, per sample, seeded.

SNR (dB) = 10 log10(P_signal / P_noise), P = mean square of one sample (a waveform, an image).

- `add_noise_at_snr`: noise added directly to arrays (waveforms; pixels, optionally clipped).
- `noisy_logmel`: the audio features of AV digits are shipped as log-mel dB, not waveforms, so
  waveform noise is reproduced in the mel-power domain: white noise at the waveform SNR is passed
  through the same pipeline (`audio.power_spectrogram`, filterbank, `pool_frames`) and its mel power
  is added to the clean mel power. This is exact except for the signal-noise cross term, which has
  zero mean (tests compare it with features of genuinely noisy waveforms).
"""

from __future__ import annotations

import numpy as np

from spiking_mcc.data.audio import LogMelParams, mel_filterbank, pool_frames, power_spectrogram
from spiking_mcc.errors import ParameterError

NOISE_BANK_FRAMES = 4096  # raw frames of unit white noise from which each clip's noise is cut


def noise_std_for_snr(signal_power: np.ndarray | float, snr_db: float) -> np.ndarray:
    """Noise standard deviation giving `snr_db` for the given mean signal power(s)."""
    return np.sqrt(np.asarray(signal_power, dtype=np.float64) / 10.0 ** (snr_db / 10.0))


def _check_snr(snr_db: float) -> float:
    snr_db = float(snr_db)
    if not np.isfinite(snr_db) or not -40.0 <= snr_db <= 100.0:
        raise ParameterError(f"snr_db: allowed range [-40, 100] dB, got {snr_db}")
    return snr_db


def add_noise_at_snr(x: np.ndarray, snr_db: float, rng: np.random.Generator,
                     clip: tuple[float, float] | None = None) -> np.ndarray:
    """x (n, ...) plus Gaussian noise at `snr_db` relative to each row's mean square.

    A 1-D x is one sample (e.g. one waveform). With `clip`, the result is clipped to that range
    after adding noise (pixels in [0, 1]); the SNR then refers to the noise before clipping.
    """
    snr_db = _check_snr(snr_db)
    x = np.asarray(x, dtype=np.float64)
    rows = x.reshape(1, -1) if x.ndim == 1 else x.reshape(x.shape[0], -1)
    std = noise_std_for_snr(np.mean(rows**2, axis=1), snr_db)
    noisy = rows + std[:, None] * rng.standard_normal(rows.shape)
    if clip is not None:
        noisy = np.clip(noisy, *clip)
    return noisy.reshape(x.shape)


def _unit_noise_mel_bank(params: LogMelParams, rng: np.random.Generator) -> np.ndarray:
    """(NOISE_BANK_FRAMES, n_mels) mel power of unit-variance white noise, raw (unpooled) frames."""
    n_samples = params.n_fft + (NOISE_BANK_FRAMES - 1) * params.hop_length
    wave = rng.standard_normal(n_samples)
    return power_spectrogram(wave, params) @ mel_filterbank(params).T


def noisy_logmel(logmel_db: np.ndarray, signal_power: np.ndarray, n_samples: np.ndarray, snr_db: float,
                 rng: np.random.Generator, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Log-mel features (n, n_frames, n_mels) in dB of the clips with white noise at `snr_db` added.

    signal_power: (n,) mean square of each clean waveform; n_samples: (n,) its length at
    params.sample_rate_hz. Each clip gets its own noise realisation (a random stretch of a seeded
    white-noise bank, as many raw frames as the clip has).
    """
    snr_db = _check_snr(snr_db)
    clean_power = np.clip(10.0 ** (np.asarray(logmel_db, dtype=np.float64) / 10.0) - params.power_floor,
                          0.0, None)
    noise_var = noise_std_for_snr(signal_power, snr_db) ** 2
    bank = _unit_noise_mel_bank(params, rng)
    n_raw = 1 + (np.maximum(n_samples, params.n_fft) - params.n_fft) // params.hop_length
    if n_raw.max() > len(bank):
        raise ParameterError(f"n_samples: clips longer than {len(bank)} frames are not supported, "
                             f"got {int(n_raw.max())}")
    starts = rng.integers(0, len(bank) - n_raw + 1)
    noise_power = np.stack([pool_frames(bank[s:s + n], params.n_frames) for s, n in zip(starts, n_raw)])
    noisy_power = clean_power + noise_var[:, None, None] * noise_power
    return 10.0 * np.log10(noisy_power + params.power_floor)
