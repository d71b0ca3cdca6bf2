"""Workbooks for people: one sheet per table, labels in the chosen language, formatted, with a Sources sheet.

:func:`write_workbook` is what every command writing tables calls (``coverage.xlsx``, ``uncovered.xlsx``,
``gaps.xlsx``, ``plan.xlsx``, ``trend.xlsx``, the report's workbook). Each table sheet has its column labels
(``i18n/<lang>/columns.toml``) in a bold, frozen header row with an autofilter, fitted column widths,
counts as integers (``#,##0``), shares as numbers in [0, 1] shown as percentages, years as plain integers,
codes (INSEE, SIREN, QPV, council ids) as text cells, lists as ``;``-separated text and coded values
(statuses, actions, kinds) in words. The machine files (CSV, JSON...) keep the codes; the workbook is
for reading. Text is formula-safe (:func:`clsm_geo.io.neutralise_formula`) and free of the control
characters a workbook cannot hold. Bytes are identical on rerun (fixed document dates and zip times).
"""

from __future__ import annotations

import functools
import math
import os
import re
from pathlib import Path

import pandas as pd

from . import _gc
from . import columns as _columns
from . import i18n
from . import io as _io

#: Excel's limit on sheet names, and the characters it forbids in them.
_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_WIDTH_MIN, _WIDTH_MAX = 8, 60
#: Keys of a sources dict (a result's ``summary``) shown on the Sources sheet, in this order.
_SOURCE_ROWS = ("date", "years", "cog_year", "qpv_geography", "method", "qpv_source_kind", "qpv_source_edition",
                "qpv_source_precision", "qpv_source_location", "qpv_source_sha256", "registry", "threshold_covered",
                "threshold_partial", "producers", "methodology", "version")


def clean_text(value, where: str | None = None):
    """``value`` as a workbook cell: without the control characters a workbook cannot hold, cut visibly past
    Excel's limit (:func:`clsm_geo.io.clean_for_xlsx`), and formula-safe."""
    if not isinstance(value, str):
        return value
    if len(value) <= _io.XLSX_MAX_CELL and where is None:
        return _clean_short(value)
    return _io.neutralise_formula(_io.clean_for_xlsx(value, where))


@functools.lru_cache(maxsize=1 << 16)
def _clean_short(value: str) -> str:
    """:func:`clean_text` of a text that fits a cell, memoised: names and labels repeat across rows."""
    return _io.neutralise_formula(_io.clean_for_xlsx(value))


def sheet_name(table: str, lang: str | None = None) -> str:
    """The translated name of a table's sheet (``workbook.sheet.<table>``), valid for Excel."""
    key = f"workbook.sheet.{table}"
    name = i18n.t(key, lang) if i18n.has(key, lang) else table
    return _SHEET_FORBIDDEN.sub("-", name)[:_SHEET_NAME_MAX]


def write_workbook(tables: dict, path: str | os.PathLike, sources=None, lang: str | None = None) -> Path:
    """Write ``tables`` (table code -> frame) as one workbook at ``path``, atomically; return the path.

    A frame becomes a sheet named after its table (``workbook.sheet.<code>``) with a header row of labels
    (``columns.<column>.label``); a dict (a result's ``summary``) becomes a two-column sheet of labelled
    figures. ``sources`` (a result's ``summary``, or any dict with some of its keys: ``year``, ``years``,
    ``cog_year``, ``qpv_geography``, ``method``, ``qpv_source``, ``registry``, ``thresholds``) fills the
    last sheet, ``Sources``, with the clsm-geo version and the data producers. ``lang``: see
    :func:`clsm_geo.i18n.get_lang`. A column without a label in the catalogue is a ``KeyError``.
    A table (or ``sources``) may also be a function returning it: the sheets keep their order, and these
    tables are written after the others. The bytes depend on the order cells are written in, hence on
    which tables are functions. (``coverage.xlsx`` is written in steps by :class:`Filling` instead: its
    child process receives the QPV layer's columns, then the engine's, then the small tables.)
    Written with XlsxWriter (streamed, about 4 times faster than building the workbook in openpyxl).
    """
    with _io.atomic_path(path) as tmp:
        _fill(str(tmp), tables, sources, lang)
    return Path(path)


def prepare(lang: str | None = None) -> None:
    """Load what writing a coverage workbook in ``lang`` needs, once per process: the writer, the catalogue's
    words for the columns, the locale's date and number formats. A process started before its tables exist
    (:func:`clsm_geo.coverage_files.start_workbook`) does it while its parent computes them."""
    import xlsxwriter  # noqa: F401

    from .result import COUNCIL_COLUMNS, QPV_COLUMNS

    code = i18n.get_lang(lang)
    for column in dict.fromkeys(QPV_COLUMNS + COUNCIL_COLUMNS):
        _columns.label(column, code)
    i18n.year_end(2024, code)
    _percent_format(0, code)


def workbook_bytes(tables: dict, sources=None, lang: str | None = None) -> bytes:
    """The bytes of the workbook :func:`write_workbook` writes."""
    import io

    buffer = io.BytesIO()
    _fill(buffer, tables, sources, lang)
    return buffer.getvalue()


@_gc.pausing  # a cell object per value, none in a reference cycle: collections would only walk them
def _fill(target, tables: dict, sources, lang: str | None) -> None:
    book = Filling(target, lang)
    try:
        sheets = [(book.sheet(table), frame) for table, frame in tables.items()]
        last = book.sheet("sources")
        for ws, frame in sorted(sheets, key=lambda sheet: callable(sheet[1])):  # stable: values, then functions
            book.write(ws, frame() if callable(frame) else frame)
        book.sources(last, (sources() if callable(sources) else sources) or {})
    finally:
        book.close()


class Filling:
    """A workbook being written (:func:`write_workbook` does it at once): sheets added in order, their tables
    written in any order (a table's columns even in several steps, :meth:`start` then :meth:`columns` and
    :meth:`finish`), then :meth:`close`. For a process that receives its tables one by one
    (:mod:`clsm_geo.coverage_files`). The bytes depend on the order cells are written in."""

    def __init__(self, target, lang: str | None = None):
        import xlsxwriter

        self.lang = i18n.get_lang(lang)
        self.wb = xlsxwriter.Workbook(target, {"in_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False, "strings_to_numbers": False})
        self.book = _Book(self.wb)
        self._used: set[str] = set()

    def sheet(self, table: str):
        """A new sheet, last, named after ``table`` (:func:`sheet_name`, unique in the workbook)."""
        return self.wb.add_worksheet(_unique(sheet_name(table, self.lang), self._used))

    def write(self, ws, frame) -> None:
        """A table (a frame) or a summary (a dict) on ``ws``."""
        if isinstance(frame, dict):
            _write_figures(self.book, ws, frame, self.lang)
        else:
            _write_table(self.book, ws, frame, self.lang)

    def start(self, ws, columns: list[str]) -> "_TableSheet":
        """A table sheet whose header is ``columns``, its cells written by :meth:`_TableSheet.columns`."""
        return _TableSheet(self.book, ws, [str(c) for c in columns], self.lang)

    def sources(self, ws, sources: dict) -> None:
        _write_sources(self.book, ws, sources, self.lang)

    def close(self) -> None:
        import datetime as dt

        # fixed document dates; XlsxWriter also dates every zip member 1 January 1980: same bytes on rerun
        self.wb.set_properties({"author": "clsm-geo", "created": dt.datetime(2000, 1, 1)})
        self.wb.close()


class _Book:
    """The formats of one workbook, made once each: the header's and one per number format."""

    def __init__(self, wb):
        self.wb = wb
        self.header = wb.add_format({"bold": True, "valign": "top"})
        self._numbers: dict[str, object] = {}

    def number(self, fmt: str | None):
        if fmt is None:
            return None
        if fmt not in self._numbers:
            self._numbers[fmt] = self.wb.add_format({"num_format": fmt})
        return self._numbers[fmt]


#: The tables of :func:`coverage_tables` computed after the engine (on first use), in sheet order.
LATER = ("summary", "councils", "regions", "departments")
#: The sheets of every coverage workbook, first and in this order (the reconciliation and the QPV out of
#: scope follow when there are some).
COVERAGE_SHEETS = ("summary", "qpv", "councils", "regions", "departments")


def coverage_tables(result, later: bool = False) -> dict:
    """The tables of a :class:`~clsm_geo.result.CoverageResult` as :func:`write_workbook` takes them:
    key figures, QPV, councils, regions, departments and, when computed, the reconciliation. ``later``:
    the tables of :data:`LATER` as functions computing them (written after the others)."""
    from .result import COUNCIL_COLUMNS

    def table(compute):
        return compute if later else compute()

    tables = {"summary": table(lambda: result.summary), "qpv": result.qpv_table,
              "councils": table(lambda: result.councils_table[COUNCIL_COLUMNS]),
              "regions": table(lambda: result.regions), "departments": table(lambda: result.departments)}
    if result.reconciliation is not None:
        tables["reconciliation"] = result.reconciliation
    if len(getattr(result, "out_of_scope", ())):
        tables["out_of_scope"] = result.out_of_scope
    return tables


def _unique(name: str, used: set[str]) -> str:
    out, n = name, 2
    while out.lower() in used:
        suffix = f" ({n})"
        out, n = name[:_SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    used.add(out.lower())
    return out


# --- cells ----------------------------------------------------------------------------------------------

def _percent_format(decimals: int, lang: str) -> str:
    digits = "0" + ("." + "0" * decimals if decimals else "")
    return digits + '"\u00a0"%' if lang == "fr" else digits + "%"


def number_format(column: str, series: pd.Series | None, lang: str) -> str | None:
    """The Excel number format of a column (``@`` for codes, percentages for shares, ``#,##0`` for counts)."""
    if column in _columns.CODE_COLUMNS:
        return "@"
    if _columns.is_share(column):
        return _percent_format(_columns.SHARE_DECIMALS.get(column, 1), lang)
    if column in _columns.PLAIN_INTEGERS:
        return "0"
    if column in _columns.DECIMALS:
        return "#,##0." + "0" * _columns.DECIMALS[column]
    if series is not None and pd.api.types.is_bool_dtype(series):
        return None
    if series is not None and pd.api.types.is_integer_dtype(series):
        return "#,##0"
    if series is not None and pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if len(values) and (values == values.round()).all():
            return "#,##0"
        return "#,##0.0##"
    return None


def _cell_value(column: str, value, lang: str):
    """A Python value openpyxl writes as the right cell type (text, number, boolean, empty)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(map(str, value)) if isinstance(value, (set, frozenset)) else [str(v) for v in value]
        return clean_text(";".join(items)) if items else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if column in _columns.CODE_COLUMNS and not isinstance(value, bool):
        value = str(value)
    elif isinstance(value, str):
        value = _columns.value_words(column, value, lang)
    if isinstance(value, str):
        return clean_text(value) or None
    return value


def _column_cells(column: str, series: pd.Series, lang: str) -> tuple[list, int]:
    """:func:`_cell_value` of every cell of a column and the widest of them (:func:`_text_width`); each
    distinct value is converted once (names, statuses and codes repeat down a column)."""
    seen: dict = {}
    out = []
    width = 0
    for value in series.tolist():
        try:
            key = (type(value), value)  # the type too: True == 1, yet they are written differently
            cell = seen[key]
        except (KeyError, TypeError) as missing:  # TypeError: a list, which cannot be a key
            cell = _cell_value(column, value, lang)
            width = max(width, _text_width(cell))
            if isinstance(missing, KeyError):
                seen[key] = cell
        out.append(cell)
    return out, width


def _header(book: _Book, ws, labels: list[str]) -> None:
    for col, label in enumerate(labels):
        ws.write_string(0, col, clean_text(label) or "", book.header)


def _write(ws, row: int, col: int, value, fmt=None) -> None:
    """One cell of the type of ``value`` (text, number, boolean; empty keeps its number format)."""
    if value is None:
        if fmt is not None:
            ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _fit_widths(ws, widths: list[int], formats: list | None = None) -> None:
    """Each column's width (characters) and, when given, its format."""
    for i, width in enumerate(widths):
        ws.set_column(i, i, max(_WIDTH_MIN, min(_WIDTH_MAX, width + 2)), formats[i] if formats else None)


def _text_width(value) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        return len(f"{value:,.3f}")
    return len(str(value))


# --- sheets ---------------------------------------------------------------------------------------------

def _write_table(book: _Book, ws, frame: pd.DataFrame, lang: str) -> None:
    """A table sheet. Each column's number format is the column's (``<col style>``): its cells take it, empty
    ones too (a value typed there later shows in that format), so an empty cell is simply not written."""
    frame = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame.columns]))
    sheet = _TableSheet(book, ws, [str(c) for c in frame.columns], lang)
    sheet.columns(frame)
    sheet.finish(len(frame))


class _TableSheet:
    """A table sheet written in steps: the header at once, then columns (any of them, each once), then the
    frozen header, autofilter and fitted widths (:meth:`finish`)."""

    def __init__(self, book: _Book, ws, cols: list[str], lang: str):
        self.book, self.ws, self.cols, self.lang = book, ws, cols, lang
        labels = [_columns.label(c, lang) for c in cols]
        _header(book, ws, labels)
        self.formats: list = [None] * len(cols)
        self.widths = [len(label) + 2 for label in labels]  # room for the autofilter button

    def columns(self, frame: pd.DataFrame, names=None) -> None:
        """Write the columns ``names`` (default: all of the sheet's) of ``frame``, one of its rows per row."""
        names = [str(c) for c in (self.cols if names is None else names)]
        where = [self.cols.index(c) for c in names]
        for i, c in zip(where, names):  # the formats first, as they were made before any cell
            self.formats[i] = self.book.number(number_format(c, frame[c], self.lang))
        for i, c in zip(where, names):
            values, width = _column_cells(c, frame[c], self.lang)
            _write_column(self.ws, i, values)
            self.widths[i] = max(self.widths[i], width)

    def finish(self, rows: int) -> None:
        """Frozen header, autofilter over ``rows`` rows, widths and column formats."""
        self.ws.freeze_panes(1, 0)
        if self.cols:
            self.ws.autofilter(0, 0, rows, len(self.cols) - 1)
        _fit_widths(self.ws, self.widths, self.formats)


def _write_column(ws, col: int, values: list) -> None:
    """The cells of column ``col`` from the second row on, without a cell format (the column's applies);
    ``None`` is left empty."""
    string, number, boolean = ws.write_string, ws.write_number, ws.write_boolean
    for row, value in enumerate(values, start=1):
        kind = type(value)
        if kind is str:
            string(row, col, value)
        elif kind is float or kind is int:
            number(row, col, value)
        elif kind is bool:
            boolean(row, col, value)
        elif value is not None:
            _write(ws, row, col, value)


def _figures_rows(summary: dict) -> list[tuple[str, object]]:
    """Scalar figures of a summary dict as (code, value); nested dicts as ``parent.key``."""
    rows = []
    for key, value in summary.items():
        if isinstance(value, dict):
            rows += [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            rows.append((key, value))
    return rows


def _write_figures(book: _Book, ws, summary: dict, lang: str) -> None:
    """A summary dict as a sheet of (figure, value, code) rows, ``headline`` first."""
    head = [i18n.t(f"workbook.summary.{k}", lang) for k in ("figure", "value", "code")]
    _header(book, ws, head)
    rows = sorted(_figures_rows(summary), key=lambda kv: kv[0] != "headline")
    widths = [len(h) + 2 for h in head]
    r = 0
    for code, value in rows:
        if code == "qpv_source.location" or code == "qpv_source.sha256":
            continue
        r += 1
        cell_value = _cell_value(code, value, lang)
        fmt = number_format(code, pd.Series([value]) if isinstance(value, (int, float)) else None, lang)
        label = clean_text(_columns.label(code, lang))
        _write(ws, r, 0, label)
        _write(ws, r, 1, cell_value, book.number(fmt) if cell_value is not None else None)
        _write(ws, r, 2, code)
        widths = [max(w, _text_width(v)) for w, v in zip(widths, (label, cell_value, code))]
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, r, 2)
    _fit_widths(ws, widths)


def source_rows(sources: dict, lang: str | None = None) -> list[tuple[str, object, str | None]]:
    """(label, value, number format) rows of the Sources sheet from a sources dict (see :func:`write_workbook`)."""
    from . import __version__

    code = i18n.get_lang(lang)
    t = lambda key, **kw: i18n.t(f"workbook.sources.{key}", code, **kw)  # noqa: E731
    qpv = sources.get("qpv_source") or {}
    thresholds = sources.get("thresholds") or {}
    values: dict[str, tuple[object, str | None]] = {}
    if sources.get("year") is not None:
        values["date"] = (i18n.year_end(int(sources["year"]), code), None)
    if sources.get("years"):
        values["years"] = (str(sources["years"]), None)
    if sources.get("cog_year") is not None:
        values["cog_year"] = (t("cog_value", year=sources["cog_year"]), None)
    if sources.get("qpv_geography") is not None:
        values["qpv_geography"] = (t("qpv_geography_value", year=sources["qpv_geography"]), None)
    if sources.get("method"):
        values["method"] = (_columns.value_words("method", sources["method"], code), None)
    kind = qpv.get("kind")
    if kind:
        key = f"workbook.sources.kind.{kind}"
        values["qpv_source_kind"] = (i18n.t(key, code) if i18n.has(key, code) else kind, None)
    for key in ("edition", "precision", "location", "sha256"):
        if qpv.get(key):
            values[f"qpv_source_{key}"] = (str(qpv[key]), None)
    if sources.get("registry"):
        values["registry"] = (str(sources["registry"]), None)
    for key in ("covered", "partial"):
        if thresholds.get(key) is not None:
            values[f"threshold_{key}"] = (float(thresholds[key]), _percent_format(0, code))
    values["producers"] = (t("producers_value"), None)
    values["methodology"] = (t("methodology_value"), None)
    values["version"] = (__version__, None)
    return [(t(key), *values[key]) for key in _SOURCE_ROWS if key in values]


def _write_sources(book: _Book, ws, sources: dict, lang: str) -> None:
    head = [i18n.t("workbook.sources.item", lang), i18n.t("workbook.sources.value", lang)]
    _header(book, ws, head)
    widths = [len(h) + 2 for h in head]
    for r, (label, value, fmt) in enumerate(source_rows(sources, lang), start=1):
        value = clean_text(value)
        _write(ws, r, 0, clean_text(label))
        _write(ws, r, 1, value, book.number(fmt))
        widths = [max(w, _text_width(v)) for w, v in zip(widths, (label, value))]
    ws.freeze_panes(1, 0)
    _fit_widths(ws, widths)
