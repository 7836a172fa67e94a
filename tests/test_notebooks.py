"""The notebooks are stored with their outputs, and every one still runs top to bottom here.

Stored: every code cell executed in order with its outputs (figures as PNG), no error, no volatile
metadata, small files (`scripts/execute_notebooks.py` / `make notebooks-store` writes them). Executed:
each notebook in a fresh kernel of this interpreter raises no error, and produces the same kinds of
output per cell as the stored copy (text where text is stored, as many figures), so stored outputs that
no longer match the code fail here.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
STORE_SCRIPT = ROOT / "scripts" / "execute_notebooks.py"
CELL_TIMEOUT_S = 240
MAX_NOTEBOOK_BYTES = 300_000  # figures at 72 dpi keep each notebook well below this


def _execute(nb, cwd: Path):
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _output_kinds(cell) -> tuple[bool, int]:
    """What a cell shows, independent of numbers and timing: (prints text to stdout or returns a value,
    number of PNG figures). stderr (warnings) is left out: it differs between machines."""
    text = any((out.output_type == "stream" and out.get("name") == "stdout")
               or (out.output_type == "execute_result") for out in cell.outputs)
    figures = sum("image/png" in out.get("data", {}) for out in cell.outputs)
    return text, figures


def test_there_are_five_readable_notebooks():
    import nbformat

    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"], [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        kinds = [cell.cell_type for cell in nb.cells]
        assert kinds[0] == "markdown" and kinds.count("markdown") >= 3, f"{path.name}: needs prose"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_with_its_outputs(path):
    import nbformat

    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name}: {path.stat().st_size} bytes"
    nb = nbformat.read(path, as_version=4)
    cells = _code_cells(nb)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), \
        f"{path.name}: execution counts {counts}; re-store with `make notebooks-store`"
    for cell in cells:
        assert cell.outputs, f"{path.name}, cell {cell.execution_count}: no stored output"
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"{path.name}, cell {cell.execution_count}: stored error {errors[0].get('ename')}"
        assert "execution" not in cell.metadata, f"{path.name}: execution timings are stored"
    assert sum(_output_kinds(cell)[1] for cell in cells) >= 1, f"{path.name}: no inline figure"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, f"{path.name}: volatile metadata stored"


def test_kernel_runs_this_interpreter(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    executed = _execute(nb, tmp_path)
    assert executed.cells[0].outputs[0]["text"].strip() == sys.prefix


def test_store_script_writes_outputs_deterministically(tmp_path):
    """The storing script executes a notebook, strips timings and writes the same bytes twice."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("# tiny"),
             nbformat.v4.new_code_cell("import numpy as np\nrng = np.random.default_rng(0)\n"
                                       "for k in range(3):\n    print(k, rng.integers(100))"),
             nbformat.v4.new_code_cell("1 + 1")]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    stored = []
    for _ in range(2):
        run = subprocess.run([sys.executable, str(STORE_SCRIPT), str(path)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        stored.append(path.read_bytes())
    assert stored[0] == stored[1]
    nb = nbformat.read(path, as_version=4)
    first, second = _code_cells(nb)
    assert [out.output_type for out in first.outputs] == ["stream"]  # chunks merged into one
    assert first.outputs[0].text.splitlines()[0].startswith("0 ")
    assert second.outputs[0].data["text/plain"] == "2"
    assert [cell.execution_count for cell in (first, second)] == [1, 2]
    assert "execution" not in first.metadata


def test_store_script_fails_on_an_error_and_keeps_the_file(tmp_path):
    import nbformat

    path = tmp_path / "broken.ipynb"
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('boom')")])
    nbformat.write(broken, path)
    before = path.read_bytes()
    run = subprocess.run([sys.executable, str(STORE_SCRIPT), str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1 and "boom" in run.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    import nbformat

    stored = nbformat.read(path, as_version=4)
    executed = _execute(nbformat.read(path, as_version=4), tmp_path)
    errors = [out for cell in executed.cells if cell.cell_type == "code"
              for out in cell.outputs if out.get("output_type") == "error"]
    assert not errors
    fresh = [_output_kinds(cell) for cell in _code_cells(executed)]
    kept = [_output_kinds(cell) for cell in _code_cells(stored)]
    assert fresh == kept, f"{path.name}: stored outputs do not match the code; run `make notebooks-store`"
