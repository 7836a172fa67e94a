"""Derive the compact FSDD log-mel feature file from a folder of FSDD-style WAVs.

    python -m spiking_mcc.data.build_features SRC_DIR OUT.npz

SRC_DIR holds `{digit}_{speaker}_{index}.wav` files (the Free Spoken Digit Dataset's `recordings/`).
The shipped `spiking_mcc/data/fsdd_logmel.npz` was made with this from all 3,000 recordings
(FSDD, CC BY-SA 4.0; see FSDD_NOTICE.md). Keys of the file:

- `format`: "spiking-mcc/fsdd-logmel-v1"
- `features`: (n, n_frames, n_mels) float16, log-mel power in dB (`audio.logmel`)
- `labels`: (n,) int64 digit; `speakers`: (n,) str; `speaker_ids`: (n,) int64 index into `speaker_names`
- `recording_index`: (n,) int64; `is_test`: (n,) bool (FSDD official split: index 0-4 test, 5-49 train)
- `file_names`: (n,) str; `signal_power`: (n,) float32 mean squared waveform (in [-1, 1] units);
  `n_samples`: (n,) int64 clip length at the feature rate (both used to add waveform-equivalent noise)
- `param_*`: the `LogMelParams` used
Rows are sorted by (digit, speaker, index).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

from spiking_mcc.data.audio import LogMelParams, logmel, read_wav, resample
from spiking_mcc.errors import DataError

FORMAT = "spiking-mcc/fsdd-logmel-v1"
FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$", re.IGNORECASE)
FSDD_TEST_MAX_INDEX = 4  # FSDD README: recordings with index 0-4 form the official test set


def parse_fsdd_name(path: str | os.PathLike) -> tuple[int, str, int]:
    """'7_jackson_32.wav' -> (7, 'jackson', 32); other names raise DataError naming the file."""
    match = FSDD_NAME.match(Path(path).name)
    if match is None:
        raise DataError(f"{path}: file name is not '{{digit}}_{{speaker}}_{{index}}.wav'")
    return int(match.group(1)), match.group(2), int(match.group(3))


def list_fsdd_wavs(src_dir: str | os.PathLike) -> list[Path]:
    """The FSDD-style WAVs of a folder, sorted by (digit, speaker, index); none -> DataError."""
    src = Path(src_dir)
    if not src.is_dir():
        raise DataError(f"{src}: WAV folder not found")
    paths = [p for p in src.iterdir() if p.suffix.lower() == ".wav"]
    if not paths:
        raise DataError(f"{src}: no .wav files in the folder")
    return sorted(paths, key=parse_fsdd_name)


def build_feature_arrays(src_dir: str | os.PathLike, params: LogMelParams = LogMelParams(),
                         progress: bool = False) -> dict[str, np.ndarray]:
    """Compute every array of the feature file (see module docstring) from a WAV folder."""
    paths = list_fsdd_wavs(src_dir)
    names = [parse_fsdd_name(p) for p in paths]
    if progress:
        from tqdm import tqdm

        paths_iter = tqdm(paths, desc="log-mel", unit="wav", file=sys.stderr)
    else:
        paths_iter = paths
    features, powers, lengths = [], [], []
    for path in paths_iter:
        wave, rate_hz = read_wav(path)
        wave = resample(wave, rate_hz, params.sample_rate_hz)
        features.append(logmel(wave, params.sample_rate_hz, params))
        powers.append(np.mean(wave**2))
        lengths.append(wave.size)
    speakers = np.array([speaker for _, speaker, _ in names])
    speaker_names = np.array(sorted(set(speakers.tolist())))
    index = np.array([i for _, _, i in names], dtype=np.int64)
    return {
        "format": np.array(FORMAT),
        "features": np.stack(features).astype(np.float16),
        "labels": np.array([digit for digit, _, _ in names], dtype=np.int64),
        "speakers": speakers,
        "speaker_names": speaker_names,
        "speaker_ids": np.searchsorted(speaker_names, speakers).astype(np.int64),
        "recording_index": index,
        "is_test": index <= FSDD_TEST_MAX_INDEX,
        "file_names": np.array([p.name for p in paths]),
        "signal_power": np.array(powers, dtype=np.float32),
        "n_samples": np.array(lengths, dtype=np.int64),
        **params.as_arrays(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spiking_mcc.data.build_features",
                                     description="Log-mel features of a folder of FSDD-style WAVs -> .npz")
    parser.add_argument("src_dir", help="folder of {digit}_{speaker}_{index}.wav files")
    parser.add_argument("out", help="output .npz file")
    args = parser.parse_args(argv)
    from spiking_mcc.io import save_npz

    try:
        arrays = build_feature_arrays(args.src_dir, progress=True)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    save_npz(args.out, **arrays)
    n_test = int(arrays["is_test"].sum())
    print(f"{args.out}: {len(arrays['labels'])} recordings ({n_test} test), "
          f"features {arrays['features'].shape[1:]} float16, {os.path.getsize(args.out) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
