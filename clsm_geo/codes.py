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

from clsm_geo import i18n
from clsm_geo.errors import CodeResolutionError, DataSourceError, InputError

__all__ = ["HOW", "resolve_communes", "normalise_code"]

#: Values of the ``how`` column.
HOW: tuple[str, ...] = ("current", "arrondissement", "deleguee", "associee", "merged", "changed", "unknown")
_COLUMNS = ["code", "insee_com", "insee_arm", "how", "detail"]


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
    """Lookup dictionaries of one year. A commune of the year is found in ``names``; every other known code in
    ``table``: code -> list of (insee_com, insee_arm, how, detail key, detail values). The sentences for
    people are written only for the codes asked (:func:`_detail`), in the language in force."""

    def __init__(self, year: int, names: dict[str, str], deps, arrondissements: pd.DataFrame,
                 former: pd.DataFrame, history: pd.DataFrame):
        """``deps``: a function returning the department of each commune of ``names``, in its order (read only
        when a suggestion needs it)."""
        self.year = year
        self.names = names  # the geography's own dictionary (Geography.commune_names), never modified here
        self._deps = deps
        self.old_names: dict[str, str] = {}
        table: dict[str, list[tuple]] = {}
        for arm, name, city in zip(*(arrondissements[c].tolist() for c in ("insee_arm", "lib_arm", "insee_com"))):
            if arm not in self.names:
                table.setdefault(arm, [(city, arm, "arrondissement", "arrondissement",
                                        {"code": arm, "name": name, "city": city, "city_name": self.names[city]})])
            self.old_names[arm] = name
        for code, name, kind, parent in zip(*(former[c].tolist() for c in ("code", "name", "kind", "insee_com"))):
            self.old_names.setdefault(code, name)
            if code in table or code in self.names:
                continue
            table[code] = [(parent, None, kind, "former", {"code": code, "name": name, "kind": kind, "parent": parent,
                                                           "parent_name": self.names[parent], "year": year})]
        hist = history[history["target_year"] == year]
        for code, name, kind, last, dest, how in zip(*(hist[c].tolist() for c in ("code", "name", "kind", "last_year",
                                                                              "insee_com", "how"))):
            if code in self.names or (code in table and table[code][0][2] not in ("merged", "changed")):
                continue
            if isinstance(name, str) and name:
                self.old_names.setdefault(code, name)
            label = f"{code} {name}" if isinstance(name, str) and name else code
            when = ("ancien", {}) if kind == "ancien" else (
                ("commune", {"last": int(last)}) if kind == "commune" else ("kind", {"last": int(last), "kind": kind}))
            table.setdefault(code, []).append((dest, None, how, how, {"label": label, "when": when,
                                                                      "target": f"{dest} {self.names[dest]}"}))
        self.table = table

    def rows(self, code: str) -> list[tuple] | None:
        """What ``code`` resolves to (see the class doc), or None when it is unknown."""
        if code in self.names:
            return [(code, None, "current", "current", {"code": code, "name": self.names[code], "year": self.year})]
        return self.table.get(code)

    @functools.cached_property
    def by_dep(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for code, dep in zip(self.names, self._deps()):
            out.setdefault(dep, []).append(code)
        return out

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
        raise DataSourceError(i18n.t("codes.error.history_columns", path=folder / "code_history.parquet",
                                     columns=", ".join(map(str, df.columns))))
    return df


@functools.lru_cache(maxsize=4)
def _tables_for_year(year: int) -> _Tables:
    g = _geo_module().geography(year)  # codes and names only: no outline is decoded for them
    return _Tables(year, g.commune_names, lambda: g.attributes("communes")["insee_dep"].tolist(),
                   g.attributes("arrondissements"),
                   g.former_communes, _history())


def _tables(year: int, geography=None) -> _Tables:
    if geography is not None:
        return _tables_for_year(int(geography.year))
    if int(year) not in _geo_module().SHIPPED_YEARS:
        raise InputError(i18n.t("codes.error.no_geography", year=year,
                                years=", ".join(map(str, _geo_module().SHIPPED_YEARS))))
    return _tables_for_year(int(year))


def _detail(key: str, values: dict, lang: str | None = None) -> str:
    """The sentence for people explaining one resolution (``codes.detail.<key>`` of the catalogue)."""
    values = dict(values)
    if "kind" in values:
        values["kind"] = i18n.t(f"codes.kind.{values['kind']}", lang)
    if "when" in values:
        when, extra = values["when"]
        extra = {**extra, "kind": i18n.t(f"codes.kind.{extra['kind']}", lang)} if "kind" in extra else extra
        values["when"] = i18n.t(f"codes.when.{when}", lang, **extra)
    return i18n.t(f"codes.detail.{key}", lang, **values)


def resolve_communes(
    codes: Iterable,
    year: int = 2024,
    *,
    names: Iterable | Mapping | None = None,
    strict: bool = True,
    geography=None,
    lang: str | None = None,
) -> pd.DataFrame:
    """Map commune codes of any vintage (2019 onwards, and older codes known to INSEE) to the communes of ``year``.

    Returns one row per (input code, target commune), in input order: ``code`` (as given, stripped),
    ``insee_com`` (commune of ``year``; the city for an arrondissement), ``insee_arm`` (the arrondissement
    code, else None), ``how`` (see :data:`HOW`) and ``detail`` (a sentence for people).

    ``names``: commune names aligned with ``codes`` (or a mapping code -> name), used to suggest candidates
    for unknown codes. ``strict=True`` raises :class:`CodeResolutionError` on the first unknown code (its
    ``candidates`` list close valid codes); ``strict=False`` returns it with ``how='unknown'``.
    ``geography``: a :class:`clsm_geo.geography.Geography`, whose year then replaces ``year``. ``detail`` and
    errors are in ``lang`` (:func:`clsm_geo.i18n.get_lang`).
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
            raise InputError(i18n.t("codes.error.names_aligned", lang, names=len(name_of), codes=len(given)))
    rows = resolved_rows(given, year, names=name_of, strict=strict, geography=geography, lang=lang)
    columns = list(zip(*rows)) if rows else [(), (), (), (), ()]
    return pd.DataFrame({name: pd.Series(list(values), dtype=object) for name, values in zip(_COLUMNS, columns)},
                        columns=_COLUMNS)


def resolved_rows(given: list, year: int = 2024, *, names: list | None = None, strict: bool = True, geography=None,
                  lang: str | None = None) -> list[tuple]:
    """:func:`resolve_communes` as a list of ``(code, insee_com, insee_arm, how, detail)`` tuples (no table),
    ``names`` aligned with ``given`` or None."""
    t = _tables(year, geography)
    out: list[tuple] = []
    cache: dict = {}
    for raw, name in zip(given, names if names is not None else [None] * len(given)):
        shown = "" if raw is None else (str(raw).strip() if not isinstance(raw, (int, np.integer)) else str(raw))
        key = (shown, name)
        rows = cache.get(key)
        if rows is None:
            code, padded = normalise_code(raw)
            found = t.rows(code)
            if found is None:
                cands = t.candidates(code, name if isinstance(name, str) else None)
                listed = ", ".join(f"{c} {n}" for c, n in cands) or i18n.t("codes.none_found", lang)
                if strict:
                    raise CodeResolutionError(
                        i18n.t("codes.error.unknown", lang, given=repr(shown), year=t.year, listed=listed),
                        code=shown,
                        candidates=cands,
                        hint=i18n.t("codes.error.unknown_hint", lang),
                    )
                rows = [(None, None, "unknown", i18n.t("codes.detail.unknown", lang, given=repr(shown), year=t.year,
                                                       listed=listed))]
            else:
                rows = [(c, a, h, _detail(k, v, lang)) for c, a, h, k, v in found]
                if padded:
                    rows = [(c, a, h, i18n.t("codes.detail.padded", lang, detail=d, given=repr(shown)))
                            for c, a, h, d in rows]
            cache[key] = rows
        out.extend((shown, *row) for row in rows)
    return out
