"""Commune codes across COG vintages: map any code valid in an earlier COG to the communes of a shipped year.

    from clsm_geo.codes import resolve_communes
    resolve_communes(["01340", "75108", "1053"], 2024)

Resolution, in this order, for each code (stripped; 4-digit codes get their lost leading zero back):

* ``current``: a commune of the year;
* ``arrondissement``: an arrondissement municipal of Paris, Lyon or Marseille -> the city (``insee_arm`` keeps it);
* ``deleguee`` / ``associee``: a commune déléguée / associée of the year -> its parent commune;
* ``merged`` / ``changed``: a code of an older vintage (COG 2019-2023, or an old code recorded by INSEE in
  ``anciensCodes``) that is no longer a commune, followed through later vintages (``data/boundaries/
  code_history.parquet``, built by ``scripts/build_boundaries.py``); ``changed`` is a plain change of code
  (same name, new code), ``merged`` everything else (merger, commune nouvelle, suppressed déléguée);
* ``unknown``: none of these (an error with ``strict=True``).
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from clsm_geo.errors import CodeResolutionError, DataSourceError, InputError

__all__ = ["HOW", "resolve_communes", "normalise_code"]

#: Values of the ``how`` column.
HOW: tuple[str, ...] = ("current", "arrondissement", "deleguee", "associee", "merged", "changed", "unknown")
_COLUMNS = ["code", "insee_com", "insee_arm", "how", "detail"]
_KIND_TEXT = {"commune": "commune", "deleguee": "commune déléguée", "associee": "commune associée"}


def _geo_module():
    import importlib

    return importlib.import_module("clsm_geo.geography")


def normalise_code(value) -> tuple[str, bool]:
    """``(code, padded)``: the code stripped and upper-cased, with a lost leading zero restored.

    ``1053``, ``"1053"`` and ``"1053.0"`` (a spreadsheet number) become ``"01053"`` with ``padded=True``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", False
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        text = str(value).strip().upper()
        if text.endswith(".0") and text[:-2].isdigit():
            text = text[:-2]
    if len(text) == 4 and text.isdigit():
        return "0" + text, True
    return text, False


class _Tables:
    """Lookup dictionaries of one year: code -> list of (insee_com, insee_arm, how, detail)."""

    def __init__(self, year: int, communes: pd.DataFrame, arrondissements: pd.DataFrame, former: pd.DataFrame,
                 history: pd.DataFrame):
        self.year = year
        self.names: dict[str, str] = dict(zip(communes["insee_com"], communes["lib_com"]))
        self.by_dep: dict[str, list[str]] = {}
        for code, dep in zip(communes["insee_com"], communes["insee_dep"]):
            self.by_dep.setdefault(dep, []).append(code)
        self.old_names: dict[str, str] = {}
        table: dict[str, list[tuple]] = {}
        cog = f"COG {year}"
        for code, name in self.names.items():
            table[code] = [(code, None, "current", f"{code} {name} is a commune of {cog}")]
        for arm, name, city in zip(arrondissements["insee_arm"], arrondissements["lib_arm"], arrondissements["insee_com"]):
            table.setdefault(arm, [(city, arm, "arrondissement",
                                    f"{arm} {name} is an arrondissement municipal of {city} {self.names[city]}")])
            self.old_names[arm] = name
        for code, name, kind, parent in zip(former["code"], former["name"], former["kind"], former["insee_com"]):
            self.old_names.setdefault(code, name)
            if code in table:
                continue
            table[code] = [(parent, None, kind,
                            f"{code} {name} is a {_KIND_TEXT[kind]} of {parent} {self.names[parent]} ({cog})")]
        hist = history[history["target_year"] == year]
        for code, name, kind, last, dest, how in zip(hist["code"], hist["name"], hist["kind"], hist["last_year"],
                                                     hist["insee_com"], hist["how"]):
            if code in table and table[code][0][2] not in ("merged", "changed"):
                continue
            label = f"{code} {name}" if isinstance(name, str) and name else code
            if isinstance(name, str) and name:
                self.old_names.setdefault(code, name)
            target = f"{dest} {self.names[dest]}"
            if kind == "ancien":
                when = "before COG 2019 (old code recorded by INSEE)"
            elif kind == "commune":
                when = f"after COG {int(last)}"
            else:
                when = f"after COG {int(last)}, where it was a {_KIND_TEXT[kind]}"
            if how == "changed":
                text = f"{label} changed code to {target} {when}"
            else:
                text = f"{label} merged into {target} {when}"
            table.setdefault(code, []).append((dest, None, how, text))
        self.table = table

    def candidates(self, code: str, name: str | None = None, n: int = 5) -> list[tuple[str, str]]:
        """Close valid codes of the same department (by code, then by name when given)."""
        dep = code[:3] if code.startswith("97") else code[:2]
        pool = self.by_dep.get(dep) or list(self.names)
        found: list[str] = []
        if name:
            key = _norm(name)
            normed = {_norm(self.names[c]): c for c in pool}
            for match in difflib.get_close_matches(key, list(normed), n=n, cutoff=0.6):
                found.append(normed[match])
        if len(code) == 5:
            scored = sorted(pool, key=lambda c: (_code_distance(code, c), c))
            found += [c for c in scored[:n] if _code_distance(code, c) <= 2]
        out, seen = [], set()
        for c in found:
            if c not in seen:
                seen.add(c)
                out.append((c, self.names[c]))
        return out[:n]


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    s = "".join(ch if ch.isalnum() else " " for ch in s)
    return " ".join(s.replace("saint ", "st ").replace("sainte ", "ste ").split())


def _code_distance(a: str, b: str) -> int:
    """Hamming distance, plus 1 for an adjacent transposition counted as one edit."""
    if len(a) != len(b):
        return 99
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
        return 1
    return len(diff)


@functools.lru_cache(maxsize=4)
def _history() -> pd.DataFrame:
    geo = _geo_module()
    folder = geo.boundaries_dir()
    table = geo._read_table("code_history.parquet")
    df = table.to_pandas()
    expected = ["target_year", "code", "name", "kind", "last_year", "insee_com", "how", "method"]
    if list(df.columns) != expected:
        raise DataSourceError(f"{folder / 'code_history.parquet'} has unexpected columns {list(df.columns)}.")
    return df


@functools.lru_cache(maxsize=4)
def _tables_for_year(year: int) -> _Tables:
    geo = _geo_module()
    communes = geo.read_layer("communes", year, ["insee_com", "lib_com", "insee_dep"])
    arm = geo.read_layer("arrondissements", year, ["insee_arm", "lib_arm", "insee_com"])
    former = geo.read_layer("former_communes", year)
    return _Tables(year, communes, arm, former, _history())


def _tables(year: int, geography=None) -> _Tables:
    if geography is not None:
        return _tables_for_year(int(geography.year))
    if int(year) not in _geo_module().SHIPPED_YEARS:
        raise InputError(
            f"No shipped geography for COG {year}; shipped years: {', '.join(map(str, _geo_module().SHIPPED_YEARS))}."
        )
    return _tables_for_year(int(year))


def resolve_communes(
    codes: Iterable,
    year: int = 2024,
    *,
    names: Iterable | Mapping | None = None,
    strict: bool = True,
    geography=None,
) -> pd.DataFrame:
    """Map commune codes of any vintage (2019 onwards, and older codes known to INSEE) to the communes of ``year``.

    Returns one row per (input code, target commune), in input order: ``code`` (as given, stripped),
    ``insee_com`` (commune of ``year``; the city for an arrondissement), ``insee_arm`` (the arrondissement
    code, else None), ``how`` (see :data:`HOW`) and ``detail`` (a sentence for people).

    ``names``: commune names aligned with ``codes`` (or a mapping code -> name), used to suggest candidates
    for unknown codes. ``strict=True`` raises :class:`CodeResolutionError` on the first unknown code (its
    ``candidates`` list close valid codes); ``strict=False`` returns it with ``how='unknown'``.
    ``geography``: a :class:`clsm_geo.geography.Geography`, whose year then replaces ``year``.
    """
    if isinstance(codes, (str, bytes)) or not isinstance(codes, Iterable):
        codes = [codes]
    given = list(codes)
    if names is None:
        name_of = [None] * len(given)
    elif isinstance(names, Mapping):
        name_of = [names.get(c) for c in given]
    else:
        name_of = list(names)
        if len(name_of) != len(given):
            raise InputError(f"names has {len(name_of)} values for {len(given)} codes; they must be aligned.")
    t = _tables(year, geography)
    out_code, out_com, out_arm, out_how, out_detail = [], [], [], [], []
    cache: dict = {}
    for raw, name in zip(given, name_of):
        shown = "" if raw is None else (str(raw).strip() if not isinstance(raw, (int, np.integer)) else str(raw))
        key = (shown, name)
        rows = cache.get(key)
        if rows is None:
            code, padded = normalise_code(raw)
            rows = t.table.get(code)
            if rows is None:
                cands = t.candidates(code, name if isinstance(name, str) else None)
                listed = ", ".join(f"{c} {n}" for c, n in cands) or "none found"
                if strict:
                    raise CodeResolutionError(
                        f"Unknown commune code {shown!r} (COG {t.year} and earlier vintages). "
                        f"Close valid codes: {listed}.",
                        code=shown,
                        candidates=cands,
                        hint="check the code against the INSEE COG, or pass strict=False to keep it as 'unknown'",
                    )
                rows = [(None, None, "unknown", f"{shown!r} is not a commune code known in COG {t.year} or "
                                                f"earlier vintages; close valid codes: {listed}")]
            elif padded:
                rows = [(c, a, h, f"{d} (given as {shown!r}: leading zero restored)") for c, a, h, d in rows]
            cache[key] = rows
        for com, arm, how, detail in rows:
            out_code.append(shown)
            out_com.append(com)
            out_arm.append(arm)
            out_how.append(how)
            out_detail.append(detail)
    return pd.DataFrame(
        {
            "code": pd.Series(out_code, dtype=object),
            "insee_com": pd.Series(out_com, dtype=object),
            "insee_arm": pd.Series(out_arm, dtype=object),
            "how": pd.Series(out_how, dtype=object),
            "detail": pd.Series(out_detail, dtype=object),
        },
        columns=_COLUMNS,
    )
