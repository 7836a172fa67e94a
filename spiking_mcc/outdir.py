"""One output folder per command: a lock, a manifest of what the tool wrote, and nothing else touched.

`output_folder(out)` (the CLI opens it for every subcommand's --out; `run_pipeline` too) gives the
command an OutputFolder:

- `out` must name a folder path: not empty or blank, not a regular file, not below a regular file.
  Missing folders are created; folders this command created and left empty are removed again.
- A lock file `.spiking-mcc.lock`, held with fcntl.flock for the whole command: a second command
  writing into the same folder is refused at once with one line (the first one's pid and command);
  so is one into a folder inside a held folder, and no command writes into a sub-folder another holds.
- A manifest `.spiking-mcc.manifest` records every file written through spiking_mcc.io into the
  folder (or a real sub-folder of it) with its proof: inode, size and mtime in ns. A file is
  the tool's own only while it still matches that proof: a file the user edited, replaced or created
  under one of our names is never overwritten (OutputFolderError names it) and never removed. The
  manifest of a folder above or below (`run --out R`, then `convert --out R/convert_mcc`) proves too.
- Paths are checked component by component with lstat: nothing is written or removed through a
  symbolic link, and nothing outside the folder.
- Temp files of the atomic writer carry a tool-specific tag (spiking_mcc.atomic.TEMP_SUFFIX). A command
  killed by SIGKILL can leave one; the next command holding the lock removes exactly those, one folder
  at a time (never recursively), in the folders the manifest says the tool wrote into.

`remove_previous_outputs()` (what `spiking-mcc run` does first, so its report shows this run only)
removes every file the manifest proves is the tool's own, and nothing else. See README.md, "What
`make demo` produces".
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

from spiking_mcc.atomic import is_temp_name, replace_atomically
from spiking_mcc.errors import OutputFolderError, ParameterError

LOCK_NAME = ".spiking-mcc.lock"
MANIFEST_NAME = ".spiking-mcc.manifest"  # JSON, but not `*.json`: globs for result files skip it
MANIFEST_FORMAT = "spiking-mcc/output-folder-v1"
RESERVED_NAMES = (LOCK_NAME, MANIFEST_NAME)

_active: list[OutputFolder] = []  # folders this process holds, innermost last


def check_out_path(out: str | os.PathLike) -> Path:
    """`out` as a Path if it can name an output folder; ParameterError (one line) otherwise."""
    if not isinstance(out, (str, os.PathLike)):
        raise ParameterError(f"--out: expected a folder path, got {type(out).__name__}")
    text = os.fspath(out)
    if isinstance(text, bytes) or not text.strip():
        raise ParameterError(f"--out: {text!r} is not a folder path; name a folder, e.g. --out results")
    if "\0" in text:
        raise ParameterError(f"--out: {text!r} contains a NUL character")
    path = Path(text)
    for candidate in (path, *path.parents):
        try:
            is_dir = candidate.is_dir()
            exists = is_dir or candidate.exists()
        except OSError as err:  # e.g. a path component longer than the file system allows
            raise ParameterError(f"--out: {text!r}: {err.strerror}") from None
        if is_dir:
            return path
        if exists:
            where = "is" if candidate == path else f"is below {candidate}, which is"
            raise ParameterError(f"--out: {text} {where} a file, not a folder")
    return path


def folder_for(path: str | os.PathLike) -> OutputFolder | None:
    """The output folder this process holds that contains `path`, or None."""
    target = os.path.abspath(path)
    for folder in reversed(_active):
        if folder.relative(target) is not None:
            return folder
    return None


@contextlib.contextmanager
def output_folder(out: str | os.PathLike, command: str = "") -> Iterator[OutputFolder]:
    """Hold `out` for the duration of the block (re-entrant within one process)."""
    path = check_out_path(out)
    held = next((f for f in _active if f.real == os.path.realpath(path)), None)
    if held is not None:
        yield held
        return
    folder = OutputFolder(path, command)
    _active.append(folder)
    try:
        yield folder
    finally:
        _active.remove(folder)
        folder.close()


class OutputFolder:
    """A locked output folder and its manifest (see the module docstring)."""

    def __init__(self, path: Path, command: str = ""):
        self.path = Path(os.path.abspath(path))
        self._lock = threading.Lock()
        self._created = self._make_root()
        self.real = os.path.realpath(self.path)
        self._lock_fd = self._acquire(command)
        try:
            self._cleaned: set[str] = set()
            self._load_manifest()
            for rel in sorted(self.folders | {""}):
                self._remove_leftovers(rel)
        except BaseException:
            os.close(self._lock_fd)
            raise

    # ------------------------------------------------------------ paths

    def relative(self, target: str) -> str | None:
        """`target` (absolute) relative to the folder ("" for the folder itself), or None if outside."""
        for base in (str(self.path), self.real):
            if target == base:
                return ""
            if target.startswith(base.rstrip(os.sep) + os.sep):
                rel = os.path.normpath(target[len(base.rstrip(os.sep)) + 1:])
                if rel != ".." and not rel.startswith(".." + os.sep):
                    return "" if rel == "." else rel
        return None

    def _rel(self, path: str | os.PathLike) -> str:
        rel = self.relative(os.path.abspath(path))
        if rel is None:
            raise OutputFolderError(f"{path} is outside the output folder {self.path}")
        return rel

    def _check_folder(self, rel: str, create: bool) -> None:
        """Every component of `rel` below the folder is a real folder (created if asked), never a link."""
        current = self.path
        for part in Path(rel).parts if rel else ():
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                if not create:
                    return
                os.mkdir(current)
                continue
            if stat.S_ISLNK(mode):
                raise OutputFolderError(f"{current} is a symbolic link; spiking-mcc writes only into real "
                                        f"folders inside {self.path}")
            if not stat.S_ISDIR(mode):
                raise OutputFolderError(f"{current} is a file, not a folder")

    def make_dirs(self, path: str | os.PathLike) -> None:
        """Create `path` (inside the folder) as real folders."""
        self._check_folder(self._rel(path), create=True)

    # ------------------------------------------------------------ ownership

    def _matches(self, rel: str) -> bool:
        """True if `rel` is a regular file this tool wrote here and nobody changed since."""
        proof = self.files.get(rel)
        if proof is None:
            return False
        try:
            self._check_folder(os.path.dirname(rel), create=False)
            st = os.lstat(self.path / rel)
        except (OSError, OutputFolderError):
            return False
        return stat.S_ISREG(st.st_mode) and proof == _proof(st)

    def prepare_write(self, path: str | os.PathLike) -> None:
        """Before the atomic writer replaces `path`: refuse unless it is absent or provably ours."""
        rel = self._rel(path)
        if rel == "" or os.path.basename(rel) in RESERVED_NAMES:
            raise OutputFolderError(f"{path}: name reserved for the output folder's lock and manifest")
        folder = os.path.dirname(rel)
        self._check_folder(folder, create=True)
        target = self.path / rel
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and not (self._matches(rel) or _proven_by_another_manifest(target, self.path)):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "a file"
            raise OutputFolderError(
                f"{target} is {kind} that spiking-mcc did not write (or it changed since); not overwritten: "
                "move it away or choose another --out")
        with self._lock:
            if folder not in self.folders:  # recorded before the first temp file appears there
                self.folders.add(folder)
                self._save_manifest()
            if folder not in self._cleaned:
                self._refuse_if_held_elsewhere(folder)
                self._remove_leftovers(folder)

    def record(self, path: str | os.PathLike, st: os.stat_result) -> None:
        """After the atomic writer renamed its temp file to `path`: `st` proves the file is ours."""
        with self._lock:
            self.files[self._rel(path)] = _proof(st)
            self._save_manifest()

    def remove_previous_outputs(self) -> list[Path]:
        """Remove every file the manifest proves this tool wrote here; return them. Nothing else."""
        removed = []
        with self._lock:
            for rel in sorted(self.files):
                if self._matches(rel):
                    os.unlink(self.path / rel)
                    removed.append(self.path / rel)
            self.files.clear()
            self._save_manifest()
        return removed

    # ------------------------------------------------------------ lock, manifest, leftovers

    def _make_root(self) -> list[Path]:
        """Create the folder and missing parents; return the ones created (outermost first)."""
        missing = [p for p in (self.path, *self.path.parents) if not p.is_dir()][::-1]
        created = []
        for folder in missing:
            try:
                os.mkdir(folder)
            except FileExistsError:
                if not folder.is_dir():
                    raise ParameterError(f"--out: {folder} is a file, not a folder") from None
                continue
            created.append(folder)
        return created

    def _acquire(self, command: str) -> int:
        lock_path = self.path / LOCK_NAME
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        while True:
            try:
                fd = os.open(lock_path, flags, 0o666)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise OutputFolderError(f"{lock_path} is a symbolic link; not used as a lock") from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise OutputFolderError(
                    f"--out {self.path}: in use by another spiking-mcc command ({holder}); wait for it to "
                    "finish or choose another folder") from None
            try:  # the file we locked is still the one at the path (an empty folder's close removes it)
                same = os.path.samestat(os.fstat(fd), os.lstat(lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        for parent in self.path.parents:  # a command holding a folder above this one writes below it too
            holder = _holder(parent)
            if holder is not None:
                os.close(fd)
                raise OutputFolderError(f"--out {self.path}: inside {parent}, which another spiking-mcc "
                                        f"command holds ({holder}); wait for it to finish or choose another "
                                        "folder")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}{', spiking-mcc ' + command if command else ''}\n".encode(), 0)
        return fd

    def _held_below(self, rel: str) -> tuple[Path, str] | None:
        """(folder, holder) if another command holds sub-folder `rel` or a folder between."""
        current = self.path
        for part in Path(rel).parts if rel else ():
            current = current / part
            holder = _holder(current)
            if holder is not None:
                return current, holder
        return None

    def _refuse_if_held_elsewhere(self, rel: str) -> None:
        """Before the first write into sub-folder `rel`: no other command holds it."""
        held = self._held_below(rel)
        if held is not None:
            raise OutputFolderError(f"{held[0]} is in use by another spiking-mcc command ({held[1]}); "
                                    "wait for it to finish or choose another --out")

    def _load_manifest(self) -> None:
        """Read the manifest; keep only entries inside the folder whose file still matches its proof."""
        path = self.path / MANIFEST_NAME
        self.files, self.folders = {}, set()
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        try:
            if not stat.S_ISREG(st.st_mode):
                raise ValueError("not a regular file")
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format is not {MANIFEST_FORMAT}")
            files = {str(rel): dict(proof) for rel, proof in doc["files"].items()}
            folders = {str(rel) for rel in doc["folders"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise OutputFolderError(f"{path} is not a spiking-mcc manifest ({err}); the folder is not used: "
                                    "move the file away or choose another --out") from None
        self.files = {rel: proof for rel, proof in files.items() if _is_inside(rel) and rel}
        self.files = {rel: proof for rel, proof in self.files.items() if self._matches(rel)}
        self.folders = {rel for rel in folders if _is_inside(rel)}

    def _save_manifest(self) -> None:
        doc = {"format": MANIFEST_FORMAT, "files": dict(sorted(self.files.items())),
               "folders": sorted(self.folders)}
        text = json.dumps(doc, indent=1) + "\n"
        replace_atomically(self.path / MANIFEST_NAME, lambda handle: handle.write(text.encode()))

    def _remove_leftovers(self, rel: str) -> None:
        """Remove this tool's temp files (by their tag) directly in folder `rel`; not recursive. Not in a
        sub-folder another command holds now: its temp files are live."""
        if self._held_below(rel) is not None:
            return
        self._cleaned.add(rel)
        try:
            self._check_folder(rel, create=False)
            entries = list(os.scandir(self.path / rel))
        except (OSError, OutputFolderError):
            return
        for entry in entries:
            if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def close(self) -> None:
        """Release the lock; a folder this command created and wrote nothing into is removed again."""
        try:
            if self._created and not self.files:
                for name in RESERVED_NAMES:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.path / name)
                for folder in reversed(self._created):
                    with contextlib.suppress(OSError):  # not empty: something else is in it now
                        os.rmdir(folder)
        finally:
            os.close(self._lock_fd)


def _holder(folder: Path) -> str | None:
    """Who holds `folder`'s lock, if another process does (a folder this process holds: None)."""
    if any(held.path == folder for held in _active):
        return None
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(folder / LOCK_NAME, flags)
    except OSError:  # no lock file (or not a regular one): nobody holds it
        return None
    try:
        try:  # shared and released at once: it only asks whether an exclusive holder exists
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _proven_by_another_manifest(target: Path, root: Path) -> bool:
    """`target` was written by a command that held a folder above or below `root` (e.g. `run --out R`
    wrote R/convert_mcc/x.png; now `convert --out R/convert_mcc`), and is unchanged since."""
    try:
        st = os.lstat(target)
    except OSError:
        return False
    for folder in target.parents:
        if folder == root:
            continue
        try:
            if not stat.S_ISREG(os.lstat(folder / MANIFEST_NAME).st_mode):
                continue
            doc = json.loads((folder / MANIFEST_NAME).read_text())
            proof = doc["files"].get(target.relative_to(folder).as_posix())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if doc.get("format") == MANIFEST_FORMAT and proof == _proof(st) and stat.S_ISREG(st.st_mode):
            return True
    return False


def _proof(st: os.stat_result) -> dict[str, int]:
    """What a file must still show to count as the tool's own. Not the device number: that can change
    between mounts (NFS, containers) while the folder and its files stay the same."""
    return {"inode": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _is_inside(rel: str) -> bool:
    """A manifest entry names a path below the folder ("" is the folder itself)."""
    if rel == "":
        return True
    normal = rel == os.path.normpath(rel) and rel != "."
    return normal and not os.path.isabs(rel) and ".." not in Path(rel).parts
