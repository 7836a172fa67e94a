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

Workloads: `spiking_mcc.workload.Workload` (docs/energy.md, "The workload contract"; events counted on
the receiving layer). Time, power and energy-delay product per inference: :func:`inference_time` and
:func:`time_and_power` (docs/energy.md, "Time and power"), from the device's sourced times only.
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
from spiking_mcc.workload import MAPPING_NUMBERS, Workload

__all__ = ["MAPPING_NUMBERS", "energy_report", "validate_workload", "workload_mapping", "write_energy_figure"]

# Most chips an energy estimate may map a workload on: the project's choice, the size of Intel's
# Pohoiki Beach Loihi 1 system (64 chips, 2019); the mesh itself scales much further (Davies et al. 2018).
NOC_MAX_CHIPS = 64
CORES_PER_TILE = 4  # Loihi: 128 cores in 32 tiles (Davies et al. 2018)
# How this model reads what its sources leave open (docs/energy.md); the report prints them.
INTERPRETATIONS = (
    "Loihi's 'active' neuron-update figures (81 pJ, 8.4 ns) are charged to the neurons that spike in a step, "
    "the 'inactive' ones (52 pJ, 5.3 ns) to every other neuron update (Davies et al. 2018 does not define "
    "'active').",
    "Loihi time per inference: the operations spread evenly over the mapped cores, which run in parallel "
    "(a lower bound), plus one mesh-wide barrier per time step; NoC latency overlaps and is not added.",
    "Energy (J) is the dynamic energy of the per-operation figures; power (W) adds a chip's static power "
    "where a source gives one (Loihi's idle power), and so does the energy-delay product.",
    "The INT8 ANN's time is its MACs at the TPU v1's peak rate (Jouppi et al. 2017): a lower bound; its "
    "power is 45 nm's 0.23 pJ per MAC at that rate (10.6 W), a model, not the TPU's measured power.",
)


def validate_workload(workload: dict, origin: str = "workload") -> Workload:
    """One workload object checked against the contract (spiking_mcc.workload); bad input -> DataError."""
    return Workload.from_dict(workload, origin)


def ann_energy(workload: Workload, device: Device) -> dict[str, float]:
    """E_ANN = sum_l macs_l e_MAC + neurons_l e_neuron (one pass). Returns the breakdown in J."""
    return {
        "mac": workload.total("macs") * device.energy_per_mac_j,
        "synaptic": 0.0,
        "neuron": workload.total("neurons") * device.neuron_j,
        "noc": 0.0,
    }


def snn_energy(workload: Workload, device: Device, noc: dict | None = None) -> dict[str, float]:
    """Event-based E_SNN breakdown in J (see module docstring); noc = mapper summary or None."""
    layers, steps = workload.layers, workload.timesteps
    mac = sum(la.macs for la in layers if la.analog_input) * device.energy_per_mac_j
    synaptic = workload.total("synaptic_events") * device.synop_j
    updates = workload.total("neurons") * steps
    active = min(workload.total("spikes"), updates)
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


def workload_mapping(workload: Workload, method: str = "greedy", max_chips: int = NOC_MAX_CHIPS) -> dict:
    """Map a workload's layers on Loihi cores (a chain, spikes spread evenly over each layer's neurons)."""
    from loihi_targets.mapper import EXTERNAL, LayerSpec, map_network

    specs, spikes = [], []
    for i, la in enumerate(workload.layers):
        neurons, fan_in = int(la.neurons), max(int(la.fan_in), 1)
        if i > 0:
            fan_in = min(fan_in, specs[-1].neurons)
        specs.append(
            LayerSpec(
                la.name,
                neurons,
                fan_in=fan_in,
                compartments_per_neuron=workload.compartments(la),
                source=EXTERNAL if i == 0 else None,
            )
        )
        spikes.append(la.spikes / neurons)
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


def inference_time(workload: Workload, device: Device, event_based: bool, noc: dict | None) -> float | None:
    """Seconds per inference, or None where the device's sources give no time (docs/energy.md, "Time").

    ANN execution: MACs / macs_per_s. Event-based: each core works its share of the per-inference
    operations in parallel (an even spread over the mapper's cores: a lower bound), one synaptic-op time per
    synaptic event and per analog-input MAC, one neuron-update time (active or inactive) per neuron and
    step, plus one mesh-wide barrier per step (the one-tile figure up to 4 cores, else the chip's);
    None for a network spread over more than one chip (its barrier is not given)."""
    if not event_based:
        return None if device.macs_per_s is None else workload.total("macs") / device.macs_per_s
    times = (device.synop_s, device.neuron_s, device.sync_tile_s, device.sync_chip_s)
    if any(v is None for v in times) or noc is None or noc["chips"] > 1:
        return None
    active_s = device.neuron_s if device.active_neuron_s is None else device.active_neuron_s
    updates = workload.total("neurons") * workload.timesteps
    active = min(workload.total("spikes"), updates)
    ops_s = ((sum(la.macs for la in workload.layers if la.analog_input) + workload.total("synaptic_events"))
             * device.synop_s + (updates - active) * device.neuron_s + active * active_s)
    barrier_s = device.sync_tile_s if noc["cores_used"] <= CORES_PER_TILE else device.sync_chip_s
    return ops_s / max(noc["cores_used"], 1) + workload.timesteps * barrier_s


def time_and_power(energy_j: float, time_s: float | None, static_w: float | None, chips: float) -> dict:
    """Seconds, watts and the energy-delay product of one inference: power = energy_j / time_s (+ the
    static power of `chips` chips where given); edp_js = (energy_j + static energy) x time_s."""
    if time_s is None or time_s <= 0:
        return {"time_s": None, "power_w": None, "static_w": static_w, "static_j": None, "edp_js": None}
    static_total_w = None if static_w is None else static_w * chips
    static_j = 0.0 if static_total_w is None else static_total_w * time_s
    return {"time_s": time_s, "power_w": energy_j / time_s + (static_total_w or 0.0),
            "static_w": static_total_w, "static_j": static_j if static_total_w is not None else None,
            "edp_js": (energy_j + static_j) * time_s}


def energy_report(
    workloads: list[dict],
    devices: list[str | Device | dict] | None = None,
    device_file: str | os.PathLike | None = None,
    mapper: str = "greedy",
) -> dict:
    """Energy (J), time (s), power (W) and energy-delay product per inference of every workload on every
    device, with breakdown, the INT8-ANN reference and honest notes. Workloads may carry "source_file"
    (shown in errors and the report). devices: names (presets, or devices of `device_file`), Device objects
    or dicts (resolve_devices)."""
    table = resolve_devices(devices, device_file)
    chosen = list(table) if devices is None else list(table)[:len({_name(d) for d in devices})]
    int8 = table[INT8_REFERENCE]
    rows, summaries, notes, losing = [], [], [], False
    for raw in workloads:
        origin = str(raw.get("source_file", "workload")) if isinstance(raw, dict) else "workload"
        workload = validate_workload(raw, origin)
        int8_ann_j = sum(ann_energy(workload, int8).values())
        int8_ann = time_and_power(int8_ann_j, inference_time(workload, int8, False, None), int8.static_w, 1)
        spiking = workload.kind != "ann"
        noc = None
        if spiking and any(table[d].has_noc or table[d].has_event_times for d in chosen):
            noc = workload.mapping or workload_mapping(workload, method=mapper)
            if "error" in noc:
                notes.append(f"{workload.name}: does not fit Loihi ({noc['error']}); NoC energy omitted")
        summaries.append(
            {
                "name": workload.name,
                "model": workload.model,
                "kind": workload.kind,
                "timesteps": workload.timesteps,
                "source_file": origin,
                "macs": workload.total("macs"),
                "synaptic_events": workload.total("synaptic_events"),
                "spikes": workload.total("spikes"),
                "neurons": workload.total("neurons"),
                "int8_ann_j": int8_ann_j,
                "int8_ann_s": int8_ann["time_s"],
                "int8_ann_w": int8_ann["power_w"],
                "int8_ann_edp_js": int8_ann["edp_js"],
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
                raise DataError(f"{origin}: workload '{workload.name}' on device '{name}': the energy "
                                f"overflows ({parts}); check the device's energies and the workload's counts")
            ratio = energy_j / int8_ann_j if int8_ann_j > 0 else float("nan")
            chips = usable_noc["chips"] if event_based and usable_noc is not None else 1
            timing = time_and_power(energy_j, inference_time(workload, device, event_based, usable_noc),
                                    device.static_w, chips)
            rows.append(
                {
                    "workload": workload.name,
                    "model": workload.model,
                    "kind": workload.kind,
                    "device": name,
                    "event_based": event_based,
                    "energy_j": energy_j,
                    "breakdown_j": parts,
                    "int8_ann_j": int8_ann_j,
                    "ratio_to_int8_ann": ratio,
                    "beats_int8_ann": bool(energy_j < int8_ann_j),
                    **timing,
                }
            )
        if spiking:
            own_rows = [r for r in rows if r["workload"] == workload.name]
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
        "interpretations": INTERPRETATIONS,
    }


def _honest_notes(workload: Workload, rows: list[dict], int8_ann_j: float) -> list[str]:
    """Say plainly on which devices the spiking workload costs more than the INT8 ANN."""
    losing = [
        f"{r['device']} ({fmt(r['ratio_to_int8_ann'])}x)"
        for r in rows
        if r["event_based"] and not r["beats_int8_ann"]
    ]
    if not losing:
        return []
    head = (
        f"{workload.name} ({', '.join(dict.fromkeys([workload.model, workload.kind]))}, "
        f"{count(workload.timesteps, 'step')}): "
        f"costs more than the same network as an INT8 ANN on 45 nm CMOS ({fmt(int8_ann_j)} J per inference) "
        f"on {', '.join(losing)}"
    )
    return [head]


def write_energy_figure(report: dict, path: str | os.PathLike) -> None:
    """Grouped bar chart (log scale): energy per inference on each device, one bar per workload, and
    each workload's network as an INT8 ANN on 45 nm CMOS as the last, shaded group. The size is fixed
    (it fits a report page at any number of workloads); the legend sits under the bars."""
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
