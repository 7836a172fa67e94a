"""The run report: markdown and self-contained HTML built only from the JSON files in a run folder.

`build_report(out_dir)` reads `run.json` and the stage JSON files beside it, draws the
summary figures from those numbers, and writes `report.md` and `report.html` atomically.
"""

from spiking_mcc.report.build import build_report, results_rows

__all__ = ["build_report", "results_rows"]
