"""report.html as a person sees it: a real quick run's report rendered in headless Chromium at 1280 px.

Fails on horizontal overflow (the page, or any table, figure or paragraph wider than the window), an
image that does not load, a local link or image path that does not resolve, or an #anchor with no
element. Chromium is Debian's `chromium` (README, "The run report"); `.ci/run` installs it, so under CI
a missing browser is a failure, elsewhere a skip.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

CHROMIUM = os.environ.get("SPIKING_MCC_CHROMIUM", "/usr/bin/chromium")
WIDTH = 1280
# a closed network: nothing may reach out, and a fresh profile every time
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=10000")
# Measured after the load event, written on <html> as JSON for --dump-dom to carry out. It adds no box.
MEASURE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement, limit = root.clientWidth;
  const describe = (e) => e.tagName.toLowerCase() + " '" + (e.textContent || e.alt || "").trim().slice(0, 60)
                          + "' spans " + Math.round(e.getBoundingClientRect().left) + ".."
                          + Math.round(e.getBoundingClientRect().right) + " px";
  const boxes = [...document.body.querySelectorAll("table, img, figure, p, ul, nav, h1, h2, h3, pre")];
  root.setAttribute("data-measured", JSON.stringify({
    inner_width: window.innerWidth, client_width: limit, scroll_width: root.scrollWidth,
    outside: boxes.filter((e) => { const r = e.getBoundingClientRect();
                                   return r.right > limit + 0.5 || r.left < -0.5; }).map(describe),
    images: [...document.images].map((i) => ({alt: i.alt.slice(0, 60),
                                              loaded: i.complete && i.naturalWidth > 0})),
    links: [...document.querySelectorAll("[href], [src]")]
             .map((e) => e.getAttribute("href") ?? e.getAttribute("src")),
    missing_anchors: [...document.querySelectorAll("a[href^='#']")].map((a) => a.getAttribute("href"))
                       .filter((h) => !document.getElementById(decodeURIComponent(h.slice(1)))),
  }));
});
</script>"""


def chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    message = (f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y --no-install-recommends "
               "chromium) to render the report")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}; .ci/run installs it, so under CI its absence is an error")
    pytest.skip(message)


def render(report: Path, browser: str) -> dict:
    """Load a copy of `report` (beside it, so relative paths resolve as in the original) with MEASURE
    appended, at WIDTH px; return what MEASURE found."""
    page = report.with_name(f".{report.stem}.measure.html")
    text = report.read_text()
    page.write_text(text.replace("</body>", MEASURE + "</body>") if "</body>" in text else text + MEASURE)
    profile = tempfile.mkdtemp(prefix="spiking-mcc-chromium-")
    try:
        proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},900",
                               "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
        page.unlink()
    found = re.search(r'<html[^>]*\sdata-measured="([^"]*)"', proc.stdout)
    assert found, f"chromium gave no measurement (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def problems(measured: dict, folder: Path) -> list[str]:
    """Everything a reader would trip over, one line each."""
    out = []
    if measured["inner_width"] != WIDTH:
        out.append(f"window is {measured['inner_width']} px wide, not {WIDTH}")
    if measured["scroll_width"] > WIDTH:
        out.append(f"page scrolls sideways: {measured['scroll_width']} px wide at a {WIDTH} px window")
    out += [f"wider than the window: {what}" for what in measured["outside"]]
    out += [f"image not loaded: {image['alt']!r}" for image in measured["images"] if not image["loaded"]]
    out += [f"no element for link {anchor}" for anchor in measured["missing_anchors"]]
    for link in measured["links"]:
        parsed = urlparse(link)
        if parsed.scheme in ("data", "http", "https", "mailto") or link.startswith("#"):
            continue
        target = folder / unquote(parsed.path)
        if not target.exists():
            out.append(f"link to a missing file: {link}")
    return out


def test_the_quick_run_report_reads_at_1280_px(quick_runs):
    browser = chromium_or_skip()
    out = quick_runs[0]
    measured = render(out / "report.html", browser)
    assert problems(measured, out) == []
    assert len(measured["images"]) >= 8  # the figures really are there, and were all checked
    assert any(link.startswith("#") for link in measured["links"])  # the contents links were checked
    # the markdown twin: every figure it links exists beside it
    md = (out / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert linked and [path for path in linked if not (out / path).is_file()] == []


def test_the_check_finds_overflow_a_missing_image_and_broken_links(tmp_path):
    """The same check on a page with each fault planted: it must name all of them."""
    browser = chromium_or_skip()
    cells = "".join("<td style='white-space: nowrap'>1.245e-07 1.245e-07 1.245e-07</td>" for _ in range(12))
    (tmp_path / "bad.html").write_text(
        "<!DOCTYPE html><html><body><h2 id='here'>x</h2><table><tr>" + cells + "</tr></table>"
        "<img alt='gone' src='missing.png'><a href='#nowhere'>a</a><a href='#here'>b</a>"
        "<a href='absent.md'>c</a></body></html>")
    found = problems(render(tmp_path / "bad.html", browser), tmp_path)
    assert any(p.startswith("page scrolls sideways") for p in found)
    assert any(p.startswith("wider than the window: table") for p in found)
    assert "image not loaded: 'gone'" in found and "link to a missing file: missing.png" in found
    assert "no element for link #nowhere" in found and "link to a missing file: absent.md" in found
    assert not any("#here" in p for p in found)
