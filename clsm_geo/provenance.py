"""The QPV source in words a person reads: one short line (console, notebooks), the full text on demand.

The full provenance (location, edition, precision, sha256) stays in ``summary.json`` and ``--verbose``.
"""

from __future__ import annotations

import re

from .i18n import t

__all__ = ["SOURCE_LINE_MAX", "source_line"]

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
    parts = [kind, head(source.edition), head(source.precision)]
    if source.kind == "shipped":  # the package's own layer: described in the catalogue's words
        parts = [kind, t("cli.source.shipped_summary")]
    text = t("cli.source.line", text=", ".join(p for p in parts if p))
    return text if len(text) <= SOURCE_LINE_MAX else text[:SOURCE_LINE_MAX - 1] + "…"
