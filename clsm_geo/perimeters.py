"""Each council of a registry becomes, for a COG year, a set of units and a valid geometry.

Units are communes, or arrondissements in Paris, Lyon and Marseille (:mod:`clsm_geo.units`).
Codes from older COG vintages are resolved (:func:`clsm_geo.codes.resolve_communes`); an EPCI
expands to its member communes of the year; a whole PLM city expands to all its arrondissements.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from .errors import Problem
from .registry import Registry

SCALES = ("infra-communal", "communal", "intercommunal", "whole EPCI")
PERIMETER_COLUMNS = ["units", "communes", "n_communes", "population", "departments", "regions", "epci_touched",
                     "epci_names", "scale", "own_geometry"]


@dataclass(frozen=True)
class Perimeters:
    """Resolved perimeters of a registry's councils for a COG ``year``.

    ``councils`` columns: the registry's ``id, name, status, created, closed, region, notes, row``,
    ``communes_listed`` and ``epci_listed`` (codes as written), plus ``units``
    (tuple of unit codes), ``communes`` (tuple of commune codes of the year), ``n_communes``,
    ``population`` (sum over units, INSEE légale of the COG vintage), ``departments``, ``regions``,
    ``epci_touched`` (tuples), ``scale`` (one of :data:`SCALES`), ``own_geometry`` (shapely in
    EPSG:4326 or None, for councils carrying their own, e.g. infra-communal, perimeter).
    ``problems``: unknown codes (errors) and resolved codes, duplicates, overlaps (warnings).
    """

    year: int
    councils: pd.DataFrame
    problems: tuple[Problem, ...] = field(default=())

    @functools.cached_property
    def matrix(self):
        """Sparse 0/1 matrix councils × units (see :func:`unit_matrix`), built once."""
        from scipy import sparse

        from .units import unit_index

        position = {code: i for i, code in enumerate(unit_index(self.year))}
        unit_lists = self.councils["units"].tolist()
        rows = np.repeat(np.arange(len(unit_lists)), [len(u) for u in unit_lists])
        cols = np.fromiter((position[u] for units in unit_lists for u in units), dtype=np.int64, count=len(rows))
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(unit_lists), len(position)))

    def geometries(self) -> gpd.GeoSeries:
        """One valid (Multi)Polygon per council in EPSG:4326: its own geometry or the union of its units."""
        from .units import units

        table = units(self.year).set_index("unit").geometry
        geoms = []
        for unit_codes, own in zip(self.councils["units"], self.councils["own_geometry"]):
            if own is not None:
                geoms.append(own)
            elif unit_codes:
                geoms.append(shapely.make_valid(shapely.union_all(table.loc[list(unit_codes)].to_numpy())))
            else:
                geoms.append(None)
        return gpd.GeoSeries(geoms, index=self.councils.index, crs=settings.STORAGE_CRS)


def build_perimeters(registry: Registry, year: int) -> Perimeters:
    """Resolve every council of ``registry`` to units of COG ``year`` (see :class:`Perimeters`)."""
    from .codes import resolve_communes
    from .geography import geography
    from .units import units, units_of_commune

    geo = geography(year)
    table = units(year)
    file = _file_name(registry)
    problems: list[Problem] = []
    councils = registry.councils.copy()

    all_codes = sorted({c for codes in councils["communes"] for c in codes})
    resolved = (resolve_communes(all_codes, year, strict=False) if all_codes
                else pd.DataFrame(columns=["code", "insee_com", "insee_arm", "how", "detail"]))
    by_code: dict[str, list[tuple]] = {}
    for rec in resolved.itertuples(index=False):
        by_code.setdefault(rec.code, []).append((rec.insee_com, rec.insee_arm, rec.how, rec.detail))
    epci_members = dict(zip(geo.epci["siren_epci"], geo.epci["members"]))
    epci_names = dict(zip(geo.epci["siren_epci"], geo.epci["lib_epci"]))

    # unit -> (commune, department, region, EPCI, population), for per-council attributes without pandas.
    unit_info = dict(zip(table["unit"], zip(table["insee_com"], table["insee_dep"], table["insee_reg"],
                                             table["siren_epci"], table["population"].astype(int))))
    records = []
    for council in councils.itertuples(index=False):
        units_set: set[str] = set()
        from_communes: set[str] = set()
        for code in council.communes:
            hits = by_code.get(code, [])
            if not hits or hits[0][2] == "unknown":
                detail = hits[0][3] if hits else "not found"
                problems.append(Problem("error", file, council.row, "communes", code,
                                        f"unknown commune code in COG {year}", detail))
                continue
            for insee_com, insee_arm, how, detail in hits:
                if how not in ("current", "arrondissement"):
                    problems.append(Problem("warning", file, council.row, "communes", code,
                                            f"old code resolved ({how})", detail))
                got = (insee_arm,) if isinstance(insee_arm, str) and insee_arm else units_of_commune(insee_com, year)
                from_communes.update(got)
        units_set |= from_communes
        for siren in council.epci:
            members = epci_members.get(siren)
            if members is None:
                problems.append(Problem("error", file, council.row, "epci", siren, f"unknown EPCI SIREN in COG {year}",
                                        "check the SIREN on the DGCL list of EPCI of that year"))
                continue
            for member in members:
                units_set.update(units_of_commune(member, year))
        own = council.geometry
        if own is not None:
            own = _clean_polygon(own)
            if own is None:
                problems.append(Problem("error", file, council.row, "geometry", None,
                                        "the council's geometry is empty or not a polygon",
                                        "give a Polygon or MultiPolygon in EPSG:4326"))
            elif not units_set:
                hit = table.sindex.query(own, predicate="intersects")
                units_set.update(table["unit"].iloc[hit])
        unit_codes = tuple(sorted(units_set))
        info = [unit_info[u] for u in unit_codes]
        communes = tuple(sorted({i[0] for i in info}))
        records.append({
            "units": unit_codes, "communes": communes, "n_communes": len(communes),
            "population": sum(i[4] for i in info),
            "departments": tuple(sorted({i[1] for i in info})),
            "regions": tuple(sorted({i[2] for i in info})),
            "epci_touched": tuple(sorted({i[3] for i in info if isinstance(i[3], str)})),
            "epci_names": tuple(epci_names.get(s, s) for s in council.epci),
            "scale": _scale(unit_codes, communes, council.epci, own, epci_members),
            "own_geometry": own,
        })
    listed = councils.drop(columns=["geometry"]).rename(columns={"communes": "communes_listed",
                                                                   "epci": "epci_listed"})
    attributes = pd.DataFrame(records, index=councils.index, columns=PERIMETER_COLUMNS)
    out = pd.concat([listed, attributes], axis=1)
    problems += _overlap_warnings(out, file, year)
    return Perimeters(year=year, councils=out, problems=tuple(problems))


def _file_name(registry: Registry) -> str:
    from pathlib import Path

    return Path(registry.source).name


def _clean_polygon(geom):
    """Valid polygonal part of ``geom`` (GeometryCollections from repairs are reduced), or None."""
    if geom is None or geom.is_empty:
        return None
    geom = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    if not parts:
        return None
    return shapely.union_all(parts)


def _scale(unit_codes, communes, epci, own, epci_members) -> str:
    if own is not None:
        return "infra-communal"
    if not unit_codes:
        return "communal"
    if epci:
        members = set()
        for siren in epci:
            members.update(epci_members.get(siren, ()))
        if members and members == set(communes):
            return "whole EPCI"
    if len(communes) == 1:
        city_units = communes[0] in settings.PLM_CITIES
        return "infra-communal" if city_units and any(u != communes[0] for u in unit_codes) and \
            not _whole_city(unit_codes, communes[0]) else "communal"
    return "intercommunal"


def _whole_city(unit_codes, city: str) -> bool:
    prefix = settings.PLM_CITIES[city]
    expected = {"75": 20, "69": 9, "13": 16}[city[:2]]
    return sum(1 for u in unit_codes if u.startswith(prefix)) == expected


def _overlap_warnings(councils: pd.DataFrame, file: str, year: int, *, most: int = 5) -> list[Problem]:
    """One warning per active council sharing units with earlier active councils (linear in the units)."""
    active = councils[councils["status"] == "active"]
    first_claim: dict[str, str] = {}
    shared: dict[str, dict[str, list[str]]] = {}
    rows = dict(zip(active["id"], active["row"]))
    for council_id, unit_codes in zip(active["id"], active["units"]):
        for unit in unit_codes:
            owner = first_claim.setdefault(unit, council_id)
            if owner != council_id:
                shared.setdefault(council_id, {}).setdefault(owner, []).append(unit)
    problems = []
    for council_id, others in shared.items():
        parts = []
        for other, units in sorted(others.items())[:most]:
            sample = ", ".join(units[:3]) + (" …" if len(units) > 3 else "")
            parts.append(f"{other} ({len(units)}: {sample})")
        more = f" and {len(others) - most} other council(s)" if len(others) > most else ""
        problems.append(Problem("warning", file, int(rows[council_id]), "communes", None,
                                f"active council {council_id} overlaps in COG {year} with " + "; ".join(parts) + more,
                                "check whether one perimeter should exclude them"))
    return problems


def active_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Councils counting as active at 31 December of ``year``.

    Created in or before ``year`` and active now, or dormant/closed only after ``year``.
    """
    created = councils["created"]
    closed = councils["closed"]
    started = created.notna() & (created <= year)
    still = (councils["status"] == "active") | (
        councils["status"].isin(["dormant", "closed"]) & closed.notna() & (closed > year))
    return (started & still).fillna(False).astype(bool)


def in_project_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Councils in project at the end of ``year`` (status in project, not created after ``year``)."""
    created = councils["created"]
    return ((councils["status"] == "in_project") & (created.isna() | (created <= year))).fillna(False).astype(bool)


def new_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Active councils created during ``year``."""
    return active_mask(councils, year) & (councils["created"] == year).fillna(False).astype(bool)


def unit_matrix(perimeters: Perimeters, mask: np.ndarray | pd.Series | None = None):
    """Sparse 0/1 matrix councils × units of the year (rows in ``perimeters.councils`` order).

    Rows of councils outside ``mask`` (a boolean per council) are all zero.
    """
    from scipy import sparse

    full = perimeters.matrix
    if mask is None:
        return full
    return (sparse.diags(np.asarray(mask, dtype=float)) @ full).tocsr()
