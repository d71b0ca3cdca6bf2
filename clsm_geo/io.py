"""Writing outputs: atomically (temporary file, then rename), deterministically, formula-safe, cleaned.

Every file clsm_geo writes goes through :func:`atomic_path`: a crash or an error never leaves a
partial file behind, and an existing file is replaced only once the new one is complete. A command
writing several files does it inside :func:`output_set` (all of them or none) after
:func:`check_outputs` has made sure no output overwrites an input; an OS error while writing is an
:class:`~clsm_geo.errors.OutputError` naming the path (see :mod:`clsm_geo._outputs`).
Tables are sorted by the caller; here we fix everything else that could vary between runs
(float formatting, JSON key order, line endings, GeoJSON/Parquet metadata). Every text going into a
workbook (:func:`clean_for_xlsx`), Markdown (:func:`escape_markdown`) or GeoJSON (:func:`clean_text`)
is cleaned for that format; HTML pages use :func:`html.escape`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ._outputs import check_outputs, clean_leftovers, leftovers, os_error, output_set, temp_prefix, writing
from .i18n import t

__all__ = ["atomic_path", "check_outputs", "clean_for_xlsx", "clean_leftovers", "clean_text", "escape_markdown",
           "file_sha256", "leftovers", "neutralise_formula", "os_error", "output_set", "write_csv", "write_geojson",
           "write_json", "write_parquet", "write_xlsx", "writing"]

#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    An OS error (permissions, full disk, a folder where the file should be...) is an
    :class:`~clsm_geo.errors.OutputError` naming ``path``; temporary files left by a killed run in
    that folder are removed.
    """
    target = Path(path)
    with writing(target):
        if target.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=target.parent)
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        with writing(target):
            yield tmp_path
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
            os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()


def decode_text(raw: bytes) -> str | None:
    """``raw`` as text: UTF-8 (with or without BOM), else Windows-1252 (French spreadsheets); None if neither."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def neutralise_formula(value):
    """Prefix a text cell with ``'`` when a spreadsheet would read it as a formula.

    Plain negative numbers written as text (``-12.5``) are left alone.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        if value[0] in "+-":
            with contextlib.suppress(ValueError):
                float(value)
                return value
        return "'" + value
    return value


class OutputWarning(UserWarning):
    """An output had to be changed to fit its format (e.g. a text cut in a workbook)."""


#: Longest text a spreadsheet cell holds (Excel, LibreOffice).
XLSX_MAX_CELL = 32_767
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]()<>!|~#&])")
_MD_SCHEME_RE = re.compile(r"(?i)\b(javascript|vbscript|data|file)\s*:")


def clean_text(value):
    """``value`` without control characters (tab, newline and carriage return kept); non-texts unchanged."""
    if isinstance(value, str):
        return _CONTROL_RE.sub("", value)
    return value


#: Characters a workbook cannot hold: the C0 controls except tab, newline and carriage return (the same set as
#: openpyxl's ``ILLEGAL_CHARACTERS_RE``; ``tests/test_workbook.py`` compares them), without importing openpyxl.
_XLSX_ILLEGAL_RE = re.compile(r"[\000-\010\013\014\016-\037]")


def clean_for_xlsx(value, where: str | None = None):
    """A text a workbook accepts: no control characters (openpyxl's ``ILLEGAL_CHARACTERS_RE``), at most
    :data:`XLSX_MAX_CELL` characters, a longer one cut with a visible marker and an :class:`OutputWarning`
    naming ``where``. Non-texts are returned unchanged."""
    if not isinstance(value, str):
        return value
    value = _XLSX_ILLEGAL_RE.sub("", value)
    if len(value) > XLSX_MAX_CELL:
        marker = t("io.clean.marker")
        warnings.warn(t("io.clean.cut", where=where or "?", n=len(value), limit=XLSX_MAX_CELL), OutputWarning,
                      stacklevel=2)
        value = value[: XLSX_MAX_CELL - len(marker)] + marker
    return value


def escape_markdown(value) -> str:
    """``value`` as literal Markdown text: markup characters backslash-escaped (no HTML, link, image or
    emphasis can form), line breaks turned into spaces, control characters removed and
    ``javascript:``-like schemes broken."""
    text = "" if value is None else str(value)
    text = clean_text(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    text = _MD_SPECIAL_RE.sub(r"\\\1", text)
    return _MD_SCHEME_RE.sub(lambda m: f"{m.group(1)}\\:", text)


_LISTS = (list, tuple, set, frozenset)


def _safe_text(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`neutralise_formula` on every text column; a column with no cell to change is left as it is."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            if any(isinstance(v, str) and v.startswith(FORMULA_PREFIXES) for v in out[col].tolist()):
                out[col] = out[col].map(neutralise_formula)
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop geometry and turn list/tuple cells into ``;``-separated text (text, number and boolean columns
    cannot hold them: not looked at)."""
    out = pd.DataFrame(frame.drop(columns=[c for c in ("geometry",) if c in frame.columns]))
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.StringDtype) or pd.api.types.is_numeric_dtype(series) \
                or pd.api.types.is_bool_dtype(series):
            continue
        if any(isinstance(v, _LISTS) for v in series.tolist()):
            out[col] = out[col].map(
                lambda v: ";".join(sorted(map(str, v)) if isinstance(v, (set, frozenset)) else map(str, v))
                if isinstance(v, _LISTS) else v
            )
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, dialect: str | None = None) -> Path:
    """A table as CSV, formula-safe, floats with up to 6 significant digits; returns the path.

    ``dialect`` (default: ``settings.get().csv_dialect``, the global ``--csv-dialect``):

    * ``rfc4180``: UTF-8 without BOM, ``,`` separator, decimal point, ``\\n`` line endings (for scripts);
    * ``excel-fr``: what a double-click opens right in French Excel: UTF-8 with BOM, ``;`` separator,
      decimal comma, CRLF line endings, and the codes of code columns (:data:`clsm_geo.columns.CODE_COLUMNS`)
      that Excel would read as numbers (``01053``, ``200046977``) written ``="01053"``, shown as text
      (``2A004``, ``QN00101M`` or a list ``01053;01054`` stay text by themselves). Column names and status
      codes are the same in both.

    :func:`read_output_csv` reads either back.
    """
    from . import settings as _settings

    dialect = dialect or _settings.get().csv_dialect
    if dialect not in _settings.CSV_DIALECTS:
        from .errors import InputError
        from .i18n import t

        raise InputError(t("engine.coverage.csv_dialect", dialect=repr(dialect)),
                         hint=t("engine.coverage.choose", choices=", ".join(_settings.CSV_DIALECTS)))
    out = _safe_text(_plain(frame))
    options = {"lineterminator": "\n", "encoding": "utf-8"}
    if dialect == "excel-fr":
        from .columns import CODE_COLUMNS

        for col in out.columns:
            if col in CODE_COLUMNS:
                out[col] = out[col].map(_excel_text)
        options = {"sep": ";", "decimal": ",", "lineterminator": "\r\n", "encoding": "utf-8-sig"}
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, float_format="%.6g", **options)
    return Path(path)


#: Values a spreadsheet would turn into a number or a date (``01053`` -> 1053, ``200046977`` -> 2.00E+08).
_NUMBER_LIKE = re.compile(r"[0-9][0-9 .,:/+\-eE]*")


def _excel_text(value):
    """A single code a spreadsheet would read as a number or a date, as ``="01053"``: shown as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _NUMBER_LIKE.fullmatch(value):
        return '="' + value + '"'
    return value


def read_output_csv(path: str | os.PathLike) -> pd.DataFrame:
    """A table written by :func:`write_csv` in either dialect (``excel-fr`` is told by its BOM), codes as text."""
    from .columns import CODE_COLUMNS

    with open(path, "rb") as fh:
        excel = fh.read(3) == b"\xef\xbb\xbf"
    options = ({"sep": ";", "decimal": ",", "encoding": "utf-8-sig"} if excel else {"sep": ",", "encoding": "utf-8"})
    header = pd.read_csv(path, nrows=0, **options)
    codes = [c for c in header.columns if c in CODE_COLUMNS]
    frame = pd.read_csv(path, dtype={c: str for c in codes}, **options)
    if excel:
        for col in codes:
            frame[col] = frame[col].str.replace(_EXCEL_TEXT, lambda m: m.group(1).replace('""', '"'), regex=True)
    return frame


_EXCEL_TEXT = re.compile(r'^="(.*)"$', re.DOTALL)


def write_xlsx(frames: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """One plain sheet per frame (machine column names), formula-safe, with fixed document properties so reruns
    are identical. Workbooks for people: :func:`clsm_geo.workbook.write_workbook`."""
    with atomic_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            wb = writer.book
            fixed = pd.Timestamp("2000-01-01").to_pydatetime()
            wb.properties.created = fixed
            wb.properties.modified = fixed
            wb.properties.creator = "clsm-geo"
            for name, frame in frames.items():
                _xlsx_text(_safe_text(_plain(frame)), name).to_excel(writer, sheet_name=name[:31], index=False)
        fix_xlsx_times(tmp)
    return Path(path)


def fix_xlsx_times(path: Path) -> None:
    """openpyxl stamps the zip members and docProps/core.xml with the current time: fix both (same bytes on
    rerun). ``path`` is rewritten in place, through a sibling file removed on failure."""
    import zipfile

    fixed_zip = path.with_name(path.name + ".fixed")
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(fixed_zip, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename == "docProps/core.xml":
                    data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
                info.date_time = (2000, 1, 1, 0, 0, 0)
                dst.writestr(info, data)
        os.replace(fixed_zip, path)
    finally:
        if fixed_zip.exists():
            fixed_zip.unlink()


def _xlsx_text(frame: pd.DataFrame, sheet: str) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [clean_for_xlsx(str(c), sheet) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = [clean_for_xlsx(v, f"{sheet}, {col}, row {i + 2}") for i, v in enumerate(out[col])]
    return out


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """``data`` as the file ``path``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(obj, path: str | os.PathLike) -> Path:
    """Pretty, key-sorted UTF-8 JSON with a final newline."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_geojson(frame, path: str | os.PathLike, *, precision: int = 6) -> Path:
    """GeoJSON in WGS84 with list cells joined by ``;`` and coordinates rounded to ``precision`` decimals."""
    import geopandas as gpd

    plain = _plain(frame)
    for col in plain.columns:
        if plain[col].dtype == object or pd.api.types.is_string_dtype(plain[col]):
            plain[col] = plain[col].map(clean_text)
    gdf = gpd.GeoDataFrame(plain, geometry=frame.geometry.values, crs=frame.crs).to_crs(4326)
    text = gdf.to_json(drop_id=True, na="null", show_bbox=False, to_wgs84=False)
    data = json.loads(text)
    _round_coords(data, precision)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return Path(path)


def _round_coords(node, precision: int) -> None:
    if isinstance(node, dict):
        if "coordinates" in node:
            node["coordinates"] = _round_nested(node["coordinates"], precision)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _round_coords(value, precision)
    elif isinstance(node, list):
        for item in node:
            _round_coords(item, precision)


def _round_nested(value, precision: int):
    if isinstance(value, (list, tuple)):
        return [_round_nested(v, precision) for v in value]
    return round(float(value), precision)


def write_parquet(frame, path: str | os.PathLike) -> Path:
    """(Geo)Parquet, zstd-compressed, list cells kept as lists, no pandas index."""
    import geopandas as gpd

    with atomic_path(path) as tmp:
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_parquet(tmp, index=False, compression="zstd", write_covering_bbox=False)
        else:
            frame.to_parquet(tmp, index=False, compression="zstd")
    return Path(path)
