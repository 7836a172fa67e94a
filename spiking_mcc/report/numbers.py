"""How the report prints numbers, and how it reads them out of the run folder's JSON files.

Every number in a report table is `fmt(v)` or `pct(v)` of a value stored in a JSON file beside
the report; the tests check exactly that, so these two functions (from `spiking_mcc.formatting`, which
the CLI's tables and the figures' titles use too) are the whole formatting rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spiking_mcc.formatting import NOT_AVAILABLE, count, fmt, pct
from spiking_mcc.io import read_json

__all__ = ["NOT_AVAILABLE", "RunFolder", "count", "fmt", "get", "pct"]


def get(doc: Any, path: str, default: Any = None) -> Any:
    """Value at a dotted path ('snn.0.accuracy'; integer parts index lists); default when absent."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


class RunFolder:
    """The JSON files of one run folder, read lazily; a missing file reads as None."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir)
        self._cache: dict[str, Any] = {}

    def json(self, name: str) -> Any:
        if name not in self._cache:
            file = self.path / name
            self._cache[name] = read_json(file) if file.is_file() else None
        return self._cache[name]

    def has(self, name: str) -> bool:
        return self.json(name) is not None
