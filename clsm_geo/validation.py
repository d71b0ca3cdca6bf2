"""The validation report of a registry for a COG year: every problem with file, row, column and value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import Problem


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
        head = (f"{Path(self.source).name}: {self.councils} council(s) checked against COG {self.year}: "
                f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        return "\n".join([head] + [f"  {p}" for p in self.problems])


def _order(problem: Problem) -> tuple:
    return (problem.row if problem.row is not None else 0, problem.severity != "error", problem.column or "")


def validate(path, year: int = 2024) -> ValidationReport:
    """Check a registry file: syntax (:mod:`registry`) then codes and perimeters of ``year``."""
    from .geography import geography
    from .perimeters import build_perimeters
    from .registry import read_registry

    registry = read_registry(path, strict=False)
    cog_year = geography(year, nearest=True).year
    perimeters = build_perimeters(registry, cog_year)
    problems = sorted(set(registry.problems) | set(perimeters.problems), key=_order)
    total = len(registry) + len({p.row for p in registry.problems if p.severity == "error"})
    return ValidationReport(source=str(path), year=cog_year, councils=total, problems=tuple(problems))
