"""The energy workload: what one stage measured per inference, layer by layer (docs/energy.md, "The
workload contract"). Every stage that measures activity builds a :class:`Workload` and writes
``Workload.to_dict()`` into its JSON; the energy model reads them back with :meth:`Workload.from_dict`,
which validates them once.

Which side of a synapse an event is counted on: the **receiving** side, for every kind
(:data:`EVENTS_COUNTED_AT`). ``synaptic_events`` of layer l are the events arriving at layer l's synapses
(for "snn": spikes of the previous population x their non-zero synapses into l; for "transmissions", the
rate MCC network: the transmissions its units receive). ``spikes`` are always the layer's own neurons'
spikes (or transmitting units). The energy model sums events over layers, so the side changes no energy;
it decides which layer a per-layer table charges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from spiking_mcc.errors import DataError
from spiking_mcc.limits import LIMITS

EVENTS_COUNTED_AT = "receiving"
KINDS = ("ann", "snn", "transmissions")
LAYER_NUMBERS = ("neurons", "fan_in", "fan_out", "macs", "synaptic_events", "spikes")
MAPPING_NUMBERS = ("cores_used", "chips", "intercore_spikes", "hops_ew", "hops_ns")


def _number(value, what: str, minimum: float = 0.0) -> float:
    """A count of a workload: a finite number in [minimum, LIMITS['workload_count'].maximum]."""
    limit = LIMITS["workload_count"]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
    ):
        raise DataError(f"{what} must be a finite number >= {minimum}, got {value!r}")
    if value > limit.maximum:
        raise DataError(f"{what} = {value!r} is above {limit.maximum:g}; limit: {limit.reason}")
    return float(value)


@dataclass(frozen=True)
class LayerWorkload:
    """One layer per inference: neurons; fan_in / fan_out (mean synapses per neuron in / out); macs (dense
    MACs as an ANN); synaptic_events (arriving at this layer, see the module docstring); spikes (of its own
    neurons); analog_input (it receives analog values, not spikes: costed as MACs); compartments per
    neuron for the core mapper (None: the workload's default, 2 for model "mcc", else 1)."""

    name: str
    neurons: int
    fan_in: float
    fan_out: float
    macs: float
    synaptic_events: float = 0.0
    spikes: float = 0.0
    analog_input: bool = False
    compartments: int | None = None

    def to_dict(self) -> dict:
        """The contract's JSON keys (``compartments`` only when set)."""
        out = {"name": self.name, "neurons": self.neurons, "fan_in": self.fan_in, "fan_out": self.fan_out,
               "macs": self.macs, "synaptic_events": self.synaptic_events, "spikes": self.spikes,
               "analog_input": self.analog_input}
        if self.compartments is not None:
            out["compartments"] = self.compartments
        return out


@dataclass(frozen=True)
class Workload:
    """One measured workload: kind "ann" (no events: costed per MAC), "snn" or "transmissions"; timesteps T;
    layers; an optional measured core mapping (its NoC counts are used instead of the mapper's estimate)
    and an optional free-text source ("Lava fixed spike counts")."""

    name: str
    model: str
    kind: str
    timesteps: int
    layers: tuple[LayerWorkload, ...]
    mapping: dict | None = None
    source: str | None = None
    events_counted_at: str = field(default=EVENTS_COUNTED_AT, repr=False)

    def compartments(self, layer: LayerWorkload) -> int:
        """Compartments per neuron of `layer`: its own figure, else 2 for model "mcc", else 1."""
        if layer.compartments is not None:
            return layer.compartments
        return 2 if self.model == "mcc" else 1

    def total(self, key: str) -> float:
        """Sum of one per-layer number (a LAYER_NUMBERS key) over the layers."""
        return sum(getattr(layer, key) for layer in self.layers)

    def to_dict(self) -> dict:
        """The JSON object of the contract (keys name, model, kind, timesteps, layers [, mapping, source])."""
        out = {"name": self.name, "model": self.model, "kind": self.kind, "timesteps": self.timesteps,
               "layers": [layer.to_dict() for layer in self.layers]}
        if self.mapping is not None:
            out["mapping"] = dict(self.mapping)
        if self.source is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, workload: dict, origin: str = "workload") -> Workload:
        """Check one workload object against the contract; bad input -> DataError naming `origin`, the
        workload and the layer. Unknown extra keys (e.g. "source_file") are ignored."""
        if not isinstance(workload, dict):
            raise DataError(f"{origin}: a workload must be an object, got {type(workload).__name__}")
        name = str(workload.get("name", "?"))
        where = f"{origin}: workload '{name}'"
        for key in ("name", "kind", "layers"):
            if key not in workload:
                raise DataError(f"{where}: missing key '{key}'")
        kind = workload["kind"]
        if kind not in KINDS:
            raise DataError(f"{where}: kind must be one of {list(KINDS)}, got {kind!r}")
        timesteps = workload.get("timesteps", 1)
        steps = LIMITS["timesteps"]
        if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
            raise DataError(f"{where}: timesteps must be an integer >= 1, got {timesteps!r}")
        if timesteps > steps.maximum:
            raise DataError(f"{where}: timesteps must be <= {steps.maximum:g}, got {timesteps}; "
                            f"limit: {steps.reason}")
        layers = workload["layers"]
        if not isinstance(layers, list) or not layers:
            raise DataError(f"{where}: 'layers' must be a non-empty list")
        clean_layers = [_layer(layer, i, where, timesteps) for i, layer in enumerate(layers)]
        mapping = workload.get("mapping")
        if mapping is not None:  # a measured mapping of the real graph (loihi.json): its NoC terms are used
            if not isinstance(mapping, dict) or any(k not in mapping for k in MAPPING_NUMBERS):
                raise DataError(f"{where}: 'mapping' must be an object with {list(MAPPING_NUMBERS)}")
            mapping = {"method": str(mapping.get("method", "measured")),
                       **{k: _number(mapping[k], f"{where}: mapping {k}") for k in MAPPING_NUMBERS}}
        source = workload.get("source")
        return cls(name=name, model=str(workload.get("model", kind)), kind=kind, timesteps=timesteps,
                   layers=tuple(clean_layers), mapping=mapping,
                   source=None if source is None else str(source))


def _layer(layer, index: int, where: str, timesteps: int) -> LayerWorkload:
    if not isinstance(layer, dict):
        raise DataError(f"{where}: layer {index} must be an object")
    lname = str(layer.get("name", f"layer{index}"))
    numbers = {}
    for key in LAYER_NUMBERS:
        if key not in layer:
            raise DataError(f"{where}: layer '{lname}' misses '{key}'")
        numbers[key] = _number(layer[key], f"{where}: layer '{lname}' {key}")
    if numbers["neurons"] < 1 or numbers["neurons"] != int(numbers["neurons"]):
        raise DataError(f"{where}: layer '{lname}' neurons must be a positive integer, "
                        f"got {layer['neurons']!r}")
    if numbers["spikes"] > numbers["neurons"] * timesteps:
        raise DataError(f"{where}: layer '{lname}' has {layer['spikes']!r} spikes per sample, more than its "
                        f"{int(numbers['neurons'])} neurons x {timesteps} time steps can fire")
    compartments = layer.get("compartments")
    if compartments is not None and (isinstance(compartments, bool) or not isinstance(compartments, int)
                                     or compartments < 1):
        raise DataError(f"{where}: layer '{lname}' compartments must be an integer >= 1, "
                        f"got {compartments!r}")
    return LayerWorkload(name=lname, analog_input=bool(layer.get("analog_input", False)),
                         compartments=compartments, **numbers)
