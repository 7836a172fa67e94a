"""Assemble the run report from the JSON files in a run folder (and nothing else).

Every number in a table is `fmt` or `pct` of a value read from a JSON file in the folder; each
table's note names the file and keys. Figures are the PNGs the stages wrote (listed in run.json)
plus two the report draws from the JSON (training curves, accuracy vs T).
"""

from __future__ import annotations

from pathlib import Path

from spiking_mcc.io import write_text
from spiking_mcc.mcc.activity import ENERGY_PER_TRANSMISSION_UJ
from spiking_mcc.report import figures as report_figures
from spiking_mcc.report.document import (
    Bullets,
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    render_html,
    render_markdown,
)
from spiking_mcc.report.numbers import NOT_AVAILABLE, RunFolder, count, fmt, get, pct

MODELS = (("mcc", "MCC (two-point)"), ("point", "point baseline"))
# Stage figures (file stem in run.json's "figures") -> caption, in the order they appear.
FIGURE_CAPTIONS = {
    "bac_traces": "BAC firing: somatic and dendritic voltage for a somatic pulse paired with a dendritic "
                  "pulse at several offsets (cells.json traces).",
    "fi_curves": "f-I curves of the soma at several tonic apical currents: apical input raises the gain.",
    "multiplexing": "Burst multiplexing under noise: burst probability rises with I_d while the event "
                    "rate stays roughly constant.",
    "rate_surface": "L5PC spike-rate surface over tonic somatic x apical currents (OU noise), and each "
                    "two-point law's least-squares fit (rate_surface.json).",
    "population": "Burst multiplexing in a population: the two inputs, the population event rate and burst "
                  "fraction over time (population.json bins).",
    "accuracy_vs_transmissions": "Accuracy vs synaptic transmissions per sample, MCC vs point "
                                 "(transmission threshold sweep; compare.json curves).",
    "learning_speed": "Learning speed: test accuracy per epoch in the comparison study (compare.json).",
    "resilience": "Damage resilience: hidden units silenced at test time (left) and mid-training (right).",
    "noise": "Accuracy on the noisy task, noise on both modalities (compare.json noisy_task).",
    "accuracy_vs_T_mcc": "MCC converted to two-compartment spiking units: accuracy vs T.",
    "accuracy_vs_T_point": "Point-neuron network converted to spiking units: accuracy vs T.",
    "loihi_counts": "Lava vs batched engine: spikes per sample per layer (loihi.json).",
    "loihi_counts_mcc": "MCC in Lava vs batched engine: spikes per sample per population, somata (_y) and "
                        "receptive-field spikes (_q) (loihi_mcc.json).",
}


def _row_for(run: RunFolder, key: str, label: str) -> dict[str, str]:
    train = run.json(f"train_{key}.json") or {}
    convert = run.json(f"convert_{key}.json") or {}
    snn = _report_snn_row(run, convert)
    return {
        "model": label,
        "ANN accuracy (%)": pct(train.get("test_accuracy")),
        "transmissions / sample": fmt(train.get("transmissions_per_sample")),
        "feed-forward transmissions / sample": fmt(train.get("feedforward_transmissions_per_sample")),
        "FPGA energy (uJ / sample)": fmt(train.get("energy_uj_per_sample")),
        "SNN T": fmt(snn.get("timesteps")),
        "SNN accuracy (%)": pct(snn.get("accuracy")),
        "SNN synaptic events / sample": fmt(snn.get("synaptic_events_per_sample")),
        **_energy_columns(run, f"convert_{key}.json", snn.get("timesteps")),
    }


def _energy_columns(run: RunFolder, source: str, timesteps) -> dict[str, str]:
    """The SNN workload's energy on Loihi and its INT8-ANN reference, from energy.json."""
    energy = run.json("energy.json") or {}
    match = [w for w in energy.get("workloads", []) if w.get("source_file") == source
             and w.get("kind") == "snn" and w.get("timesteps") == timesteps]
    name = match[0]["name"] if match else None
    loihi = [r["energy_j"] for r in energy.get("rows", [])
             if r["workload"] == name and r["device"] == "loihi1"]
    return {"SNN energy on loihi1 (J)": fmt(loihi[0] if loihi else None),
            "same network as INT8 ANN (J)": fmt(match[0].get("int8_ann_j") if match else None)}


def _report_snn_row(run: RunFolder, convert: dict) -> dict:
    """The SNN row at the run's energy T (run.json config.energy_timesteps), else the largest T."""
    rows = convert.get("snn") or []
    wanted = get(run.json("run.json") or {}, "config.energy_timesteps")
    chosen = [row for row in rows if row.get("timesteps") == wanted]
    return chosen[0] if chosen else (rows[-1] if rows else {})


def results_rows(out_dir: str | Path) -> list[dict[str, str]]:
    """One row per model (MCC, point): the headline numbers, formatted as the report prints them."""
    run = RunFolder(out_dir)
    return [_row_for(run, key, label) for key, label in MODELS]


def _table(rows: list[dict[str, str]], note: str) -> Table:
    columns = tuple(rows[0])
    return Table(columns, tuple(tuple(row[c] for c in columns) for row in rows), note)


def _figure(doc: Document, figures: dict[str, str], key: str) -> None:
    if key in figures:
        doc.add(Figure(figures[key], FIGURE_CAPTIONS.get(key, key.replace("_", " "))))


def _section(run: RunFolder, doc: Document, title: str, file: str, what: str):
    """Add the section heading; return the section's JSON, or None (with a note) if the stage did not run."""
    doc.add(Heading(title))
    content = run.json(file)
    if content is None:
        doc.add(Paragraph(f"The {what} did not run (no `{file}`)."))
    return content


# ---------------------------------------------------------------- sections

def _what_was_run(run: RunFolder, doc: Document) -> None:
    record = run.json("run.json") or {}
    doc.add(Heading("What was run"))
    versions = record.get("versions", {})
    config = record.get("config", {})
    doc.add(Bullets((
        f"command: `{record.get('command', NOT_AVAILABLE)}`",
        f"seed: {fmt(record.get('seed'))}; quick mode: {fmt(record.get('quick'))}; "
        f"run complete: {fmt(record.get('complete'))}",
        "sizes: " + ", ".join(f"{key} {fmt(value)}" for key, value in config.items()
                              if key not in ("seed", "quick")),
        "versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()),
    )))
    stages = record.get("stages", [])
    broken = [s for s in stages if s["status"] in ("failed", "missing")]
    if broken:
        doc.add(Paragraph("**Incomplete run.** " + "; ".join(f"stage `{s['name']}` {s['status']}: {s['note']}"
                                                             for s in broken)
                          + ". Sections that need these stages are empty."))
    if stages:
        doc.add(Table(("stage", "status", "wall time (s)", "files / note"),
                      tuple((s["name"], s["status"], fmt(s.get("wall_s")),
                             s.get("note") or ", ".join(f"`{f}`" for f in s.get("files", [])
                                                         if f.endswith(".json")))
                            for s in stages),
                      note="run.json stages; 'missing': that stage's code is not in this installation."))


def _results(run: RunFolder, doc: Document) -> None:
    doc.add(Heading("Results"))
    doc.add(_table(results_rows(run.path),
                   "ANN columns: train_<model>.json (test_accuracy, transmissions_per_sample, "
                   "feedforward_transmissions_per_sample, energy_uj_per_sample; FPGA model "
                   f"{ENERGY_PER_TRANSMISSION_UJ:g} uJ per "
                   "transmission). SNN columns: convert_<model>.json snn row at the energy T; energy "
                   "columns: energy.json (that SNN workload on loihi1, and its INT8-ANN reference)."))


def _cells(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    cells = _section(run, doc, "Two-point cells (Brian2)", "cells.json", "cell stage")
    if cells is None:
        return
    doc.add(Paragraph("Two-compartment layer-5 pyramidal cell (Naud & Sprekeler 2018), simulated at the "
                      "equation level in Brian2. BAC firing (Larkum et al. 1999): a brief somatic pulse "
                      "paired with a dendritic pulse at a given offset."))
    rows = tuple((fmt(r.get("offset_ms")), fmt(r.get("spikes")), fmt(r.get("max_vd_mv")))
                 for r in cells.get("bac", []))
    rows += (("soma only", fmt(cells.get("soma_only_spikes")), fmt(cells.get("soma_only_max_vd_mv"))),
             ("apical only", fmt(cells.get("apical_only_spikes")), fmt(cells.get("apical_only_max_vd_mv"))))
    doc.add(Table(("dendritic offset (ms)", "somatic spikes", "max V_d (mV)"), rows,
                  "cells.json: bac, soma_only_*, apical_only_*."))
    _figure(doc, figures, "bac_traces")
    gains = cells.get("fi_gain", [])
    if gains:
        doc.add(Table(("tonic apical current I_d (pA)", "somatic f-I gain (Hz / nA)"),
                      tuple((fmt(r.get("i_d_pa")), fmt(r.get("gain_hz_per_na"))) for r in gains),
                      "cells.json: fi_gain (slope of the firing part of each f-I curve)."))
    _figure(doc, figures, "fi_curves")
    mux = cells.get("multiplexing", [])
    if mux:
        doc.add(Table(("I_d (pA)", "burst probability (%)", "event rate (Hz)", "events"),
                      tuple((fmt(r.get("i_d_pa")), pct(r.get("burst_probability")),
                             fmt(r.get("event_rate_hz")), fmt(r.get("events"))) for r in mux),
                      "cells.json: multiplexing (bursts: spikes with ISI <= 16 ms form one event)."))
    _figure(doc, figures, "multiplexing")
    _population(run, doc, figures)


def _population(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    population = _section(run, doc, "Burst multiplexing in a population", "population.json", "cell stage")
    if population is None:
        return
    decoding = population.get("decoding", {})
    doc.add(Paragraph(f"{fmt(population.get('n_cells'))} two-point cells receive one somatic and one "
                      "dendritic time-varying input (independent signals) plus their own noise "
                      f"({fmt(population.get('duration_s'))} s). Pearson r of the binned population "
                      "signals against each input (Naud & Sprekeler 2018): the event rate should follow "
                      "the somatic input, the burst fraction the dendritic one."))
    doc.add(Table(("population signal", "vs somatic input (r)", "vs dendritic input (r)"),
                  (("event rate", fmt(decoding.get("event_rate_vs_somatic_r")),
                    fmt(decoding.get("event_rate_vs_dendritic_r"))),
                   ("burst fraction", fmt(decoding.get("burst_fraction_vs_somatic_r")),
                    fmt(decoding.get("burst_fraction_vs_dendritic_r")))),
                  "population.json: decoding (bursts: spikes with ISI <= 16 ms form one event)."))
    _figure(doc, figures, "population")


def _rate_surface(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    surface = _section(run, doc, "Rate surface and the two-point law", "rate_surface.json",
                       "rate-surface stage")
    if surface is None:
        return
    protocol = surface.get("protocol", {})
    modulatory = surface.get("modulatory", {})
    doc.add(Paragraph(
        f"Spike rate of the L5PC on a grid of tonic somatic x apical currents ({fmt(protocol.get('trials'))} "
        f"trials per condition, OU noise sigma {fmt(protocol.get('sigma_pa'))} pA), fitted by each transfer "
        "law as rate = s relu(A(a_s I_s + b_s, a_d I_d + b_d)) (docs/twopoint_laws.md). The spiking "
        f"two-point unit realises `{surface.get('law_used', NOT_AVAILABLE)}`; best fit on the whole grid: "
        f"`{surface.get('best_fit_law', NOT_AVAILABLE)}`; best fit where apical input alone leaves the cell "
        f"silent (I_d <= {fmt(modulatory.get('max_i_d_pa'))} pA): "
        f"`{modulatory.get('best_fit_law', NOT_AVAILABLE)}`."))
    on_subset = {r.get("law"): r for r in modulatory.get("fits", [])}
    names = ("a_s_per_pa", "b_s", "a_d_per_pa", "b_d", "s_hz")
    doc.add(Table(("law", "RMSE (Hz)", "R^2", "RMSE silent-apical range (Hz)", "R^2 silent-apical range",
                   "a_s (1/pA)", "b_s", "a_d (1/pA)", "b_d", "s (Hz)"),
                  tuple((r.get("law", NOT_AVAILABLE), fmt(r.get("rmse_hz")), fmt(r.get("r2")),
                         fmt(on_subset.get(r.get("law"), {}).get("rmse_hz")),
                         fmt(on_subset.get(r.get("law"), {}).get("r2")),
                         *(fmt(get(r, f"params.{name}")) for name in names))
                        for r in surface.get("fits", [])),
                  "rate_surface.json: fits (whole grid; its params) and modulatory.fits; least squares on "
                  "spike_rate_hz, fit_method.fixed_params held fixed."))
    _figure(doc, figures, "rate_surface")


def _mcc_vs_point(run: RunFolder, doc: Document, figures: dict[str, str], own: dict[str, Path]) -> None:
    doc.add(Heading("MCC network vs point-neuron network"))
    if "training_curves" in own:
        doc.add(Figure(own["training_curves"].name, "Training curves of the two networks saved by the run "
                                                     "(train_mcc.json, train_point.json histories)."))
    compare = run.json("compare.json")
    if compare is None:
        doc.add(Paragraph("The comparison study did not run (no `compare.json`)."))
        return
    doc.add(Paragraph("Both networks have the same sizes and the same epoch budget; a unit transmits "
                      "when its output exceeds the threshold theta, and each transmission reaches its "
                      "fan-out (context synapses included for MCC)."))
    doc.add(Table(("setup", "model", "test accuracy (%)", "transmissions / sample",
                   "feed-forward / sample", "FPGA energy (uJ / sample)"),
                  tuple((r["setup"], r["model"], pct(r.get("test_accuracy")),
                         fmt(r.get("transmissions_per_sample")),
                         fmt(r.get("feedforward_transmissions_per_sample")),
                         fmt(r.get("energy_uj_per_sample"))) for r in compare.get("runs", [])),
                  "compare.json: runs."))
    rows = []
    for setup, targets in compare.get("equal_accuracy", {}).items():
        for r in targets:
            rows.append((setup, pct(r.get("target_accuracy")), fmt(r.get("mcc_per_sample")),
                         fmt(r.get("point_per_sample")), pct(r.get("reduction_per_sample")),
                         fmt(r.get("ratio_point_over_mcc_per_feedforward"))))
    if rows:
        claims = compare.get("paper_claims", {})
        first_seed = (compare.get("seeds") or [None])[0]
        doc.add(Paragraph(
            "At equal accuracy: the fewest transmissions per sample each network needs to reach a target "
            "accuracy (n/a: not reached). The paper claims "
            f"{pct(claims.get('semi_supervised_energy_reduction'))} % less energy semi-supervised and up to "
            f"{fmt(claims.get('supervised_ratio_per_feedforward_transmission_up_to'))}x less per "
            "feed-forward transmission supervised; the table shows what this run measured on the first "
            f"seed's theta sweep (seed {fmt(first_seed)}; a negative reduction means MCC needs more). "
            "The claims section below uses the means over all seeds."))
        doc.add(Table(("setup", "target accuracy (%)", "MCC transmissions", "point transmissions",
                       "reduction per sample (%)", "point / MCC per feed-forward transmission"),
                      tuple(rows), "compare.json: equal_accuracy, paper_claims."))
        best = [(setup, kind, b) for setup, by_kind in compare.get("max_ratio_point_over_mcc", {}).items()
                for kind, b in by_kind.items() if b]
        if best:
            doc.add(Table(("setup", "counted", "largest point / MCC ratio", "at target accuracy (%)"),
                          tuple((setup, kind.replace("_", " "), fmt(b.get("ratio")),
                                 pct(b.get("target_accuracy"))) for setup, kind, b in best),
                          "compare.json: max_ratio_point_over_mcc (first seed; above 1: MCC needs fewer "
                          "transmissions; compare with the paper's 'up to' figure)."))
    _figure(doc, figures, "accuracy_vs_transmissions")
    _figure(doc, figures, "learning_speed")
    damage = compare.get("damage", {})
    rows = [(model, pct(r.get("fraction")), pct(r.get("accuracy_intact")), pct(r.get("accuracy_mean")),
             pct(r.get("drop"))) for model, results in damage.get("test_time", {}).items() for r in results]
    if rows:
        doc.add(Table(("model", "units silenced (%)", "intact accuracy (%)", "damaged accuracy (%)",
                       "drop (%)"), tuple(rows), "compare.json: damage.test_time (mean over random draws)."))
    rows = [(r["model"], pct(r.get("fraction")), pct(r.get("accuracy_before")), pct(r.get("accuracy_after")),
             pct(r.get("accuracy_final")), pct(r.get("recovery"))) for r in damage.get("mid_training", [])]
    if rows:
        doc.add(Table(("model", "units silenced (%)", "before (%)", "just after (%)", "end of training (%)",
                       "recovery (%)"), tuple(rows), "compare.json: damage.mid_training."))
    _figure(doc, figures, "resilience")
    noise = compare.get("noise", [])
    if noise:
        doc.add(Table(("audio SNR (dB)", "model", "test accuracy (%)", "transmissions / sample"),
                      tuple((fmt(r.get("audio_snr_db")), r["model"], pct(r.get("test_accuracy")),
                             fmt(r.get("transmissions_per_sample"))) for r in noise),
                      "compare.json: noise (noisy audio, clean visual input)."))
    _figure(doc, figures, "noise")


def _paper_claims(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    """The MCC paper's claims as the comparison study measured them (compare.json: claims)."""
    compare = run.json("compare.json")
    if compare is None or not compare.get("claims"):
        return
    doc.add(Heading("The MCC paper's claims, measured"))
    doc.add(Paragraph(
        f"Seeds {fmt(compare.get('seeds'))}, {fmt(compare.get('epochs'))} epochs, MCC law "
        f"`{compare.get('law', NOT_AVAILABLE)}`, context `{compare.get('context_source', NOT_AVAILABLE)}`. "
        "Each measured value is a mean +- sd over the seeds; the protocols (equal-accuracy theta sweep, "
        "best case over epochs, noise levels, damage) are the project's own, since the paper's full method "
        "text is not available (docs/mcc.md)."))
    doc.add(Table(("claim", "paper", "measured", "reproduced"),
                  tuple((c.get("claim", NOT_AVAILABLE), c.get("paper_value", NOT_AVAILABLE),
                         c.get("measured_value", NOT_AVAILABLE), c.get("reproduced", NOT_AVAILABLE))
                        for c in compare["claims"]),
                  "compare.json: claims (best case: the largest point / MCC ratio over epochs, "
                  "compare.json best_case_ratios)."))
    rows = tuple((setup, model, pct(a.get("test_accuracy")), fmt(a.get("active_neurons_per_sample")),
                  fmt(a.get("feedforward_events_per_sample")), fmt(a.get("all_events_per_sample")))
                 for setup, by_model in compare.get("accounting", {}).items()
                 for model, a in by_model.items())
    doc.add(Table(("setup", "model", "test accuracy (%)", "active neurons / sample",
                   "feed-forward events / sample", "all events / sample"), rows,
                  "compare.json: accounting (seed means, test time, theta 0)."))
    task = compare.get("noisy_task", {})
    if task:
        doc.add(Paragraph(f"Noisy task: audio at {fmt(task.get('audio_snr_db'))} dB, images at "
                          f"{fmt(task.get('visual_snr_db'))} dB; audio_only / visual_only are the point "
                          "control trained and tested with the other modality blanked."))
        doc.add(Table(("model", "test accuracy (%)", "sd (points)"),
                      tuple((model, pct(a.get("mean")), pct(a.get("sd")))
                            for model, a in task.get("accuracy", {}).items()),
                      "compare.json: noisy_task.accuracy (mean and sd over the seeds)."))
    if "training_accounting" in figures:
        doc.add(Figure(figures["training_accounting"], "Cumulative active neurons, feed-forward events and "
                       "all events during training, supervised (compare.json training_curve)."))


def _conversion(run: RunFolder, doc: Document, figures: dict[str, str], own: dict[str, Path]) -> None:
    doc.add(Heading("Spiking networks: accuracy vs time steps"))
    converts = [(key, label, run.json(f"convert_{key}.json")) for key, label in MODELS]
    converts = [(key, label, c) for key, label, c in converts if c is not None]
    if not converts:
        doc.add(Paragraph("The conversion stage did not run (no `convert_*.json`)."))
        return
    if "accuracy_vs_timesteps" in own:
        doc.add(Figure(own["accuracy_vs_timesteps"].name,
                       "Accuracy vs T of both converted networks (dashed: the rate network); star: the Lava "
                       "subset (convert_*.json, loihi.json)."))
    rows = []
    for _, label, convert in converts:
        for r in convert.get("snn", []):
            rows.append((label, fmt(r.get("timesteps")), pct(r.get("accuracy")),
                         fmt(r.get("accuracy_loss_points")), fmt(r.get("spikes_per_sample")),
                         fmt(r.get("synaptic_events_per_sample"))))
    doc.add(Table(("model", "T", "SNN accuracy (%)", "loss vs ANN (points)", "spikes / sample",
                   "synaptic events / sample"), tuple(rows),
                  "convert_<model>.json: snn (threshold method: "
                  + ", ".join(f"{label} {c.get('threshold')}" for _, label, c in converts) + ")."))
    brian = [(label, c["brian"]) for _, label, c in converts if c.get("brian")]
    if brian:
        doc.add(Paragraph("Brian2 subset: the first test samples simulated again, at the largest T, as "
                          "equation-level Brian2 neurons, against the batched engine."))
        doc.add(Table(("model", "samples", "T", "Brian2 accuracy (%)", "engine accuracy (%)",
                       "prediction agreement (%)", "max relative spike-count difference"),
                      tuple((label, fmt(b.get("samples")), fmt(b.get("timesteps")), pct(b.get("accuracy")),
                             pct(b.get("engine_accuracy")), pct(b.get("prediction_agreement")),
                             fmt(b.get("max_relative_spike_difference"))) for label, b in brian),
                      "convert_<model>.json: brian."))
    for key, _, _ in converts:
        _figure(doc, figures, f"accuracy_vs_T_{key}")


def _loihi_differences(loihi: dict, convert: dict | None) -> str:
    """'yes', or how the Lava network differs from the converted point network it is shown beside."""
    network = loihi.get("network")
    if convert is None or network is None:
        return "not recorded"
    differences = []
    if network.get("threshold") != convert.get("threshold"):
        differences.append(f"thresholds {network.get('threshold')} (convert: {convert.get('threshold')})")
    # convert.json (ANN conversion) keeps it under "neuron", convert_<model>.json at the top
    init = (convert.get("neuron") or {}).get("init_membrane_fraction", convert.get("init_membrane_fraction"))
    if network.get("init_membrane_fraction") != init:
        differences.append(f"initial membrane {network.get('init_membrane_fraction')} (convert: {init})")
    if network.get("signed_input_split"):
        differences.append("signed inputs split into [x+, x-] channels for Lava")
    if loihi.get("mode") == "fixed":
        differences.append("fixed-point weights and thresholds")
    return "no: " + "; ".join(differences) if differences else "yes"


def _loihi(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    loihi = _section(run, doc, "Lava (Loihi-style) simulation", "loihi.json", "Lava stage")
    if loihi is None:
        return
    doc.add(Paragraph("The point network, quantised to Loihi's fixed-point ranges, run as Lava processes "
                      "(bit-accurate `fixed_pt`) and in the batched engine with the same arithmetic, then "
                      "mapped on Loihi cores (greedy). The MCC network follows in the next section."))
    doc.add(Table(("quantity", "value"), (
        ("network", Path(str(loihi.get("model"))).name),
        ("mode", str(loihi.get("mode"))),
        ("samples", fmt(loihi.get("samples"))),
        ("time steps", fmt(loihi.get("timesteps"))),
        ("accuracy, rate network, same samples (%)", pct(loihi.get("accuracy_rate"))),
        ("accuracy, Lava (%)", pct(loihi.get("accuracy_lava"))),
        ("accuracy, batched engine, same arithmetic (%)", pct(loihi.get("accuracy_engine"))),
        ("spike counts equal, Lava vs engine", fmt(loihi.get("spike_counts_equal"))),
        ("Loihi cores used (greedy; see Loihi core mapping)", fmt(loihi.get("cores_used"))),
        ("inter-core spikes / sample", fmt(loihi.get("intercore_spikes"))),
        ("same network as convert_point.json", _loihi_differences(loihi, run.json("convert_point.json"))),
    ), "loihi.json."))
    _figure(doc, figures, "loihi_counts")


LOIHI_ENERGY_SOURCES = ("loihi_mcc.json", "loihi.json", "train_mcc.json", "train_point.json")
LOIHI_DEVICE, FPGA_DEVICE = "loihi1", "fpga-ultrascale"


def _mcc_on_loihi(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    loihi = _section(run, doc, "MCC on Loihi", "loihi_mcc.json", "MCC Lava stage")
    if loihi is None:
        return
    doc.add(Paragraph("The MCC network as spiking two-point units (docs/twopoint_unit.md: a gain table on "
                      "the apical mean modulates a basal integrator; two compartments per neuron), "
                      "quantised to Loihi integers and run as Lava `fixed_pt` processes and in the batched "
                      "engine with the same arithmetic, on the same test samples as its rate network."))
    doc.add(Table(("time steps", "rate network (%)", "engine, fixed point (%)", "Lava (%)",
                   "spike counts equal", "Lava wall (s)"),
                  tuple((fmt(r.get("timesteps")), pct(r.get("accuracy_rate")), pct(r.get("accuracy_engine")),
                         pct(r.get("accuracy_lava")), fmt(r.get("spike_counts_equal")),
                         fmt(r.get("lava_wall_s"))) for r in loihi.get("sweep", [])),
                  f"loihi_mcc.json: sweep ({fmt(loihi.get('samples'))} test samples, law "
                  f"{loihi.get('law')}, {fmt(loihi.get('compartments'))} compartments, "
                  f"{count(loihi.get('cores_used'), 'Loihi core')}, greedy; see Loihi core mapping)."))
    _figure(doc, figures, "loihi_counts_mcc")
    energy = run.json("energy.json") or {}
    chosen = [w for w in energy.get("workloads", []) if w.get("source_file") in LOIHI_ENERGY_SOURCES]
    if not chosen:
        doc.add(Paragraph("No energy figures for the Lava runs (the energy stage did not run)."))
        return
    by_cell = {(r["workload"], r["device"]): r["energy_j"] for r in energy.get("rows", [])}
    _device_tables(doc, energy, chosen, "the Lava-measured spiking workloads and the rate networks' "
                   f"transmissions (FPGA model {ENERGY_PER_TRANSMISSION_UJ:g} uJ per transmission).")
    # who wins: each Lava-measured SNN on Loihi, each rate network on the FPGA model, each INT8 ANN
    device_for = {"snn": LOIHI_DEVICE, "transmissions": FPGA_DEVICE}
    candidates = [(by_cell[(w["name"], device_for[w["kind"]])], f"{w['name']} on {device_for[w['kind']]}")
                  for w in chosen if (w["name"], device_for.get(w["kind"])) in by_cell]
    candidates += [(w["int8_ann_j"], f"{w['name']} as an INT8 ANN") for w in chosen
                   if w.get("int8_ann_j") is not None and w["kind"] == "snn"]
    if candidates:
        energy_j, label = min(candidates)
        spiking = min((c for c in candidates if c[1].endswith(f"on {LOIHI_DEVICE}")), default=None)
        tail = f"; the cheapest spiking one is {spiking[1]}: {fmt(spiking[0])} J" if spiking else ""
        doc.add(Paragraph(f"Of the Lava-measured SNNs on {LOIHI_DEVICE}, the rate networks on "
                          f"{FPGA_DEVICE} and the INT8-ANN references, the cheapest per inference is "
                          f"{label}: {fmt(energy_j)} J{tail}."))


def _mapping(run: RunFolder, doc: Document) -> None:
    mapping = _section(run, doc, "Loihi core mapping", "mapping.json", "mapping stage")
    if mapping and mapping.get("rows"):
        doc.add(Paragraph("Core mapping of each converted network (its SNN workload at the energy T): "
                          "greedy fill vs spike-aware clustering (SpiNeMap-style), Loihi limits per core."))
        doc.add(Table(("model", "workload", "method", "cores", "chips", "inter-core spikes / sample",
                       "E-W hops", "N-S hops"),
                      tuple((r["model"], r["workload"], r["method"], fmt(r.get("cores_used")),
                             fmt(r.get("chips")), fmt(r.get("intercore_spikes")), fmt(r.get("hops_ew")),
                             fmt(r.get("hops_ns"))) for r in mapping["rows"]),
                      "mapping.json: rows."))
        _core_counts(run, doc, mapping["rows"])


def _layer_names(workload: dict | None) -> str:
    layers = (workload or {}).get("layers", [])
    return f"{count(len(layers), 'layer')}: " + ", ".join(la["name"] for la in layers) if layers else "n/a"


def _core_counts(run: RunFolder, doc: Document, rows: list[dict]) -> None:
    """Why one network shows several core counts: what each row of mapping.json counts."""
    energy_t = get(run.json("run.json") or {}, "config.energy_timesteps")
    lines = []
    for key, label in MODELS:
        mine = {(r["method"], r["source_file"].startswith("loihi")): r for r in rows if r["model"] == key}
        if not mine:
            continue
        convert = run.json(f"convert_{key}.json") or {}
        workload = next((w for w in convert.get("workloads", [])
                         if w.get("kind") == "snn" and w.get("timesteps") == energy_t), None)
        parts = [f"{fmt(mine[(m, False)].get('cores_used'))} {m}" for m in ("greedy", "cluster")
                 if (m, False) in mine]
        text = f"{label}: " + " and ".join(parts) + f" for the converted network ({_layer_names(workload)})"
        lava = mine.get(("greedy", True))
        if lava:
            lava_file = run.json(lava["source_file"]) or {}
            shape = (_layer_names((lava_file.get("workloads") or [None])[0]) if key == "point"
                     else "two-point units, two compartments each")
            text += f"; {fmt(lava.get('cores_used'))} greedy for the graph Lava ran ({shape})"
        lines.append(text + ".")
    if not lines:
        return
    doc.add(Paragraph("One network, several core counts: each row counts something different "
                      "(loihi_targets/mapper.py)."))
    doc.add(Bullets((
        *lines,
        "greedy: layer by layer, each layer on a fresh core, a core filled until the next neuron would "
        "break a Loihi per-core limit (1,024 compartments, 4,096 input and 4,096 output axons, 128 KB of "
        "synapses), the usual NxSDK/Lava placement. These layers are far below the limits, so greedy "
        "uses one core per layer.",
        "Lava graph: the same greedy mapper on the layer chain that ran in Lava, with the spikes Lava "
        "counted per neuron; the point network's audio and visual streams run there as one block-diagonal "
        "layer per depth, so it has fewer (wider) layers than the converted network; this is the "
        "'Loihi cores used' of the Lava section.",
        "cluster: SpiNeMap-style, layer boundaries ignored: neurons are grouped by their spike traffic and "
        "as many share a core as the limits allow; when the whole network fits one core, no spike "
        "crosses a core (inter-core spikes 0).",
    )))


# The per-device quantities of energy.json the report tabulates: (rows[] key, workloads[] key of the
# INT8-ANN reference, what it is). One table per quantity (devices as rows, workloads as columns), so a
# quantity added here (time, power, energy-delay product) is one more table, never a wider one.
# energy.json row key, its INT8-ANN counterpart in workloads[], the table's title: J, s and W side by side
DEVICE_QUANTITIES = (("energy_j", "int8_ann_j", "energy per inference (J)"),
                     ("time_s", "int8_ann_s", "time per inference (s)"),
                     ("power_w", "int8_ann_w", "power (W)"),
                     ("edp_js", "int8_ann_edp_js", "energy-delay product (J s)"))


def _device_tables(doc: Document, energy: dict, workloads: list[dict], source_note: str) -> None:
    """For each DEVICE_QUANTITIES entry present in energy.json: a devices x workloads table."""
    rows = energy.get("rows", [])
    devices = list(dict.fromkeys(r["device"] for r in rows))
    reference = energy.get("int8_reference_device", "cmos45-int8")
    names = [w["name"] for w in workloads]
    for row_key, reference_key, what in DEVICE_QUANTITIES:
        if not any(row_key in r for r in rows):
            continue
        by_cell = {(r["workload"], r["device"]): r.get(row_key) for r in rows}
        given = [d for d in devices if any(by_cell.get((name, d)) is not None for name in names)]
        body = [(device, *(fmt(by_cell.get((name, device))) for name in names)) for device in given]
        body.append((f"same network as INT8 ANN ({reference})",
                     *(fmt(w.get(reference_key)) for w in workloads)))
        left_out = "" if len(given) == len(devices) else (
            f"; devices whose sources give no {what.split(' (')[0]} are left out (docs/energy.md)")
        doc.add(Table((f"device: {what}", *names), tuple(body),
                      f"energy.json: rows[].{row_key}, workloads[].{reference_key}; {source_note}{left_out}"))


def _energy(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    energy = _section(run, doc, "Energy per inference", "energy.json", "energy stage")
    if energy is None:
        return
    doc.add(Paragraph("Energy per inference in joules on each device preset, from the measured counts "
                      "(synaptic events, spikes, transmissions) of each workload; the last row is "
                      "the same network run as an INT8 ANN on 45 nm CMOS, the bar a spiking network has "
                      "to beat."))
    kinds = ", ".join(f"{w['name']}: {w['kind']}" for w in energy.get("workloads", []))
    _device_tables(doc, energy, energy.get("workloads", []),
                   f"workload kinds: {kinds}; presets and their sources in energy.json devices.")
    if "energy" in figures:
        doc.add(Figure(figures["energy"], "Energy per inference on each device (log scale), one bar per "
                                          "workload; the shaded last group is each workload's network as an "
                                          "INT8 ANN on 45 nm CMOS (energy.json)."))
    # each note once; then how the model reads what its sources leave open (docs/energy.md)
    notes = list(dict.fromkeys(energy.get("notes", []))) + list(energy.get("interpretations", []))
    if notes:
        doc.add(Paragraph("Notes from the energy model (energy.json notes):"), Bullets(tuple(notes)))


def _data_note(doc: Document) -> None:
    doc.add(Heading("Data"))
    doc.add(Paragraph("Audio: Free Spoken Digit Dataset log-mel features (Jakobovski et al., CC BY-SA 4.0, "
                      "official split). Visual: scikit-learn's 8x8 handwritten digits (UCI, CC BY 4.0), "
                      "paired with the recordings by label with the run's seed."))


def build_document(out_dir: str | Path) -> tuple[Document, dict[str, Path]]:
    """The report document, and the figures the report drew (written into out_dir)."""
    run = RunFolder(out_dir)
    figures = dict((run.json("run.json") or {}).get("figures", {}))
    own: dict[str, Path] = {}
    for key, draw in (("training_curves", report_figures.training_curves),
                      ("accuracy_vs_timesteps", report_figures.accuracy_vs_timesteps)):
        path = draw(run, run.path / f"report_{key}.png")
        if path is not None:
            own[key] = path
    doc = Document("spiking-mcc run report")
    _what_was_run(run, doc)
    _results(run, doc)
    _cells(run, doc, figures)
    _rate_surface(run, doc, figures)
    _mcc_vs_point(run, doc, figures, own)
    _paper_claims(run, doc, figures)
    _conversion(run, doc, figures, own)
    _loihi(run, doc, figures)
    _mcc_on_loihi(run, doc, figures)
    _mapping(run, doc)
    _energy(run, doc, figures)
    _data_note(doc)
    return doc, own


def build_report(out_dir: str | Path) -> tuple[Path, Path]:
    """Write report.md and report.html (figures inline) into out_dir from its JSON files only."""
    out = Path(out_dir)
    doc, _ = build_document(out)
    md_path = write_text(out / "report.md", render_markdown(doc))
    html_path = write_text(out / "report.html", render_html(doc, out))
    return md_path, html_path
