"""Every notebook in notebooks/ runs top to bottom in a kernel that uses this interpreter."""

import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 240


def _execute(nb, cwd: Path):
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def test_there_are_at_least_four_readable_notebooks_without_outputs():
    import nbformat

    assert len(NOTEBOOKS) >= 4, [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        kinds = [cell.cell_type for cell in nb.cells]
        assert kinds[0] == "markdown" and kinds.count("markdown") >= 3, f"{path.name}: needs prose"
        stored = [cell for cell in nb.cells
                  if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
        assert not stored, f"{path.name}: outputs are committed; clear them"


def test_kernel_runs_this_interpreter(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")])
    executed = _execute(nb, tmp_path)
    assert executed.cells[0].outputs[0]["text"].strip() == sys.prefix


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    executed = _execute(nb, tmp_path)
    errors = [out for cell in executed.cells if cell.cell_type == "code"
              for out in cell.outputs if out.get("output_type") == "error"]
    assert not errors
