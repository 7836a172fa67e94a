"""Synaptic transmissions and the FPGA energy model of Adeel et al. 2022 (docs/mcc.md).

A hidden unit transmits its output y when y > theta (|y| for signed outputs; y = relu(A) >= 0
here); a transmission is one synapse carrying it, so transmissions (synaptic events) = sum over
transmitting units of their fan-out. Two kinds of fan-out are counted separately:

- feed-forward (receptive-field) synapses: to the next layer of the own stream (n_{l+1} units) or,
  from the last layer, to the classifier (n_classes);
- context synapses (MCC only). `broadcast`: each unit whose context signal S = relu(R) exceeds theta
  sends it to its proximal and distal receivers in the same layer (the columns of M_P and of the other
  stream's M_D; dense: n_l - 1 and n_l) and to the layer summary (1). `sent`: each unit of layer l-1
  whose output exceeds theta also reaches its context synapses in layer l (columns of M_P and of the
  other stream's M_D) and the summary (1). Each non-zero summary value reaches the 2 n_l units of the layer.

Active neurons: hidden units that emit anything (output y > theta, or, `broadcast`, S > theta).
The inputs are sensors, identical for both networks (each feature feeds its own stream's first
layer only), and are not counted. Energy = transmissions x ENERGY_PER_TRANSMISSION_UJ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spiking_mcc.mcc.network import STREAMS, Forward, Network, context_masks, forward
from spiking_mcc.workload import LayerWorkload, Workload

# The one definition of the MCC paper's FPGA figure (Adeel et al. 2022, Xilinx UltraScale+ MPSoC): the
# energy of one synaptic transmission in uJ. The `fpga-ultrascale` device preset, `train` and `run` use it.
ENERGY_PER_TRANSMISSION_UJ = 8e-5


@dataclass
class Activity:
    """Transmissions per sample, in total and per hidden layer/stream (dicts keyed 'audio0', ...)."""

    theta: float
    feedforward_per_sample: float
    context_per_sample: float
    transmitting_units_per_sample: dict[str, float]
    feedforward_by_layer: dict[str, float]
    context_by_layer: dict[str, float]
    energy_per_transmission_uj: float
    active_by_layer: dict[str, float] = field(default_factory=dict)
    feedforward_synapses: int = 0
    context_synapses: int = 0

    @property
    def transmissions_per_sample(self) -> float:
        return self.feedforward_per_sample + self.context_per_sample

    @property
    def active_neurons_per_sample(self) -> float:
        return sum(self.active_by_layer.values())

    @property
    def energy_uj_per_sample(self) -> float:
        return self.transmissions_per_sample * self.energy_per_transmission_uj

    def as_dict(self) -> dict:
        return {"theta": self.theta, "transmissions_per_sample": self.transmissions_per_sample,
                "feedforward_transmissions_per_sample": self.feedforward_per_sample,
                "context_transmissions_per_sample": self.context_per_sample,
                "active_neurons_per_sample": self.active_neurons_per_sample,
                "feedforward_events_per_sample": self.feedforward_per_sample,
                "all_events_per_sample": self.transmissions_per_sample,
                "feedforward_synapses": self.feedforward_synapses, "context_synapses": self.context_synapses,
                "energy_uj_per_sample": self.energy_uj_per_sample,
                "energy_per_transmission_uj": self.energy_per_transmission_uj,
                "transmitting_units_per_sample": self.transmitting_units_per_sample,
                "feedforward_by_layer": self.feedforward_by_layer, "context_by_layer": self.context_by_layer}


def feedforward_fan_out(net: Network, layer: int) -> int:
    """Feed-forward synapses of one unit of hidden `layer`: next layer of its stream, or the classifier."""
    return net.hidden[layer + 1] if layer + 1 < net.n_layers else net.n_classes


def context_fan_out(net: Network, layer: int) -> dict[str, np.ndarray]:
    """Context synapses of each unit of hidden `layer`, per stream ((n_l,) arrays, summary synapse included).

    `broadcast`: the receivers of its S in its own layer; `sent`: those of its output in layer + 1."""
    target = layer if net.context_source == "broadcast" else layer + 1
    n = net.hidden[layer]
    if target >= net.n_layers or not net.has_context(target):
        return {s: np.zeros(n) for s in STREAMS}
    mask_p, mask_d = context_masks(net, target)
    # own stream's M_P column + the other stream's M_D column (same wiring in both streams) + the summary
    return {s: mask_p.sum(axis=0) + mask_d.sum(axis=0) + 1.0 for s in STREAMS}


def synapse_counts(net: Network) -> tuple[int, int]:
    """(feed-forward synapses between hidden layers and to the classifier, context synapses incl. summary)."""
    ff = sum(2 * n * feedforward_fan_out(net, layer) for layer, n in enumerate(net.hidden))
    ctx = 0
    for layer, n in enumerate(net.hidden):
        if net.has_context(layer):
            mask_p, mask_d = context_masks(net, layer)
            m = net.context_width(layer)
            ctx += 2 * int(mask_p.sum() + mask_d.sum() + m + 2 * n)  # P, D, sources -> summary -> units
    return int(ff), int(ctx)


def event_sums(net: Network, fw: Forward, theta: float = 0.0) -> dict[str, dict[str, float]]:
    """Sums over the batch of `fw`, per hidden layer/stream: sending units, active units, feed-forward and
    context synaptic events (see the module docstring)."""
    sums = {name: {} for name in ("units", "active", "ff", "ctx")}
    for layer, cache in enumerate(fw.layers):
        n = net.hidden[layer]
        fan_ctx = context_fan_out(net, layer)
        for s in STREAMS:
            key = f"{s}{layer}"
            sending = cache[s]["y"] > theta
            sums["units"][key] = float(sending.sum())
            sums["ff"][key] = float(sending.sum()) * feedforward_fan_out(net, layer)
            ctx = 0.0
            active = sending
            if net.context_source == "broadcast" and net.has_context(layer):
                emits = cache[s]["S"] > theta
                ctx = float(emits.sum(axis=0) @ fan_ctx[s])
                ctx += float((fw.u[layer][:, STREAMS.index(s)] > 0).sum()) * 2 * n
                active = sending | emits
            elif net.context_source == "sent" and fan_ctx[s].any():
                ctx = float(sending.sum(axis=0) @ fan_ctx[s])
                ctx += float((fw.u[layer + 1][:, STREAMS.index(s)] > 0).sum()) * 2 * net.hidden[layer + 1]
            sums["ctx"][key] = ctx
            sums["active"][key] = float(active.sum())
    return sums


def count_transmissions(net: Network, audio: np.ndarray, visual: np.ndarray, theta: float = 0.0,
                        masks: dict[str, np.ndarray] | None = None,
                        energy_per_transmission_uj: float = ENERGY_PER_TRANSMISSION_UJ,
                        batch: int = 1024) -> Activity:
    """Mean transmissions per sample of `net` on the samples (forward pass with threshold `theta`)."""
    n_samples = len(audio)
    keys = [f"{s}{layer}" for layer in range(net.n_layers) for s in STREAMS]
    total = {name: dict.fromkeys(keys, 0.0) for name in ("units", "active", "ff", "ctx")}
    for start in range(0, n_samples, batch):
        fw = forward(net, audio[start:start + batch], visual[start:start + batch], masks, theta)
        for name, by_layer in event_sums(net, fw, theta).items():
            for key, value in by_layer.items():
                total[name][key] += value
    scale = 1.0 / max(n_samples, 1)
    per = {name: {k: v * scale for k, v in by_layer.items()} for name, by_layer in total.items()}
    ff_syn, ctx_syn = synapse_counts(net)
    return Activity(float(theta), sum(per["ff"].values()), sum(per["ctx"].values()), per["units"], per["ff"],
                    per["ctx"], float(energy_per_transmission_uj), per["active"], ff_syn, ctx_syn)


def workload(net: Network, activity: Activity, name: str) -> dict:
    """The energy workload record (spiking_mcc.workload, kind "transmissions") for `net` at `activity`.

    One entry per hidden layer and stream, then the classifier. Events are counted on the receiving side
    (spiking_mcc.workload.EVENTS_COUNTED_AT): a layer's synaptic_events are the transmissions arriving at
    it, the feed-forward ones of the layer below in its stream (none at layer 0: the inputs are sensors)
    plus half the context that reaches its layer from each stream (context "broadcast": sent by its own
    layer; "sent": carried by the outputs of the layer below), since a unit's context synapses split
    evenly between its own stream (proximal, and its summary) and the other (distal; a summary reaches
    the units of both streams); the classifier receives the feed-forward transmissions of the last layer.
    spikes = the layer's transmitting units, macs = dense MACs (ANN equivalent, context included). Layer 0
    receives the analog inputs (analog_input true), so an energy model charges its macs; there they are
    the input MACs only, since its context is already counted as events.
    """
    layers = []
    for layer, n in enumerate(net.hidden):
        source = layer if net.context_source == "broadcast" else layer - 1
        context = sum(activity.context_by_layer[f"{s}{source}"] for s in STREAMS) / 2 if source >= 0 else 0.0
        for s in STREAMS:
            key = f"{s}{layer}"
            fan_in = (net.n_audio if s == "audio" else net.n_visual) if layer == 0 else net.hidden[layer - 1]
            fan_out = feedforward_fan_out(net, layer)
            macs = float(n * fan_in)
            fan_out += int(round(float(context_fan_out(net, layer)[s].mean())))  # dense broadcast: 2n
            if net.has_context(layer) and layer > 0:
                # layer 0's macs are its analog-input MACs only (context is in its events)
                # dense context: the ANN computes both full (n, m) matrices; sparse: only the wired weights
                mask_p, mask_d = context_masks(net, layer)
                wired = 2 * mask_p.size if net.context_k == 0 else mask_p.sum() + mask_d.sum()
                macs += float(wired + 2 * n)
            received = activity.feedforward_by_layer[f"{s}{layer - 1}"] if layer > 0 else 0.0
            layers.append(LayerWorkload(key, n, fan_in, fan_out, macs, received + context,
                                        activity.transmitting_units_per_sample[key], analog_input=layer == 0))
    fused = 2 * net.hidden[-1]
    last = net.n_layers - 1
    received = sum(activity.feedforward_by_layer[f"{s}{last}"] for s in STREAMS)
    layers.append(LayerWorkload("classifier", net.n_classes, fused, 0, float(net.n_classes * fused), received,
                                0.0))
    return Workload(name, net.model, "transmissions", 1, tuple(layers)).to_dict()
