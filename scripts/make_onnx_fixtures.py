"""Regenerate the PyTorch ONNX fixtures in tests/data/onnx/ (not run by CI).

Runs in a separate Python 3.11 environment with PyTorch (the project's own .venv has no torch):

    ~/.pyenv/versions/3.11.7/bin/python -m venv /tmp/torch311
    /tmp/torch311/bin/pip install torch==2.13.0 onnx onnxscript scikit-learn
    /tmp/torch311/bin/python scripts/make_onnx_fixtures.py

Trains two small CNNs on scikit-learn's 8x8 digits (the project's split: pixels / 16, 25 % stratified
test split with random_state 0) and exports each with both PyTorch exporters:

- ``cnn``: Conv-BatchNorm-ReLU-MaxPool, Conv-BatchNorm-ReLU6-AvgPool, ``x.view(x.size(0), -1)``
  (shape arithmetic), Dropout, Linear-ReLU-Linear;
- ``gap``: Conv-BatchNorm-ReLU, Conv-ReLU, AdaptiveAvgPool2d(1) (GlobalAveragePool), Flatten, Linear.

Writes ``{model}_torchscript.onnx`` (``dynamo=False``, dynamic batch axis; BatchNorm folded by the
exporter), ``{model}_torchscript_unfolded.onnx`` (the same without constant folding: BatchNormalization
nodes kept), ``{model}_dynamo.onnx``
(``dynamo=True``, dynamic batch dimension) and ``{model}_reference.npz`` with the test inputs ``x``
(n, 1, 8, 8) float32, labels ``y``, and the logits PyTorch computes for them: ``logits`` in float64
(the float32 weights evaluated in double precision, what the importer's float64 ANN must reproduce)
and ``logits_float32`` (the model as trained).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "onnx"
OPSET = 18


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU6(), nn.AvgPool2d(2))
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        x = self.features(x)
        return self.head(x.view(x.size(0), -1))


class Gap(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


def digits():
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return x_train.reshape(-1, 1, 8, 8), y_train, x_test.reshape(-1, 1, 8, 8), y_test


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int) -> nn.Module:
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(xt), generator=generator).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(xt[batch]), yt[batch]).backward()
            optimiser.step()
    return model.eval()


def export(model: nn.Module, name: str, x_test: np.ndarray, y_test: np.ndarray) -> None:
    sample = torch.from_numpy(x_test[:2])
    torch.onnx.export(model, (sample,), str(OUT / f"{name}_torchscript.onnx"), dynamo=False,
                      opset_version=OPSET,
                      input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    # Without constant folding the TorchScript exporter keeps BatchNormalization nodes (and more shape
    # arithmetic) instead of folding them into the convolutions.
    torch.onnx.export(model, (sample,), str(OUT / f"{name}_torchscript_unfolded.onnx"), dynamo=False,
                      opset_version=OPSET, do_constant_folding=False, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    program = torch.onnx.export(model, (sample,), dynamo=True, opset_version=OPSET, input_names=["x"],
                                output_names=["logits"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    program.save(str(OUT / f"{name}_dynamo.onnx"))
    with torch.no_grad():
        logits32 = model(torch.from_numpy(x_test)).numpy()
        logits64 = model.double()(torch.from_numpy(x_test).double()).numpy()
        model.float()
    np.savez_compressed(OUT / f"{name}_reference.npz", x=x_test, y=y_test, logits=logits64,
                        logits_float32=logits32)
    accuracy = float(np.mean(logits32.argmax(1) == y_test))
    print(f"{name}: test accuracy {accuracy:.4f} (torch {torch.__version__})")


def main() -> int:
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = digits()
    export(train(Cnn(), x_train, y_train, 40), "cnn", x_test, y_test)
    export(train(Gap(), x_train, y_train, 60), "gap", x_test, y_test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
