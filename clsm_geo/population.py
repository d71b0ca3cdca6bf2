"""INSEE populations of the QPV (``pop_QPV24.csv`` for the 2024 geography, the 2015 populations for 2015).

:func:`read_population` reads one file into ``code_qp, population`` (municipal population, persons);
:func:`population_for` gives the population of every QPV of a layer, NaN where no file covers it (never 0).
Files come from the user (``--population PATH``) or the cache (``clsm-geo data fetch --population 2024
--from PATH``, keys ``population2024`` / ``population2015``).

Formats: CSV (``;`` or ``,``, UTF-8 with or without BOM, or Windows-1252; ``="…"`` cells; title lines
above the header are skipped) and XLSX (first sheet, header found in the first 20 rows). Columns are
matched case-insensitively: the QPV code (``code_qp``, ``codeqpv``, ``code_qpv``, ``qp``, ``codgeo``…)
and the population (``pop_mun``, ``popmuniqpv``, ``pmun``, ``population``, ``pop``…; commune
populations such as ``pop_com`` are never taken). Secret or missing values (``s``, ``nd``, empty) stay
unknown (NaN).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import settings as _settings
from .errors import DataSourceError, InputError, located
from .i18n import t

CODE_ALIASES = ("code_qp", "codeqp", "code_qpv", "codeqpv", "cod_qp", "code_quartier", "qp", "qpv", "codgeo",
                "code")
POP_ALIASES = ("pop_mun", "popmuniqpv", "pop_muni", "pmun", "pop_municipale", "population_municipale",
               "population", "pop_qp", "popqp", "pop")
_QPV_RE = re.compile(r"^Q[NP](\d{3}|02[AB])\d{2,3}[A-Z]?$")
_MISSING = {"", "s", "nd", "na", "nan", "n/a", "-", "x", "c"}
GEOGRAPHIES = (2015, 2024)


class PopulationWarning(UserWarning):
    """Something in a population file was ignored (unknown code, secret value)."""


@dataclass(frozen=True)
class QpvPopulation:
    """Population per row of a QPV frame (``values``, NaN = unknown) and where it comes from."""

    values: np.ndarray
    sources: tuple = ()  # dicts: geography, location, sha256, rows
    missing: tuple = ()  # geographies of the layer with no population file
    unmatched: tuple = field(default=())  # QPV codes of the layer absent from the files given

    @property
    def available(self) -> bool:
        return bool(self.sources)


def _fail(file, message, *, row=None, column=None, hint=None):
    raise InputError(t("data.at", where=located(file, row, column), message=message), hint=hint)


def _pick(columns, aliases, exclude=()) -> str | None:
    lower = {str(c).strip().lstrip("\ufeff").lower(): c for c in columns}
    for alias in aliases:
        if alias in lower:
            return lower[alias]
    for name, col in lower.items():  # e.g. POP_MUN_2020, p20_pop
        if any(x in name for x in exclude):
            continue
        if any(name.startswith(a) or name.endswith(a) for a in aliases if len(a) > 3):
            return col
    return None


def _table(path: Path, file: str) -> pd.DataFrame:
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        try:
            sheet = pd.read_excel(io.BytesIO(raw), header=None, dtype=str, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many classes
            _fail(file, t("data.population.unreadable_workbook", error=f"{type(exc).__name__}: {exc}"))
        rows = sheet.fillna("").astype(str).values.tolist()
    else:
        from .io import decode_text

        text = decode_text(raw)
        if text is None:
            _fail(file, t("data.population.not_text"))
        lines = text.splitlines()
        head = next((ln for ln in lines if ln.count(";") + ln.count(",") + ln.count("\t") > 0), "")
        sep = max((";", ",", "\t"), key=head.count)
        text = re.sub(r'(?:(?<=^)|(?<=[;,\t]))="([^"]*)"(?=[;,\t\r\n]|$)', r'"\1"', text, flags=re.M)
        import csv

        rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    for i, row in enumerate(rows[:20]):
        if _pick(row, CODE_ALIASES) is not None and _pick(row, POP_ALIASES, ("com", "part", "taux", "pct")):
            header = [str(c).strip().lstrip("\ufeff") for c in row]
            body = [r + [""] * (len(header) - len(r)) for r in rows[i + 1:] if any(str(v).strip() for v in r)]
            frame = pd.DataFrame([r[:len(header)] for r in body], columns=header, dtype=object)
            frame.attrs["first_row"] = i + 2
            return frame
    _fail(file, t("data.population.no_header"), hint=t("data.population.no_header_hint"))


def _number(value) -> float:
    text = str(value).strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if text.lower() in _MISSING:
        return float("nan")
    return float(text)


def read_population(path: str | Path, *, label: str | None = None) -> tuple[pd.DataFrame, int]:
    """Read an INSEE QPV population file. Returns (``code_qp, population`` sorted by code, geography).

    The geography (2015 or 2024) is that of the codes (``QP…`` / ``QN…``); a file mixing both is an error.
    """
    path = Path(path)
    file = label or str(path)
    if not path.is_file():
        _fail(file, t("data.population.not_found"))
    frame = _table(path, file)
    code_col = _pick(frame.columns, CODE_ALIASES)
    pop_col = _pick(frame.columns, POP_ALIASES, ("com", "part", "taux", "pct"))
    first = frame.attrs.get("first_row", 2)
    codes, pops = [], []
    for i, (code, pop) in enumerate(zip(frame[code_col], frame[pop_col]), start=first):
        code = str(code).strip().lstrip("=").strip('"').upper()
        if not _QPV_RE.match(code):
            _fail(file, t("data.population.not_a_code", code=repr(code)), row=i, column=code_col)
        try:
            value = _number(pop)
        except ValueError:
            _fail(file, t("data.population.not_a_population", value=repr(pop)), row=i, column=pop_col)
        if value < 0:
            _fail(file, t("data.population.negative", value=f"{value:g}"), row=i, column=pop_col)
        codes.append(code)
        pops.append(value)
    out = pd.DataFrame({"code_qp": codes, "population": np.array(pops, dtype=float)})
    dup = out["code_qp"][out["code_qp"].duplicated()].unique().tolist()
    if dup:
        _fail(file, t("data.population.twice", codes=", ".join(dup[:5])), column=code_col)
    if out.empty:
        _fail(file, t("data.population.no_row"))
    kinds = {c[:2] for c in out["code_qp"]}
    if len(kinds) > 1:
        _fail(file, t("data.population.mixed"), column=code_col)
    geography = 2024 if kinds == {"QN"} else 2015
    return out.sort_values("code_qp", ignore_index=True), geography


def _normalise_sources(population) -> list:
    if population is None:
        return []
    if isinstance(population, dict):
        return [v for _, v in sorted(population.items()) if v is not None]
    if isinstance(population, (list, tuple)):
        return [v for v in population if v is not None]
    return [population]


def _cached(settings) -> list[tuple[Path, dict]]:
    try:
        from .cache import cache_get
    except ImportError:
        return []
    out = []
    for g in GEOGRAPHIES:
        entry = cache_get(f"population{g}", settings=settings)
        if entry is not None:
            out.append((Path(entry.path), {"location": str(entry.source), "sha256": entry.sha256}))
    return out


def population_for(frame: pd.DataFrame, population=None, *, settings=None) -> QpvPopulation:
    """Population of each QPV of ``frame`` (a normalised QPV frame), NaN where unknown.

    ``population``: a path, a list of paths, ``{geography: path}``, or a DataFrame ``code_qp, population``;
    None = the cached files. Codes of the files absent from the frame are ignored.
    """
    from .io import file_sha256

    s = settings or _settings.get()
    given = _normalise_sources(population)
    found: dict[str, float] = {}
    sources = []
    items = [(p, None) for p in given] if given else _cached(s)
    for item, meta in items:
        if isinstance(item, pd.DataFrame):
            table = item[["code_qp", "population"]]
            geography = 2024 if table["code_qp"].astype(str).str.startswith("QN").all() else 2015
            meta = {"location": "DataFrame", "sha256": None}
        else:
            table, geography = read_population(item)
            meta = meta or {"location": str(item), "sha256": file_sha256(Path(item))}
        found.update(zip(table["code_qp"], table["population"].astype(float)))
        sources.append({"geography": geography, **meta, "rows": len(table)})
    codes = frame["code_qp"].astype(str).tolist()
    have = {src["geography"] for src in sources}
    layer_geos = {2024 if c.startswith("QN") else 2015 for c in set(codes)}
    if not sources:  # no population file: every value unknown, none unmatched
        values, unmatched = np.full(len(codes), np.nan), ()
    else:
        values = np.array([found.get(c, np.nan) for c in codes], dtype=float)
        unmatched = tuple(c for c in codes if c not in found and (2024 if c.startswith("QN") else 2015) in have)
    return QpvPopulation(values=values, sources=tuple(sources), missing=tuple(sorted(layer_geos - have)),
                         unmatched=unmatched)


def fetch_population(geography: int, source, *, settings=None):
    """Copy or download an INSEE population file into the cache under ``population{geography}``.

    The file is read (and its codes checked against ``geography``) before it replaces the cache entry.
    """
    from .cache import cache_put

    s = settings or _settings.get()
    if geography not in GEOGRAPHIES:
        raise InputError(t("data.population.unknown_geography", geography=repr(geography)))
    text = str(source)
    is_url = bool(re.match(r"^https?://", text, flags=re.I))
    if not is_url and not Path(text).expanduser().is_file():
        raise InputError(t("data.population.file_not_found", path=text))

    def validate(path) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, g = read_population(Path(path), label=text)
        except InputError as exc:
            if is_url:
                raise DataSourceError(t("data.population.not_usable", path=text, error=exc.message),
                                      hint=t("data.qpv.cache_unchanged")) from exc
            raise
        if g != geography:
            raise InputError(t("data.population.other_geography", path=text, found=g, geography=geography),
                             hint=t("data.population.other_geography_hint", found=g))

    meta = {"geography": geography, ("url" if is_url else "path"): text}
    return cache_put(f"population{geography}", text if is_url else Path(text).expanduser(), meta=meta,
                     validate=validate, settings=s)
