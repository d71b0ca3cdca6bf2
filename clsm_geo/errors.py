"""Errors of clsm_geo. Each carries what the CLI needs to print a clear message and pick an exit code.

The CLI prints ``str(error)`` (never a traceback) and exits with ``error.exit_code``:
2 for bad input from the user, 1 for other failures (data source, network).
"""

from __future__ import annotations

from dataclasses import dataclass


class ClsmGeoError(Exception):
    """Base class. ``hint`` tells the user what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        from .i18n import t

        return self.message if not self.hint else f"{self.message}\n  " + t("cli.hint", hint=self.hint)


class InputError(ClsmGeoError):
    """Bad input supplied by the user (file, option, code)."""

    exit_code = 2


class OutputError(InputError):
    """An output cannot be written where asked (it would overwrite an input, wrong kind of path, permissions,
    full disk...): the user chooses another place (exit 2). Previous outputs are left as they were."""


class DataSourceError(ClsmGeoError):
    """A data source could not be obtained or read (download failed, cache corrupt, file unreadable)."""


class ChecksumMismatchError(DataSourceError):
    """A downloaded or copied file is not the one expected (sha256 or size differs): ``expected``, ``got``."""

    def __init__(self, message: str, *, hint: str | None = None, expected=None, got=None):
        super().__init__(message, hint=hint)
        self.expected = expected
        self.got = got


class DownloadLimitError(DataSourceError):
    """A download went over its size limit or its deadline; nothing was kept."""


class OfflineError(DataSourceError):
    """The network is needed but ``offline`` is set."""


def located(file, row: int | None = None, column: str | None = None, lang: str | None = None) -> str:
    """``file, ligne 3, colonne « x »`` in ``lang``: where a problem is, for a message."""
    from .i18n import t

    where = [str(file)]
    if row is not None:
        where.append(t("registry.problem.row", lang, row=row))
    if column:
        where.append(t("registry.problem.column", lang, column=column))
    return ", ".join(where)


class CodeResolutionError(InputError):
    """A commune code is unknown in every vintage; ``candidates`` lists close valid codes."""

    def __init__(self, message: str, *, code: str, candidates: list[tuple[str, str]] | None = None, hint=None):
        super().__init__(message, hint=hint)
        self.code = code
        self.candidates = candidates or []


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file: where it is, what it is, what to do."""

    severity: str  # "error" or "warning"
    file: str
    row: int | None  # 1-based data row as a spreadsheet shows it (header is row 1), None for the whole file
    column: str | None
    value: str | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        return self.format()

    def format(self, lang: str | None = None) -> str:
        """The problem as a line in ``lang``: severity, file, row, column, message, value, suggestion."""
        from .i18n import t

        where = [self.file]
        if self.row is not None:
            where.append(t("registry.problem.row", lang, row=self.row))
        if self.column:
            where.append(t("registry.problem.column", lang, column=self.column))
        severity = t(f"registry.problem.{self.severity}", lang) if self.severity in ("error", "warning") \
            else self.severity
        text = t("registry.problem.line", lang, severity=severity, where=", ".join(where), message=self.message)
        if self.value not in (None, ""):
            text += t("registry.problem.value", lang, value=repr(self.value))
        if self.suggestion:
            text += t("registry.problem.suggestion", lang, suggestion=self.suggestion)
        return text


class RegistryError(InputError):
    """The registry has errors; ``problems`` lists all of them (errors and warnings)."""

    def __init__(self, message: str, problems: list[Problem], *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems

    def __str__(self) -> str:
        lines = [self.message] + [f"  {p}" for p in self.problems if p.severity == "error"]
        if self.hint:
            from .i18n import t

            lines.append("  " + t("cli.hint", hint=self.hint))
        return "\n".join(lines)
