"""The QPV × unit relation of a year: which units each QPV lies in, and what share of its area.

Computed once per (QPV layer, COG year) and reused by every coverage run and every scenario of the
extension plan: coverage of a set of units ``x`` (0/1 vector) is then one sparse product ``W @ x``.

Method. The official QPV lists say which communes a QPV belongs to; the polygons say how its area
splits between them. Shipped commune boundaries are simplified (hundreds of metres) while QPV
polygons are accurate to about 10 m, so a raw overlay would hand border slivers of a QPV to
neighbouring communes it does not belong to. Each QPV's area is therefore apportioned among the
units of its *official* communes only, by the area of its intersection with each unit (computed in
the department's projected CRS, :func:`clsm_geo.settings.projected_crs`). A QPV inside a single
commune (most of them) gets weight 1 there. In Paris, Lyon and Marseille, where the lists give only
the city, the polygon alone tells which arrondissements the QPV lies in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from . import _progress
from . import settings


@dataclass(frozen=True)
class QpvUnitRelation:
    """Sparse relation between the QPV of a layer and the units of a COG year.

    ``weights[q, u]``: share of QPV ``q``'s area in unit ``u`` (rows sum to 1; all-zero rows for
    QPV without polygon). ``pair_qpv[k]``, ``pair_commune[k]``: the k-th (QPV, official commune)
    pair, whose units are row k of ``pair_units`` (0/1); ``pair_size[k]`` their number.
    ``unresolved``: official commune codes that no longer exist in the year, by QPV.
    """

    year: int
    qpv_codes: np.ndarray
    has_polygon: np.ndarray
    weights: sparse.csr_matrix
    pair_qpv: np.ndarray
    pair_commune: np.ndarray
    pair_units: sparse.csr_matrix
    pair_size: np.ndarray
    unresolved: dict

    def area_shares(self, x: np.ndarray) -> np.ndarray:
        """Share of each QPV's area inside the units where ``x`` is 1 (0 for QPV without polygon)."""
        return np.clip(self.weights @ x, 0.0, 1.0)

    def commune_fractions(self, x: np.ndarray) -> np.ndarray:
        """For each (QPV, commune) pair, the fraction of the commune's units where ``x`` is 1."""
        return (self.pair_units @ x) / np.maximum(self.pair_size, 1)


@_progress.stepped("relation")
def qpv_unit_relation(frame: pd.DataFrame, year: int) -> QpvUnitRelation:
    """Build the relation for a normalised QPV frame (see :mod:`clsm_geo.qpv`) and COG ``year``."""
    from .codes import resolve_communes
    from .units import unit_index, units, units_of_commune

    index = unit_index(year)
    codes = frame["code_qp"].to_numpy()
    all_communes = sorted({c for cs in frame["communes"] for c in cs})
    resolved = resolve_communes(all_communes, year, strict=False) if all_communes else None
    mapping: dict[str, list[str]] = {}
    if resolved is not None:
        for rec in resolved.itertuples(index=False):
            if rec.how != "unknown":
                target = rec.insee_arm if isinstance(rec.insee_arm, str) and rec.insee_arm else rec.insee_com
                mapping.setdefault(rec.code, []).append(target)

    pair_qpv, pair_commune, pair_rows, pair_cols, unresolved = [], [], [], [], {}
    cand_q, cand_u = [], []
    for qi, communes in enumerate(frame["communes"]):
        seen_units: set[int] = set()
        for code in communes:
            targets = mapping.get(code)
            if not targets:
                unresolved.setdefault(codes[qi], []).append(code)
                continue
            for target in targets:
                unit_codes = units_of_commune(target, year) or (target,)
                pos = index.get_indexer(list(unit_codes))
                pos = pos[pos >= 0]
                k = len(pair_qpv)
                pair_qpv.append(qi)
                pair_commune.append(target)
                pair_rows.extend([k] * len(pos))
                pair_cols.extend(pos.tolist())
                for p in pos:
                    if p not in seen_units:
                        seen_units.add(p)
                        cand_q.append(qi)
                        cand_u.append(p)
    n_pairs, n_units = len(pair_qpv), len(index)
    pair_units = sparse.csr_matrix((np.ones(len(pair_rows)), (pair_rows, pair_cols)), shape=(n_pairs, n_units))
    pair_size = np.asarray(pair_units.sum(axis=1)).ravel()

    geoms = frame.geometry.to_numpy() if "geometry" in frame else np.full(len(frame), None)
    has_polygon = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    cand_q = np.asarray(cand_q, dtype=np.int64)
    cand_u = np.asarray(cand_u, dtype=np.int64)
    keep = has_polygon[cand_q] if len(cand_q) else np.zeros(0, dtype=bool)
    cand_q, cand_u = cand_q[keep], cand_u[keep]
    weight = _apportion(frame, units(year), cand_q, cand_u)
    weights = sparse.csr_matrix((weight, (cand_q, cand_u)), shape=(len(frame), n_units))
    weights.eliminate_zeros()
    return QpvUnitRelation(year=year, qpv_codes=codes, has_polygon=has_polygon, weights=weights,
                           pair_qpv=np.asarray(pair_qpv, dtype=np.int64), pair_commune=np.asarray(pair_commune),
                           pair_units=pair_units, pair_size=pair_size, unresolved=unresolved)


def _apportion(frame, unit_table, cand_q: np.ndarray, cand_u: np.ndarray) -> np.ndarray:
    """Weight of each candidate (QPV, unit) pair: area share among the QPV's candidate units."""
    weight = np.ones(len(cand_q))
    if len(cand_q) == 0:
        return weight
    counts = np.bincount(cand_q, minlength=len(frame))
    multi = counts[cand_q] > 1
    if not multi.any():
        return weight
    q_geom = frame.geometry.to_numpy()[cand_q[multi]]
    u_geom = unit_table.geometry.to_numpy()[cand_u[multi]]
    deps = frame["insee_dep"].to_numpy()[cand_q[multi]]
    areas = np.zeros(int(multi.sum()))
    for epsg in sorted({settings.projected_crs(d) for d in deps}):
        sel = np.array([settings.projected_crs(d) == epsg for d in deps])
        qa = _project(q_geom[sel], epsg)
        ua = _project(u_geom[sel], epsg)
        areas[sel] = shapely.area(shapely.intersection(qa, shapely.make_valid(ua)))
    q_multi = cand_q[multi]
    totals = np.bincount(q_multi, weights=areas, minlength=len(frame))
    sub = np.where(totals[q_multi] > 0, areas / np.where(totals[q_multi] > 0, totals[q_multi], 1), 0.0)
    # A QPV touching none of its official units (boundary mismatch): give it to the nearest unit.
    for q in np.unique(q_multi[totals[q_multi] == 0]):
        rows = np.flatnonzero(q_multi == q)
        dist = shapely.distance(q_geom[rows[0]], u_geom[rows])
        sub[rows[np.argmin(dist)]] = 1.0
    weight[multi] = sub
    return weight


def _project(geoms: np.ndarray, epsg: int) -> np.ndarray:
    import geopandas as gpd

    return gpd.GeoSeries(geoms, crs=settings.STORAGE_CRS).to_crs(epsg).to_numpy()
