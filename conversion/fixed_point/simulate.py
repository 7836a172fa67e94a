"""The batched fixed-point engine: every sample from the reset state for T steps, bit-exact with the
Lava graph of ``loihi_targets.lava_graph``.

Each Lava ``Dense`` delays its output by one step; the Lava graph offsets each layer's reset and
readout window by its depth, so every layer sees one sample for exactly T steps and this engine can
simulate samples independently with no delay. The output layer is either a spiking layer ("counts"
readout) or an accumulator of :math:`a_t 2^6 + b` over the window ("membrane" readout).
"""

from __future__ import annotations

import numpy as np

from conversion.fixed_point.arithmetic import ACT_SHIFT, dense_activation, lif_step
from conversion.fixed_point.network import FixedPointNetwork, FixedPointResult
from spiking_mcc.errors import DataError


def simulate_fixed(net: FixedPointNetwork, x: np.ndarray, timesteps: int, batch_size: int = 2048,
                   quantized_input: bool = False) -> FixedPointResult:
    """Run every sample for `timesteps` steps from the reset state; bit-exact with the Lava graph.

    x: (n, n_in) real inputs (quantised with net.quantize_input) or, with quantized_input=True,
    the graded integers themselves. Samples are simulated `batch_size` at a time.
    """
    return simulate_fixed_steps(net, x, [timesteps], batch_size, quantized_input)[0]


def simulate_fixed_steps(net: FixedPointNetwork, x: np.ndarray, steps: list[int], batch_size: int = 2048,
                         quantized_input: bool = False) -> list[FixedPointResult]:
    """As simulate_fixed, read out after each T in `steps` (one run of max(steps) steps)."""
    steps = sorted({int(t) for t in steps})
    if not steps or steps[0] < 1:
        raise DataError(f"timesteps must be integers >= 1, got {steps}")
    x_q = np.asarray(x, dtype=np.int64) if quantized_input else net.quantize_input(x)
    parts = [_simulate_batch(net, x_q[i:i + batch_size], steps) for i in range(0, len(x_q), batch_size)]
    results = []
    for k in range(len(steps)):
        counts = [np.concatenate([p[k][0][i] for p in parts]) for i in range(net.n_populations)]
        output = np.concatenate([p[k][1] for p in parts])
        results.append(FixedPointResult(spike_counts=counts, output=output))
    return results


def _simulate_batch(net: FixedPointNetwork, x_q: np.ndarray, steps: list[int]) -> list[tuple]:
    batch = x_q.shape[0]
    n_pop = net.n_populations
    u = [np.zeros((batch, layer.n_out), np.int64) for layer in net.layers]
    v = [np.full((batch, layer.n_out), v0, np.int64) for layer, v0 in zip(net.layers, net.v_init)]
    counts = [np.zeros((batch, layer.n_out), np.int64) for layer in net.layers[:n_pop]]
    output = np.zeros((batch, net.layers[-1].n_out), np.int64)
    first_activation = dense_activation(net.layers[0], x_q)  # the same graded input every step
    snapshots = []
    for t in range(1, steps[-1] + 1):
        s = None
        for i, layer in enumerate(net.layers):
            activation = first_activation if i == 0 else dense_activation(layer, s)
            if i < n_pop:
                u[i], v[i], spikes = lif_step(layer, u[i], v[i], activation, net.reset)
                counts[i] += spikes
                s = spikes.astype(np.int64)
            else:
                output += np.left_shift(activation, ACT_SHIFT) + layer.effective_bias
        if t in steps:
            snap_out = counts[-1].copy() if net.readout == "counts" else output.copy()
            snapshots.append(([c.copy() for c in counts], snap_out))
    return snapshots
