"""The QPV source in words a person reads: one short line (console, notebooks), the full text on demand.

The full provenance (location, edition, precision, sha256) stays in ``summary.json`` and ``--verbose``.
"""

from __future__ import annotations

import re

from . import i18n
from .i18n import t

__all__ = ["SOURCE_LINE_MAX", "detail", "edition", "parts", "precision", "source_line", "words"]

#: Longest source line (characters).
SOURCE_LINE_MAX = 120


def source_line(source) -> str:
    """The QPV source in one line of at most :data:`SOURCE_LINE_MAX` characters: where from (no local path),
    edition and precision, each cut at its first detail."""
    def head(text: str | None) -> str:
        text = (text or "").strip()
        return re.split(r"\s+\(|;|\s\+\s", text, maxsplit=1)[0].strip()

    kind = t(f"cli.source.{source.kind}") if source.kind in ("shipped", "cache", "user") else source.kind
    if source.kind == "user":
        kind += " " + re.split(r"[/\\]", str(source.location).rstrip("/\\"))[-1]
    parts = [kind, head(edition(source)), head(precision(source))]
    if source.kind == "shipped":  # the package's own layer: described in the catalogue's words
        parts = [kind, t("cli.source.shipped_summary")]
    text = t("cli.source.line", text=", ".join(p for p in parts if p))
    return text if len(text) <= SOURCE_LINE_MAX else text[:SOURCE_LINE_MAX - 1] + "…"


def edition(source, lang: str | None = None) -> str:
    """The edition of a QPV source for people, in ``lang`` (the recorded text when it has no catalogue words)."""
    return words(getattr(source, "edition_words", ()), lang) or source.edition


def precision(source, lang: str | None = None) -> str:
    """The precision of a QPV source's outlines for people, in ``lang`` (as :func:`edition`)."""
    return words(getattr(source, "precision_words", ()), lang) or source.precision


def parts(source, field: str) -> tuple:
    """A source's ``edition`` or ``precision`` as parts for :func:`words`: its catalogue words, or its recorded
    text as one part (to nest in another description, e.g. the overseas part of an assembled layer)."""
    return getattr(source, f"{field}_words", ()) or (("", (("text", getattr(source, field)),)),)


def words(pieces, lang: str | None = None) -> str:
    """Catalogue parts ``(key, ((name, value), ...))`` as one text: values that are parts themselves are written
    first; a key ``""`` is a recorded text (value ``text``); a count ``n`` chooses the plural form. A key the
    catalogue lacks (a layer this version does not describe) is left out; with none left, the caller shows the
    recorded text."""
    out = []
    for key, values in pieces:
        values = {name: words(value, lang) if isinstance(value, tuple) else value for name, value in values}
        if not key:
            out.append(str(values.get("text", "")))
        elif not i18n.has(key, lang):
            continue
        elif "n" in values:
            out.append(i18n.tn(key, int(values.pop("n")), lang, **values))
        else:
            out.append(t(key, lang, **values))
    return t("provenance.separator", lang).join(p for p in out if p)


def detail(source, lang: str | None = None) -> str:
    """The whole description of a QPV source for people (``--verbose``): where from, edition, precision, sha256."""
    kind = t(f"cli.source.{source.kind}", lang) if source.kind in ("shipped", "cache", "user") else source.kind
    sha = f", sha256 {source.sha256[:12]}…" if source.sha256 else ""
    return t("provenance.detail", lang, kind=kind, location=source.location, edition=edition(source, lang),
             precision=precision(source, lang), sha=sha)
