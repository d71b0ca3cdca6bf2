"""The result of a coverage run: tables, the headline, per-region and per-department summaries.

Plain data: this module imports none of the analyses (gaps, plan...) or outputs (files, maps, report) that
consume a result. :class:`clsm_geo.api.CoverageResult`, what :func:`clsm_geo.coverage` returns, adds them
as methods.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import i18n
from .headline import headline
from .perimeters import active_mask, in_project_mask, new_mask

if TYPE_CHECKING:
    import geopandas as gpd

QPV_COLUMNS = ["code_qp", "lib_qp", "insee_dep", "insee_reg", "siren_epci", "communes", "overseas", "in_force",
               "status", "covered_share", "councils", "method", "status_commune", "status_geometry", "area_share",
               "area_ha", "qpv_geography", "population", "population_covered", "note"]
#: The columns of the QPV table that are the QPV layer's own (its attribute table, as read), known before the
#: engine runs; the engine computes the others.
QPV_LAYER_COLUMNS = ["code_qp", "lib_qp", "insee_dep", "insee_reg", "siren_epci", "communes", "overseas", "area_ha"]
COUNCIL_COLUMNS = ["id", "name", "status", "created", "closed", "active", "new", "in_project", "scale",
                   "n_communes", "population", "departments", "regions", "epci_listed", "epci_touched",
                   "qpv_covered", "qpv_codes", "qpv_population_covered", "row"]
SUMMARY_COLUMNS = ["councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
                   "qpv_covered", "qpv_partial", "qpv_uncovered", "qpv_undetermined", "qpv_covered_share"]


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """The engine's result (:func:`clsm_geo.coverage.coverage`); :func:`clsm_geo.coverage` returns it as a
    :class:`clsm_geo.api.CoverageResult`, with the analyses and outputs as methods.

    ``qpv_table``: one row per QPV of the layer (:data:`QPV_COLUMNS`, no geometry), with ``status`` in
    covered/partial/uncovered (undetermined only by the commune method), ``covered_share`` and the
    ``councils`` covering it; QPV not in force in the year have ``in_force`` False and count nowhere.
    ``qpv``: the same with each QPV's polygon (GeoDataFrame, EPSG:4326), built on first use.
    ``councils``: one row per council of the registry with its perimeter attributes and counts.
    ``summary``: the headline figures (a dict, also ``summary.json``); ``regions``/``departments``:
    the same figures per territory. ``reconciliation``: QPV where the two methods disagree, and why.
    """

    year: int
    cog_year: int
    method: str
    qpv_table: pd.DataFrame
    perimeters: object
    registry: object
    qpv_layer: object
    reconciliation: pd.DataFrame | None
    settings: object
    population: object = None  # clsm_geo.population.QpvPopulation
    out_of_scope: pd.DataFrame | None = None
    vintage: object = None  # clsm_geo.vintages.Vintage: geography, QPV layer and tables of the year

    @classmethod
    def build(cls, *, year, cog_year, method, registry, perimeters, qpv_layer, qpv, reconciliation, settings,
              population=None, vintage=None, in_scope=None):
        """``qpv``: the QPV table (at least :data:`QPV_COLUMNS`), one row per QPV of ``qpv_layer`` in its order;
        ``in_scope``: whether each QPV's department is in the COG (default: its ``in_scope`` column, else all)."""
        if in_scope is None:
            in_scope = qpv["in_scope"].to_numpy(dtype=bool) if "in_scope" in qpv.columns else np.ones(len(qpv), bool)
        outside = np.flatnonzero(~np.asarray(in_scope, dtype=bool))
        out_of_scope = pd.DataFrame({
            "code_qp": qpv["code_qp"].to_numpy()[outside], "lib_qp": qpv["lib_qp"].to_numpy()[outside],
            "insee_dep": qpv["insee_dep"].to_numpy()[outside],
            "qpv_geography": qpv["qpv_geography"].to_numpy()[outside],
            "reason": i18n.t("sources.out_of_scope_reason"),
        }, columns=["code_qp", "lib_qp", "insee_dep", "qpv_geography", "reason"])
        if list(qpv.columns) != QPV_COLUMNS or type(qpv) is not pd.DataFrame:
            qpv = pd.DataFrame(qpv[QPV_COLUMNS])
        return cls(year=year, cog_year=cog_year, method=method, qpv_table=qpv, perimeters=perimeters,
                   registry=registry, qpv_layer=qpv_layer, reconciliation=reconciliation, settings=settings,
                   population=population, out_of_scope=out_of_scope, vintage=vintage)

    @functools.cached_property
    def qpv(self) -> gpd.GeoDataFrame:
        """:attr:`qpv_table` with each QPV's polygon (GeoDataFrame, EPSG:4326; from the QPV layer)."""
        import geopandas as gpd

        geometry = gpd.GeoSeries(self.qpv_layer.geometries, index=self.qpv_table.index, crs=4326)
        return gpd.GeoDataFrame(self.qpv_table, geometry=geometry, crs=4326)

    # --- tables (computed on first use) ------------------------------------------------------------

    @functools.cached_property
    def councils_table(self) -> pd.DataFrame:
        """Councils sorted by id: perimeter attributes, ``active``/``new``/``in_project`` in the year, and the
        QPV in force each covers (``qpv_codes``, ``qpv_covered``). No geometry (see :attr:`councils`)."""
        councils = self.perimeters.councils
        covered_by: dict[str, list[str]] = {}
        qpv = self.qpv_table
        counted = qpv[qpv["in_force"] & qpv["status"].isin(["covered", "partial"])]
        for code, ids in zip(counted["code_qp"], counted["councils"]):
            for council_id in ids:
                covered_by.setdefault(council_id, []).append(code)
        table = councils.assign(
            active=active_mask(councils, self.year).to_numpy(),
            new=new_mask(councils, self.year).to_numpy(),
            in_project=in_project_mask(councils, self.year).to_numpy(),
            qpv_codes=[tuple(sorted(covered_by.get(i, ()))) for i in councils["id"]],
        )
        table["qpv_covered"] = table["qpv_codes"].map(len)
        # population of the QPV in force each council covers (covered or partial); <NA> without INSEE file
        pop = dict(zip(qpv["code_qp"].tolist(), qpv["population"].tolist())) if "population" in qpv else {}
        known = self.population is not None and self.population.available
        table["qpv_population_covered"] = pd.array(
            [(int(round(sum(pop[c] for c in codes))) if not any(pd.isna(pop.get(c)) for c in codes) else None)
             if known else None for codes in table["qpv_codes"]], dtype="Int64")
        return table.sort_values("id", kind="stable", ignore_index=True)

    @functools.cached_property
    def councils(self) -> gpd.GeoDataFrame:
        """Councils with their perimeter geometry (EPSG:4326; union of units, or their own geometry)."""
        import geopandas as gpd

        geoms = self.perimeters.geometries()
        by_id = dict(zip(self.perimeters.councils["id"], geoms))
        table = self.councils_table[COUNCIL_COLUMNS]
        return gpd.GeoDataFrame(table, geometry=[by_id.get(i) for i in table["id"]], crs=4326)

    def council_geometries(self, ids) -> dict:
        """Perimeter geometry of the councils ``ids`` only: ``{id: geometry}`` (from :attr:`councils` when it
        is already built, else dissolved for these councils alone and kept)."""
        ids = list(ids)
        if "councils" in self.__dict__:
            known = dict(zip(self.councils["id"], self.councils.geometry))
            return {i: known.get(i) for i in ids}
        cache = self.__dict__.setdefault("_council_geometries", {})
        missing = [i for i in ids if i not in cache]
        if missing:
            geoms = self.perimeters.geometries(missing)
            for cid, geom in zip(self.perimeters.councils["id"], geoms):
                if cid in missing:
                    cache[cid] = geom
        return {i: cache.get(i) for i in ids}

    @property
    def summary(self) -> dict:
        """Headline figures of the year (see docs/methodology.md for each key); ``headline``: the sentence in the
        current language (:func:`clsm_geo.i18n.get_lang`)."""
        return {**self._summary, "headline": self.headline_in()}

    @functools.cached_property
    def _summary(self) -> dict:
        from .territories import qpv_scope

        figures = _figures(self.qpv_table, self.councils_table)
        layer = self.qpv_layer
        in_force = self.qpv_table[self.qpv_table["in_force"]]
        out = {
            "year": self.year, "cog_year": self.cog_year, "qpv_geography": layer.geography, "method": self.method,
            **figures,
            "qpv_total_metropolitan": int((~in_force["overseas"]).sum()),
            "qpv_total_overseas": int(in_force["overseas"].sum()),
            "qpv_not_in_force": int((~self.qpv_table["in_force"]).sum()),
            **_source_figures(self),
            "qpv_source": {"kind": layer.source.kind, "location": str(layer.source.location),
                           "edition": layer.source.edition, "precision": layer.source.precision,
                           "sha256": layer.source.sha256},
            "registry": Path(str(self.registry.source)).name,
            "thresholds": {"covered": self.settings.covered_threshold, "partial": self.settings.partial_threshold},
            "methods_disagree": 0 if self.reconciliation is None else len(self.reconciliation),
            **qpv_scope(self.qpv_table, self.cog_year),
        }
        return out

    @functools.cached_property
    def regions(self) -> pd.DataFrame:
        """Figures per region (every region of the COG year, zeros included)."""
        names = self.vintage.geography.attributes("regions")[["insee_reg", "lib_reg"]]
        missing = _missing_regions(self)
        return _per_territory(self.qpv_table, self.councils_table, "insee_reg", "regions", names, missing,
                              self._population_available)

    @functools.cached_property
    def departments(self) -> pd.DataFrame:
        """Figures per department (every department of the COG year, zeros included)."""
        names = self.vintage.geography.attributes("departments")[["insee_dep", "lib_dep", "insee_reg"]]
        return _per_territory(self.qpv_table, self.councils_table, "insee_dep", "departments", names,
                              _missing_departments(self), self._population_available)

    @property
    def _population_available(self) -> bool:
        return self.population is not None and self.population.available

    @property
    def headline(self) -> str:
        """The headline in the current language (``fr`` unless ``--lang``/``CLSM_GEO_LANG`` say otherwise)."""
        return self.headline_in()

    def headline_in(self, lang: str | None = None) -> str:
        """The headline in ``lang`` (``fr``, ``en``; default: the current language)."""
        from .headline_sources import source_clauses

        code = i18n.get_lang(lang)
        return headline(self._summary, code, extra=source_clauses(self._summary, code))

    def sources_for(self, lang: str | None = None) -> dict:
        """:attr:`summary` for a workbook's Sources sheet: the QPV source's edition and precision written for
        people in ``lang`` (:mod:`clsm_geo.provenance`); ``summary.json`` keeps them as recorded."""
        from .provenance import edition, precision

        src = self.qpv_layer.source
        out = dict(self.summary)
        out["qpv_source"] = {**out["qpv_source"], "edition": edition(src, lang), "precision": precision(src, lang)}
        return out

    def input_paths(self) -> list[str]:
        """The files this result was read from (registry, QPV source): outputs must never overwrite them."""
        return [str(self.registry.source), str(self.qpv_layer.source.location)]

    def _repr_html_(self) -> str:
        """Notebook display: the headline, the key figures, the source in one line (a few kB whatever the
        size of the result; the full tables are attributes)."""
        from .provenance import source_line
        from .i18n import fmt_int, fmt_pct, t
        from .territories import names

        s = self.summary
        e = html.escape
        rows = []
        for key in SUMMARY_COLUMNS:
            if key == "qpv_undetermined" and not s[key]:
                continue
            value = fmt_pct(s[key], 1) if key == "qpv_covered_share" else fmt_int(s[key])
            label = t(f"cli.notebook.{key}", threshold=fmt_pct(s["thresholds"]["partial"], 0)) \
                if key == "qpv_partial" else t(f"cli.notebook.{key}")
            rows.append(f"<tr><th style='text-align:left'>{e(label)}</th><td>{e(value)}</td></tr>")
        scope = ""
        if s.get("qpv_scope") == "partial":
            scope = f"<p><b>{e(t('cli.notebook.scope_partial', regions=names(s['qpv_regions'], self.cog_year)))}</b></p>"
        more = t("cli.notebook.more", attributes=".summary, .qpv, .councils, .regions, .departments")
        return (f"<div><p><b>{e(s['headline'])}</b></p>{scope}<table>{''.join(rows)}</table>"
                f"<p><small>{e(source_line(self.qpv_layer.source))}<br>{e(more)}</small></p></div>")

    def __repr__(self) -> str:
        return f"<CoverageResult {self.year} ({self.method}): {self.headline}>"


def _figures(qpv: pd.DataFrame, councils: pd.DataFrame) -> dict:
    q = qpv[qpv["in_force"]]
    status = q["status"]
    total = len(q)
    covered = int(status.isin(["covered", "partial"]).sum())
    covering = councils["active"] & (councils["qpv_covered"] > 0)
    return {
        "councils_active": int(councils["active"].sum()), "councils_new": int(councils["new"].sum()),
        "councils_in_project": int(councils["in_project"].sum()), "councils_covering_qpv": int(covering.sum()),
        "qpv_total": total, "qpv_covered": covered, "qpv_partial": int((status == "partial").sum()),
        "qpv_uncovered": int((status == "uncovered").sum()),
        "qpv_undetermined": int((status == "undetermined").sum()),
        "qpv_covered_share": round(covered / total, 6) if total else 0.0,
    }


#: Columns of the QPV figures that are unknown (NaN) where the geography in force is not available.
_QPV_FIGURES = ("qpv_total", "qpv_covered", "qpv_partial", "qpv_uncovered", "qpv_undetermined", "qpv_covered_share")
POPULATION_COLUMNS = ("qpv_population", "qpv_population_covered", "qpv_population_covered_share")
#: Columns the region and department tables add to :data:`SUMMARY_COLUMNS`.
TERRITORY_COLUMNS = [*POPULATION_COLUMNS, "qpv_geography_available"]


def _population_figures(q: pd.DataFrame, available: bool) -> dict:
    """Population of the QPV in force, of those covered and its share; None when unknown (never 0)."""
    if not available or "population" not in q.columns:
        return dict.fromkeys(POPULATION_COLUMNS)
    pop = pd.to_numeric(q["population"], errors="coerce")
    known = pop.notna()
    if len(q) and not known.all():  # a QPV without population: the sums would be too low
        return dict.fromkeys(POPULATION_COLUMNS)
    total = float(pop.sum())
    covered = float(pd.to_numeric(q["population_covered"], errors="coerce").sum())
    return {"qpv_population": int(round(total)), "qpv_population_covered": int(round(covered)),
            "qpv_population_covered_share": round(covered / total, 6) if total else None}


def _source_figures(res) -> dict:
    """Summary keys about the QPV geographies and the population (see docs/data-sources.md)."""
    in_force = res.qpv_table[res.qpv_table["in_force"]]
    over = in_force[in_force["overseas"]]
    missing = [m.to_dict() for m in getattr(res.qpv_layer, "missing", ())]
    pop = res.population
    split = len(over) and int(over["qpv_geography"].iloc[0]) != res.qpv_layer.geography
    national = in_force[~in_force["overseas"]] if split or missing else in_force
    nat_covered = int(national["status"].isin(["covered", "partial"]).sum())
    return {
        "qpv_total_national": len(national), "qpv_covered_national": nat_covered,
        "qpv_covered_share_national": round(nat_covered / len(national), 6) if len(national) else 0.0,
        "qpv_overseas_geography": (int(over["qpv_geography"].iloc[0]) if len(over) else
                                   next((m["geography"] for m in missing if m["territory"] == "overseas"), None)),
        "qpv_missing_geographies": missing,
        "qpv_out_of_scope": 0 if res.out_of_scope is None else len(res.out_of_scope),
        **_population_figures(in_force, pop is not None and pop.available),
        "population_sources": [] if pop is None else [dict(s) for s in pop.sources],
        "population_missing_geographies": [] if pop is None else list(pop.missing),
    }


def _missing_departments(res) -> set[str]:
    from .in_force import missing_departments

    return set(missing_departments(res.qpv_layer))


def _missing_regions(res) -> set[str]:

    deps = _missing_departments(res)
    if not deps:
        return set()
    table = res.vintage.geography.attributes("departments")
    regs = table.groupby("insee_reg")["insee_dep"].agg(set)
    return {reg for reg, members in regs.items() if members & deps}


def _per_territory(qpv, councils, key: str, council_key: str, names: pd.DataFrame, missing=frozenset(),
                   population: bool = False) -> pd.DataFrame:
    """Figures per territory; where the QPV geography in force is not available (``missing``), the QPV
    figures are NaN and ``qpv_geography_available`` is False (never 0 QPV). Counted in one pass over the QPV
    and one over the councils, not territory by territory: a council counts in each territory of
    ``councils[council_key]``, and covers QPV there when one of its ``qpv_codes`` in force lies in that
    territory."""
    q = qpv[qpv["in_force"]]
    codes = names[key].tolist()
    # Counted in Python: a few thousand QPV and councils, where a dozen pandas steps (explode, group, reindex)
    # cost more than the counting itself.
    qpv_counts: dict = {}  # territory -> [total, covered, partial, uncovered, undetermined]
    for where, status in zip(q[key].tolist(), q["status"].tolist()):
        counts = qpv_counts.setdefault(where, [0, 0, 0, 0, 0])
        counts[0] += 1
        counts[1] += status in ("covered", "partial")
        counts[2] += status == "partial"
        counts[3] += status == "uncovered"
        counts[4] += status == "undetermined"
    territory_of = dict(zip(q["code_qp"].tolist(), q[key].tolist()))
    council_counts: dict = {}  # territory -> [active, new, in project, covering]
    for territories, active, new, in_project, qpv_codes in zip(
            councils[council_key].tolist(), councils["active"].tolist(), councils["new"].tolist(),
            councils["in_project"].tolist(), councils["qpv_codes"].tolist()):
        active, new, in_project = bool(active), bool(new), bool(in_project)
        covered_in = {territory_of[c] for c in qpv_codes or () if c in territory_of} if active else ()
        for where in territories if isinstance(territories, (tuple, list)) else ():
            if where is None or where != where:  # a missing code (None or NaN) counts nowhere
                continue
            counts = council_counts.setdefault(where, [0, 0, 0, 0])
            counts[0] += active
            counts[1] += new
            counts[2] += in_project
            counts[3] += where in covered_in
    no_population = dict.fromkeys(POPULATION_COLUMNS)
    if population and "population" in q.columns:
        by_code = {code: _population_figures(group, True) for code, group in q.groupby(key)}
        empty = _population_figures(q.iloc[:0], True)
    else:
        by_code, empty = {}, no_population
    rows = []
    for code in codes:
        active, new, in_project, covering = council_counts.get(code, (0, 0, 0, 0))
        total, covered, partial, uncovered, undetermined = qpv_counts.get(code, (0, 0, 0, 0, 0))
        row = {key: code, "councils_active": active, "councils_new": new, "councils_in_project": in_project,
               "councils_covering_qpv": covering, "qpv_total": total, "qpv_covered": covered,
               "qpv_partial": partial, "qpv_uncovered": uncovered, "qpv_undetermined": undetermined,
               "qpv_covered_share": round(covered / total, 6) if total else 0.0,
               **by_code.get(code, empty), "qpv_geography_available": code not in missing}
        if code in missing:
            row.update(dict.fromkeys(_QPV_FIGURES + POPULATION_COLUMNS, None))
        rows.append(row)
    out = names.merge(pd.DataFrame(rows), on=key, how="left")
    for col in POPULATION_COLUMNS + _QPV_FIGURES:
        values = pd.to_numeric(out[col], errors="coerce")
        # counts stay whole numbers; unknown (geography or population not available) is <NA>, never 0
        out[col] = values if col.endswith("share") else values.round().astype("Int64")
    return out.sort_values(key, ignore_index=True)


