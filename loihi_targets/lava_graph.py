"""Build the Lava process graph of a quantised (or float) chain over many concatenated samples.

Every layer is one Lava ``Dense`` connection: a Conv2d (and an average pooling before a layer) arrives
here already lowered to its connection matrix (:mod:`conversion.fixed_point.lowering`), so the graph
and its numbers are the same for Dense and convolutional chains (docs/loihi.md).

    RingBuffer (graded input, one sample per window) -> Dense_1 -> LIF_1 -> Dense_2 -> ... -> Dense_L
                                                              \\-> SpikeCounter_1    ...   \\-> readout

Each Lava ``Dense`` delays its output by one step, so population l (1-based) sees sample k during
steps k*T + l + 1 ... k*T + l + T. Its periodic reset (``LIFReset.reset_offset``) and its counter
window are shifted by l, so every layer integrates each sample for exactly T steps from the reset
state: the numbers equal ``conversion.fixed_point.simulate.simulate_fixed`` spike for spike. The run lasts
n*T + L steps. Only the sinks (``SpikeCounter``, ``WindowAccumulator``) are read back.

Imported only inside the Lava child process (see ``loihi_targets.runner``) and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lava.magma.core.process.process import AbstractProcess
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIFReset
from lava.utils.weightutils import SignMode

from conversion.fixed_point.float_reference import FloatNetwork
from conversion.fixed_point.network import FixedPointNetwork
from loihi_targets.lava_procs.counters import SpikeCounter, WindowAccumulator
from loihi_targets.lava_procs.neurons import LIFResetSubtract
from spiking_mcc.errors import ModelError

INPUT_MESSAGE_BITS = 8   # graded input spikes into the first Dense (Loihi 2 style payload)


@dataclass
class LavaGraph:
    """The processes of one run; `counters[i]` counts population i; `readout` accumulates the output
    membrane (None for "counts" readout); `num_steps` covers every window."""

    source: RingBuffer
    dense: list
    neurons: list
    counters: list
    readout: WindowAccumulator | None
    num_steps: int
    samples: int
    timesteps: int
    tag: str

    def all_processes(self) -> list[AbstractProcess]:
        extra = [self.readout] if self.readout is not None else []
        return [self.source, *self.dense, *self.neurons, *self.counters, *extra]


def _neuron_params(net, index: int, timesteps: int, fixed: bool) -> dict:
    layer = net.layers[index]
    params = {"shape": (layer.n_out if fixed else layer.weight.shape[0],),
              "reset_interval": timesteps, "reset_offset": (index + 2) % timesteps,
              "name": f"lif_{layer.name}"}
    if fixed:
        params.update(du=layer.du, dv=layer.dv, bias_mant=layer.bias_mant, bias_exp=layer.bias_exp,
                      vth=int(layer.vth_mant))
    else:
        params.update(du=1.0, dv=float(layer.dv), bias_mant=np.asarray(layer.bias, float), bias_exp=0,
                      vth=float(layer.v_th))
    return params


def build_graph(net: FixedPointNetwork | FloatNetwork, inputs: np.ndarray, timesteps: int) -> LavaGraph:
    """Processes for `inputs` (n, n_in): graded integers (fixed) or reals (float), T steps each."""
    fixed = isinstance(net, FixedPointNetwork)
    n_samples = inputs.shape[0]
    n_layers = len(net.layers)
    n_pop = net.n_populations
    num_steps = n_samples * timesteps + n_layers
    series = np.zeros((inputs.shape[1], num_steps), dtype=np.int32 if fixed else np.float64)
    series[:, :n_samples * timesteps] = np.repeat(inputs.T, timesteps, axis=1)
    source = RingBuffer(data=series)
    use_subtract = net.reset == "subtract" or any(v != 0 for v in net.v_init)
    if net.reset == "zero" and use_subtract:
        raise ModelError("a non-zero initial membrane needs reset 'subtract' on Lava")

    dense, neurons, counters = [], [], []
    previous_out = source.s_out
    readout = None
    for i, layer in enumerate(net.layers):
        if fixed:
            conn = Dense(weights=layer.weight_mant.astype(np.int32), weight_exp=int(layer.weight_exp),
                         num_weight_bits=8, sign_mode=SignMode.MIXED,
                         num_message_bits=INPUT_MESSAGE_BITS if i == 0 else 0, name=f"dense_{layer.name}")
        else:
            conn = Dense(weights=np.asarray(layer.weight, float),
                         num_message_bits=INPUT_MESSAGE_BITS if i == 0 else 0, name=f"dense_{layer.name}")
        previous_out.connect(conn.s_in)
        dense.append(conn)
        shape = conn.a_out.shape
        if i < n_pop:
            params = _neuron_params(net, i, timesteps, fixed)
            neuron = LIFResetSubtract(v_init=net.v_init[i], **params) if use_subtract else LIFReset(**params)
            conn.a_out.connect(neuron.a_in)
            counter = SpikeCounter(shape=shape, num_windows=n_samples, window=timesteps, offset=i + 1,
                                   per_neuron=(i == n_layers - 1), name=f"count_{layer.name}")
            neuron.s_out.connect(counter.s_in)
            neurons.append(neuron)
            counters.append(counter)
            previous_out = neuron.s_out
        else:
            bias = layer.effective_bias if fixed else np.asarray(layer.bias, float)
            readout = WindowAccumulator(shape=shape, num_windows=n_samples, window=timesteps,
                                        offset=n_layers, bias=bias, name=f"readout_{layer.name}")
            conn.a_out.connect(readout.a_in)
    graph = LavaGraph(source=source, dense=dense, neurons=neurons, counters=counters, readout=readout,
                      num_steps=num_steps, samples=n_samples, timesteps=timesteps,
                      tag="fixed_pt" if fixed else "floating_pt")
    return graph


def read_counters(graph: LavaGraph) -> dict[str, np.ndarray]:
    """Read back only the sinks: per population its spikes per window (n,) and per neuron (neurons,);
    the output (n, n_out): accumulated membrane or output spike counts per window."""
    result = {}
    for i, counter in enumerate(graph.counters):
        counts = np.asarray(counter.counts.get())
        result[f"window_counts{i}"] = counts.sum(axis=1)
        result[f"neuron_counts{i}"] = np.asarray(counter.neuron_counts.get())
        if counts.shape[1] > 1:
            result["output"] = counts
    if graph.readout is not None:
        result["output"] = np.asarray(graph.readout.totals.get())
    return result
