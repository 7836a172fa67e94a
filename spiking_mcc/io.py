"""Result files written atomically (temp file + rename), read with clear errors; never pickle."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from spiking_mcc.errors import DataError


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create the output folder (and parents) if needed; return it as a Path."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DataError(f"output path {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
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


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, _default_file_mode())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write obj as indented JSON (numpy types converted, NaN -> null), atomically."""
    text = json.dumps(_to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    return _atomic_write(Path(path), lambda h: h.write(text.encode()))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    return _atomic_write(Path(path), lambda h: h.write(text.encode()))


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
    return _atomic_write(Path(path), lambda h: np.savez_compressed(h, **arrays))


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
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    def _write(handle):
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight")

    try:
        return _atomic_write(Path(path), _write)
    finally:
        plt.close(fig)
