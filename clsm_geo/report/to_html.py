"""The report as one self-contained HTML page: inline CSS (screen and A4 print), images as data URIs, no
script, nothing loaded from elsewhere. Every text is escaped.

With ``folder`` (:func:`page`, :func:`assets`), the same page for a strict Content-Security-Policy
(``default-src 'self'``): the stylesheet and the images are files of that folder, referenced by relative URLs;
no inline style, no ``style=`` attribute, no data URI."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote
from importlib import resources

from .model import Cards, Code, Document, Figure, Items, Para, Table

MIME = {"png": "image/png", "svg": "image/svg+xml"}


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def css() -> str:
    return resources.files(__package__).joinpath("report.css").read_text(encoding="utf-8")


def _css_string(text: str) -> str:
    """A CSS string literal (for the page footer of the print stylesheet)."""
    out = "".join(c if c.isalnum() or c in " .,:;—–-()/'" else f"\\{ord(c):x} " for c in text)
    return f'"{out}"'


def _stylesheet(doc: Document) -> str:
    """The screen and print CSS with the page footer of ``doc``."""
    return css() + "@page{@bottom-left{content:" + _css_string(doc.footer) + ";font-size:7pt;color:#4a4a4a}}"


def image_name(figure: Figure) -> str:
    """File name of ``figure`` in the assets folder (``carte.png``)."""
    return f"{figure.name}.{figure.fmt}"


def assets(doc: Document) -> dict[str, bytes]:
    """File name -> bytes of what a page written with ``folder`` loads from it: ``report.css`` and the images."""
    out = {"report.css": _stylesheet(doc).encode("utf-8")}
    out.update((image_name(f), f.data) for f in doc.all_figures())
    return out


def page(doc: Document, folder: str | None = None) -> str:
    """The page; with ``folder`` (a relative URL), its stylesheet and images are the :func:`assets` files of
    that folder instead of inline."""
    if folder is None:
        style = f"<style>{_stylesheet(doc)}</style>"
    else:
        style = f'<link rel="stylesheet" href="{_e(quote(folder))}/report.css">'
    body = []
    for i, section in enumerate(doc.sections):
        classes = " ".join(c for c in ("first" if i == 0 else "", "box" if section.box else "") if c)
        attr = f' class="{classes}"' if classes else ""
        blocks = "".join(_block(b, folder) for b in section.blocks)
        body.append(f'<section id="{_e(section.id)}"{attr} aria-labelledby="h-{_e(section.id)}">'
                    f'<h2 id="h-{_e(section.id)}">{_e(section.title)}</h2>{blocks}</section>')
    return (f'<!DOCTYPE html>\n<html lang="{_e(doc.lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(doc.title)}</title>{style}</head><body><main>'
            f'<header><h1>{_e(doc.title)}</h1><p class="subtitle">{_e(doc.subtitle)}</p>'
            f'<p class="lead">{_e(doc.headline)}</p></header>{"".join(body)}'
            f'<footer><p class="note">{_e(doc.footer)}</p></footer></main></body></html>\n')


def _block(block, folder: str | None = None) -> str:
    if isinstance(block, Para):
        cls = f' class="{_e(block.kind)}"' if block.kind else ""
        return f"<p{cls}>{_e(block.text)}</p>"
    if isinstance(block, Cards):
        items = "".join(f'<li><span class="value">{_e(v)}</span> <span class="label">{_e(label)}</span></li>'
                        for v, label in block.items)
        return f'<ul class="cards">{items}</ul>'
    if isinstance(block, Table):
        return table(block)
    if isinstance(block, Figure):
        if folder is None:
            src = f"data:{MIME[block.fmt]};base64," + base64.b64encode(block.data).decode("ascii")
        else:
            src = f"{quote(folder)}/{quote(image_name(block))}"
        return (f'<figure><img src="{_e(src)}" alt="{_e(block.alt)}">'
                f"<figcaption>{_e(block.caption)}</figcaption></figure>")
    if isinstance(block, Items):
        return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Code):
        return f"<pre><code>{_e(block.text)}</code></pre>"
    raise TypeError(f"unknown block {type(block).__name__}")


def table(block: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if block.numeric[i] else ""

    def row(cells, tag_first: str) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i == 0 and tag_first == "th":
                out.append(f'<th scope="row"{cls(i)}>{_e(cell)}</th>')
            else:
                out.append(f"<td{cls(i)}>{_e(cell)}</td>")
        return "<tr>" + "".join(out) + "</tr>"

    first = "th" if block.row_header else "td"
    head = "".join(f'<th scope="col"{cls(i)}>{_e(c)}</th>' for i, c in enumerate(block.columns))
    body = "".join(row(r, first) for r in block.rows)
    foot = f"<tfoot>{row(block.total, 'th')}</tfoot>" if block.total else ""
    return (f"<table><caption>{_e(block.caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody>{foot}</table>")
