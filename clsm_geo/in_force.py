"""Which QPV geography is in force, per year and territory, and the QPV layer of a year assembled from them.

Calendar (sources in ``docs/data-sources.md``):

=============  ======================  ==========================================
year           metropolitan France     overseas (DROM, Saint-Martin, Polynésie)
=============  ======================  ==========================================
2015–2023      2015 geography          2015 geography
2024           2024 geography          2015 geography (still in force)
2025 on        2024 geography          2024 geography
=============  ======================  ==========================================

:func:`layer_for_year` takes the metropolitan part of the metropolitan geography's layer and the overseas
part of the overseas geography's layer. When a needed layer cannot be found, the QPV concerned are kept
with ``in_force`` False and the layer lists a :class:`MissingGeography`: outputs say "not available" for
those territories, never "no QPV" or 0 %.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import settings as _settings
from . import i18n, provenance
from .errors import DataSourceError

TERRITORIES = ("metropolitan", "overseas")


@dataclass(frozen=True)
class MissingGeography:
    """A QPV geography needed for ``territory`` in ``year`` that could not be found."""

    year: int
    geography: int
    territory: str  # "metropolitan" | "overseas"
    departments: tuple[str, ...]  # departments concerned (COG codes); empty = all of the territory
    reason: str

    @property
    def hint(self) -> str:
        return f"clsm-geo data fetch --qpv {self.geography}"

    def to_dict(self) -> dict:
        return {"year": self.year, "geography": self.geography, "territory": self.territory,
                "departments": list(self.departments), "reason": self.reason, "hint": self.hint}


def geographies_in_force(year: int) -> dict[str, int]:
    """``{"metropolitan": geography, "overseas": geography}`` in force at 31 December of ``year``."""
    from .qpv import qpv_geography_for_year

    return {"metropolitan": qpv_geography_for_year(year),
            "overseas": qpv_geography_for_year(year, overseas=True)}


def territory_of(insee_dep: str | None) -> str:
    """``overseas`` for 97x/98x departments and collectivities, else ``metropolitan``."""
    return "overseas" if _settings.is_overseas(insee_dep) else "metropolitan"


def availability(geography: int, source=None, *, settings=None) -> str | None:
    """Where a layer of ``geography`` would come from (``user``, ``cache``, ``shipped``) or None."""
    from .qpv import _qpv_data_dir

    if source is not None:
        return "user"
    try:
        from .cache import cache_get

        if cache_get(f"qpv{geography}", verify=False, settings=settings or _settings.get()) is not None:
            return "cache"
    except (ImportError, DataSourceError):
        pass
    if (_qpv_data_dir() / f"qpv{geography}.parquet").is_file():
        return "shipped"
    return None


def calendar(years, *, settings=None) -> list[dict]:
    """Per year and territory: the geography in force and where its layer is (for ``data status``)."""
    rows = []
    found: dict[int, str | None] = {}
    for year in years:
        for territory, geography in geographies_in_force(year).items():
            if geography not in found:
                found[geography] = availability(geography, settings=settings)
            rows.append({"year": year, "territory": territory, "geography": geography,
                         "available": found[geography]})
    return rows


def _load(geography: int, source, settings):
    from .qpv import qpv as load_qpv

    if hasattr(source, "table"):
        return source, None
    try:
        return load_qpv(geography, source, settings=settings), None
    except DataSourceError as exc:
        return None, exc.message.splitlines()[0]


def layer_for_year(year: int, sources: dict | None = None, *, settings=None):
    """The QPV layer of ``year``: each territory from the geography in force there.

    ``sources`` maps a geography (2015, 2024) to a layer, path or URL; a geography not given comes from
    the cache, then the shipped data. Returns a :class:`clsm_geo.qpv.QpvLayer` whose frame has a
    ``qpv_geography`` column, whose ``geography`` is the metropolitan one and whose ``missing`` lists
    the geographies that could not be found. Raises :class:`DataSourceError` when no layer at all is found.

    Without ``sources``, the layer is read once per session and reused while the files it comes from stay
    the same (:func:`clsm_geo.qpv.default_source_key`) and the language too (the reasons of ``missing``): a
    notebook that measures again pays neither the reading nor the QPV × unit relation a second time. The
    layer is then shared by those runs: copy its frame before changing it.
    """
    s = settings or _settings.get()
    given = {int(k): v for k, v in (sources or {}).items() if v is not None}
    wanted = geographies_in_force(year)
    if given:
        return _layer_for_year(year, given, wanted, s)
    from .qpv import default_source_key

    key = (year, i18n.get_lang(), tuple((g, default_source_key(g, s)) for g in sorted(set(wanted.values()))))
    layer = _default_layers.get(key)
    if layer is None:
        layer = _layer_for_year(year, given, wanted, s)
        if len(_default_layers) >= 4:
            _default_layers.clear()
        _default_layers[key] = layer
    return layer


#: Layers of :func:`layer_for_year` read from the default sources, by year, language and source files.
_default_layers: dict[tuple, object] = {}


def _layer_for_year(year: int, given: dict, wanted: dict, s):
    from .qpv import QpvLayer

    layers: dict[int, object] = {}
    reasons: dict[int, str] = {}
    for geography in sorted(set(wanted.values())):
        layer, reason = _load(geography, given.get(geography), s)
        if layer is not None:
            layers[geography] = layer
        else:
            reasons[geography] = reason
    if not layers:
        g = wanted["metropolitan"]
        raise DataSourceError(i18n.t("data.qpv.none_for_year", geography=g, year=year, reason=reasons.get(g, "")),
                              hint=i18n.t("data.qpv.none_for_year_hint", geography=g))
    parts, missing = [], []  # parts: (layer, rows, columns added)
    for territory, geography in wanted.items():
        layer = layers.get(geography)
        mask = None if layer is None else layer.table["overseas"].to_numpy() == (territory == "overseas")
        if layer is not None and territory == "overseas" and wanted["metropolitan"] != geography \
                and not mask.any():
            # e.g. a regional subset of the 2015 geography: it says nothing about the overseas QPV
            missing.append(MissingGeography(year, geography, territory, (),
                                            i18n.t("data.qpv.no_overseas", geography=geography)))
            continue
        if layer is None:
            missing.append(MissingGeography(year, geography, territory, (), reasons[geography]))
            continue
        parts.append((layer, mask, {"qpv_geography": layer.geography, "in_force_here": True}))
    # QPV of the other geography in a territory whose own geography is missing: kept, not in force.
    for m in missing:
        for geography, layer in layers.items():
            mask = layer.table["overseas"].to_numpy() == (m.territory == "overseas")
            if mask.any():
                parts.append((layer, mask, {"qpv_geography": geography, "in_force_here": False}))
    table = pd.concat([layer.table[mask].assign(**added) for layer, mask, added in parts], ignore_index=True)
    order = np.argsort(table["code_qp"].to_numpy(), kind="stable")
    table = table.take(order).reset_index(drop=True)
    # the polygons in the forms at hand in every part (WKB as read, shapely), shapely when none is
    kinds = [k for k in ("wkb", "geometries") if all(k in layer.__dict__ for layer, _, _ in parts)] or ["geometries"]
    polygons = {k: np.concatenate([getattr(layer, k)[mask] for layer, mask, _ in parts])[order] for k in kinds}
    missing = [dataclasses.replace(m, departments=_departments_of(m, table)) for m in missing]
    main = layers.get(wanted["metropolitan"]) or next(iter(layers.values()))
    geography = wanted["metropolitan"] if wanted["metropolitan"] in layers else main.geography
    source = main.source
    if len(layers) > 1:
        other = [layers[g] for g in sorted(layers) if layers[g] is not main][0]
        source = dataclasses.replace(
            main.source, edition=f"{main.source.edition}; overseas: {other.source.edition}",
            location=f"{main.source.location} + {other.source.location}",
            edition_words=provenance.parts(main.source, "edition") + (
                ("provenance.overseas", (("edition", provenance.parts(other.source, "edition")),)),))
    return QpvLayer(table=table, geography=geography, source=source, parts=tuple(layers[g] for g in sorted(layers)),
                    missing=tuple(missing), **polygons)


def _departments_of(m: MissingGeography, frame) -> tuple[str, ...]:
    """Departments of the COG where ``m``'s territory lies (the five DROM overseas)."""
    if m.territory == "overseas":
        return tuple(_settings.OVERSEAS_DEPARTMENTS)
    deps = frame.loc[~frame["overseas"], "insee_dep"].dropna().unique().tolist()
    return tuple(sorted(deps))


def missing_departments(layer) -> dict[str, MissingGeography]:
    """Department code -> the missing geography that concerns it."""
    out = {}
    for m in getattr(layer, "missing", ()):
        for dep in m.departments:
            out[dep] = m
    return out


def describe_missing(m: MissingGeography, lang=None) -> str:
    """``géographie 2015 non disponible : `clsm-geo data fetch --qpv 2015``` (in the catalogue language)."""
    from . import i18n

    return i18n.t("sources.geography_unavailable", lang, geography=m.geography, hint=m.hint)


def in_force_mask(frame, year: int, layer_geography: int):
    """Per QPV, True when its geography is the one in force in its territory in ``year``."""
    from .qpv import qpv_geography_for_year

    over = qpv_geography_for_year(year, overseas=True)
    metro = qpv_geography_for_year(year)
    geo = (frame["qpv_geography"].to_numpy().astype(int) if "qpv_geography" in frame.columns
           else np.full(len(frame), int(layer_geography)))
    mask = geo == np.where(frame["overseas"].to_numpy().astype(bool), over, metro)
    if "in_force_here" in frame.columns:
        mask &= frame["in_force_here"].to_numpy().astype(bool)
    return mask


def _runs(rows: list[dict]) -> list[dict]:
    """Consecutive years of a territory with the same geography and availability, as ``year`` = "2015–2023"."""
    runs: list[dict] = []
    for territory in TERRITORIES:
        for row in (r for r in rows if r["territory"] == territory):
            last = runs[-1] if runs and runs[-1]["territory"] == territory else None
            if last and (last["geography"], last["available"]) == (row["geography"], row["available"]) \
                    and last["last"] == row["year"] - 1:
                last["last"] = row["year"]
            else:
                runs.append({**row, "first": row["year"], "last": row["year"]})
    for r in runs:
        r["year"] = str(r["first"]) if r["first"] == r["last"] else f"{r['first']}–{r['last']}"
    return sorted(runs, key=lambda r: (r["first"], TERRITORIES.index(r["territory"])))


def status_lines(years=None, lang=None, *, settings=None) -> list[str]:
    """``data status``: per year and territory, the geography in force and whether it is available;
    then whether the INSEE population of each geography is cached."""
    from . import i18n

    years = list(years or range(2015, 2027))
    lines = [i18n.t("sources.status.title", lang)]
    for row in _runs(calendar(years, settings=settings)):
        territory = i18n.t(f"sources.status.{row['territory']}", lang)
        if row["available"]:
            lines.append("  " + i18n.t("sources.status.row", lang, year=row["year"], territory=territory,
                                       geography=row["geography"],
                                       available=i18n.t(f"sources.status.available.{row['available']}", lang)))
        else:
            hint = f"clsm-geo data fetch --qpv {row['geography']}"
            lines.append("  " + i18n.t("sources.status.row_missing", lang, year=row["year"], territory=territory,
                                       geography=row["geography"], hint=hint))
    from .qpv import catalogue

    pages = catalogue().get("population", {})
    try:
        from .cache import cache_get
    except ImportError:  # pragma: no cover
        cache_get = None
    for geography in (2015, 2024):
        entry = cache_get(f"population{geography}", verify=False, settings=settings or _settings.get()) \
            if cache_get else None
        if entry is not None:
            lines.append("  " + i18n.t("sources.status.population_row", lang, geography=geography,
                                       available=i18n.t("sources.status.available.cache", lang)))
        else:
            lines.append("  " + i18n.t("sources.status.population_missing", lang, geography=geography,
                                       page=pages.get(str(geography), {}).get("page", "")))
    return lines
