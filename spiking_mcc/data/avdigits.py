"""Audio-visual digits: FSDD log-mel features paired by label with scikit-learn digit images.

The AV-MNIST construction at small scale (docs/data.md). Audio: the shipped
`fsdd_logmel.npz` (3,000 Free Spoken Digit Dataset recordings, CC BY-SA 4.0, see FSDD_NOTICE.md),
FSDD's official split (index 0-4 test: 300 samples; 5-49 train: 2,700). Visual: 8x8 digits,
pixel / 16, from `load_digits_split(seed)`. Every recording is paired with an image of the same
digit: train recordings with train images, test recordings with test images, so no image appears on
both sides. Within a split and label the images are used as evenly as possible (each image at most
once more than any other), in a seeded random order; the rows are shuffled with the seed.

Noise (optional, seeded by `seed`): `audio_snr_db` adds white Gaussian noise at that waveform SNR,
reproduced in the mel-power domain (`noise.noisy_logmel`); `visual_snr_db` adds Gaussian noise to
the pixels at that SNR (per-image mean square) and clips to [0, 1]. `noisy_splits` says which splits
get noise ("both" by default). Audio features are standardised with the mean and std of the CLEAN
train features, so clean and noisy versions share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from spiking_mcc.data.audio import LogMelParams
from spiking_mcc.data.build_features import FORMAT
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.data.noise import add_noise_at_snr, noisy_logmel
from spiking_mcc.errors import DataError, ParameterError
from spiking_mcc.io import load_npz
from spiking_mcc.limits import check_seed

FEATURE_FILE = Path(__file__).with_name("fsdd_logmel.npz")
NOISY_SPLITS = ("both", "train", "test")
N_CLASSES = 10
# Seed offsets keep the pairing and the noise draws of one seed independent of each other.
_PAIRING_STREAM, _AUDIO_NOISE_STREAM, _VISUAL_NOISE_STREAM = 0, 1, 2


@dataclass(frozen=True)
class AVDigits:
    """Paired audio-visual digits. audio_*: (n, n_audio) float32 standardised log-mel;
    visual_*: (n, 64) float32 in [0, 1]; y_*: (n,) int64 in [0, 10); speaker_*: (n,) int64 ids."""

    audio_train: np.ndarray
    visual_train: np.ndarray
    y_train: np.ndarray
    audio_test: np.ndarray
    visual_test: np.ndarray
    y_test: np.ndarray
    speaker_train: np.ndarray
    speaker_test: np.ndarray
    audio_shape: tuple[int, int]  # (n_frames, n_mels) of one audio sample
    speaker_names: tuple[str, ...]
    audio_snr_db: float | None
    visual_snr_db: float | None

    @property
    def n_audio(self) -> int:
        return self.audio_train.shape[1]

    @property
    def n_visual(self) -> int:
        return self.visual_train.shape[1]


@lru_cache(maxsize=2)
def _load_feature_file(path: str) -> dict[str, np.ndarray]:
    arrays = load_npz(path, required=("format", "features", "labels", "is_test", "signal_power", "n_samples",
                                      "speaker_ids", "speaker_names"))
    if str(arrays["format"]) != FORMAT:
        raise DataError(f"{path}: array 'format' is {str(arrays['format'])!r}, expected {FORMAT!r}")
    if not np.all(np.isfinite(arrays["features"])):
        raise DataError(f"{path}: array 'features' contains NaN or Inf")
    return arrays


def load_fsdd_features(path: str | Path = FEATURE_FILE) -> dict[str, np.ndarray]:
    """The arrays of an FSDD feature file (see `build_features`), validated; cached per path."""
    return dict(_load_feature_file(str(path)))


def pair_images(audio_labels: np.ndarray, image_labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each audio label, the index of an image with the same label; images used evenly, seeded."""
    chosen = np.empty(len(audio_labels), dtype=np.int64)
    for digit in np.unique(audio_labels):
        slots = np.flatnonzero(audio_labels == digit)
        pool = np.flatnonzero(image_labels == digit)
        if pool.size == 0:
            raise DataError(f"no image with label {digit} to pair with audio")
        repeats = -(-slots.size // pool.size)
        order = np.concatenate([rng.permutation(pool) for _ in range(repeats)])
        chosen[slots] = order[:slots.size]
    return chosen


def _check_snr_arg(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number in dB or None, got {value!r}") from None


def load_avdigits(seed: int = 0, audio_snr_db: float | None = None, visual_snr_db: float | None = None,
                  noisy_splits: str = "both", feature_file: str | Path = FEATURE_FILE) -> AVDigits:
    """Paired audio-visual digits (2,700 train, 300 test) with optional noise; see module docstring."""
    check_seed(seed)
    if noisy_splits not in NOISY_SPLITS:
        raise ParameterError(f"noisy_splits: expected one of {list(NOISY_SPLITS)}, got {noisy_splits!r}")
    audio_snr_db = _check_snr_arg("audio_snr_db", audio_snr_db)
    visual_snr_db = _check_snr_arg("visual_snr_db", visual_snr_db)
    arrays = load_fsdd_features(feature_file)
    params = LogMelParams.from_arrays(arrays)
    is_test = arrays["is_test"].astype(bool)
    labels = arrays["labels"].astype(np.int64)
    logmel_db = arrays["features"].astype(np.float64)
    images = load_digits_split(seed)

    splits = {}
    for index, (split, mask, x_img, y_img) in enumerate((("train", ~is_test, images.x_train, images.y_train),
                                                         ("test", is_test, images.x_test, images.y_test))):
        pairing_rng = np.random.default_rng([seed, _PAIRING_STREAM, index])
        rows = np.flatnonzero(mask)
        rows = rows[pairing_rng.permutation(rows.size)]
        image_rows = pair_images(labels[rows], y_img, pairing_rng)
        splits[split] = {"rows": rows, "visual": x_img[image_rows].astype(np.float64)}

    n_audio = params.n_frames * params.n_mels
    clean_train = logmel_db[splits["train"]["rows"]].reshape(-1, n_audio)
    mean, std = clean_train.mean(axis=0), clean_train.std(axis=0)
    std[std == 0] = 1.0
    for index, (split, parts) in enumerate(splits.items()):
        rows = parts["rows"]
        noisy = noisy_splits in ("both", split)
        audio_db = logmel_db[rows]
        if noisy and audio_snr_db is not None:
            rng = np.random.default_rng([seed, _AUDIO_NOISE_STREAM, index])
            audio_db = noisy_logmel(audio_db, arrays["signal_power"][rows], arrays["n_samples"][rows],
                                    audio_snr_db, rng, params)
        parts["audio"] = ((audio_db.reshape(-1, n_audio) - mean) / std).astype(np.float32)
        if noisy and visual_snr_db is not None:
            rng = np.random.default_rng([seed, _VISUAL_NOISE_STREAM, index])
            parts["visual"] = add_noise_at_snr(parts["visual"], visual_snr_db, rng, clip=(0.0, 1.0))
        parts["visual"] = parts["visual"].astype(np.float32)

    train, test = splits["train"], splits["test"]
    return AVDigits(
        audio_train=train["audio"], visual_train=train["visual"], y_train=labels[train["rows"]],
        audio_test=test["audio"], visual_test=test["visual"], y_test=labels[test["rows"]],
        speaker_train=arrays["speaker_ids"][train["rows"]].astype(np.int64),
        speaker_test=arrays["speaker_ids"][test["rows"]].astype(np.int64),
        audio_shape=(params.n_frames, params.n_mels),
        speaker_names=tuple(str(s) for s in arrays["speaker_names"]),
        audio_snr_db=audio_snr_db, visual_snr_db=visual_snr_db,
    )
