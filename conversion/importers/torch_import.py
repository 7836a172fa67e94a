"""PyTorch ``nn.Sequential`` importer (optional: only when torch is installed).

Supported modules: Linear, Conv2d (groups 1, dilation 1, symmetric numeric padding), ReLU, ReLU6 and
Hardtanh(0, max) (clipped ReLU), AvgPool2d, MaxPool2d, AdaptiveAvgPool2d((1, 1)) / global pooling,
Flatten, BatchNorm1d/2d (folded into the preceding Linear/Conv2d), Dropout and Identity (skipped), and a
trailing Softmax / LogSoftmax (cut with a note). Anything else: one ModelError listing every unsupported
module with its index.
"""

from __future__ import annotations

import numpy as np

from conversion.ir import AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, Graph, MaxPool2d, ReLU, fold_batchnorm
from spiking_mcc.errors import ModelError

SKIPPED = ("Dropout", "Identity")
POST_PROCESSING = ("Softmax", "LogSoftmax")


def _array(tensor) -> np.ndarray:
    return tensor.detach().cpu().double().numpy()


def _pool_args(module) -> tuple:
    kernel = module.kernel_size
    stride = module.stride if module.stride is not None else kernel
    return kernel, stride, module.padding


def from_torch_sequential(model, input_shape: tuple[int, ...]) -> Graph:
    """nn.Sequential + per-sample input shape (e.g. (64,) or (1, 8, 8)) -> validated Graph."""
    modules = list(model.children()) if hasattr(model, "children") else list(model)
    kinds = [type(m).__name__ for m in modules]
    n_tail = 0
    while n_tail < len(kinds) and kinds[len(kinds) - 1 - n_tail] in POST_PROCESSING:
        n_tail += 1
    body = modules[: len(modules) - n_tail]
    supported = {
        "Linear",
        "Conv2d",
        "ReLU",
        "ReLU6",
        "Hardtanh",
        "AvgPool2d",
        "MaxPool2d",
        "AdaptiveAvgPool2d",
        "Flatten",
        "BatchNorm1d",
        "BatchNorm2d",
        *SKIPPED,
    }
    unsupported = [
        f"{type(m).__name__} (module {i})" for i, m in enumerate(body) if type(m).__name__ not in supported
    ]
    unsupported += [
        f"Hardtanh (module {i}) with min_val != 0"
        for i, m in enumerate(body)
        if type(m).__name__ == "Hardtanh" and float(m.min_val) != 0.0
    ]
    if unsupported:
        raise ModelError(f"{len(unsupported)} unsupported PyTorch module(s): {', '.join(unsupported)}")
    layers: list = []
    shape = tuple(input_shape)
    for i, module in enumerate(body):
        kind, name = type(module).__name__, f"{type(module).__name__.lower()}{i}"
        if kind in SKIPPED:
            continue
        if kind == "Linear":
            bias = _array(module.bias) if module.bias is not None else np.zeros(module.out_features)
            layer = Dense(_array(module.weight), bias, name=name)
        elif kind == "Conv2d":
            if module.groups != 1 or tuple(module.dilation) != (1, 1) or isinstance(module.padding, str):
                raise ModelError(
                    f"module {i} (Conv2d): groups, dilation and string padding are not supported"
                )
            bias = _array(module.bias) if module.bias is not None else np.zeros(module.out_channels)
            layer = Conv2d(_array(module.weight), bias, module.stride, module.padding, name=name)
        elif kind in ("ReLU", "ReLU6", "Hardtanh"):
            ceiling = 6.0 if kind == "ReLU6" else (float(module.max_val) if kind == "Hardtanh" else None)
            layer = ReLU(ceiling, name=name)
        elif kind in ("AvgPool2d", "MaxPool2d"):
            if getattr(module, "ceil_mode", False) or not getattr(module, "count_include_pad", True):
                raise ModelError(f"module {i} ({kind}): ceil_mode / count_include_pad=False not supported")
            layer = (AvgPool2d if kind == "AvgPool2d" else MaxPool2d)(*_pool_args(module), name=name)
        elif kind == "AdaptiveAvgPool2d":
            if tuple(np.atleast_1d(module.output_size)) not in ((1,), (1, 1)):
                raise ModelError(f"module {i} (AdaptiveAvgPool2d): only output size 1 is supported")
            layer = AvgPool2d(shape[1:], shape[1:], name=name)
        elif kind == "Flatten":
            layer = Flatten(name=name)
        else:  # BatchNorm1d / BatchNorm2d
            bn = BatchNorm(
                _array(module.weight),
                _array(module.bias),
                _array(module.running_mean),
                _array(module.running_var),
                float(module.eps),
                name=name,
            )
            if not layers or not isinstance(layers[-1], (Dense, Conv2d)):
                raise ModelError(f"module {i} ({kind}) must follow a Linear or Conv2d module to be folded")
            layers[-1] = fold_batchnorm(layers[-1], bn)
            continue
        shape = layer.output_shape(shape, layers[-1].name if layers else "input")
        layers.append(layer)
    graph = Graph.sequential(tuple(input_shape), layers)
    graph.notes = (
        [f"cut trailing {k} (module {len(kinds) - n_tail + j})" for j, k in enumerate(kinds[-n_tail:])]
        if n_tail
        else []
    )
    return graph
