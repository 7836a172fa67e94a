"""`spiking-mcc run --quick` as the tests start it (shared by the pipeline, report and browser tests)."""

import sys
from pathlib import Path

RUN_TIMEOUT_S = 300


def quick_run_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "spiking_mcc.cli", "run", "--quick", "--out", str(out), *extra]
