"""Model importers: the project's own .npz files, ONNX files, PyTorch nn.Sequential (when torch exists);
NIR graphs (.nir, already spiking) through :mod:`conversion.importers.nir_import`."""

from __future__ import annotations

import os
from pathlib import Path

from conversion.ir import Graph
from spiking_mcc.errors import ModelError


def load_model(path: str | os.PathLike) -> Graph:
    """Read a model file into a validated Graph, choosing the importer by suffix (.npz or .onnx)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        from conversion.importers.npz import read_npz_model

        return read_npz_model(path)
    if suffix == ".onnx":
        from conversion.importers.onnx_import import read_onnx_model

        return read_onnx_model(path)
    if suffix == ".nir":
        raise ModelError(f"{path}: a .nir file is a spiking network, not an ANN to convert; read it with "
                         "conversion.importers.nir_import.read_nir_network (the CLI does this)")
    raise ModelError(f"{path}: unknown model format '{suffix}'; expected .npz, .onnx or .nir")
