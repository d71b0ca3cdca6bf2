"""The validation report of a registry for a COG year: every problem with file, row, column and value."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import _gc
from ._arrow import text_bytes
from .errors import Problem
from .i18n import t, tn

#: Bidirectional controls (they reorder what is shown: two different ids can look the same).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Letters that show as nothing (Hangul fillers).
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
#: Text columns of a registry checked for control, invisible and bidirectional characters.
TEXT_COLUMNS = ("id", "name", "region", "notes")


def _odd_characters(text: str) -> tuple[list[str], list[str], list[str]]:
    """``(control, bidi, invisible)`` characters of ``text`` (tab, newline, carriage return allowed)."""
    control, bidi, invisible = [], [], []
    for ch in text:
        if ch in BIDI_CONTROLS:
            bidi.append(ch)
        elif unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            control.append(ch)
        elif unicodedata.category(ch) == "Cf" or ch in _FILLERS:  # zero-width, fillers
            invisible.append(ch)
    return control, bidi, invisible


def _column_text(values: pd.Series) -> str:
    """Every text cell of ``values`` joined into one string (from Arrow's buffer for a text column, without a
    Python string per cell); other cells (missing values, numbers) are left out."""
    if isinstance(values.dtype, pd.StringDtype):
        import pyarrow as pa

        data = text_bytes(pa.array(values))
        if data is not None:
            return data.decode("utf-8")
    cells = values.tolist()
    try:
        return "".join(cells)  # a column of text: joined in C
    except TypeError:
        return "".join(v for v in cells if isinstance(v, str))


def _has_filler(text: str) -> bool:
    """Whether ``text`` holds a Hangul filler (one substring search per filler: faster than a set per character)."""
    return any(filler in text for filler in _FILLERS)


def _codes(chars: list[str]) -> str:
    return ", ".join(sorted({f"U+{ord(c):04X}" for c in chars}))


def visible_form(text: str) -> str:
    """``text`` as a reader sees it: without control, bidirectional and invisible characters."""
    control, bidi, invisible = _odd_characters(text)
    hidden = set(control) | set(bidi) | set(invisible)
    return "".join(c for c in text if c not in hidden)


def character_problems(councils: pd.DataFrame, name: str) -> list[Problem]:
    """Control, invisible and bidirectional characters in the text columns of a parsed registry.

    In ``id`` they are errors (an id must read as it compares: two ids that look identical are refused);
    elsewhere warnings (control characters are removed from workbooks, reports and GeoJSON)."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for column in TEXT_COLUMNS:
        if column not in councils:
            continue
        severity = "error" if column == "id" else "warning"
        texts = _column_text(councils[column])
        if texts.isprintable() and not _has_filler(texts):
            continue  # the usual case, checked in C on the whole column: nothing to report
        values = councils[column].tolist()
        for value, row in zip(values, councils["row"].tolist()):
            if not isinstance(value, str) or not value:
                continue
            if value.isprintable() and not _has_filler(value):  # the usual case, checked in C
                if column == "id":
                    seen.setdefault(value, int(row))
                continue
            control, bidi, invisible = _odd_characters(value)
            shown = value.encode("unicode_escape").decode("ascii")[:80]
            for kind, chars in (("control", control), ("bidi", bidi), ("invisible", invisible)):
                if chars:
                    problems.append(Problem(severity, name, int(row), column, shown,
                                            tn(f"io.chars.{kind}", len(set(chars)), codes=_codes(chars)),
                                            t(f"io.chars.{kind}_{'fix_id' if column == 'id' else 'fix'}")))
            if column == "id" and (control or bidi or invisible):
                visible = visible_form(value)
                if visible in seen:
                    problems.append(Problem("error", name, int(row), column, shown,
                                            t("io.chars.looks_like", row=seen[visible]), t("io.chars.control_fix_id")))
            if column == "id":
                seen.setdefault(visible_form(value), int(row))
    return problems


def nul_problem(data: bytes, name: str) -> Problem:
    """The problem of a file holding a NUL byte, located at its first line (1-based, as a spreadsheet counts)."""
    at = data.index(b"\x00")
    line = data.count(b"\n", 0, at) + 1
    return Problem("error", name, line, None, None, t("io.chars.nul", offset=at), t("io.chars.nul_fix"))


@dataclass(frozen=True)
class ValidationReport:
    """Problems found in ``source`` for COG ``year``, sorted by row. ``ok`` when there is no error."""

    source: str
    year: int
    councils: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: severity, file, row, column, value, message, suggestion."""
        return pd.DataFrame([p.__dict__ for p in self.problems],
                            columns=["severity", "file", "row", "column", "value", "message", "suggestion"])

    def __str__(self) -> str:
        head = t("registry.problem.summary", name=Path(self.source).name, year=self.year,
                 councils=tn("registry.problem.councils_checked", self.councils),
                 errors=tn("registry.problem.errors_count", len(self.errors)),
                 warnings=tn("registry.problem.warnings_count", len(self.warnings)))
        return "\n".join([head] + [f"  {format_problem(p)}" for p in self.problems])


def format_problem(problem: Problem, lang: str | None = None) -> str:
    """One problem as a line in ``lang``: severity, file, row, column, message, value, suggestion
    (:meth:`clsm_geo.errors.Problem.format`)."""
    return problem.format(lang)


def format_registry_error(error) -> str:
    """A :class:`~clsm_geo.errors.RegistryError` as the CLI prints it: the message, each error, the hint."""
    lines = [error.message] + [f"  {format_problem(p)}" for p in error.problems if p.severity == "error"]
    if error.hint:
        lines.append("  " + t("registry.problem.hint", hint=error.hint))
    return "\n".join(lines)


def _order(problem: Problem) -> tuple:
    return (problem.row if problem.row is not None else 0, problem.severity != "error", problem.column or "")


@_gc.pausing
def validate(path, year: int = 2024) -> ValidationReport:
    """Check a registry file: syntax (:mod:`registry`) then codes and perimeters of ``year``."""
    from .geography import geography
    from .perimeters import build_perimeters
    from .registry import read_registry
    from .vintages import check_year

    year = check_year(year)
    registry = read_registry(path, strict=False)
    cog_year = geography(year, nearest=True).year
    perimeters = build_perimeters(registry, cog_year)
    created = registry.councils["created"]
    after = (created > year).fillna(False).to_numpy(dtype=bool)  # only these rows are looked at one by one
    late = [Problem("warning", Path(str(path)).name, int(row), "created", str(int(c)),
                    t("cli.validate.created_after", created=int(c), year=year),
                    t("cli.validate.created_after_fix", created=int(c)))
            for row, c in zip(registry.councils["row"].to_numpy()[after].tolist(), created[after].tolist())]
    late = registry.in_file_columns(late)
    # Duplicates dropped in order of discovery (a set would order ties by string hashes, which change from
    # one process to the next), then sorted by row: the same report on every run.
    problems = sorted(dict.fromkeys([*registry.problems, *perimeters.problems, *late]), key=_order)
    total = len(registry) + len({p.row for p in registry.problems if p.severity == "error"})
    return ValidationReport(source=str(path), year=cog_year, councils=total, problems=tuple(problems))
