"""A report as a list of plain blocks, rendered once to markdown and once to self-contained HTML."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Text with markdown-style `code` spans and **bold** (the only inline markup used)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; `note` says where its numbers come from."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG file, path relative to the report folder."""

    path: str
    caption: str


@dataclass
class Document:
    title: str
    blocks: list = field(default_factory=list)

    def add(self, *blocks) -> None:
        self.blocks.extend(blocks)


def render_markdown(doc: Document) -> str:
    """GitHub-flavoured markdown; figures as relative image links."""
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        elif isinstance(block, Bullets):
            out += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            out.append("| " + " | ".join(block.columns) + " |")
            out.append("|" + "|".join("---" for _ in block.columns) + "|")
            out += ["| " + " | ".join(row) + " |" for row in block.rows]
            out.append("")
            if block.note:
                out += [f"*{block.note}*", ""]
        elif isinstance(block, Figure):
            out += [f"![{block.caption}]({block.path})", "", f"*{block.caption}*", ""]
        else:
            raise TypeError(f"unknown report block {type(block).__name__}")
    return "\n".join(out).rstrip() + "\n"


# Laid out for a 1280 px wide window: the text column is at most 72rem (1152 px) wide; a table never
# grows past it (numbers never wrap, headers and text cells do); figures scale down to the column.
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.88rem; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; vertical-align: top; }
th { background: #f2f2f2; text-align: left; font-weight: 600; }
td { text-align: left; overflow-wrap: break-word; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .note { font-size: 0.88rem; color: #555; }
code { background: #f5f5f5; padding: 0 0.2rem; }
nav ul { columns: 2; }
"""
# a cell that is one number (as fmt / pct print it) never wraps
_NUMBER = re.compile(r"^-?\d+(\.\d+)?(e[+-]\d+)?( ?%|x)?$")


def anchors(doc: Document) -> dict[int, str]:
    """The id of each heading (by block index): its words in lower case joined by '-', made unique
    ('Energy per inference' -> 'energy-per-inference', a second one -> 'energy-per-inference-2')."""
    ids: dict[int, str] = {}
    for index, block in enumerate(doc.blocks):
        if isinstance(block, Heading):
            base = re.sub(r"[^a-z0-9]+", "-", block.text.lower()).strip("-") or "section"
            ids[index] = base
            n = 1
            while list(ids.values()).count(ids[index]) > 1:
                n += 1
                ids[index] = f"{base}-{n}"
    return ids


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _cell(text: str, numeric_column: bool) -> str:
    """A number never wraps; in a column of numbers it is right-aligned, beside text it stays left."""
    if numeric_column:
        return f"<td class=\"num\">{_inline(text)}</td>"
    if _NUMBER.match(text):
        return f"<td class=\"nowrap\">{_inline(text)}</td>"
    return f"<td>{_inline(text)}</td>"


def render_html(doc: Document, base_dir: Path) -> str:
    """One HTML file that opens in a browser with every figure inline (base64 PNG)."""
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(doc.title)}</h1>"]
    ids = anchors(doc)
    contents = [(ids[i], doc.blocks[i].text) for i in ids if doc.blocks[i].level == 2]
    if len(contents) > 1:
        out.append("<nav><ul>" + "".join(f"<li><a href=\"#{key}\">{_inline(text)}</a></li>"
                                         for key, text in contents) + "</ul></nav>")
    for index, block in enumerate(doc.blocks):
        if isinstance(block, Heading):
            out.append(f"<h{block.level} id=\"{ids[index]}\">{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline(col)}</th>" for col in block.columns)
            numeric = [all(_NUMBER.match(row[i]) or row[i] == "n/a" for row in block.rows)
                       for i in range(len(block.columns))]
            body = "".join("<tr>" + "".join(_cell(cell, numeric[i]) for i, cell in enumerate(row)) + "</tr>"
                           for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            if block.note:
                out.append(f"<p class=\"note\">{_inline(block.note)}</p>")
        elif isinstance(block, Figure):
            data = base64.b64encode((base_dir / block.path).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt=\"{html.escape(block.caption)}\" "
                       f"src=\"data:image/png;base64,{data}\">"
                       f"<figcaption>{_inline(block.caption)}</figcaption></figure>")
        else:
            raise TypeError(f"unknown report block {type(block).__name__}")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
