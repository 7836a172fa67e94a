"""Execute the notebooks top to bottom and store them with their outputs (`make notebooks-store`).

    .venv/bin/python scripts/execute_notebooks.py            # every notebooks/*.ipynb, stored in place
    .venv/bin/python scripts/execute_notebooks.py notebooks/01_two_point_cells.ipynb
    .venv/bin/python scripts/execute_notebooks.py --check    # execute only; fail on an error, store nothing

Each notebook runs in a fresh kernel of this interpreter (`python3`, the .venv's ipykernel), in a fresh
temporary working directory, so nothing it writes lands in the repository. An error in any cell stops
that notebook, prints the cell and the traceback and makes the script exit 1 (the stored file is left
as it was). What is stored is made deterministic: per-cell execution timings and the kernel's
volatile metadata are stripped, and the file is written through the project's atomic writer. The
notebooks seed everything they draw, so a re-run stores the same outputs up to the last digits of
floating-point sums (and timings, which the notebooks do not print).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
CELL_TIMEOUT_S = 240
KERNEL = "python3"
NB_VERSION = 4
STORED_METADATA = ("kernelspec", "language_info")  # notebook metadata kept; everything else is volatile
VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled")


def execute(nb, cwd: Path, timeout_s: int = CELL_TIMEOUT_S):
    """Run `nb` (an nbformat NotebookNode) in a fresh kernel with working directory `cwd`; raise
    nbclient's CellExecutionError on the first failing cell. Returns the executed notebook."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout_s, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(cwd)}})
    return client.execute()


def coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same stream (how a print is split into chunks depends on
    the kernel's timing, not on the notebook)."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def strip_volatile(nb):
    """Remove what changes from run to run and says nothing about the results (timings, widget state,
    the chunking of printed text)."""
    nb.metadata = {key: nb.metadata[key] for key in STORED_METADATA if key in nb.metadata}
    language = nb.metadata.get("language_info", {})
    nb.metadata["language_info"] = {key: language[key] for key in ("name", "version") if key in language}
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
            for output in cell.outputs:
                output.get("metadata", {}).pop("execution", None)
    return nb


def run_one(path: Path, store: bool, timeout_s: int) -> tuple[bool, float]:
    """Execute one notebook; with `store`, write it back with its outputs. Returns (ok, seconds)."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=NB_VERSION)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"nb-{path.stem}-") as work:
        try:
            executed = execute(nb, Path(work), timeout_s)
        except CellExecutionError as err:
            print(f"{path.name}: FAILED after {time.perf_counter() - start:.1f} s\n{err}", file=sys.stderr)
            return False, time.perf_counter() - start
    seconds = time.perf_counter() - start
    if store:
        from spiking_mcc.io import write_text

        strip_volatile(executed)
        nbformat.validate(executed)
        write_text(path, nbformat.writes(executed, version=NB_VERSION) + "\n")
    size_kb = path.stat().st_size / 1024
    print(f"{path.name}: executed in {seconds:.1f} s{', stored' if store else ''} ({size_kb:.0f} kB)")
    return True, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    parser.add_argument("--check", action="store_true", help="execute only; store nothing")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"execute_notebooks: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    total, failed = 0.0, []
    for path in paths:
        ok, seconds = run_one(path, store=not args.check, timeout_s=args.timeout)
        total += seconds
        if not ok:
            failed.append(path.name)
    print(f"{len(paths)} notebook(s) in {total:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
