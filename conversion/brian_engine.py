"""Brian2 simulation of a converted Dense(+ReLU) chain, all samples batched in one NeuronGroup per layer.

Population k with n_k neurons becomes one NeuronGroup of N_samples x n_k neurons (index = sample * n_k +
neuron); the weights of Dense layer k+1 become block-diagonal Synapses (one copy per sample, built with
index arrays, weight = W * output_scale_k). One time step (dt = 1 ms, dimensionless v) runs, per layer
in order, inside the ``thresholds`` slot:

.. math::

    v \\leftarrow (1 - \\mathrm{leak})\\,v + I_{bias}; \\quad
    \\text{spike if } v \\ge v_{th}; \\quad v \\leftarrow v - v_{th}\\ (\\text{or } 0); \\quad
    v_{next} \\mathrel{+}= w \\text{ per spike (zero delay)}

which is exactly the numpy engine's order (no synaptic delay between layers). The first layer's analog
input current W x + b is constant and is given to its group as I_bias; the output group accumulates its
input (readout "membrane").
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from conversion import ops
from conversion.ir import SpikingNetwork
from spiking_mcc.errors import ModelError, ParameterError

DT_MS = 1.0  # one engine time step


@dataclass
class BrianResult:
    """Predictions (N,), accumulated output membrane (N, n_out), spike counts per population (N,) and
    wall times: build_s (objects), run_s (simulation incl. code generation on first run)."""

    predictions: np.ndarray
    readout: np.ndarray
    spikes: dict[str, np.ndarray]
    build_s: float
    run_s: float


def simulate_brian2(net: SpikingNetwork, x: np.ndarray, timesteps: int,
                    codegen_target: str = "numpy") -> BrianResult:
    """Run the converted Dense chain on x for `timesteps` steps in Brian2 (analog input encoding)."""
    import brian2 as b2

    if net.encoding != "analog" or net.readout != "membrane":
        raise ParameterError("the Brian2 engine supports encoding='analog' with readout='membrane'")
    if codegen_target not in ("numpy", "cython"):
        raise ParameterError(f"codegen_target must be 'numpy' or 'cython', got {codegen_target!r}")
    if int(timesteps) < 1:
        raise ParameterError(f"timesteps must be >= 1, got {timesteps}")
    chain = net.dense_chain()
    if chain[-1][1] is not None:
        raise ModelError("the last Dense layer must be the (non-spiking) output layer")
    x = ops.check_input(net.graph, x).reshape(len(x), -1)
    started = time.perf_counter()
    b2.start_scope()
    previous_target = b2.prefs.codegen.target
    b2.prefs.codegen.target = codegen_target
    try:
        return _build_and_run(b2, net, chain, x, int(timesteps), started)
    finally:
        b2.prefs.codegen.target = previous_target  # leave Brian2's global preference as it was


def _build_and_run(b2, net: SpikingNetwork, chain, x: np.ndarray, timesteps: int, started: float):
    n_samples = len(x)
    b2.defaultclock.dt = DT_MS * b2.ms
    objects = []
    groups = []
    reset = "v -= v_th" if net.reset == "subtract" else "v = 0"
    leak_term = f"v = (1 - {net.leak!r}) * v + I_bias" if net.leak else "v += I_bias"
    order = 0
    for k, (dense, population) in enumerate(chain):
        n = dense.weight.shape[0]
        if population is None:
            group = b2.NeuronGroup(n_samples * n, "v : 1\nI_bias : 1", method="exact", name=f"output_{k}")
        else:
            group = b2.NeuronGroup(n_samples * n, "v : 1\nv_th : 1\nI_bias : 1\ncount : 1",
                                   threshold="v >= v_th", reset=f"{reset}\ncount += 1", method="exact",
                                   name=f"layer_{k}")
            group.v_th = np.tile(np.broadcast_to(net.v_th[population], (n,)), n_samples)
            group.v = group.v_th[:] * net.init_membrane_fraction
        bias = np.tile(dense.bias, n_samples)
        group.I_bias = (x @ dense.weight.T + dense.bias).ravel() if k == 0 else bias
        updater = group.run_regularly(leak_term, when="thresholds", order=order)
        objects += [group, updater]
        if population is not None:
            group.thresholder["spike"].when, group.thresholder["spike"].order = "thresholds", order + 1
            group.resetter["spike"].when, group.resetter["spike"].order = "thresholds", order + 2
        if k > 0:
            pre_group, pre_population = groups[-1]
            n_in = dense.weight.shape[1]
            weight = dense.weight * np.broadcast_to(net.output_scale[pre_population], (n_in,))
            post_idx, pre_idx = np.nonzero(weight)
            offsets_in = (np.arange(n_samples) * n_in)[:, None]
            offsets_out = (np.arange(n_samples) * n)[:, None]
            synapses = b2.Synapses(pre_group, group, "w : 1", on_pre="v_post += w", name=f"synapses_{k}")
            synapses.connect(i=(offsets_in + pre_idx).ravel(), j=(offsets_out + post_idx).ravel())
            synapses.w = np.tile(weight[post_idx, pre_idx], n_samples)
            synapses.pre.when, synapses.pre.order = "thresholds", order - 1
            objects.append(synapses)
        groups.append((group, population))
        order += 10
    network = b2.Network(*objects)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    network.run(timesteps * DT_MS * b2.ms)
    run_s = time.perf_counter() - started
    output_group = groups[-1][0]
    readout = np.asarray(output_group.v[:]).reshape(n_samples, -1)
    spikes = {pop: np.asarray(g.count[:]).reshape(n_samples, -1).sum(axis=1) for g, pop in groups[:-1]}
    return BrianResult(readout.argmax(axis=1), readout, spikes, build_s, run_s)
