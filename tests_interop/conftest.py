"""Interop tests (Python 3.11, `make interop`): the project side runs as a separate 3.10 process and
talks through files in INTEROP_DIR (default build/interop), written by scripts/interop_project.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def interop_dir() -> Path:
    path = Path(os.environ.get("INTEROP_DIR", ROOT / "build" / "interop"))
    if not (path / "manifest.json").is_file():
        raise FileNotFoundError(f"{path}/manifest.json missing: run scripts/interop_project.py export {path}")
    return path


@pytest.fixture(scope="session")
def manifest(interop_dir):
    return json.loads((interop_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def project():
    """Run the project's side: project('import', ...) -> completed process (raises on failure)."""
    python = os.environ.get("PROJECT_PYTHON", str(ROOT / ".venv" / "bin" / "python"))

    def run(*args):
        done = subprocess.run([python, str(ROOT / "scripts" / "interop_project.py"), *map(str, args)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise RuntimeError(f"project side failed ({done.returncode}): {done.stderr[-2000:]}")
        return done

    return run
