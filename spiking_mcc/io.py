"""Result files written atomically (unique temp file, fsync, rename), read with clear errors; never pickle.

Every file the tool writes (JSON, NPZ, PNG, text/HTML, NIR, ONNX) goes through `atomic_write`; see
spiking_mcc.outdir for what it may replace inside a command's --out folder."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from spiking_mcc.atomic import TEMP_SUFFIX, is_temp_name, replace_atomically  # noqa: F401 (re-exported)
from spiking_mcc.errors import DataError
from spiking_mcc.outdir import check_out_path, folder_for


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and parents) if needed; return it as a Path.

    Inside the output folder a command holds (spiking_mcc.outdir), sub-folders are created only as real
    folders, never through a symbolic link. A path that is empty or lies below a regular file is a
    ParameterError naming it."""
    out = check_out_path(path)
    folder = folder_for(out)
    if folder is not None:
        folder.make_dirs(out)
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder should be
        raise DataError(f"output path {out} exists and is not a folder") from None
    return out


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/Inf; null says "not defined"
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write `path` atomically through `write(handle)`: every file the tool writes goes through here.

    Inside an output folder a command holds (spiking_mcc.outdir.output_folder), an existing file is
    replaced only if the folder's manifest proves this tool wrote it, and the new file is recorded
    there; anywhere else the caller's path is written as asked."""
    path = Path(path)
    folder = folder_for(path)
    if folder is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, write)
    else:
        folder.prepare_write(path)
        folder.record(path, replace_atomically(path, write))
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write obj as indented JSON (numpy types converted, NaN -> null), atomically."""
    text = json.dumps(_to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write(Path(path), lambda h: h.write(text.encode()))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    return atomic_write(Path(path), lambda h: h.write(text.encode()))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or corrupt file raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Save arrays to a compressed .npz atomically (no object arrays, so no pickle)."""
    for name, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise DataError(f"{path}: array '{name}' has dtype object; refusing to pickle")
    return atomic_write(Path(path), lambda h: np.savez_compressed(h, **arrays))


def load_npz(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array of an .npz (allow_pickle=False); missing keys or a corrupt file -> DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as err:  # zipfile.BadZipFile, ValueError (pickled objects), OSError
        raise DataError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DataError(f"{path}: missing array(s) {missing}; found {sorted(arrays)}")
    return arrays


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically (spiking_mcc.plotting's figures are not pyplot's: there
    is nothing to close)."""

    def _write(handle):
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")

    return atomic_write(Path(path), _write)
