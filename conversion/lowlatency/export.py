r"""Save a fine-tuned SNN as a plain sequential-v1 ANN that ``convert`` and ``loihi`` read back exactly.

Thresholds and output scales fold into the weights: every population's incoming weights and bias are
divided by its threshold :math:`\theta_p` and the next weighted layer's input columns multiplied by its
output scale :math:`\beta_p`, so the same spikes come out with :math:`\theta = \beta = 1` (the membrane
scales by :math:`1/\theta_p`, the leak and the initial membrane :math:`f\theta` with it). Each ReLU is saved
as a clipped ReLU with ceiling 1, so ``convert --threshold uniform --init-membrane F --leak L`` (the values
stored as ``snn_init_membrane`` and ``snn_leak``) rebuilds the fine-tuned network (docs/lowlatency.md).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from conversion.importers.npz import write_npz_model
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, ReLU, SpikingNetwork
from spiking_mcc.errors import ModelError


def _per_output(value: np.ndarray, n_out: int) -> np.ndarray:
    """A scalar, (C, 1, 1) or (n,) population parameter as one value per output channel/neuron."""
    flat = np.asarray(value, dtype=np.float64).ravel()
    if flat.size not in (1, n_out):
        raise ModelError(f"cannot fold a parameter of {flat.size} values into a layer with {n_out} outputs")
    return np.broadcast_to(flat, (n_out,))


def normalised_graph(net: SpikingNetwork) -> Graph:
    """The network's graph with thresholds and output scales folded in, every ReLU clipped at 1."""
    graph = copy.deepcopy(net.graph)
    carried = None  # output scale of the last population, as it reaches the next weighted layer's input
    last_weighted = None
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, (Dense, Conv2d)):
            if carried is not None:
                if isinstance(node, Dense):
                    node.weight = node.weight * np.broadcast_to(carried, (node.weight.shape[1],))[None, :]
                else:
                    scale = _per_output(carried, node.weight.shape[1])
                    node.weight = node.weight * scale[None, :, None, None]
            carried, last_weighted = None, node
        elif isinstance(node, ReLU):
            if last_weighted is None:
                raise ModelError(f"layer '{name}': no weighted layer before the population")
            theta = _per_output(net.v_th[name], last_weighted.weight.shape[0])
            shape = (-1,) + (1,) * (last_weighted.weight.ndim - 1)
            last_weighted.weight = last_weighted.weight / theta.reshape(shape)
            last_weighted.bias = last_weighted.bias / theta
            node.max = 1.0
            carried = np.asarray(net.output_scale[name], dtype=np.float64)
        elif isinstance(node, Flatten) and carried is not None:
            carried = np.broadcast_to(carried, graph.input_shape(name)).ravel()
        elif not isinstance(node, (AvgPool2d, Flatten)):
            raise ModelError(f"layer '{name}': {type(node).__name__} cannot be folded")
    return graph


def save_finetuned(path: str | os.PathLike, net: SpikingNetwork, timesteps: int, **metadata) -> Path:
    """Write the fine-tuned network as sequential-v1 (normalised), with the neuron settings it needs."""
    return write_npz_model(path, normalised_graph(net), snn_timesteps=timesteps, snn_leak=net.leak,
                           snn_init_membrane=net.init_membrane_fraction, snn_threshold="uniform", **metadata)
