"""The one low-level write mechanism: a unique, tool-tagged temp file in the target's folder, fsync,
rename. `spiking_mcc.io.atomic_write` (every result file) and `spiking_mcc.outdir` (its manifest) use it;
no other code renames temp files."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# Every temp file this tool writes ends with this tag, so the next command holding the folder's lock can
# remove exactly its own leftovers (spiking_mcc.outdir) and never a user's `.x.tmp`.
TEMP_SUFFIX = ".spiking-mcc.tmp"


def is_temp_name(name: str) -> bool:
    """True for a temp file name made by replace_atomically (`.NAME.XXXXXXXX.spiking-mcc.tmp`)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def replace_atomically(path: Path, write: Callable[[BinaryIO], None]) -> os.stat_result:
    """Write a file under a unique temp name in the same folder, fsync it, rename it over `path`.

    The one write mechanism (no other code renames temp files). The temp file is created with mode
    0o666 and O_EXCL, so the kernel applies the umask as for any new file: the process-wide umask is
    neither read nor changed. On any error or interrupt the temp file is removed and `path` keeps its
    previous content. Returns the new file's stat (the proof spiking_mcc.outdir records)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    tmp, created = None, False
    try:
        while not created:
            tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
            try:
                fd = os.open(tmp, flags, 0o666)
                created = True
            except FileExistsError:
                continue
        with os.fdopen(fd, "w+b") as handle:  # readable too: HDF5 (NIR) seeks and reads back
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        stat = os.lstat(tmp)  # after close: the attributes a later lstat of `path` sees (a rename keeps them)
        os.replace(tmp, path)
        created = False
    except BaseException:
        if created:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    _fsync_folder(path.parent)
    return stat


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: some file systems cannot fsync a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
