r"""Energy per inference from measured workloads (docs/energy.md).

.. math::

    E_{ANN} = \sum_l F_l e_{MAC} + N_l e_{neuron}

    E_{SNN} = \sum_{l \in analog} F_l e_{MAC} + \sum_l S_l e_{syn} + \sum_l N_l T e_{neuron}
              + M e_{tile} + H_{EW} e_{EW} + H_{NS} e_{NS}

F_l: dense MACs of layer l per sample; N_l: neurons; T: time steps; S_l: synaptic events per sample
(measured spikes x fan-out; for "transmissions" workloads the MCC transmissions); analog: layers that
receive analog (not spike) input. On Loihi an update of a neuron that spikes costs the "active" figure:
:math:`N_l T e_{neuron}` becomes :math:`(N_l T - s_l) e_{inactive} + s_l e_{active}` with s_l spikes.
M, H_EW, H_NS: inter-core spike messages and E-W / N-S router hops from the core mapper
(`loihi_targets.mapper`, greedy by default, every layer fully connected to the previous one unless its
fan-in is smaller, spikes spread evenly over a layer's neurons); only devices with NoC figures use them.

A device with ``spiking=False`` (cpu, gpu, arm; keras-spiking's semantics) runs every workload as its
ANN equivalent, so it gets E_ANN even for a spiking workload. ANN workloads are costed per MAC on every
device (no spike counts exist for them), following keras-spiking's non-spiking estimate: one time
step, every synapse a MAC, every neuron one update (Dense 784->128 on "cpu": 8.6 nJ x (100,352 + 128)
= 8.64e-4 J). Every workload also gets the same network's ANN cost on cmos45-int8 (``int8_ann_j``):
the bar an SNN has to beat.

Workload contract (docs/energy.md): {"name", "model", "kind": ann|snn|transmissions, "timesteps", "layers":
[{"name", "neurons", "fan_in", "fan_out", "macs", "synaptic_events", "spikes", "analog_input"}]}; an
optional per-layer "compartments" (default 2 for model "mcc", else 1) feeds the mapper.
"""

from __future__ import annotations

import math
import os

import numpy as np

from loihi_targets.devices import (
    INT8_REFERENCE,
    PRESETS,
    Device,
    as_device,
    load_device_file,
    warn_implausible,
)
from spiking_mcc.errors import DataError, HardwareLimitError, ModelError, ParameterError
from spiking_mcc.formatting import count, fmt
from spiking_mcc.limits import LIMITS

KINDS = ("ann", "snn", "transmissions")
LAYER_NUMBERS = ("neurons", "fan_in", "fan_out", "macs", "synaptic_events", "spikes")
MAPPING_NUMBERS = ("cores_used", "chips", "intercore_spikes", "hops_ew", "hops_ns")
NOC_MAX_CHIPS = 64


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


def validate_workload(workload: dict, origin: str = "workload") -> dict:
    """Check one workload dict against the contract; returns a cleaned copy. Bad input -> DataError."""
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
    clean_layers = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise DataError(f"{where}: layer {i} must be an object")
        lname = str(layer.get("name", f"layer{i}"))
        clean = {"name": lname, "analog_input": bool(layer.get("analog_input", False))}
        for key in LAYER_NUMBERS:
            if key not in layer:
                raise DataError(f"{where}: layer '{lname}' misses '{key}'")
            clean[key] = _number(layer[key], f"{where}: layer '{lname}' {key}")
        if clean["neurons"] < 1 or clean["neurons"] != int(clean["neurons"]):
            raise DataError(
                f"{where}: layer '{lname}' neurons must be a positive integer, got {layer['neurons']!r}"
            )
        if clean["spikes"] > clean["neurons"] * timesteps:
            raise DataError(
                f"{where}: layer '{lname}' has {layer['spikes']!r} spikes per sample, more than its "
                f"{int(clean['neurons'])} neurons x {timesteps} time steps can fire"
            )
        default_compartments = 2 if workload.get("model") == "mcc" else 1
        compartments = layer.get("compartments", default_compartments)
        if isinstance(compartments, bool) or not isinstance(compartments, int) or compartments < 1:
            raise DataError(
                f"{where}: layer '{lname}' compartments must be an integer >= 1, got {compartments!r}"
            )
        clean["compartments"] = compartments
        clean_layers.append(clean)
    mapping = workload.get("mapping")
    if mapping is not None:  # a measured mapping of the real graph (loihi.json): its NoC terms are used
        if not isinstance(mapping, dict) or any(k not in mapping for k in MAPPING_NUMBERS):
            raise DataError(f"{where}: 'mapping' must be an object with {list(MAPPING_NUMBERS)}")
        mapping = {"method": str(mapping.get("method", "measured")),
                   **{k: _number(mapping[k], f"{where}: mapping {k}") for k in MAPPING_NUMBERS}}
    return {
        "name": name,
        "model": str(workload.get("model", kind)),
        "kind": kind,
        "timesteps": timesteps,
        "layers": clean_layers,
        **({"mapping": mapping} if mapping is not None else {}),
    }


def ann_energy(workload: dict, device: Device) -> dict[str, float]:
    """E_ANN = sum_l macs_l e_MAC + neurons_l e_neuron (one pass). Returns the breakdown in J."""
    macs = sum(la["macs"] for la in workload["layers"])
    neurons = sum(la["neurons"] for la in workload["layers"])
    return {
        "mac": macs * device.energy_per_mac_j,
        "synaptic": 0.0,
        "neuron": neurons * device.neuron_j,
        "noc": 0.0,
    }


def snn_energy(workload: dict, device: Device, noc: dict | None = None) -> dict[str, float]:
    """Event-based E_SNN breakdown in J (see module docstring); noc = mapper summary or None."""
    layers, steps = workload["layers"], workload["timesteps"]
    mac = sum(la["macs"] for la in layers if la["analog_input"]) * device.energy_per_mac_j
    synaptic = sum(la["synaptic_events"] for la in layers) * device.synop_j
    updates = sum(la["neurons"] for la in layers) * steps
    active = min(sum(la["spikes"] for la in layers), updates)
    active_j = device.neuron_j if device.active_neuron_j is None else device.active_neuron_j
    neuron = (updates - active) * device.neuron_j + active * active_j
    noc_j = 0.0
    if noc is not None and device.has_noc:
        noc_j = (
            noc["intercore_spikes"] * device.noc_tile_j
            + noc["hops_ew"] * device.hop_ew_j
            + noc["hops_ns"] * device.hop_ns_j
        )
    return {"mac": mac, "synaptic": synaptic, "neuron": neuron, "noc": noc_j}


def workload_mapping(workload: dict, method: str = "greedy", max_chips: int = NOC_MAX_CHIPS) -> dict:
    """Map a workload's layers on Loihi cores (a chain, spikes spread evenly over each layer's neurons)."""
    from loihi_targets.mapper import EXTERNAL, LayerSpec, map_network

    specs, spikes = [], []
    for i, la in enumerate(workload["layers"]):
        neurons, fan_in = int(la["neurons"]), max(int(la["fan_in"]), 1)
        if i > 0:
            fan_in = min(fan_in, specs[-1].neurons)
        specs.append(
            LayerSpec(
                la["name"],
                neurons,
                fan_in=fan_in,
                compartments_per_neuron=la["compartments"],
                source=EXTERNAL if i == 0 else None,
            )
        )
        spikes.append(la["spikes"] / neurons)
    try:
        mapping = map_network(specs, spikes_per_neuron=spikes, method=method, max_chips=max_chips)
    except (HardwareLimitError, ModelError, ParameterError) as err:  # ParameterError: mapper size limits
        return {"error": str(err)}
    summary = mapping.summary()
    return {
        key: summary[key]
        for key in ("method", "cores_used", "chips", "intercore_spikes", "hops_ew", "hops_ns")
    }


def resolve_devices(devices: list[str | Device | dict] | None = None, device_file=None) -> dict[str, Device]:
    """Chosen devices (all presets + file devices when None), in order, plus the INT8 reference. Each
    entry: a name (preset or file device), a Device, or a dict {"name": ..., field: value} (see
    devices.as_device); unknown names -> ParameterError, implausible energies -> a warning."""
    table = load_device_file(device_file) if device_file is not None else dict(PRESETS)
    names = []
    for entry in list(table) if devices is None else list(devices):
        if not isinstance(entry, str):
            device = as_device(entry, table)
            warn_implausible(device, "devices")
            table[device.name] = device
            entry = device.name
        names.append(entry)
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        raise ParameterError(f"--devices: unknown device(s) {unknown}; known: {sorted(table)}")
    if INT8_REFERENCE not in table:
        raise ParameterError(f"device '{INT8_REFERENCE}' (the INT8-ANN reference) is missing")
    return {name: table[name] for name in dict.fromkeys(names)} | {INT8_REFERENCE: table[INT8_REFERENCE]}


def _name(entry: str | Device | dict) -> str:
    return entry if isinstance(entry, str) else entry.name if isinstance(entry, Device) else entry.get("name")


def energy_report(
    workloads: list[dict],
    devices: list[str | Device | dict] | None = None,
    device_file: str | os.PathLike | None = None,
    mapper: str = "greedy",
) -> dict:
    """Energy per inference (J) of every workload on every device, with breakdown, the INT8-ANN
    reference and honest notes. Workloads may carry "source_file" (shown in errors and the report).
    devices: names (presets, or devices of `device_file`), Device objects or dicts (resolve_devices)."""
    table = resolve_devices(devices, device_file)
    chosen = list(table) if devices is None else list(table)[:len({_name(d) for d in devices})]
    int8 = table[INT8_REFERENCE]
    rows, summaries, notes, losing = [], [], [], False
    for raw in workloads:
        origin = str(raw.get("source_file", "workload")) if isinstance(raw, dict) else "workload"
        workload = validate_workload(raw, origin)
        int8_ann_j = sum(ann_energy(workload, int8).values())
        spiking = workload["kind"] != "ann"
        noc = None
        if spiking and any(table[d].has_noc for d in chosen):
            noc = workload.get("mapping") or workload_mapping(workload, method=mapper)
            if "error" in noc:
                notes.append(f"{workload['name']}: does not fit Loihi ({noc['error']}); NoC energy omitted")
        summaries.append(
            {
                "name": workload["name"],
                "model": workload["model"],
                "kind": workload["kind"],
                "timesteps": workload["timesteps"],
                "source_file": origin,
                "macs": sum(la["macs"] for la in workload["layers"]),
                "synaptic_events": sum(la["synaptic_events"] for la in workload["layers"]),
                "spikes": sum(la["spikes"] for la in workload["layers"]),
                "neurons": sum(la["neurons"] for la in workload["layers"]),
                "int8_ann_j": int8_ann_j,
                "mapping": noc,
            }
        )
        for name in chosen:
            device = table[name]
            usable_noc = noc if noc is not None and "error" not in noc else None
            event_based = spiking and device.spiking
            parts = snn_energy(workload, device, usable_noc) if event_based else ann_energy(workload, device)
            energy_j = sum(parts.values())
            if not math.isfinite(energy_j):
                raise DataError(f"{origin}: workload '{workload['name']}' on device '{name}': the energy "
                                f"overflows ({parts}); check the device's energies and the workload's counts")
            ratio = energy_j / int8_ann_j if int8_ann_j > 0 else float("nan")
            rows.append(
                {
                    "workload": workload["name"],
                    "model": workload["model"],
                    "kind": workload["kind"],
                    "device": name,
                    "event_based": event_based,
                    "energy_j": energy_j,
                    "breakdown_j": parts,
                    "int8_ann_j": int8_ann_j,
                    "ratio_to_int8_ann": ratio,
                    "beats_int8_ann": bool(energy_j < int8_ann_j),
                }
            )
        if spiking:
            own_rows = [r for r in rows if r["workload"] == workload["name"]]
            honest = _honest_notes(workload, own_rows, int8_ann_j)
            notes.extend(honest)
            losing = losing or bool(honest)
    # said once per report, not once per workload
    as_ann = [name for name in chosen if not table[name].spiking]
    if as_ann and any(w["kind"] != "ann" for w in summaries):
        notes.append(
            f"{', '.join(as_ann)} are not event-driven: every spiking workload is costed on them running the "
            "same network as an ANN (keras-spiking's convention)"
        )
    if losing:
        notes.append("event-based execution only wins at low spike rates and on hardware with cheap events")
    return {
        "devices": {name: table[name].to_dict() for name in table},
        "int8_reference_device": INT8_REFERENCE,
        "mapper": mapper,
        "workloads": summaries,
        "rows": rows,
        "notes": notes,
    }


def _honest_notes(workload: dict, rows: list[dict], int8_ann_j: float) -> list[str]:
    """Say plainly on which devices the spiking workload costs more than the INT8 ANN."""
    losing = [
        f"{r['device']} ({fmt(r['ratio_to_int8_ann'])}x)"
        for r in rows
        if r["event_based"] and not r["beats_int8_ann"]
    ]
    if not losing:
        return []
    head = (
        f"{workload['name']} ({', '.join(dict.fromkeys([workload['model'], workload['kind']]))}, "
        f"{count(workload['timesteps'], 'step')}): "
        f"costs more than the same network as an INT8 ANN on 45 nm CMOS ({fmt(int8_ann_j)} J per inference) "
        f"on {', '.join(losing)}"
    )
    return [head]


def write_energy_figure(report: dict, path: str | os.PathLike) -> None:
    """Grouped bar chart (log scale): energy per inference on each device, one bar per workload, and
    each workload's network as an INT8 ANN on 45 nm CMOS as the last, shaded group. The size is fixed
    (it fits a report page at any number of workloads); the legend sits under the bars."""
    import spiking_mcc.plotting  # noqa: F401  (headless backend)
    from spiking_mcc.io import save_figure
    from spiking_mcc.plotting import legend_outside, plt

    workloads = [w["name"] for w in report["workloads"]]
    devices = list(dict.fromkeys(row["device"] for row in report["rows"]))
    groups = devices + [f"INT8 ANN\n({report.get('int8_reference_device', INT8_REFERENCE)})"]
    values = np.full((len(workloads), len(groups)), np.nan)
    for row in report["rows"]:
        values[workloads.index(row["workload"]), devices.index(row["device"])] = row["energy_j"]
    for i, w in enumerate(report["workloads"]):
        values[i, -1] = w["int8_ann_j"]
    values[~(values > 0)] = np.nan
    fig, ax = plt.subplots(figsize=(9, 4.4), layout="constrained")
    width = 0.8 / max(len(workloads), 1)
    x = np.arange(len(groups))
    colours = plt.get_cmap("tab10")
    for i, name in enumerate(workloads):
        offset = (i - (len(workloads) - 1) / 2) * width
        ax.bar(x + offset, values[i], width, label=name, color=colours(i % 10))
    ax.axvspan(len(groups) - 1.5, len(groups) - 0.5, color="0.92", zorder=0)
    ax.set_xlim(-0.5, len(groups) - 0.5)
    ax.set_yscale("log")
    ax.set_xticks(x, groups, fontsize=8, rotation=20, ha="right", rotation_mode="anchor")
    ax.set_ylabel("energy per inference (J)")
    ax.grid(axis="y", which="major", alpha=0.3)
    legend_outside(ax, where="figure-below", ncol=min(4, max(len(workloads), 1)), fontsize=7)
    save_figure(fig, path)
