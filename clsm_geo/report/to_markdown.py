"""The report as Markdown: the same sections, tables as pipe tables, images as files beside the ``.md``
(``<stem>-carte.png``), so the Markdown renders on its own. Every text is escaped."""

from __future__ import annotations

from ..io import escape_markdown
from .model import Cards, Code, Document, Figure, Items, Para, Table


def image_name(stem: str, figure: Figure) -> str:
    return f"{stem}-{figure.name}.{figure.fmt}"


def document(doc: Document, stem: str) -> str:
    e = escape_markdown
    parts = [f"# {e(doc.title)}", f"*{e(doc.subtitle)}*", f"**{e(doc.headline)}**"]
    for section in doc.sections:
        parts.append(f"## {e(section.title)}")
        for block in section.blocks:
            parts.append(_block(block, stem))
    parts.append(f"---\n\n*{e(doc.footer)}*")
    return "\n\n".join(parts) + "\n"


def _block(block, stem: str) -> str:
    e = escape_markdown
    if isinstance(block, Para):
        return f"*{e(block.text)}*" if block.kind == "note" else e(block.text)
    if isinstance(block, Cards):
        return "\n".join(f"- **{e(v)}** {e(label)}" for v, label in block.items)
    if isinstance(block, Table):
        return table(block)
    if isinstance(block, Figure):
        return f"![{e(block.alt)}]({image_name(stem, block)})\n\n*{e(block.caption)}*"
    if isinstance(block, Items):
        return "\n".join(f"- {e(i)}" for i in block.items)
    if isinstance(block, Code):
        fence = "```" if "```" not in block.text else "~~~~"
        return f"{fence}sh\n{block.text}\n{fence}"
    raise TypeError(f"unknown block {type(block).__name__}")


def table(block: Table) -> str:
    e = escape_markdown
    head = "| " + " | ".join(e(c) for c in block.columns) + " |"
    rule = "|" + "|".join("---:" if n else "---" for n in block.numeric) + "|"
    body = ["| " + " | ".join(e(c) for c in r) + " |" for r in block.rows]
    if block.total:
        body.append("| " + " | ".join(f"**{e(c)}**" if c else "" for c in block.total) + " |")
    return "\n".join([f"**{e(block.caption)}**", "", head, rule, *body])
