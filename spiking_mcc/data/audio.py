"""WAV reading and a fixed-size log-mel spectrogram, in numpy/scipy only.

Pipeline (every number in `LogMelParams`): waveform in [-1, 1] at 8 kHz (resampled if needed)
-> Hann-windowed frames (n_fft 256 = 32 ms, hop 64 = 8 ms) -> power spectrum scaled by the window
energy (white noise of variance s2 gives s2 in every bin) -> triangular mel filterbank (HTK mel
scale, peak 1) -> the frame axis averaged into `n_frames` equal time segments (area-weighted, so any
clip length gives the same shape) -> 10 log10(power + floor) in dB. Output: (n_frames, n_mels).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path

import numpy as np

from spiking_mcc.errors import DataError


@dataclass(frozen=True)
class LogMelParams:
    """Feature parameters; stored beside the features in the shipped file."""

    sample_rate_hz: int = 8000  # FSDD's rate
    n_fft: int = 256  # 32 ms window at 8 kHz
    hop_length: int = 64  # 8 ms
    n_mels: int = 20
    n_frames: int = 16  # fixed number of time segments per clip
    fmin_hz: float = 0.0
    fmax_hz: float = 4000.0  # Nyquist at 8 kHz
    power_floor: float = 1e-10  # -100 dB; int16 quantisation noise is ~ -110 dB per bin

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The parameters as named 0-d arrays (for an .npz)."""
        return {f"param_{k}": np.asarray(v) for k, v in asdict(self).items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LogMelParams:
        fields = asdict(cls())
        return cls(**{k: type(v)(arrays[f"param_{k}"]) for k, v in fields.items()})


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a WAV file -> (mono waveform float64 in [-1, 1], sample rate Hz).

    int16/int32/uint8/float files are accepted; several channels are averaged.
    A missing, empty or corrupt file raises DataError naming it.
    """
    from scipy.io import wavfile

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: WAV file not found")
    try:
        with warnings.catch_warnings():  # unknown chunks are skipped; real damage raises below
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate_hz, samples = wavfile.read(path)
    except Exception as err:  # ValueError for bad headers, EOFError/struct errors for truncation
        raise DataError(f"{path}: not a readable WAV file ({type(err).__name__}: {err})") from None
    if samples.dtype == np.int16:
        wave = samples / 32768.0
    elif samples.dtype == np.int32:
        wave = samples / 2147483648.0
    elif samples.dtype == np.uint8:
        wave = (samples.astype(np.float64) - 128.0) / 128.0
    elif samples.dtype.kind == "f":
        wave = samples.astype(np.float64)
    else:
        raise DataError(f"{path}: unsupported WAV sample type {samples.dtype}")
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if wave.size == 0:
        raise DataError(f"{path}: WAV file has no samples")
    if not np.all(np.isfinite(wave)):
        raise DataError(f"{path}: WAV samples contain NaN or Inf")
    return wave, int(rate_hz)


def resample(wave: np.ndarray, rate_hz: int, target_hz: int) -> np.ndarray:
    """Polyphase resampling to target_hz (identity when the rates agree)."""
    if rate_hz == target_hz:
        return wave
    from scipy.signal import resample_poly

    common = gcd(rate_hz, target_hz)
    return resample_poly(wave, target_hz // common, rate_hz // common)


def hz_to_mel(f_hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(f_hz) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Triangular filters, (n_mels, n_fft // 2 + 1), peak 1, edges equally spaced in mel."""
    bin_hz = np.fft.rfftfreq(params.n_fft, d=1.0 / params.sample_rate_hz)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(params.fmin_hz), hz_to_mel(params.fmax_hz), params.n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


def power_spectrogram(wave: np.ndarray, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """(n_raw_frames, n_fft // 2 + 1) power per bin, divided by the window energy."""
    if wave.size < params.n_fft:
        wave = np.pad(wave, (0, params.n_fft - wave.size))
    n_raw = 1 + (wave.size - params.n_fft) // params.hop_length
    starts = np.arange(n_raw) * params.hop_length
    frames = wave[starts[:, None] + np.arange(params.n_fft)[None, :]]
    window = np.hanning(params.n_fft + 1)[:-1]  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    return np.abs(spectrum) ** 2 / np.sum(window**2)


def pool_frames(values: np.ndarray, n_frames: int) -> np.ndarray:
    """Average (n_raw, k) rows into n_frames equal segments of the time axis (area-weighted).

    Treats row i as constant on [i, i+1); segment j covers [j, j+1) * n_raw / n_frames. Works for
    n_raw smaller than n_frames too (short clips repeat rows).
    """
    n_raw = values.shape[0]
    cumulative = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])
    bounds = np.linspace(0.0, n_raw, n_frames + 1)
    whole = np.floor(bounds).astype(int).clip(0, n_raw - 1)
    at_bounds = cumulative[whole] + (bounds - whole)[:, None] * values[whole]
    return np.diff(at_bounds, axis=0) / (n_raw / n_frames)


def logmel(wave: np.ndarray, rate_hz: int, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """Log-mel spectrogram in dB, (n_frames, n_mels) float64; deterministic."""
    wave = resample(np.asarray(wave, dtype=np.float64), rate_hz, params.sample_rate_hz)
    mel_power = power_spectrogram(wave, params) @ mel_filterbank(params).T
    return 10.0 * np.log10(pool_frames(mel_power, params.n_frames) + params.power_floor)


def wav_logmel(path: str | os.PathLike, params: LogMelParams = LogMelParams()) -> np.ndarray:
    """read_wav + logmel for one file."""
    wave, rate_hz = read_wav(path)
    return logmel(wave, rate_hz, params)
