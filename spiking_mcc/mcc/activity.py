"""Synaptic transmissions and the FPGA energy model of Adeel et al. 2022 (docs/mcc.md).

A hidden unit transmits its output y when y > theta (|y| for signed outputs; y = relu(A) >= 0
here); a transmission is one synapse carrying it, so transmissions = sum over transmitting units
of their fan-out. Two kinds of fan-out are counted separately:

- feed-forward (receptive-field) synapses: to the next layer of the own stream (n_{l+1} units) or,
  from the last layer, to the classifier (n_classes);
- context synapses (MCC only): each unit whose context signal Q = relu(R) exceeds theta sends it to
  its n_l - 1 lateral neighbours (proximal), to the n_l units of the other stream's layer (distal)
  and to the layer summary (1); each non-zero summary value reaches the 2 n_l units of the layer.

The inputs are sensors, identical for both networks (each feature feeds its own stream's first
layer only), and are not counted. Energy = transmissions x ENERGY_PER_TRANSMISSION_UJ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spiking_mcc.mcc.network import STREAMS, Network, forward
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

    @property
    def transmissions_per_sample(self) -> float:
        return self.feedforward_per_sample + self.context_per_sample

    @property
    def energy_uj_per_sample(self) -> float:
        return self.transmissions_per_sample * self.energy_per_transmission_uj

    def as_dict(self) -> dict:
        return {"theta": self.theta, "transmissions_per_sample": self.transmissions_per_sample,
                "feedforward_transmissions_per_sample": self.feedforward_per_sample,
                "context_transmissions_per_sample": self.context_per_sample,
                "energy_uj_per_sample": self.energy_uj_per_sample,
                "energy_per_transmission_uj": self.energy_per_transmission_uj,
                "transmitting_units_per_sample": self.transmitting_units_per_sample,
                "feedforward_by_layer": self.feedforward_by_layer, "context_by_layer": self.context_by_layer}


def feedforward_fan_out(net: Network, layer: int) -> int:
    """Feed-forward synapses of one unit of hidden `layer`: next layer of its stream, or the classifier."""
    return net.hidden[layer + 1] if layer + 1 < net.n_layers else net.n_classes


def count_transmissions(net: Network, audio: np.ndarray, visual: np.ndarray, theta: float = 0.0,
                        masks: dict[str, np.ndarray] | None = None,
                        energy_per_transmission_uj: float = ENERGY_PER_TRANSMISSION_UJ,
                        batch: int = 1024) -> Activity:
    """Mean transmissions per sample of `net` on the samples (forward pass with threshold `theta`)."""
    n_samples = len(audio)
    units = {f"{s}{layer}": 0.0 for layer in range(net.n_layers) for s in STREAMS}
    ff = dict(units)
    ctx = dict(units)
    for start in range(0, n_samples, batch):
        fw = forward(net, audio[start:start + batch], visual[start:start + batch], masks, theta)
        for layer, cache in enumerate(fw.layers):
            n = net.hidden[layer]
            for s in STREAMS:
                key = f"{s}{layer}"
                sending = float((cache[s]["y"] > theta).sum())
                units[key] += sending
                ff[key] += sending * feedforward_fan_out(net, layer)
                if net.model == "mcc":
                    q_sending = float((cache[s]["Q"] > theta).sum())
                    summary_sending = float((fw.u[layer][:, STREAMS.index(s)] > 0).sum())
                    ctx[key] += q_sending * ((n - 1) + n + 1) + summary_sending * 2 * n
    scale = 1.0 / max(n_samples, 1)
    units = {k: v * scale for k, v in units.items()}
    ff = {k: v * scale for k, v in ff.items()}
    ctx = {k: v * scale for k, v in ctx.items()}
    return Activity(float(theta), sum(ff.values()), sum(ctx.values()), units, ff, ctx,
                    float(energy_per_transmission_uj))


def workload(net: Network, activity: Activity, name: str) -> dict:
    """The energy workload record (spiking_mcc.workload, kind "transmissions") for `net` at `activity`.

    One entry per hidden layer and stream, then the classifier. Events are counted on the receiving side
    (spiking_mcc.workload.EVENTS_COUNTED_AT): a layer's synaptic_events are the transmissions arriving at
    it, the feed-forward ones of the layer below in its stream (none at layer 0: the inputs are sensors)
    plus half the context of each stream of its own layer (of a unit's 2n context synapses, n - 1 lateral
    and 1 to its summary stay in its stream, n distal go to the other; a summary reaches the n units of
    each stream); the classifier receives the feed-forward transmissions of the last layer. spikes = the
    layer's transmitting units, macs = dense MACs (ANN equivalent, context included). Layer 0 receives the
    analog inputs (analog_input true), so an energy model charges its macs; there they are the input MACs
    only, since its context is already counted as events.
    """
    layers = []
    for layer, n in enumerate(net.hidden):
        context = sum(activity.context_by_layer[f"{s}{layer}"] for s in STREAMS) / 2
        for s in STREAMS:
            key = f"{s}{layer}"
            fan_in = (net.n_audio if s == "audio" else net.n_visual) if layer == 0 else net.hidden[layer - 1]
            fan_out = feedforward_fan_out(net, layer)
            macs = float(n * fan_in)
            if net.model == "mcc":
                fan_out += 2 * n  # lateral n-1, distal n, summary 1
                if layer > 0:  # layer 0's macs are its analog-input MACs only (context is in its events)
                    macs += float(n * (2 * n + 2))
            received = activity.feedforward_by_layer[f"{s}{layer - 1}"] if layer > 0 else 0.0
            layers.append(LayerWorkload(key, n, fan_in, fan_out, macs, received + context,
                                        activity.transmitting_units_per_sample[key], analog_input=layer == 0))
    fused = 2 * net.hidden[-1]
    last = net.n_layers - 1
    received = sum(activity.feedforward_by_layer[f"{s}{last}"] for s in STREAMS)
    layers.append(LayerWorkload("classifier", net.n_classes, fused, 0, float(net.n_classes * fused), received,
                                0.0))
    return Workload(name, net.model, "transmissions", 1, tuple(layers)).to_dict()
