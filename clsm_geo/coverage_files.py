"""The files of a coverage result: ``summary.json``, one CSV per table, ``coverage.xlsx``, GeoJSON, Parquet.

An output stage: it takes a :class:`~clsm_geo.result.CoverageResult` and writes it, all files or none
(:func:`clsm_geo.io.output_set`). ``res.to_files(...)`` (:class:`clsm_geo.api.CoverageResult`) calls
:func:`write_files`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import _gc, _progress
from . import i18n
from . import io as _io
from .result import COUNCIL_COLUMNS, QPV_COLUMNS, QPV_LAYER_COLUMNS, CoverageResult

#: What :func:`write_files` can write.
FORMATS = ("csv", "xlsx", "geojson", "parquet")


def file_names(formats=("csv",)) -> list[str]:
    """Names of the files :func:`write_files` may write for ``formats``."""
    names = ["summary.json"]
    tables = ("qpv", "councils", "regions", "departments", "reconciliation", "out_of_scope")
    if "csv" in formats:
        names += [f"{name}.csv" for name in tables]
    if "xlsx" in formats:
        names.append("coverage.xlsx")
    for fmt in ("geojson", "parquet"):
        if fmt in formats:
            names += [f"qpv.{fmt}", f"councils.{fmt}"]
    return names


def start_workbook(lang: str | None = None):
    """Start the child process that will write ``coverage.xlsx`` in ``lang``, before the engine runs: it imports
    the workbook writer meanwhile, writes the QPV layer's columns (:func:`send_layer`, else :func:`write_files`
    sends them), then takes the result's tables from :func:`write_files` (``workbook=``).
    A :class:`clsm_geo._worker.Job` (its value is made by the caller where no child can run)."""
    from . import _worker

    return _worker.start(_book, i18n.get_lang(lang), inbox=True)


def send_layer(job, layer) -> None:
    """Give the workbook's child (:func:`start_workbook`) the QPV layer's own columns of the QPV sheet
    (:data:`~clsm_geo.result.QPV_LAYER_COLUMNS`) before the engine runs: it writes them meanwhile."""
    job.send(_layer_part(layer))


def _layer_part(layer) -> dict:
    return {"qpv_layer": pd.DataFrame(layer.table[QPV_LAYER_COLUMNS])}


@_progress.stepped("files")
def write_files(res: CoverageResult, directory: str | Path, formats=("csv", "xlsx"), lang: str | None = None, *,
                parallel: bool = False, workbook=None) -> list[Path]:
    """Write ``summary.json`` and the tables of ``res`` in each format into ``directory``, all of them or none
    (:func:`clsm_geo.io.output_set`); an output that would overwrite the registry or the QPV file is refused
    first. Returns the paths.

    ``csv``: one file per table (dialect: ``settings.csv_dialect``); ``xlsx``: ``coverage.xlsx``, the
    workbook for people in ``lang`` (:func:`clsm_geo.workbook.write_workbook`). ``parallel``: write the
    workbook in a child process while this one writes the other files (:mod:`clsm_geo._worker`: Linux, two
    cores or more; the same bytes either way). ``workbook``: that child, started earlier by
    :func:`start_workbook` in ``lang`` (cancelled when ``formats`` has no ``xlsx``).
    """
    job = workbook
    try:
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            from .errors import InputError

            raise InputError(i18n.tn("engine.coverage.unknown_formats", len(unknown), formats=", ".join(unknown)),
                             hint=i18n.t("engine.coverage.formats_hint", choices=", ".join(FORMATS)))
        out = Path(directory)
        _io.check_outputs([out / name for name in file_names(formats)], res.input_paths(), folders=[out])
        code = i18n.get_lang(lang)
        if job is not None and "xlsx" not in formats:
            job.cancel()
            job = None
        if job is None and "xlsx" in formats and parallel:  # the longest file, in a child started before the
            job = start_workbook(code)                         # small tables exist
        if job is not None:
            if not job.sent:  # the QPV layer's columns, unless sent before the engine ran (send_layer)
                send_layer(job, res.qpv_layer)
            job.send(_early(res))
        summary, tables = res.summary, _tables(res)  # while the child writes the QPV sheet
        if job is not None:
            job.send(_later(res, code))
        with _io.output_set(out) as stage:
            written = _write_tables(res, summary, tables, stage, formats, job, code)
    except BaseException:
        if job is not None:
            job.cancel()  # before the staging folder is removed: nothing is written into it afterwards
        raise
    return [out / p.name for p in written]


def _tables(res: CoverageResult) -> dict[str, pd.DataFrame]:
    """The tables of the CSV files (name -> frame); the workbook (:func:`clsm_geo.workbook.coverage_tables`)
    reads the same tables, cached on ``res``."""
    tables = {"qpv": res.qpv_table, "councils": res.councils_table[COUNCIL_COLUMNS],
              "regions": res.regions, "departments": res.departments}
    if res.reconciliation is not None:
        tables["reconciliation"] = res.reconciliation
    if res.out_of_scope is not None and len(res.out_of_scope):
        tables["out_of_scope"] = res.out_of_scope
    return tables


def _write_tables(res: CoverageResult, summary: dict, tables: dict, stage: Path, formats, job,
                  lang: str) -> list[Path]:
    """The files of :func:`write_files` in ``stage``; the workbook's bytes come from ``job`` (a child writing
    it) or are made here."""
    written = [_io.write_json(summary, stage / "summary.json")]
    if "csv" in formats:
        written += [_io.write_csv(t, stage / f"{name}.csv") for name, t in tables.items()]
    if "xlsx" in formats:
        data = job.result() if job is not None else _workbook(res, lang)
        written.append(_io.write_bytes(data, stage / "coverage.xlsx"))
    if "geojson" in formats:
        written.append(_io.write_geojson(res.qpv, stage / "qpv.geojson"))
        written.append(_io.write_geojson(res.councils, stage / "councils.geojson"))
    if "parquet" in formats:
        written.append(_io.write_parquet(_lists_to_text(res.qpv), stage / "qpv.parquet"))
        written.append(_io.write_parquet(_lists_to_text(res.councils), stage / "councils.parquet"))
    return written


def _early(res: CoverageResult) -> dict:
    """What the workbook's child receives first: the order of the tables of
    :func:`clsm_geo.workbook.coverage_tables` and those ready after the engine (the QPV table first)."""
    from .workbook import coverage_tables

    tables = coverage_tables(res, later=True)
    return {"order": list(tables), "tables": {name: t for name, t in tables.items() if not callable(t)}}


def _later(res: CoverageResult, lang: str) -> dict:
    """The workbook's tables computed after the engine (:data:`clsm_geo.workbook.LATER`) and its sources:
    what the workbook's child receives next."""
    from .workbook import coverage_tables

    return {**{name: table() for name, table in coverage_tables(res, later=True).items() if callable(table)},
            "sources": res.sources_for(lang)}


def _workbook(res: CoverageResult, lang: str) -> bytes:
    """The bytes of ``coverage.xlsx`` made here, as the child makes them (:func:`_book`)."""
    return _book(lang, _Tables(res, lang))


class _Tables:
    """:func:`_book`'s inbox in this process: the QPV layer's columns, :func:`_early`, then :func:`_later`, each
    computed when asked for."""

    def __init__(self, res: CoverageResult, lang: str):
        self._res, self._lang, self._asked = res, lang, 0

    def get(self) -> dict:
        self._asked += 1
        if self._asked == 1:
            return _layer_part(self._res.qpv_layer)
        return _early(self._res) if self._asked == 2 else _later(self._res, self._lang)


@_gc.pausing  # a cell object per value, none in a reference cycle: collections would only walk them
def _book(lang: str, inbox) -> bytes:
    """The bytes of ``coverage.xlsx``, the tables taken from ``inbox`` (a child started before they were
    computed, or :class:`_Tables`; same bytes either way) as they come: the QPV layer's own columns of the QPV
    sheet (:func:`send_layer`: a child writes them while its parent runs the engine), the engine's columns and
    the tables of :func:`_early`, then those of :func:`_later` (:class:`clsm_geo.workbook.Filling`)."""
    import io

    from .workbook import COVERAGE_SHEETS, Filling, prepare

    prepare(lang)  # in a child started early: while its parent runs the engine
    layer = inbox.get()["qpv_layer"]
    buffer = io.BytesIO()
    book = Filling(buffer, lang)
    try:
        sheets = {name: book.sheet(name) for name in COVERAGE_SHEETS}
        qpv = book.start(sheets["qpv"], QPV_COLUMNS)
        qpv.columns(layer, QPV_LAYER_COLUMNS)
        first = inbox.get()
        table = first["tables"]["qpv"]
        if tuple(first["order"][:len(COVERAGE_SHEETS)]) != COVERAGE_SHEETS or list(table.columns) != QPV_COLUMNS \
                or not table[QPV_LAYER_COLUMNS].equals(layer):
            raise RuntimeError("the coverage workbook's tables are not those of the QPV layer written first")
        qpv.columns(table, [c for c in QPV_COLUMNS if c not in QPV_LAYER_COLUMNS])
        qpv.finish(len(table))
        for name in first["order"][len(COVERAGE_SHEETS):]:  # the reconciliation, the QPV out of scope
            sheets[name] = book.sheet(name)
        last = book.sheet("sources")
        for name in first["order"][len(COVERAGE_SHEETS):]:
            book.write(sheets[name], first["tables"][name])
        later = inbox.get()
        for name in COVERAGE_SHEETS:
            if name != "qpv":
                book.write(sheets[name], later[name])
        book.sources(last, later["sources"])
    finally:
        book.close()
    return buffer.getvalue()


def _lists_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Tuples (codes, council ids) as ``;``-separated text, for Parquet readers that want flat columns."""
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].map(lambda v: isinstance(v, tuple)).any():
            out[col] = out[col].map(lambda v: ";".join(map(str, v)) if isinstance(v, tuple) else v)
    return out
