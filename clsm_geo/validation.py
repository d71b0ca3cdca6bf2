"""The validation report of a registry for a COG year: every problem with file, row, column and value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import Problem
from .i18n import t


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
        head = t("registry.problem.summary", name=Path(self.source).name, councils=self.councils, year=self.year,
                 errors=len(self.errors), warnings=len(self.warnings))
        return "\n".join([head] + [f"  {format_problem(p)}" for p in self.problems])


def format_problem(problem: Problem, lang: str | None = None) -> str:
    """One problem as a line in ``lang``: severity, file, row, column, message, value, suggestion."""
    where = [problem.file]
    if problem.row is not None:
        where.append(t("registry.problem.row", lang, row=problem.row))
    if problem.column:
        where.append(t("registry.problem.column", lang, column=problem.column))
    severity = t(f"registry.problem.{problem.severity}", lang) if problem.severity in ("error", "warning") \
        else problem.severity
    text = t("registry.problem.line", lang, severity=severity, where=", ".join(where), message=problem.message)
    if problem.value not in (None, ""):
        text += t("registry.problem.value", lang, value=repr(problem.value))
    if problem.suggestion:
        text += t("registry.problem.suggestion", lang, suggestion=problem.suggestion)
    return text


def format_registry_error(error) -> str:
    """A :class:`~clsm_geo.errors.RegistryError` as the CLI prints it: the message, each error, the hint."""
    lines = [error.message] + [f"  {format_problem(p)}" for p in error.problems if p.severity == "error"]
    if error.hint:
        lines.append("  " + t("registry.problem.hint", hint=error.hint))
    return "\n".join(lines)


def _order(problem: Problem) -> tuple:
    return (problem.row if problem.row is not None else 0, problem.severity != "error", problem.column or "")


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
    late = [Problem("warning", Path(str(path)).name, int(row), "created", str(created),
                    t("cli.validate.created_after", created=int(created), year=year),
                    t("cli.validate.created_after_fix", created=int(created)))
            for row, created in zip(registry.councils["row"], registry.councils["created"])
            if pd.notna(created) and int(created) > year]
    problems = sorted(set(registry.problems) | set(perimeters.problems) | set(late), key=_order)
    total = len(registry) + len({p.row for p in registry.problems if p.severity == "error"})
    return ValidationReport(source=str(path), year=cog_year, councils=total, problems=tuple(problems))
