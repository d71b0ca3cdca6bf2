"""Read the councils' registry (CSV, XLSX, GeoJSON, GeoPackage) into one validated table.

Schema (one row per council; column names are matched without case or accents, French aliases accepted):

=========  ========  =====================================================================
column     required  content
=========  ========  =====================================================================
id         yes       unique identifier of the council
name       yes       council name
status     yes       ``actif`` / ``en_projet`` / ``en_sommeil`` / ``ferme`` (or active, in project,
                     dormant, closed; any case, accents optional)
created    active    creation year (``2019``; a date such as ``2019-05-12`` is accepted with a warning)
communes   *         INSEE codes of communes or PLM arrondissements, separated by ``;``
epci       *         SIREN codes of whole EPCI, separated by ``;``
closed     no        year the council closed or went dormant
region     no        region code or name, informative
notes      no        free text
geometry   *         GeoJSON/GeoPackage only: a council's own (e.g. infra-communal) perimeter
=========  ========  =====================================================================

``*`` a council needs at least one of communes, epci or geometry (in project councils may have none yet).

This module checks the file and each cell's syntax. Whether codes exist in a COG year is checked
by :mod:`clsm_geo.perimeters`; :func:`clsm_geo.validation.validate` runs both.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _gc, _progress
from ._arrow import text_bytes
from .errors import InputError, Problem, RegistryError
from .i18n import t, tn

STATUSES = ("active", "in_project", "dormant", "closed")
#: The French spelling of each status (what messages propose).
_STATUS_FR = {"active": "actif", "in_project": "en_projet", "dormant": "en_sommeil", "closed": "ferme"}
_STATUS_ALIASES = {
    "actif": "active", "active": "active", "en activite": "active", "en_activite": "active",
    "en_projet": "in_project", "en projet": "in_project", "projet": "in_project",
    "in_project": "in_project", "in project": "in_project", "project": "in_project", "planned": "in_project",
    "en_sommeil": "dormant", "en sommeil": "dormant", "sommeil": "dormant", "dormant": "dormant",
    "inactive": "dormant", "inactif": "dormant",
    "ferme": "closed", "closed": "closed", "clos": "closed", "dissous": "closed",
}
_COLUMN_ALIASES = {
    "id": ("id", "identifiant", "code", "id_clsm", "code_clsm"),
    "name": ("name", "nom", "libelle", "nom_clsm", "intitule"),
    "status": ("status", "statut", "etat"),
    "created": ("created", "creation", "annee_creation", "annee", "year_created", "date_creation"),
    "communes": ("communes", "commune", "insee_com", "codes_communes", "codes_insee"),
    "epci": ("epci", "siren_epci", "siren", "epcis"),
    "closed": ("closed", "fermeture", "annee_fermeture", "date_fermeture", "ferme_en"),
    "region": ("region", "insee_reg", "reg"),
    "notes": ("notes", "note", "commentaire", "commentaires", "remarques"),
}
REQUIRED = ("id", "name", "status")
CODE_SEPARATORS = re.compile(r"[;,|\n\r\t]+")
MIN_YEAR, MAX_YEAR = 1990, 2100
_YEAR = re.compile(r"^\s*(\d{4})(?:\.0+)?\s*$")
_DATE = re.compile(r"^\s*(?:(\d{4})-\d{1,2}-\d{1,2}(?:[ T].*)?|\d{1,2}/\d{1,2}/(\d{4}))\s*$")
_COMMUNE_CODE = re.compile(r"^(?:\d{4,5}|2[AB]\d{3})$", re.IGNORECASE)
_SIREN = re.compile(r"^\d{9}$")


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Lower case, no accents, spaces and dashes as underscores."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@dataclass(frozen=True)
class CodeLists:
    """A column of code tuples flattened: ``tuples`` (the column's tuples, a list), ``lengths`` (codes per council),
    ``codes`` (positions in ``distinct``, council by council, each cell's codes in order) and ``distinct``
    (each code once, in order of first appearance)."""

    tuples: list[tuple]
    lengths: np.ndarray
    codes: np.ndarray
    distinct: list[str]


@dataclass(frozen=True)
class Registry:
    """A registry read from ``source``.

    ``councils`` has one row per council, columns ``id, name, status`` (canonical English),
    ``created`` and ``closed`` (nullable Int64 years), ``communes`` and ``epci`` (tuples of codes as
    written, leading zeros restored), ``region``, ``notes``, ``row`` (the row number a spreadsheet
    shows, header = 1) and ``geometry`` (shapely or None, EPSG:4326).
    ``problems`` holds the warnings found while reading (errors raise :class:`RegistryError`).
    ``headers``: the column code (``created``) -> the header as written in the file (``Année de création``).
    Every problem about a cell names the file's header, so that the user finds the cell.
    """

    councils: pd.DataFrame
    source: str
    problems: tuple[Problem, ...] = field(default=())
    headers: dict[str, str] = field(default_factory=dict)
    _code_lists: dict[str, CodeLists] = field(default_factory=dict, repr=False, compare=False)

    def code_lists(self, column: str) -> CodeLists | None:
        """The codes of ``column`` (``communes`` or ``epci``) flattened as the reader found them, or None when it
        did not keep them (a row with a problem) or when ``councils[column]`` no longer holds the tuples read
        (changed, filtered or reordered since): then the tuples themselves are the codes."""
        lists = self._code_lists.get(column)
        if lists is None or column not in self.councils.columns:
            return None
        try:  # equal tuples hold the same codes; the very tuples read compare by identity, in C
            same = self.councils[column].to_numpy().tolist() == lists.tuples
        except (TypeError, ValueError):  # a cell whose comparison is not a truth value (an array)
            same = False
        return lists if same is True else None

    def in_file_columns(self, problems) -> list[Problem]:
        """``problems`` with the columns of their cells named as in the file (see :func:`in_file_columns`)."""
        return in_file_columns(problems, self.headers)

    def __len__(self) -> int:
        return len(self.councils)


def in_file_columns(problems, headers: dict[str, str]) -> list[Problem]:
    """``problems`` whose column is a column code (``created``) named by the file's header instead
    (``Année de création``, from ``headers``); problems of the header row (row 1: a missing or unknown
    column) and of the whole file are left as they are."""
    return [replace(p, column=headers[p.column]) if p.row is not None and p.row > 1 and p.column in headers
            and headers[p.column] != p.column else p for p in problems]


@_progress.stepped("registry")
@_gc.pausing
def read_registry(path: str | Path, *, strict: bool = True) -> Registry:
    """Read and check a registry file. Raises :class:`RegistryError` listing every error.

    With ``strict=False`` errors are kept in ``Registry.problems`` and offending rows are dropped,
    which is what the validation report uses.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(t("registry.file.not_found", path=path), hint=t("registry.file.not_found_hint"))
    cells, header_row = _read_table(path)
    problems: list[Problem] = []
    columns = _map_columns(cells.columns, name, problems)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        found = ", ".join(map(str, cells.columns)) or "-"
        raise RegistryError(
            tn("registry.column.missing", len(missing), name=name, columns=", ".join(missing)),
            [Problem("error", name, 1, c, None, t("registry.column.missing_message", column=c, found=found),
                     _rename_hint(c, cells.columns, columns)) for c in missing],
        )
    if not any(c in columns for c in ("communes", "epci")) and cells.geometry is None:
        problems.append(Problem("error", name, 1, "communes", None, t("registry.column.no_perimeter"),
                                _rename_hint("communes", cells.columns, columns)
                                or t("registry.column.no_perimeter_fix")))
    blank = cells.blank_rows()  # blank lines (e.g. the template's prepared rows) are not councils
    if blank.any():
        cells = cells.take(~blank)
    councils, code_lists = _parse_cells(cells, header_row, columns, name, problems)
    councils = _check_duplicates(councils, name, problems)
    from .validation import character_problems

    problems.extend(character_problems(councils, name))
    councils["created"] = councils["created"].astype("Int64")
    councils["closed"] = councils["closed"].astype("Int64")
    problems = in_file_columns(problems, columns)
    errors = [p for p in problems if p.severity == "error"]
    if errors and strict:
        raise RegistryError(tn("registry.file.errors", len(errors), name=name), problems,
                            hint=t("registry.file.errors_hint", path=path))
    if errors:  # strict=False: the rows with an error are left out
        bad_rows = {p.row for p in errors}
        councils = councils[~councils["row"].isin(bad_rows)].reset_index(drop=True)
    return Registry(councils=councils, source=str(path), problems=tuple(problems), headers=dict(columns),
                    _code_lists=code_lists)


# --- file formats -------------------------------------------------------------------------------------

#: The characters ``str.strip()`` removes (Python's whitespace), for Arrow's trim to strip exactly the same.
_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@dataclass(frozen=True)
class _Cells:
    """A registry file's body as read: every cell as stripped text, one Arrow string array per column.

    ``columns``: the headers in file order (``geometry`` included for geographic files); ``texts``: the cells
    of every column but ``geometry``; ``geometry``: shapely values or None (EPSG:4326), None without that
    column; ``index``: each row's position in the file's body (0 = the line after the header).
    """

    columns: list[str]
    texts: dict[str, pa.Array]
    geometry: list | None
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def blank_rows(self) -> np.ndarray:
        """True for the rows whose every cell is blank (and geometry missing or empty)."""
        blank = np.ones(len(self), dtype=bool)
        for values in self.texts.values():
            blank &= pc.equal(values, "").to_numpy(zero_copy_only=False)
        if self.geometry is not None:
            blank &= np.fromiter((g is None or getattr(g, "is_empty", False) for g in self.geometry),
                                 dtype=bool, count=len(self))
        return blank

    def take(self, keep: np.ndarray) -> _Cells:
        """The rows where ``keep`` (booleans) is true."""
        mask = pa.array(keep)
        geometry = (None if self.geometry is None else
                    [g for g, k in zip(self.geometry, keep.tolist()) if k])
        return _Cells(self.columns, {c: v.filter(mask) for c, v in self.texts.items()}, geometry, self.index[keep])

    def records(self, positions: np.ndarray) -> list[dict]:
        """The rows at ``positions`` as ``{header: cell}`` dicts (geometry included), for :func:`_parse_row`."""
        picked = pa.array(positions, type=pa.int64())
        records = pa.table({c: v.take(picked) for c, v in self.texts.items()}).to_pylist() if self.texts else \
            [{} for _ in positions]
        if self.geometry is not None:
            for record, i in zip(records, positions.tolist()):
                record["geometry"] = self.geometry[i]
        return records


def _cells_of_frame(frame: pd.DataFrame) -> _Cells:
    """The cells of a table read by pandas (a spreadsheet, a geographic file), stripped as :func:`_text` does."""
    texts = {col: pa.array(_text(frame[col]), type=pa.string()) for col in frame.columns if col != "geometry"}
    geometry = frame["geometry"].tolist() if "geometry" in frame.columns else None
    return _Cells(list(frame.columns), texts, geometry, np.arange(len(frame)))


def _read_table(path: Path) -> tuple[_Cells, int]:
    """The file's cells and the row number of its header line."""
    suffix = path.suffix.lower()
    header_row = 1
    try:
        if suffix in (".xlsx", ".xlsm"):
            from .registry_template import registry_sheet

            sheet = registry_sheet(path)  # the template's registry sheet (checked), else the first sheet
            frame = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False, engine="openpyxl")
            header, rows = list(frame.columns), frame
        elif suffix in (".geojson", ".gpkg", ".json", ".shp", ".fgb"):
            frame = _read_geo(path)
            header, rows = list(frame.columns), frame
        else:
            (header, rows), header_row = _read_csv(path)
    except (InputError, RegistryError):
        raise
    except Exception as exc:  # any parser failure becomes a clear message about the file
        raise InputError(t("registry.file.unreadable", name=path.name, error=f"{type(exc).__name__}: {exc}"),
                         hint=t("registry.file.unreadable_hint")) from None
    header = [str(c).strip() for c in header]
    if len(set(header)) < len(header):
        dup = sorted({c for k, c in enumerate(header) if c in header[:k]})
        raise RegistryError(tn("registry.file.duplicated", len(dup), name=path.name, columns=", ".join(dup)),
                            [Problem("error", path.name, 1, c, None, t("registry.file.duplicated_message"),
                                     t("registry.file.duplicated_fix")) for c in dup])
    if isinstance(rows, pd.DataFrame):
        rows.columns = header
        cells = _cells_of_frame(rows)
    else:  # a CSV file's columns, header order
        cells = _Cells(header, dict(zip(header, rows)), None, np.arange(len(rows[0]) if rows else 0))
    if not len(cells) or not header:
        raise RegistryError(t("registry.file.no_rows", name=path.name),
                            [Problem("error", path.name, None, None, None, t("registry.file.no_rows_message"),
                                     t("registry.file.no_rows_fix"))])
    return cells, header_row


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return data.decode("utf-16")
        if b"\x00" in data[:4096]:
            raise InputError(t("registry.file.not_text", name=name), hint=t("registry.file.not_text_hint"))
        from .validation import nul_problem

        problem = nul_problem(data, name)
        raise RegistryError(f"{name}: {problem.message}", [problem])
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _read_csv(path: Path) -> tuple[tuple[list[str], list[pa.Array]], int]:
    """CSV in UTF-8 (with or without BOM), cp1252 or Latin-1, separated by ``;``, ``,`` or tab.

    Leading lines starting with ``#`` are comments (e.g. a notice that the file is an example).
    Returns the header, each column's cells stripped (Arrow strings), and the header's row number.
    """
    text, comments = _body(_decode(path.read_bytes(), path.name))
    if not text.strip():
        raise RegistryError(t("registry.file.empty", name=path.name),
                            [Problem("error", path.name, None, None, None, t("registry.file.empty_message"),
                                     t("registry.file.empty_fix"))])
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    sep = max(counts, key=counts.get)
    if counts[sep] == 0:
        sep = ","
    fast = _read_csv_arrow(text, sep) if '"' not in text else None
    if fast is None:
        fast = _read_csv_module(text.replace("\r\n", "\n") if "\r\n" in text else text, sep, path.name, comments)
    return fast, comments + 1


#: Line breaks of ``str.splitlines`` other than ``\\n`` and ``\\r`` (a carriage return alone: :data:`_LONE_CR`).
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LONE_CR = re.compile(r"\r(?!\n)")


def _body(text: str) -> tuple[str, int]:
    """The lines of ``text`` after its leading comment lines (``#``), and how many comment lines there were.
    Lines break where ``str.splitlines`` breaks them (as a spreadsheet does). A text whose only line breaks are
    ``\\n`` or ``\\r\\n`` keeps them (Arrow reads ``\\r\\n``, the csv module's path gets them replaced; no copy of a
    large file is made for Arrow); any other is split into lines joined by ``\\n``."""
    crlf = "\r\n" in text
    if (_LONE_CR.search(text) if crlf else "\r" in text) or any(b in text for b in _OTHER_BREAKS):
        lines = text.splitlines()
        comments = 0
        while comments < len(lines) and lines[comments].lstrip().startswith("#"):
            comments += 1
        return "\n".join(lines[comments:]), comments
    start, comments = 0, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if not text[start:end].lstrip().startswith("#"):
            break
        comments, start = comments + 1, end + 1
    for ending in ("\r\n", "\n"):
        if text.endswith(ending) and len(text) - len(ending) >= start:
            return text[start:len(text) - len(ending)], comments
    return text[start:], comments


def _read_csv_module(text: str, sep: str, name: str, comments: int) -> tuple[list[str], list[pa.Array]]:
    """The header and stripped columns of ``text`` read by the csv module (quotes, lines of another width).

    A blank line is a row of empty cells (dropped later; rows keep their numbers); a line with more cells
    than the header whose extra cells are all blank loses them; any other line of the wrong width is an error
    naming its line (``comments``: the lines before the header)."""
    records = list(csv.reader(io.StringIO(text), delimiter=sep))
    columns = [c.strip() for c in records[0]]
    if all(len(cells) == len(columns) for cells in records[1:]):  # the usual case: nothing to repair
        return _columns_of_records(columns, records[1:])
    body, problems = [], []
    for offset, cells in enumerate(records[1:], start=comments + 2):
        if not any(c.strip() for c in cells):  # kept (dropped later) so that rows keep their numbers
            body.append([""] * len(columns))
            continue
        if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns):]):
            cells = cells[:len(columns)]
        if len(cells) != len(columns):
            problems.append(Problem("error", name, offset, None, sep.join(cells)[:80],
                                    t("registry.file.malformed_message", cells=len(cells), header=len(columns),
                                      sep=repr(sep)),
                                    t("registry.file.malformed_fix", sep=repr(sep))))
            continue
        body.append(cells)
    if problems:
        raise RegistryError(tn("registry.file.malformed", len(problems), name=name), problems)
    return _columns_of_records(columns, body)


def _columns_of_records(header: list[str], body: list[list[str]]) -> tuple[list[str], list[pa.Array]]:
    """The header and each column's cells, stripped, from the rows the csv module read."""
    columns = list(zip(*body)) if body else [() for _ in header]
    return header, [pa.array(list(map(str.strip, column)), type=pa.string()) for column in columns]


def _read_csv_arrow(text: str, sep: str) -> tuple[list[str], list[pa.Array]] | None:
    """The header and stripped columns of ``text`` (no quote character in it) read by Arrow's CSV reader, or None
    when Arrow refuses a line (e.g. one with another number of cells) or the header has a single cell: then
    :func:`_read_csv_module` reads, repairs or reports it.

    Without quotes both readers split lines on ``\\n`` or ``\\r\\n`` and cells on ``sep`` alone, and both read a
    blank line as a row of empty cells, so they read the same cells (``tests/test_registry_columns.py``).
    """
    from pyarrow import csv as pa_csv

    width = text[:text.find("\n") if "\n" in text else len(text)].count(sep) + 1
    if width < 2:  # a blank line is then a row to Arrow and none to the csv module
        return None
    data = text.encode("utf-8")
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),  # in parallel blocks from 1 MiB (Arrow's block size; below, one block: no thread)
            read_options=pa_csv.ReadOptions(autogenerate_column_names=True, use_threads=len(data) > 1 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=sep, quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(width)},
                                                  null_values=[], strings_can_be_null=False))
    except pa.ArrowException:
        return None
    if table.num_columns != width:
        return None
    header = [c.strip() for c in table.slice(0, 1).to_pylist()[0].values()] if table.num_rows else []
    body = table.slice(1)
    return header, [pc.utf8_trim(column.combine_chunks(), _WHITESPACE) for column in body.columns]


def _read_geo(path: Path) -> pd.DataFrame:
    import pyogrio

    frame = pyogrio.read_dataframe(path)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    out = pd.DataFrame(frame.drop(columns="geometry"))
    for col in out.columns:
        out[col] = out[col].map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    out["geometry"] = list(frame.geometry.values)
    return out


# --- columns and cells --------------------------------------------------------------------------------

def _map_columns(headers: list[str], name: str, problems: list[Problem]) -> dict[str, str]:
    """Each column code found -> the file's header for it; a warning for every header that is none."""
    from .registry_template import column_aliases

    folded = {_fold(c): c for c in headers}
    template = column_aliases()  # the headers of the registry template, in every language
    mapping: dict[str, str] = {}
    for canonical, aliases in _COLUMN_ALIASES.items():
        for alias in (*aliases, *map(_fold, template.get(canonical, ()))):
            if alias in folded:
                mapping[canonical] = folded[alias]
                break
    known = set(mapping.values()) | {"geometry"}
    listed = ", ".join(_COLUMN_ALIASES)
    for col in headers:
        if col not in known:
            guess = _closest_column(col, exclude=mapping)
            problems.append(Problem("warning", name, 1, col, None, t("registry.column.unknown"),
                                    t("registry.column.did_you_mean", column=guess, known=listed) if guess
                                    else t("registry.column.known", known=listed)))
    return mapping


def _closest_column(column: str, exclude=()) -> str | None:
    """The canonical column whose name or alias is closest to ``column`` (not one already found)."""
    from .suggest import closest

    aliases = {alias: canonical for canonical, names in _COLUMN_ALIASES.items() if canonical not in exclude
               for alias in names}
    found = closest(column, aliases)
    return aliases[found] if found else None


def _rename_hint(column: str, found, mapping) -> str:
    """'rename X to column' when an unknown column of the file is close to the missing ``column``."""
    for col in found:
        if col not in mapping.values() and _closest_column(col, exclude=mapping) == column:
            return t("registry.column.rename", found=col, column=column)
    return t("registry.column.missing_fix")


def _cell(record: dict, columns: dict[str, str], key: str) -> str:
    col = columns.get(key)
    if col is None:
        return ""
    value = record[col]
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()


def parse_year(value: str) -> tuple[int | None, str | None]:
    """``(year, note)`` from a cell: ``2019``, ``2019.0`` or a date. ``(None, reason)`` when unreadable."""
    if value == "":
        return None, None
    match = _YEAR.match(value)
    note = None
    if not match:
        date = _DATE.match(value)
        if not date:
            return None, t("registry.cell.not_a_year")
        year = int(date.group(1) or date.group(2))
        note = t("registry.cell.date_given", year=year)
    else:
        year = int(match.group(1))
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None, t("registry.cell.year_range", first=MIN_YEAR, last=MAX_YEAR)
    return year, note


def split_codes(value: str) -> list[str]:
    """Split a cell of codes on ``;`` (also ``,``, ``|``, newlines), dropping blanks and inner spaces."""
    return ["".join(part.split()) for part in CODE_SEPARATORS.split(value) if part.strip()]


def _parse_row(record, row, columns, name, problems) -> dict:
    """Parse one council; ``row`` is its line number as a spreadsheet shows it."""
    def add(severity, column, value, message, suggestion=None):
        problems.append(Problem(severity, name, row, column, value, message, suggestion))

    council_id = _cell(record, columns, "id")
    if not council_id:
        add("error", "id", "", t("registry.cell.missing_id"), t("registry.cell.missing_id_fix"))
    council_name = _cell(record, columns, "name")
    if not council_name:
        add("error", "name", "", t("registry.cell.missing_name"), t("registry.cell.missing_name_fix"))
    status_text = _cell(record, columns, "status")
    status = _STATUS_ALIASES.get(_fold(status_text).replace("_", " ")) or _STATUS_ALIASES.get(_fold(status_text))
    if status is None:
        add("error", "status", status_text, t("registry.cell.unknown_status"), _status_hint(status_text))

    years, bad_year = {}, {}
    for key in ("created", "closed"):
        text = _cell(record, columns, key)
        year, note = parse_year(text)
        bad_year[key] = bool(text) and year is None
        if bad_year[key]:
            add("error", key, text, t("registry.cell.bad_year", reason=note), t("registry.cell.bad_year_fix"))
        elif note:
            add("warning", key, text, note)
        years[key] = year
    if status == "active" and years["created"] is None and not bad_year["created"]:
        add("error", "created", "", t("registry.cell.created_needed"), t("registry.cell.created_needed_fix"))
    if years["created"] and years["closed"] and years["closed"] < years["created"]:
        add("error", "closed", str(years["closed"]), t("registry.cell.closed_before"), t("registry.cell.closed_before_fix"))
    if status in ("dormant", "closed") and years["closed"] is None:
        add("warning", "closed", "", t("registry.cell.no_closed_year", status=t(f"status.council.{_STATUS_FR[status]}")),
            t("registry.cell.no_closed_year_fix"))
    if status == "active" and years["closed"] is not None:
        add("warning", "closed", str(years["closed"]), t("cli.validate.active_closed"),
            t("cli.validate.active_closed_fix"))
    this_year = datetime.date.today().year
    if years["closed"] is not None and years["closed"] > this_year:
        add("warning", "closed", str(years["closed"]),
            t("cli.validate.closed_future", closed=years["closed"], today=this_year), t("cli.validate.closed_future_fix"))

    region_text = _cell(record, columns, "region")
    if region_text:
        unknown = _region_problem(region_text)
        if unknown:
            add("warning", "region", region_text, *unknown)
    communes = _codes(record, columns, "communes", _COMMUNE_CODE, 5, add)
    epci = _codes(record, columns, "epci", _SIREN, 9, add)
    geometry = record.get("geometry")
    if geometry is not None and getattr(geometry, "is_empty", True):
        geometry = None
    nothing_given = not _cell(record, columns, "communes") and not _cell(record, columns, "epci")
    if nothing_given and geometry is None and status in ("active", "dormant", "closed"):
        add("error", "communes", "", t("registry.cell.no_perimeter"), t("registry.cell.no_perimeter_fix"))
    return {"id": council_id, "name": council_name, "status": status, "created": years["created"],
            "closed": years["closed"], "communes": tuple(communes), "epci": tuple(epci),
            "region": _cell(record, columns, "region"), "notes": _cell(record, columns, "notes"),
            "row": row, "geometry": geometry}


#: Output columns of :func:`_parse_rows`, in order.
_COUNCIL_COLUMNS = ("id", "name", "status", "created", "closed", "communes", "epci", "region", "notes", "row",
                    "geometry")
#: A cell of codes that :func:`_codes` takes as written, with no problem: codes already in their final form
#: (five characters for communes, nine digits for EPCI), one separator between two codes.
_CLEAN_CELL = {
    "communes": re.compile(r"(?:\d{5}|2[AB]\d{3})(?:[ \t]*[;,|][ \t]*(?:\d{5}|2[AB]\d{3}))*"),
    "epci": re.compile(r"\d{9}(?:[ \t]*[;,|][ \t]*\d{9})*"),
}
_CLEAN_SPLIT = re.compile(r"[ \t]*[;,|][ \t]*")


def _text(values: pd.Series) -> list[str]:
    """Cells as stripped text, as :func:`_cell` reads them (missing values are empty)."""
    cells = values.tolist()
    try:
        return list(map(str.strip, cells))  # a CSV file: every cell is text, stripped in one C loop
    except TypeError:  # a missing value or a number (spreadsheets, geographic files)
        pass
    return [v.strip() if type(v) is str else
            "" if v is None or (isinstance(v, float) and v != v) else str(v).strip() for v in cells]


def _parse_rows(raw: pd.DataFrame, header_row: int, columns: dict[str, str], name: str,
                problems: list[Problem]) -> pd.DataFrame:
    """:func:`_parse_cells` on a table read by pandas (its index: each row's position in the file's body)."""
    cells = _cells_of_frame(raw)
    return _parse_cells(replace(cells, index=raw.index.to_numpy()), header_row, columns, name, problems)[0]


def _parse_cells(cells: _Cells, header_row: int, columns: dict[str, str], name: str,
                 problems: list[Problem]) -> tuple[pd.DataFrame, dict[str, CodeLists]]:
    """Parse every council; the same table and problems as :func:`_parse_row` on each row, in row order; and,
    when no row raises a problem, the ``communes`` and ``epci`` columns flattened (:class:`CodeLists`).

    Rows that raise no problem are recognised and parsed column by column, in Arrow and NumPy (each distinct
    status, year or region cell is read once); the others (usually few) go through :func:`_parse_row`, which
    writes their problems. Only such rows have problems, so the problems come out in row order.
    """
    n = len(cells)
    text = {key: cells.texts[columns[key]] if key in columns else pa.repeat(pa.scalar("", pa.string()), n)
            for key in ("id", "name", "status", "created", "closed", "region", "notes", "communes", "epci")}
    statuses, status_at = _distinct(text["status"], _status_of_text)  # each distinct cell read and compared once

    def status_is(*values) -> np.ndarray:
        return np.isin(statuses, values)[status_at]
    created, created_missing, created_bad = _years(text["created"])
    closed, closed_missing, closed_bad = _years(text["closed"])
    region_clean = _per_distinct(text["region"], _region_is_clean).astype(bool)
    geometry = ([None if g is None or getattr(g, "is_empty", True) else g for g in cells.geometry]
                if cells.geometry is not None else [None] * n)
    communes, communes_clean, communes_given, communes_flat = _clean_codes(text["communes"], "communes")
    epci, epci_clean, epci_given, epci_flat = _clean_codes(text["epci"], "epci")
    this_year = datetime.date.today().year
    active, in_project = status_is("active"), status_is("in_project")
    clean = (pc.not_equal(text["id"], "").to_numpy(zero_copy_only=False)
             & pc.not_equal(text["name"], "").to_numpy(zero_copy_only=False)
             & (np.asarray(statuses != None, dtype=bool)[status_at]) & ~created_bad & ~closed_bad  # noqa: E711
             & ~(active & (created_missing | ~closed_missing))
             & ~(status_is("dormant", "closed") & closed_missing)
             & (closed_missing | ((closed <= this_year) & (created_missing | (closed >= created))))
             & region_clean & communes_clean & epci_clean
             & (in_project | communes_given | epci_given
                | (np.fromiter((g is not None for g in geometry), bool, n) if cells.geometry is not None else False)))
    rows = cells.index + header_row + 1
    if clean.all():
        lists = {"communes": communes_flat, "epci": epci_flat}
        return pd.DataFrame({
            "id": pd.array(text["id"], dtype="str"), "name": pd.array(text["name"], dtype="str"),
            "status": pd.array(pa.array(statuses.tolist(), pa.string()).take(status_at), dtype="str"),
            "created": pd.arrays.IntegerArray(created, created_missing | created_bad),
            "closed": pd.arrays.IntegerArray(closed, closed_missing | closed_bad),
            "communes": communes, "epci": epci,
            "region": pd.array(text["region"], dtype="str"), "notes": pd.array(text["notes"], dtype="str"),
            "row": rows.astype(np.int64), "geometry": geometry,
        }, columns=list(_COUNCIL_COLUMNS), copy=False), {key: flat for key, flat in lists.items() if flat is not None}
    table = {
        "id": text["id"].to_pylist(), "name": text["name"].to_pylist(), "status": statuses[status_at].tolist(),
        "created": [int(v) if not (m or b) else None
                    for v, m, b in zip(created.tolist(), created_missing.tolist(), created_bad.tolist())],
        "closed": [int(v) if not (m or b) else None
                   for v, m, b in zip(closed.tolist(), closed_missing.tolist(), closed_bad.tolist())],
        "communes": communes, "epci": epci, "region": text["region"].to_pylist(), "notes": text["notes"].to_pylist(),
        "row": rows.tolist(), "geometry": geometry,
    }
    slow = np.flatnonzero(~clean)
    for position, record in zip(slow.tolist(), cells.records(slow)):
        parsed = _parse_row(record, int(rows[position]), columns, name, problems)
        for key in _COUNCIL_COLUMNS:
            table[key][position] = parsed[key]
    frame = pd.DataFrame(table, columns=list(_COUNCIL_COLUMNS))
    frame["created"] = pd.array(table["created"], dtype="Int64")
    frame["closed"] = pd.array(table["closed"], dtype="Int64")
    return frame, {}


def _per_distinct(values: pa.Array, fn) -> np.ndarray:
    """``fn`` of every cell (an object array), computed once per distinct cell."""
    distinct, indices = _distinct(values, fn)
    return distinct[indices]


def _distinct(values: pa.Array, fn) -> tuple[np.ndarray, np.ndarray]:
    """``fn`` of each distinct cell (an object array) and each cell's position among them."""
    encoded = pc.dictionary_encode(values)
    distinct = np.empty(len(encoded.dictionary), dtype=object)
    distinct[:] = [fn(v) for v in encoded.dictionary.to_pylist()]
    return distinct, encoded.indices.to_numpy(zero_copy_only=False)


def _years(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each cell's year (0 where none), whether it is empty, whether it raises a problem (see :func:`_clean_year`)."""
    years, at = _distinct(values, _clean_year)
    missing = years == None  # noqa: E711 (element-wise)
    bad = np.fromiter((v is False for v in years), bool, len(years))
    return np.where(missing | bad, 0, years).astype(np.int64)[at], missing[at], bad[at]


@functools.lru_cache(maxsize=256)
def _status_of_text(text: str) -> str | None:
    """The canonical status of a cell, None when unknown (as :func:`_parse_row` reads it)."""
    return _STATUS_ALIASES.get(_fold(text).replace("_", " ")) or _STATUS_ALIASES.get(_fold(text))


@functools.lru_cache(maxsize=1024)
def _clean_year(text: str) -> int | bool | None:
    """The year of a cell that raises no problem, None for an empty cell, False otherwise."""
    if text == "":
        return None
    match = _YEAR.match(text)
    if not match:
        return False
    year = int(match.group(1))
    return year if MIN_YEAR <= year <= MAX_YEAR else False


@functools.lru_cache(maxsize=1024)
def _region_is_clean(text: str) -> bool:
    return not text or _region_problem(text) is None


#: :data:`_CLEAN_CELL` for Arrow (RE2, where ``\\d`` is an ASCII digit: stricter than Python's, so a cell it
#: refuses only goes through :func:`_parse_row`, which decides).
_ARROW_CLEAN_CELL = {key: f"^(?:{pattern.pattern})$" for key, pattern in _CLEAN_CELL.items()}


def _clean_codes(values: pa.Array, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, CodeLists | None]:
    """Each cell's codes (an object array of tuples) as :func:`_codes` reads a cell that raises no problem
    (``()`` for an empty cell), whether the cell raises none (codes already in their final form, one separator
    between two, none twice), whether it is not empty, and the codes flattened (:class:`CodeLists`; None when
    a cell raises a problem)."""
    n = len(values)
    given = pc.not_equal(values, "").to_numpy(zero_copy_only=False)
    well_formed = given & pc.match_substring_regex(values, _ARROW_CLEAN_CELL[key]).to_numpy(zero_copy_only=False)
    clean = ~given | well_formed
    out = np.empty(n, dtype=object)
    out.fill(())
    at = np.flatnonzero(well_formed)
    if not len(at):
        flat = (CodeLists(out.tolist(), np.zeros(n, dtype=np.int64), np.empty(0, dtype=np.int64), []) if clean.all()
                else None)
        return out, clean, given, flat
    cells = values.filter(pa.array(well_formed))
    if _has_any(cells, (" ", "\t", ",", "|")):  # another separator than ";" (one search of the text per character)
        cells = pc.replace_substring_regex(cells, _CLEAN_SPLIT.pattern, ";")
    lists = pc.split_pattern(cells, ";")
    encoded = pc.dictionary_encode(pc.list_flatten(lists))
    code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    cell = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    pairs = np.sort(cell * (int(code.max()) + 1) + code)
    twice = pairs[1:][pairs[1:] == pairs[:-1]] // (int(code.max()) + 1)  # cells listing a code twice
    clean[at[twice]] = False
    out[at] = np.fromiter(map(tuple, map(str.split, cells.to_pylist(), itertools.repeat(";"))), dtype=object,
                          count=len(at))
    if not clean.all():
        return out, clean, given, None
    lengths = np.zeros(n, dtype=np.int64)
    lengths[at] = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    return out, clean, given, CodeLists(out.tolist(), lengths, code, encoded.dictionary.to_pylist())


def _has_any(values: pa.Array, characters: tuple[str, ...]) -> bool:
    """Whether a cell of ``values`` (Arrow strings) holds one of the (ASCII) ``characters``: a search of the
    array's character data (:func:`clsm_geo._arrow.text_bytes`), without a value per cell."""
    text = text_bytes(values)
    return any(c.encode("ascii") in text for c in characters)


def _status_hint(text: str) -> str:
    """'did you mean actif?' for a typo (rapidfuzz over every accepted spelling), else the list."""
    from .suggest import closest

    found = closest(text, _STATUS_ALIASES) if text else None
    if found is None:
        return t("registry.cell.status_list")
    return t("registry.cell.status_fix", status=_STATUS_FR[_STATUS_ALIASES[found]])


def _region_problem(text: str) -> tuple[str, str | None] | None:
    """None when the (informative) region cell is a region code or name, else the message and the closest."""
    from .territories import region

    try:
        region(text)
    except InputError as exc:
        return exc.message, exc.hint
    return None


def _bad_code(key: str, code: str, width: int) -> tuple[str, str]:
    """Message and suggestion for a cell that is not a code: a commune or EPCI name gets its codes."""
    from .suggest import commune_codes, epci_codes

    default = (t("registry.cell.bad_code", kind="SIREN" if width == 9 else "INSEE"),
               t("registry.cell.bad_code_fix", width=width))
    if not re.search(r"[^\W\d_]", code):  # no letter: a mistyped code
        return default
    exact, codes = (commune_codes if key == "communes" else epci_codes)(code)
    if not codes:
        return default
    listed = ", ".join(codes)
    if not exact:
        return default[0], t("registry.cell.closest_names", codes=listed)
    kind = "commune_name" if key == "communes" else "epci_name"
    return t(f"registry.cell.{kind}"), tn(f"registry.cell.{kind}_fix", len(codes), codes=listed)


def _codes(record, columns, key, pattern, width, add) -> list[str]:
    text = _cell(record, columns, key)
    out: list[str] = []
    seen: set[str] = set()
    for written in (part.strip() for part in CODE_SEPARATORS.split(text) if part.strip()):
        code = re.sub(r"\s+", "", written)
        code = code.upper() if code[:2].upper() in ("2A", "2B") else code
        if code.endswith(".0"):
            code = code[:-2]
        can_pad = width == 5 and code.isdigit() and len(code) == 4
        if not pattern.match(code) and not can_pad:
            add("error", key, written, *_bad_code(key, written, width))
            continue
        if can_pad:
            padded = code.zfill(width)
            add("warning", key, code, t("registry.cell.zero_restored", code=padded))
            code = padded
        if code in seen:
            add("warning", key, code, t("registry.cell.listed_twice"))
            continue
        seen.add(code)
        out.append(code)
    return out


def _check_duplicates(councils: pd.DataFrame, name: str, problems: list[Problem]) -> pd.DataFrame:
    """An error on every row whose id was already used by an earlier row (blank ids are reported elsewhere)."""
    ids = councils["id"]
    given = ids.ne("")
    repeated = given & ids.duplicated()
    if not repeated.any():
        return councils
    first = councils.loc[given & ~repeated].set_index("id")["row"].to_dict()
    for council_id, row in zip(ids[repeated], councils["row"][repeated]):
        problems.append(Problem("error", name, int(row), "id", council_id,
                                t("registry.cell.duplicate_id", first=int(first[council_id])),
                                t("registry.cell.duplicate_id_fix")))
    return councils
