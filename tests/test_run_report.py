"""The report is built from the JSON files in a folder only, renders to markdown and self-contained HTML."""

import base64
import json
import re

import pytest

from spiking_mcc.report import build_report, results_rows
from spiking_mcc.report.document import (
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    render_html,
    render_markdown,
)
from spiking_mcc.report.numbers import count, fmt, get, pct


def test_number_formats():
    assert fmt(3) == "3"
    assert fmt(0.123456) == "0.1235"
    assert fmt(12.0) == "12"
    assert fmt(1234567.0) == "1.235e+06"
    assert (fmt(0.0005113), fmt(1.2449e-07), fmt(0.0012345)) == ("5.113e-04", "1.245e-07", "0.001234")
    assert fmt(None) == "n/a"
    assert fmt(float("nan")) == "n/a"
    assert fmt(True) == "yes"
    assert pct(0.97333) == "97.33"
    assert pct(None) == "n/a"
    assert (count(1, "spike"), count(0, "spike"), count(3, "step"), count(1.0, "core")) == \
        ("1 spike", "0 spikes", "3 steps", "1 core")


def test_cli_tables_print_numbers_as_the_report_does(capsys):
    from spiking_mcc.commands.common import print_table

    print_table([{"T": 8, "accuracy (%)": pct(0.98667), "energy (J)": 1.2449e-07, "equal": True}])
    header, _, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["T", "accuracy", "(%)", "energy", "(J)", "equal"]
    assert row.split() == ["8", "98.67", "1.245e-07", "yes"]


def test_dotted_lookup_indexes_lists_and_defaults():
    doc = {"snn": [{"accuracy": 0.5}, {"accuracy": 0.9}]}
    assert get(doc, "snn.-1.accuracy") == 0.9
    assert get(doc, "snn.0.accuracy") == 0.5
    assert get(doc, "snn.5.accuracy", "absent") == "absent"
    assert get(doc, "ann.accuracy") is None


def _png_bytes():
    from spiking_mcc.plotting import plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_html_inlines_figures_and_escapes_text(tmp_path):
    png = _png_bytes()
    (tmp_path / "f.png").write_bytes(png)
    doc = Document("t", [Heading("A <b>"), Paragraph("x `code` & **y**"),
                         Table(("a", "b"), (("1", "<2>"),), "note"), Figure("f.png", "caption")])
    html = render_html(doc, tmp_path)
    assert "A &lt;b&gt;" in html and "<code>code</code>" in html and "&lt;2&gt;" in html
    assert "<strong>y</strong>" in html
    encoded = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    assert base64.b64decode(encoded) == png
    md = render_markdown(doc)
    assert "| 1 | <2> |" in md and "![caption](f.png)" in md


def test_report_reads_numbers_from_json_files_only(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"command": "spiking-mcc run --out x", "seed": 7,
                                                    "quick": True, "versions": {"numpy": "1.26.4"},
                                                    "stages": [], "figures": {}}))
    (tmp_path / "train_mcc.json").write_text(json.dumps({"test_accuracy": 0.91234,
                                                          "transmissions_per_sample": 1234.5,
                                                          "energy_uj_per_sample": 0.09876}))
    (tmp_path / "convert_point.json").write_text(json.dumps({"ann_accuracy": 0.9, "snn": [
        {"timesteps": 4, "accuracy": 0.5, "synaptic_events_per_sample": 10.0},
        {"timesteps": 8, "accuracy": 0.8765, "synaptic_events_per_sample": 20.5}]}))
    md_path, html_path = build_report(tmp_path)
    md = md_path.read_text()
    rows = {row["model"]: row for row in results_rows(tmp_path)}
    mcc, point = rows["MCC (two-point)"], rows["point baseline"]
    assert (mcc["ANN accuracy (%)"], mcc["transmissions / sample"], mcc["FPGA energy (uJ / sample)"]) == \
        ("91.23", "1234", "0.09876")
    assert (point["SNN T"], point["SNN accuracy (%)"], point["SNN synaptic events / sample"]) == \
        ("8", "87.65", "20.5")
    assert point["ANN accuracy (%)"] == "n/a"
    assert "| MCC (two-point) | 91.23 | 1234 | n/a | 0.09876 |" in md
    assert "report_accuracy_vs_timesteps.png" in md  # drawn from convert_point.json
    assert "seed: 7" in md and "numpy 1.26.4" in md
    assert html_path.read_text().startswith("<!DOCTYPE html>")


def test_report_refuses_a_corrupt_json_file(tmp_path):
    from spiking_mcc.errors import DataError

    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(DataError, match="run.json"):
        build_report(tmp_path)


def test_terminal_summary_columns_are_report_columns(tmp_path):
    from spiking_mcc.commands.run import TERMINAL_COLUMNS

    rows = results_rows(tmp_path)  # an empty folder: every value n/a, the columns still there
    assert [row["model"] for row in rows] == ["MCC (two-point)", "point baseline"]
    assert set(TERMINAL_COLUMNS) <= set(rows[0])


def test_quick_report_says_each_thing_once_and_only_what_it_can_show(quick_runs):
    """The quick run's report: no note or paragraph twice, the noise figure one bar per model,
    every figure sized for the page, the point network's core counts explained, and no
    `convert_mcc.json` in `convert_point/`."""
    from PIL import Image

    out = quick_runs[0]
    md = (out / "report.md").read_text()
    prose = [line for line in md.splitlines() if line and not line.startswith(("|", "#", "!["))]
    repeated = sorted({line for line in prose if prose.count(line) > 1})
    assert repeated == []
    assert sum("not event-driven" in line for line in prose) == 1
    assert " 1 spikes" not in md and " 1 steps" not in md
    record = json.loads((out / "run.json").read_text())
    # the noise figure is the noisy task's bar per model (meaningful in quick mode too), not a curve
    task = json.loads((out / "compare.json").read_text())["noisy_task"]
    assert "noise" in record["figures"] and len(task["accuracy"]) >= 3
    for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        width, height = Image.open(out / figure).size
        assert width <= 1300 and width <= 3 * height, f"{figure}: {width} x {height} px"
    mapping = {(r["model"], r["method"], r["source_file"]): r["cores_used"]
               for r in json.loads((out / "mapping.json").read_text())["rows"]}
    line = next(line for line in prose if line.startswith("- point baseline:"))
    assert (f"{mapping['point', 'greedy', 'convert_point.json']} greedy and "
            f"{mapping['point', 'cluster', 'convert_point.json']} cluster" in line)
    assert f"{mapping['point', 'greedy', 'loihi.json']} greedy for the graph Lava ran" in line
    assert not (out / "convert_point" / "convert_mcc.json").exists()
    assert (out / "convert_point" / "accuracy_vs_T.png").is_file()
