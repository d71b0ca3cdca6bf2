"""The result of a coverage run: tables, the headline, per-region and per-department summaries, files."""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _progress
from . import io as _io
from .perimeters import active_mask, in_project_mask, new_mask

FORMATS = ("csv", "xlsx", "geojson", "parquet")
QPV_COLUMNS = ["code_qp", "lib_qp", "insee_dep", "insee_reg", "siren_epci", "communes", "overseas", "in_force",
               "status", "covered_share", "councils", "method", "status_commune", "status_geometry", "area_share",
               "area_ha", "note"]
COUNCIL_COLUMNS = ["id", "name", "status", "created", "closed", "active", "new", "in_project", "scale",
                   "n_communes", "population", "departments", "regions", "epci_listed", "epci_touched",
                   "qpv_covered", "qpv_codes", "row"]
SUMMARY_COLUMNS = ["councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
                   "qpv_covered", "qpv_partial", "qpv_uncovered", "qpv_undetermined", "qpv_covered_share"]


@dataclass(frozen=True, eq=False)
class CoverageResult:
    """What :func:`clsm_geo.coverage` returns.

    ``qpv``: one row per QPV of the layer (GeoDataFrame, EPSG:4326), with ``status`` in
    covered/partial/uncovered (undetermined only by the commune method), ``covered_share`` and the
    ``councils`` covering it; QPV not in force in the year have ``in_force`` False and count nowhere.
    ``councils``: one row per council of the registry with its perimeter attributes and counts.
    ``summary``: the headline figures (a dict, also ``summary.json``); ``regions``/``departments``:
    the same figures per territory. ``reconciliation``: QPV where the two methods disagree, and why.
    """

    year: int
    cog_year: int
    method: str
    qpv: gpd.GeoDataFrame
    perimeters: object
    registry: object
    qpv_layer: object
    reconciliation: pd.DataFrame | None
    settings: object

    @classmethod
    def build(cls, *, year, cog_year, method, registry, perimeters, qpv_layer, qpv, reconciliation, settings):
        qpv = gpd.GeoDataFrame(qpv[QPV_COLUMNS + ["geometry"]], geometry="geometry", crs=4326)
        return cls(year=year, cog_year=cog_year, method=method, qpv=qpv, perimeters=perimeters,
                   registry=registry, qpv_layer=qpv_layer, reconciliation=reconciliation, settings=settings)

    # --- tables (computed on first use) ------------------------------------------------------------

    @functools.cached_property
    def councils_table(self) -> pd.DataFrame:
        """Councils sorted by id: perimeter attributes, ``active``/``new``/``in_project`` in the year, and the
        QPV in force each covers (``qpv_codes``, ``qpv_covered``). No geometry (see :attr:`councils`)."""
        councils = self.perimeters.councils
        covered_by: dict[str, list[str]] = {}
        counted = self.qpv[self.qpv["in_force"] & self.qpv["status"].isin(["covered", "partial"])]
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
        return table.sort_values("id", kind="stable", ignore_index=True)

    @functools.cached_property
    def councils(self) -> gpd.GeoDataFrame:
        """Councils with their perimeter geometry (EPSG:4326; union of units, or their own geometry)."""
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

    @functools.cached_property
    def summary(self) -> dict:
        """Headline figures of the year (see docs/methodology.md for each key)."""
        figures = _figures(self.qpv, self.councils_table)
        layer = self.qpv_layer
        in_force = self.qpv[self.qpv["in_force"]]
        out = {
            "year": self.year, "cog_year": self.cog_year, "qpv_geography": layer.geography, "method": self.method,
            **figures,
            "qpv_total_metropolitan": int((~in_force["overseas"]).sum()),
            "qpv_total_overseas": int(in_force["overseas"].sum()),
            "qpv_not_in_force": int((~self.qpv["in_force"]).sum()),
            "qpv_source": {"kind": layer.source.kind, "location": str(layer.source.location),
                           "edition": layer.source.edition, "precision": layer.source.precision,
                           "sha256": layer.source.sha256},
            "registry": Path(str(self.registry.source)).name,
            "thresholds": {"covered": self.settings.covered_threshold, "partial": self.settings.partial_threshold},
            "methods_disagree": 0 if self.reconciliation is None else len(self.reconciliation),
        }
        out["headline"] = headline(out)
        return out

    @functools.cached_property
    def regions(self) -> pd.DataFrame:
        """Figures per region (every region of the COG year, zeros included)."""
        from .geography import geography

        names = geography(self.cog_year).regions[["insee_reg", "lib_reg"]]
        return _per_territory(self.qpv, self.councils_table, "insee_reg", "regions", names)

    @functools.cached_property
    def departments(self) -> pd.DataFrame:
        """Figures per department (every department of the COG year, zeros included)."""
        from .geography import geography

        names = geography(self.cog_year).departments[["insee_dep", "lib_dep", "insee_reg"]]
        return _per_territory(self.qpv, self.councils_table, "insee_dep", "departments", names)

    @property
    def headline(self) -> str:
        return self.summary["headline"]

    # --- further analyses (each in its own module) ---------------------------------------------------

    def uncovered(self):
        """Uncovered and partial QPV with their nearest active council (see :mod:`clsm_geo.gaps`)."""
        from .gaps import uncovered

        return uncovered(self)

    def gaps(self):
        """Gaps of the network, one row per finding with a ``kind`` (see :mod:`clsm_geo.gaps`)."""
        from .gaps import gaps

        return gaps(self)

    def plan(self, steps: int = 20):
        """Greedy extension plan: the ``steps`` creations/extensions that raise coverage most."""
        from .plan import plan

        return plan(self, steps)

    def map(self, **options):
        """Interactive folium map of councils, QPV and territories (see :mod:`clsm_geo.maps.interactive`)."""
        from .maps.interactive import interactive_map

        return interactive_map(self, **options)

    def plot(self, **options):
        """Static choropleth with overseas insets (see :mod:`clsm_geo.maps.static`)."""
        from .maps.static import choropleth

        return choropleth(self, **options)

    def report(self, **options):
        """The yearly report (HTML + Markdown), national or ``region=`` (see :mod:`clsm_geo.report`)."""
        from .report import report

        return report(self, **options)

    # --- output -----------------------------------------------------------------------------------

    @_progress.stepped("files")
    def to_files(self, directory: str | Path, formats=("csv", "xlsx"), lang: str | None = None) -> list[Path]:
        """Write ``summary.json`` and the tables in each format; every file atomically. Returns the paths.

        ``csv``: one file per table (dialect: ``settings.csv_dialect``); ``xlsx``: ``coverage.xlsx``, the
        workbook for people in ``lang`` (:func:`clsm_geo.workbook.write_workbook`).
        """
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            from .errors import InputError

            raise InputError(f"unknown format(s): {', '.join(unknown)}", hint="use " + ", ".join(FORMATS))
        out = Path(directory)
        written = [_io.write_json(self.summary, out / "summary.json")]
        tables = {"qpv": self.qpv, "councils": self.councils_table[COUNCIL_COLUMNS],
                  "regions": self.regions, "departments": self.departments}
        if self.reconciliation is not None:
            tables["reconciliation"] = self.reconciliation
        if "csv" in formats:
            written += [_io.write_csv(t, out / f"{name}.csv") for name, t in tables.items()]
        if "xlsx" in formats:
            from .workbook import coverage_tables, write_workbook

            written.append(write_workbook(coverage_tables(self), out / "coverage.xlsx", self.summary, lang))
        if "geojson" in formats:
            written.append(_io.write_geojson(self.qpv, out / "qpv.geojson"))
            written.append(_io.write_geojson(self.councils, out / "councils.geojson"))
        if "parquet" in formats:
            written.append(_io.write_parquet(_lists_to_text(self.qpv), out / "qpv.parquet"))
            written.append(_io.write_parquet(_lists_to_text(self.councils), out / "councils.parquet"))
        return written

    def _repr_html_(self) -> str:
        s = self.summary
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(s[k]))}</td></tr>"
                       for k in SUMMARY_COLUMNS)
        return (f"<div><p><b>{html.escape(s['headline'])}</b></p><table>{rows}</table>"
                f"<p>QPV source: {html.escape(s['qpv_source']['edition'] or '')}</p></div>")

    def __repr__(self) -> str:
        return f"<CoverageResult {self.year} ({self.method}): {self.summary['headline']}>"


def headline(summary: dict) -> str:
    """The sentence the national resource centre publishes, from summary figures."""
    return (f"{summary['councils_active']:,} CLSM active at 31 Dec {summary['year']}, "
            f"{summary['councils_new']:,} new; {summary['councils_in_project']:,} in project; "
            f"{summary['councils_covering_qpv']:,} CLSM cover priority neighbourhoods, i.e. "
            f"{summary['qpv_covered_share']:.0%} of the {summary['qpv_total']:,} QPV")


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


def _per_territory(qpv, councils, key: str, council_key: str, names: pd.DataFrame) -> pd.DataFrame:
    """:func:`_figures` for every territory of ``names`` at once (counts by territory code, vectorised)."""
    q = qpv[qpv["in_force"]]
    codes = pd.Index(names[key].tolist())
    where = codes.get_indexer(q[key].tolist())
    status = q["status"].to_numpy()
    ok = where >= 0

    def by_territory(mask) -> np.ndarray:
        return np.bincount(where[ok & mask], minlength=len(codes)).astype(np.int64)

    total = by_territory(np.ones(len(q), bool))
    covered = by_territory(np.isin(status, ["covered", "partial"]))
    qpv_territory = dict(zip(q["code_qp"].tolist(), q[key].tolist()))
    c_pos, c_active, c_new, c_project, c_covering = [], [], [], [], []
    for territories, active, new, project, qpv_codes in zip(
            councils[council_key].tolist(), councils["active"].tolist(), councils["new"].tolist(),
            councils["in_project"].tolist(), councils["qpv_codes"].tolist()):
        for t in territories if isinstance(territories, (tuple, list)) else ():
            c_pos.append(codes.get_loc(t) if t in codes else -1)
            c_active.append(bool(active))
            c_new.append(bool(new))
            c_project.append(bool(project))
            c_covering.append(bool(active) and any(qpv_territory.get(qc) == t for qc in qpv_codes))
    c_pos = np.asarray(c_pos, dtype=np.int64)
    keep = c_pos >= 0

    def councils_by(flags) -> np.ndarray:
        flags = np.asarray(flags, dtype=bool)
        return np.bincount(c_pos[keep & flags] if len(flags) else c_pos[:0], minlength=len(codes)).astype(np.int64)

    share = [round(c / t, 6) if t else 0.0 for c, t in zip(covered.tolist(), total.tolist())]
    figures = pd.DataFrame({
        key: codes.to_numpy(), "councils_active": councils_by(c_active), "councils_new": councils_by(c_new),
        "councils_in_project": councils_by(c_project), "councils_covering_qpv": councils_by(c_covering),
        "qpv_total": total, "qpv_covered": covered, "qpv_partial": by_territory(status == "partial"),
        "qpv_uncovered": by_territory(status == "uncovered"), "qpv_undetermined": by_territory(status == "undetermined"),
        "qpv_covered_share": share,
    })
    out = names.merge(figures, on=key, how="left")
    return out.sort_values(key, ignore_index=True)


def _lists_to_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != "geometry" and out[col].map(lambda v: isinstance(v, tuple)).any():
            out[col] = out[col].map(lambda v: ";".join(map(str, v)) if isinstance(v, tuple) else v)
    return out
