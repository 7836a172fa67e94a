"""Build the Lava process graph of a converted MCC network (:class:`conversion.mcc_hardware.UnitNetwork`)
over many concatenated samples::

    RingBuffer(audio) -> Dense -> TwoPointUnit(audio0) --s_out--> Dense -> TwoPointUnit(audio1) ...
    RingBuffer(visual) -> Dense -> TwoPointUnit(visual0)   ...                 \\
       q_out of audio_l and visual_l -> context Dense -> a_ctx of both units of layer l
                                 last somata of both streams -> Dense (fused classifier) -> WindowAccumulator

Each ``Dense`` delays by one step, so the units of depth d run their windows from step d + 1 on
(``offset`` = d + 1), the readout from step L + 1 on, and the context of step t is the receptive-field
spikes of step t - 1 of the same layer, exactly as :mod:`conversion.mcc_engine` computes it; the run
lasts n T + L + 1 steps. SpikeCounters on both outputs of every unit (somatic and receptive-field spikes)
and the readout are the only Vars read back.

Imported only inside the Lava child process (see ``loihi_targets.runner``) and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lava.magma.core.process.process import AbstractProcess
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.utils.weightutils import SignMode

from conversion.mcc_hardware import Synapses, UnitNetwork
from loihi_targets.lava_procs.counters import SpikeCounter, WindowAccumulator
from loihi_targets.lava_procs.two_point import TwoPointUnit

INPUT_MESSAGE_BITS = 8   # graded input spikes into the first Dense (Loihi 2 style payload)


@dataclass
class LavaMCCGraph:
    """The processes of one run; counters: population name -> its SpikeCounter."""

    sources: dict
    units: dict
    dense: list
    counters: dict
    readout: WindowAccumulator
    num_steps: int
    tag: str

    def all_processes(self) -> list[AbstractProcess]:
        return [*self.sources.values(), *self.units.values(), *self.dense, *self.counters.values(),
                self.readout]


def _dense(syn: Synapses, fixed: bool, graded: bool, name: str) -> Dense:
    bits = INPUT_MESSAGE_BITS if graded else 0
    if fixed:
        return Dense(weights=np.asarray(syn.weight, np.int32), weight_exp=int(syn.exp), num_weight_bits=8,
                     sign_mode=SignMode.MIXED, num_message_bits=bits, name=name)
    return Dense(weights=np.asarray(syn.weight, float), num_message_bits=bits, name=name)


def build_mcc_graph(net: UnitNetwork, inputs: dict[str, np.ndarray], timesteps: int) -> LavaMCCGraph:
    """Processes for `inputs` {name: (n, channels)}: graded integers (fixed) or reals (float)."""
    fixed = net.fixed
    n_samples = len(next(iter(inputs.values())))
    num_steps = n_samples * timesteps + net.depth + 1
    sources = {}
    for name, x in inputs.items():
        series = np.zeros((x.shape[1], num_steps), dtype=np.int32 if fixed else np.float64)
        series[:, :n_samples * timesteps] = np.repeat(np.asarray(x).T, timesteps, axis=1)
        sources[name] = RingBuffer(data=series)
    units, counters, dense = {}, {}, []
    for u in net.units:
        p = u.params
        units[u.name] = TwoPointUnit(shape=(u.n,), bias=p.bias, vth_q=p.vth_q, vth_s=p.vth_s,
                                     v_init_q=p.v_init_q, v_init_s=p.v_init_s, gain=p.gain,
                                     reciprocal=p.reciprocal[:timesteps], window=timesteps,
                                     offset=u.depth + 1, ctx_shift=p.ctx_shift or 0, name=f"unit_{u.name}")
        for pop, port in ((u.soma, units[u.name].s_out), (u.rf_pop, units[u.name].q_out)):
            if pop:
                counters[pop] = SpikeCounter(shape=(u.n,), num_windows=n_samples, window=timesteps,
                                             offset=u.depth + 1, name=f"count_{pop}")
                port.connect(counters[pop].s_in)
    soma_of = {u.soma: units[u.name] for u in net.units}
    rf_of = {u.rf_pop: units[u.name] for u in net.units if u.rf_pop}
    for u in net.units:
        analog = u.rf.source in sources
        conn = _dense(u.rf, fixed, analog, f"dense_{u.name}")
        (sources[u.rf.source] if analog else soma_of[u.rf.source]).s_out.connect(conn.s_in)
        conn.a_out.connect(units[u.name].a_rf)
        dense.append(conn)
        for k, syn in enumerate(u.context):
            conn = _dense(syn, fixed, False, f"context_{u.name}_{k}")
            rf_of[syn.source].q_out.connect(conn.s_in)
            conn.a_out.connect(units[u.name].a_ctx)
            dense.append(conn)
    n_classes = net.readout.sources[0].weight.shape[0]
    readout = WindowAccumulator(shape=(n_classes,), num_windows=n_samples, window=timesteps,
                                offset=net.depth + 1, bias=np.asarray(net.readout.bias),
                                name=f"readout_{net.readout.name}")
    for k, syn in enumerate(net.readout.sources):
        conn = _dense(syn, fixed, False, f"readout_{k}")
        soma_of[syn.source].s_out.connect(conn.s_in)
        conn.a_out.connect(readout.a_in)
        dense.append(conn)
    return LavaMCCGraph(sources, units, dense, counters, readout, num_steps,
                        "fixed_pt" if fixed else "floating_pt")


def read_mcc_counters(graph: LavaMCCGraph) -> dict[str, np.ndarray]:
    """Per population its spikes per window (n,) and per neuron (neurons,); the readout (n, classes)."""
    result = {}
    for pop, counter in graph.counters.items():
        result[f"window_counts__{pop}"] = np.asarray(counter.counts.get()).sum(axis=1)
        result[f"neuron_counts__{pop}"] = np.asarray(counter.neuron_counts.get())
    result["output"] = np.asarray(graph.readout.totals.get())
    return result
