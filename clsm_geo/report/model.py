"""The report as plain data: sections of blocks (paragraphs, cards, tables, figures, lists, code).

Every text here is final, formatted text in the report's language, not yet escaped: the HTML and
Markdown renderers escape it. Tables hold strings only (numbers already formatted by Babel).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Para:
    text: str
    kind: str = ""  # "lead", "note" or ""


@dataclass(frozen=True)
class Cards:
    items: tuple[tuple[str, str], ...]  # (value, label)


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    total: tuple[str, ...] | None = None  # a last row (footer)
    row_header: bool = True  # the first cell of each row is its header


@dataclass(frozen=True)
class Figure:
    name: str  # file stem beside the Markdown (``carte``)
    fmt: str  # png or svg
    data: bytes
    alt: str
    caption: str


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple = ()
    box: bool = False


@dataclass(frozen=True)
class Document:
    lang: str
    title: str
    subtitle: str
    headline: str
    sections: tuple[Section, ...]
    footer: str

    def all_figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
