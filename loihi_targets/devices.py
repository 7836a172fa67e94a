"""Device energy presets (joules per event), the source beside every number, and user overrides.

Fields of a device (all energies in J, >= 0):

- ``synop_j``: one synaptic event (a spike arriving at one synapse: an accumulate).
- ``mac_j``: one multiply-accumulate (ANN layers, and SNN layers fed with analog input). ``None``: the
  device has no separate MAC figure and a MAC costs ``synop_j`` (keras-spiking's convention: "each
  synop/neuron update is one MAC").
- ``neuron_j``: one neuron update per time step (Loihi: an inactive update).
- ``active_neuron_j``: one update of a neuron that spikes in that step (Loihi's "active" figure); ``None``
  means ``neuron_j``.
- ``noc_tile_j``, ``hop_ew_j``, ``hop_ns_j``: network-on-chip cost of one inter-core spike message, and of
  each east-west / north-south router hop it takes (Loihi only).
- ``spiking``: keras-spiking's flag. ``True``: event-driven hardware, a spiking workload is costed from
  its measured events. ``False`` (cpu, gpu, arm): the hardware runs the network as an ordinary ANN
  ("computing every synapse each timestep", one pass per inference), so every workload is costed as its
  ANN equivalent. The 45 nm CMOS presets are ``True``: they are the accumulate-vs-MAC model SNN papers
  use for a custom event-driven accelerator.

Time and power fields (``None``: the source gives none, and the reports say "not given"):

- ``synop_s``, ``neuron_s``, ``active_neuron_s``: time of one synaptic op / inactive / active neuron update
  in one core (Loihi: Davies et al. 2018, Table 2); ``sync_tile_s``, ``sync_chip_s``: the mesh-wide
  barrier that ends each time step, on one tile (up to 4 cores) and on a whole chip (32 tiles).
- ``static_w``: static (idle) power of one chip in W.
- ``macs_per_s``: MAC throughput when the device runs a network as an ANN (the INT8 reference: a
  published INT8 accelerator's peak rate).

Users add or override devices with a JSON file ``{"name": {field: value, ...}, ...}`` (see
`load_device_file`); an override may give only the fields it changes.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, replace

from spiking_mcc.errors import ParameterError
from spiking_mcc.io import read_json
from spiking_mcc.mcc.activity import ENERGY_PER_TRANSMISSION_UJ

HOROWITZ_2014 = (
    "Horowitz 2014, 'Computing's energy problem (and what we can do about it)', ISSCC, 45 nm 0.9 V table"
)
DAVIES_2018 = "Davies et al. 2018, 'Loihi: a neuromorphic manycore processor', IEEE Micro 38(1), Table 2"
BLOUW_2019 = ("Blouw et al. 2019, 'Benchmarking keyword spotting efficiency on neuromorphic hardware', "
              "NICE 2019 (arXiv:1812.01739), Table 1")
JOUPPI_2017 = ("Jouppi et al. 2017, 'In-datacenter performance analysis of a Tensor Processing Unit', ISCA: "
               "65,536 8-bit MACs, peak 92 TOPS")
KERAS_SPIKING = "keras-spiking ModelEnergy.devices (nengo/keras-spiking, keras_spiking/model_energy.py)"


@dataclass(frozen=True)
class Device:
    """Energy figures of one hardware target (J per event); see the module docstring for each field."""

    name: str
    synop_j: float
    mac_j: float | None = None
    neuron_j: float = 0.0
    active_neuron_j: float | None = None
    noc_tile_j: float = 0.0
    hop_ew_j: float = 0.0
    hop_ns_j: float = 0.0
    spiking: bool = True
    source: str = ""
    synop_s: float | None = None
    neuron_s: float | None = None
    active_neuron_s: float | None = None
    sync_tile_s: float | None = None
    sync_chip_s: float | None = None
    static_w: float | None = None
    macs_per_s: float | None = None
    time_source: str = ""

    @property
    def energy_per_mac_j(self) -> float:
        return self.synop_j if self.mac_j is None else self.mac_j

    @property
    def has_noc(self) -> bool:
        return self.noc_tile_j > 0 or self.hop_ew_j > 0 or self.hop_ns_j > 0

    @property
    def has_event_times(self) -> bool:
        """Times per event-based operation are given (time per inference needs the core mapping)."""
        return self.synop_s is not None and self.neuron_s is not None

    def to_dict(self) -> dict:
        return asdict(self)


PICO, NANO = 1e-12, 1e-9
# TPU v1: 92e12 int8 operations/s, a MAC being 2 operations (multiply, add) -> 46e12 MAC/s
TPU_V1_MACS_PER_S = 92e12 / 2

PRESETS: dict[str, Device] = {
    d.name: d
    for d in (
        # 45 nm CMOS: 32-bit float add 0.9 pJ (an accumulate, AC), mult 3.7 pJ -> MAC 4.6 pJ
        Device(
            "cmos45-fp32",
            synop_j=0.9 * PICO,
            mac_j=4.6 * PICO,
            spiking=True,
            source=f"{HOROWITZ_2014}: fp32 add 0.9 pJ (AC), mult 3.7 pJ + add = MAC 4.6 pJ; no neuron term",
        ),
        # 45 nm CMOS: 8-bit int add 0.03 pJ, mult 0.2 pJ -> MAC 0.23 pJ
        Device(
            "cmos45-int8",
            synop_j=0.03 * PICO,
            mac_j=0.23 * PICO,
            spiking=True,
            source=f"{HOROWITZ_2014}: int8 add 0.03 pJ (AC), mult 0.2 pJ + add = MAC 0.23 pJ; no neuron term",
            macs_per_s=TPU_V1_MACS_PER_S,
            time_source=f"ANN time at {JOUPPI_2017} = {TPU_V1_MACS_PER_S:.3g} MAC/s (its peak; a small "
            "network fills the array less, so the time is a lower bound); event time and static power "
            "not given (Horowitz gives energies only)",
        ),
        Device(
            "loihi1",
            synop_j=23.6 * PICO,
            neuron_j=52 * PICO,
            active_neuron_j=81 * PICO,
            noc_tile_j=1.7 * PICO,
            hop_ew_j=3.0 * PICO,
            hop_ns_j=4.0 * PICO,
            spiking=True,
            source=f"{DAVIES_2018}: synaptic spike op 23.6 pJ (min), neuron update 52 pJ inactive / 81 pJ "
            "active, within-tile spike 1.7 pJ, tile hop 3.0 pJ E-W / 4.0 pJ N-S. (keras-spiking's "
            "'loihi' lumps (23.6 + 3.5) pJ per synop; here the NoC is counted from the core mapping)",
            synop_s=3.5 * NANO,
            neuron_s=5.3 * NANO,
            active_neuron_s=8.4 * NANO,
            sync_tile_s=113 * NANO,
            sync_chip_s=465 * NANO,
            static_w=0.029,
            time_source=f"{DAVIES_2018}: time per synaptic spike op 3.5 ns (max), per neuron update 8.4 ns "
            "active / 5.3 ns inactive, mesh-wide barrier sync 113 ns (1 tile) to 465 ns (32 tiles); "
            f"static power: the idle power of Loihi, 0.029 W ({BLOUW_2019})",
        ),
        Device(
            "fpga-ultrascale",
            synop_j=ENERGY_PER_TRANSMISSION_UJ * 1e-6,
            spiking=True,
            source=f"Adeel et al. 2022 (MCC on a Xilinx UltraScale FPGA): {ENERGY_PER_TRANSMISSION_UJ:g} uJ "
            f"= {ENERGY_PER_TRANSMISSION_UJ * 1e6:g} pJ per synaptic event/transmission; "
            "no separate neuron term",
        ),
        Device(
            "spinnaker",
            synop_j=13.3 * NANO,
            neuron_j=26 * NANO,
            spiking=True,
            source=f"{KERAS_SPIKING}: energy_per_synop 13.3e-9, energy_per_neuron 26e-9, spiking=True "
            "(from Hoeppner et al. 2019, IEEE TCAS-I 66(8))",
        ),
        Device(
            "spinnaker2",
            synop_j=450 * PICO,
            neuron_j=2.19 * NANO,
            spiking=True,
            source=f"{KERAS_SPIKING}: energy_per_synop 450e-12, energy_per_neuron 2.19e-9, spiking=True "
            "(from Hoeppner et al. 2019, IEEE TCAS-I 66(8))",
        ),
        Device(
            "cpu",
            synop_j=8.6 * NANO,
            mac_j=8.6 * NANO,
            neuron_j=8.6 * NANO,
            spiking=False,
            source=f"{KERAS_SPIKING}: Intel i7-4960X, 8.6e-9 J per synop and per neuron update, each one MAC "
            "(Degnan et al. 2015, IEEE TVLSI 24(1))",
        ),
        Device(
            "gpu",
            synop_j=0.3 * NANO,
            mac_j=0.3 * NANO,
            neuron_j=0.3 * NANO,
            spiking=False,
            source=f"{KERAS_SPIKING}: Nvidia GTX Titan Black, 0.3e-9 J per synop and per neuron update "
            "(Degnan et al. 2015), assumes large batches",
        ),
        Device(
            "arm",
            synop_j=0.9 * NANO,
            mac_j=0.9 * NANO,
            neuron_j=0.9 * NANO,
            spiking=False,
            source=f"{KERAS_SPIKING}: ARM Cortex-A, 0.9e-9 J per synop and per neuron update "
            "(Degnan et al. 2015)",
        ),
    )
}

INT8_REFERENCE = "cmos45-int8"
ENERGY_FIELDS = ("synop_j", "mac_j", "neuron_j", "active_neuron_j", "noc_tile_j", "hop_ew_j", "hop_ns_j")
OPTIONAL_FIELDS = ("mac_j", "active_neuron_j")
TIME_FIELDS = ("synop_s", "neuron_s", "active_neuron_s", "sync_tile_s", "sync_chip_s", "static_w",
               "macs_per_s")
DEVICE_FIELDS = ENERGY_FIELDS + TIME_FIELDS + ("spiking", "source", "time_source")


def _check_device_fields(name: str, fields: dict, origin: str) -> dict:
    if not isinstance(fields, dict):
        raise ParameterError(
            f"{origin}: device '{name}' must be an object of fields, got {type(fields).__name__}"
        )
    unknown = sorted(set(fields) - set(DEVICE_FIELDS))
    if unknown:
        raise ParameterError(
            f"{origin}: device '{name}' has unknown field(s) {unknown}; allowed {list(DEVICE_FIELDS)}"
        )
    clean = {}
    for key, value in fields.items():
        if key in ENERGY_FIELDS:
            if value is None and key in OPTIONAL_FIELDS:
                clean[key] = None
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ParameterError(
                    f"{origin}: device '{name}' field '{key}' must be a finite energy >= 0 J, got {value!r}"
                )
            clean[key] = float(value)
        elif key in TIME_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                unit = {"static_w": "W", "macs_per_s": "MAC/s"}.get(key, "s")
                raise ParameterError(
                    f"{origin}: device '{name}' field '{key}' must be a finite number >= 0 {unit} or null, "
                    f"got {value!r}"
                )
            clean[key] = None if value is None else float(value)
        elif key == "spiking":
            if not isinstance(value, bool):
                raise ParameterError(
                    f"{origin}: device '{name}' field 'spiking' must be true/false, got {value!r}"
                )
            clean[key] = value
        else:
            clean[key] = str(value)
    return clean


# Plausible energy of one operation: above ~1 uJ (a whole chip for a microsecond) or below ~1 aJ (under
# a thousand times Landauer's kT ln 2 at 300 K) is likely a unit slip (pJ entered as J, or the reverse).
PLAUSIBLE_ENERGY_J = (1e-18, 1e-6)


def warn_implausible(device: Device, origin: str) -> None:
    """A warning naming each per-operation energy of `device` outside PLAUSIBLE_ENERGY_J."""
    low, high = PLAUSIBLE_ENERGY_J
    for key in ENERGY_FIELDS:
        value = getattr(device, key)
        if value is not None and value != 0 and not low <= value <= high:
            warnings.warn(f"{origin}: device '{device.name}' field '{key}' = {value:g} J is outside the "
                          f"plausible range [{low:g}, {high:g}] J per operation; is the unit right?",
                          stacklevel=3)


def as_device(entry: Device | dict, table: dict[str, Device], origin: str = "devices") -> Device:
    """A Device from a Device object or a dict {"name": ..., field: value}; a dict naming a device of
    `table` overrides its fields, a new one needs `synop_j`. Fields validated as in a device file."""
    if isinstance(entry, Device):
        fields = {k: v for k, v in asdict(entry).items() if k != "name"}
        return Device(name=entry.name, **_check_device_fields(entry.name, fields, origin))
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        raise ParameterError(f"{origin}: a device must be a name, a Device or a dict with a 'name', got "
                             f"{entry!r}")
    name = entry["name"]
    clean = _check_device_fields(name, {k: v for k, v in entry.items() if k != "name"}, origin)
    if name in table:
        return replace(table[name], **clean)
    if clean.get("synop_j") is None:
        raise ParameterError(f"{origin}: new device '{name}' needs 'synop_j' (J per synaptic event)")
    clean.setdefault("source", "user device (Python)")
    return Device(name=name, **clean)


def load_device_file(path: str | os.PathLike, base: dict[str, Device] | None = None) -> dict[str, Device]:
    """Presets (or `base`) updated with the devices of a JSON file: {"name": {field: value}}.

    An existing name is overridden field by field; a new name needs at least `synop_j`. Unknown fields,
    negative or non-finite energies -> ParameterError; a missing or corrupt file -> DataError."""
    devices = dict(PRESETS if base is None else base)
    content = read_json(path)
    origin = f"device file {path}"
    if not isinstance(content, dict) or not content:
        raise ParameterError(f'{origin}: expected a non-empty object {{"name": {{field: value}}}}')
    for name, fields in content.items():
        clean = _check_device_fields(str(name), fields, origin)
        if name in devices:
            clean.setdefault("source", f"{devices[name].source}; overridden by {path}")
            devices[name] = replace(devices[name], **clean)
        else:
            if "synop_j" not in clean or clean["synop_j"] is None:
                raise ParameterError(f"{origin}: new device '{name}' needs 'synop_j' (J per synaptic event)")
            clean.setdefault("source", f"user device file {path}")
            devices[name] = Device(name=str(name), **clean)
        warn_implausible(devices[name], origin)
    return devices
