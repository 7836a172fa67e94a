"""The real-valued chain the quantiser starts from, and its reference engine with Lava's
``floating_pt`` Dense + LIF semantics (u = a, v = (1 - dv) v + u + b, spike v > v_th)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """Dense + neuron layer in real units: current W s + b, threshold v_th, leak dv (fraction)."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    v_th: float
    dv: float = 0.0
    spiking: bool = True


@dataclass(frozen=True, eq=False)
class FloatNetwork:
    """The real-valued chain the quantiser starts from (thresholds folded to one scalar per layer)."""

    layers: tuple[FloatLayer, ...]
    reset: str = "zero"
    readout: str = "membrane"
    v_init: tuple[float, ...] = ()

    @property
    def n_populations(self) -> int:
        return len(self.layers) - (self.readout == "membrane")


@dataclass(frozen=True)
class FloatResult:
    spike_counts: list
    output: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.output, axis=1)


def simulate_float(net: FloatNetwork, x: np.ndarray, timesteps: int) -> FloatResult:
    """Lava floating_pt semantics: u = a (du = 1), v = (1 - dv) v + u + b, spike v > v_th, reset."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    n_pop = net.n_populations
    v_init = net.v_init or (0.0,) * len(net.layers)
    v = [np.full((n, layer.weight.shape[0]), v0) for layer, v0 in zip(net.layers, v_init)]
    counts = [np.zeros((n, layer.weight.shape[0]), np.int64) for layer in net.layers[:n_pop]]
    output = np.zeros((n, net.layers[-1].weight.shape[0]))
    first_current = x @ net.layers[0].weight.T
    for _ in range(timesteps):
        s = None
        for i, layer in enumerate(net.layers):
            current = first_current if i == 0 else s @ layer.weight.T
            if i < n_pop:
                v[i] = v[i] * (1.0 - layer.dv) + current + layer.bias
                spikes = v[i] > layer.v_th
                counts[i] += spikes
                v[i] = np.where(spikes, 0.0, v[i]) if net.reset == "zero" else v[i] - spikes * layer.v_th
                s = spikes.astype(np.float64)
            else:
                output += current + layer.bias
    if net.readout == "counts":
        output = counts[-1].astype(np.float64)
    return FloatResult(spike_counts=counts, output=output)
