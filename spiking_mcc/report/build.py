"""Assemble the run report from the JSON files in a run folder (and nothing else)."""

from __future__ import annotations

from pathlib import Path

from spiking_mcc.io import write_text
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
from spiking_mcc.report.numbers import RunFolder, fmt, get, pct

MODELS = (("mcc", "MCC (two-point)"), ("point", "point baseline"))


def results_rows(out_dir: str | Path) -> list[dict[str, str]]:
    """One row per model (MCC, point): the headline numbers, formatted as the report prints them."""
    run = RunFolder(out_dir)
    rows = []
    for key, label in MODELS:
        train = run.json(f"train_{key}.json") or {}
        convert = run.json(f"convert_{key}.json") or {}
        snn_last = get(convert, "snn.-1", {}) or {}
        rows.append({
            "model": label,
            "ANN accuracy (%)": pct(train.get("test_accuracy")),
            "transmissions / sample": fmt(train.get("transmissions_per_sample")),
            "FPGA energy (uJ / sample)": fmt(train.get("energy_uj_per_sample")),
            "SNN T": fmt(snn_last.get("timesteps")),
            "SNN accuracy (%)": pct(snn_last.get("accuracy")),
            "SNN synaptic events / sample": fmt(snn_last.get("synaptic_events_per_sample")),
        })
    return rows


def _what_was_run(run: RunFolder, doc: Document) -> None:
    record = run.json("run.json") or {}
    doc.add(Heading("What was run"))
    versions = record.get("versions", {})
    doc.add(Bullets((
        f"command: `{record.get('command', 'n/a')}`",
        f"seed: {fmt(record.get('seed'))}; quick mode: {fmt(record.get('quick'))}",
        "versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()),
    )))
    stages = record.get("stages", [])
    if stages:
        doc.add(Table(("stage", "status", "wall time (s)", "files / note"),
                      tuple((s["name"], s["status"], fmt(s.get("wall_s")),
                             s.get("note") or ", ".join(f"`{f}`" for f in s.get("files", [])
                                                         if f.endswith(".json")))
                            for s in stages),
                      note="From run.json; a 'missing' stage's code is not in this installation."))


def _results(run: RunFolder, doc: Document) -> None:
    doc.add(Heading("Results"))
    rows = results_rows(run.path)
    columns = tuple(rows[0])
    doc.add(Table(columns, tuple(tuple(row[c] for c in columns) for row in rows),
                  note="ANN columns from train_<model>.json (test_accuracy, transmissions_per_sample, "
                       "energy_uj_per_sample); SNN columns from the largest T in convert_<model>.json."))


def _cells(run: RunFolder, doc: Document, figures: dict[str, str]) -> None:
    cells = run.json("cells.json")
    doc.add(Heading("Two-point cells (Brian2)"))
    if cells is None:
        doc.add(Paragraph("The cell stage did not run (no `cells.json`)."))
        return
    doc.add(Paragraph("Two-compartment L5PC (Naud & Sprekeler 2018). BAC firing: a somatic pulse "
                      "paired with a dendritic pulse at a given offset."))
    bac = cells.get("bac", [])
    doc.add(Table(("offset (ms)", "spikes", "max V_d (mV)"),
                  tuple((fmt(r.get("offset_ms")), fmt(r.get("spikes")), fmt(r.get("max_vd_mv"))) for r in bac)
                  + (("soma only", fmt(cells.get("soma_only_spikes")), ""),
                     ("apical only", fmt(cells.get("apical_only_spikes")), "")),
                  note="cells.json: bac, soma_only_spikes, apical_only_spikes."))
    _figures(doc, figures, "cells/")
    mux = cells.get("multiplexing", [])
    if mux:
        doc.add(Table(("I_d (pA)", "burst probability (%)", "event rate (Hz)"),
                      tuple((fmt(r.get("i_d_pa")), pct(r.get("burst_probability")),
                             fmt(r.get("event_rate_hz"))) for r in mux),
                      note="cells.json: multiplexing."))


def _figures(doc: Document, figures: dict[str, str], prefix: str) -> None:
    for key, path in sorted(figures.items()):
        if key.startswith(prefix):
            doc.add(Figure(path, key[len(prefix):].replace("_", " ")))


def build_document(out_dir: str | Path) -> Document:
    run = RunFolder(out_dir)
    figures = dict((run.json("run.json") or {}).get("figures", {}))
    doc = Document("spiking-mcc run report")
    _what_was_run(run, doc)
    _results(run, doc)
    _cells(run, doc, figures)
    return doc


def build_report(out_dir: str | Path) -> tuple[Path, Path]:
    """Write report.md and report.html (figures inline) into out_dir from its JSON files; html last."""
    out = Path(out_dir)
    doc = build_document(out)
    md_path = write_text(out / "report.md", render_markdown(doc))
    html_path = write_text(out / "report.html", render_html(doc, out))
    return md_path, html_path
