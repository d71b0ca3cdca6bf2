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

import functools
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

    @functools.cached_property
    def by_unit(self) -> sparse.csr_matrix:
        """Units × (every QPV, then every pair): ``weights`` and ``pair_units`` transposed side by side (CSR),
        for one product from the units of many councils at once."""
        return sparse.hstack([self.weights.T, self.pair_units.T], format="csr")


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
    """``geoms`` (EPSG:4326) in ``epsg``, as ``GeoSeries.to_crs`` projects them (pyproj, x/y order)."""
    from .geography import _transformer

    tr = _transformer(settings.STORAGE_CRS, int(epsg))
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


@dataclass(frozen=True)
class FormerEffect:
    """Former-commune outlines (:attr:`clsm_geo.perimeters.Perimeters.pieces`) measured against QPV polygons.

    One entry per (QPV ``q``, unit ``u``) where the QPV has area in a unit reached only through outlines of
    former communes: ``w`` = its weight ``W[q, u]``, ``f`` the share of the QPV's area in ``u`` that lies inside
    the outlines (computed in the QPV department's projected CRS), ``unknown`` True when an outline on ``u`` is
    unknown (then ``f`` is a lower bound). ``pair_entry``/``pair``: entry ``pair_entry[i]`` concerns the
    (QPV, official commune) pair ``pair[i]`` of the relation (several when two official codes of a QPV now name
    the same commune, e.g. 93059 and 93066 in 2025). ``units``: positions of those units; ``labels``: per QPV
    position, the former communes concerned.
    """

    q: np.ndarray
    u: np.ndarray
    w: np.ndarray
    f: np.ndarray
    unknown: np.ndarray
    pair_entry: np.ndarray
    pair: np.ndarray
    units: np.ndarray
    labels: dict

    @staticmethod
    def empty() -> FormerEffect:
        z = np.zeros(0, dtype=np.int64)
        return FormerEffect(q=z, u=z, w=np.zeros(0), f=np.zeros(0), unknown=np.zeros(0, bool), pair_entry=z, pair=z, units=z,
                            labels={})


def former_share_table(rel: QpvUnitRelation, geoms: np.ndarray, deps: np.ndarray, year: int) -> dict:
    """:func:`inside_share` of every QPV with a polygon in every former commune of COG ``year`` with an
    outline, on the unit of its commune that the QPV meets (a weight or an official commune in ``rel``):
    ``{(QPV position, unit position, former commune code): (share in its outline, share in the union of its
    outline alone)}``, the two ways the engine measures one outline (:func:`clsm_geo.coverage._add_former_councils`
    and :func:`former_effect`). The same values as measured when asked, so that a run reading them from
    ``data/prebuilt/`` (:mod:`clsm_geo._prebuilt`) needs no projection library."""
    from .geography import geography
    from .units import unit_index, unit_outlines

    geo = geography(year)
    codes = sorted(set(geo.attributes("former_outlines")["code"].tolist()))
    pieces = geo.former_pieces(codes)
    index = unit_index(year)
    weights, pair_units = rel.weights.tocsc(), rel.pair_units.tocsc()
    found = index.get_indexer([parent for _, parent in pieces])
    units_of = {key: int(u) for key, u in zip(pieces, found.tolist()) if u >= 0}
    outlines = unit_outlines(year, set(units_of.values()))
    out: dict = {}
    for (code, parent), piece in sorted(pieces.items()):
        u, outline = units_of.get((code, parent)), piece["outline"]
        if u is None or outline is None:
            continue
        qs = set(weights[:, u].indices.tolist()) | {int(rel.pair_qpv[k]) for k in pair_units[:, u].indices.tolist()}
        union = shapely.union_all([outline])
        for q in sorted(qs):
            if geoms[q] is None:
                continue
            out[(q, u, code)] = (inside_share(geoms[q], outline, outlines[u], deps[q]),
                                 inside_share(geoms[q], union, outlines[u], deps[q]))
    return out


def inside_share(q_geom, outline, unit_geom, dep) -> float:
    """Share of a QPV's area inside ``unit_geom`` that lies inside ``outline`` (all EPSG:4326), in the
    projected CRS of department ``dep``; the QPV's whole area when it does not meet the unit."""
    if outline is None or q_geom is None:
        return 0.0
    epsg = settings.projected_crs(dep)
    q, o, u = _project(np.array([q_geom, shapely.make_valid(outline), shapely.make_valid(unit_geom)],
                                dtype=object), epsg)
    base = shapely.intersection(q, u)
    if shapely.area(base) <= 0:
        base = q
    if shapely.area(base) <= 0:
        return 0.0
    return float(np.clip(shapely.area(shapely.intersection(base, o)) / shapely.area(base), 0.0, 1.0))


def former_effect(rel: QpvUnitRelation, geoms: np.ndarray, deps: np.ndarray, pieces: pd.DataFrame, x: np.ndarray,
                  unit_geoms, names: dict, shares: dict | None = None) -> FormerEffect:
    """:class:`FormerEffect` of the ``pieces`` of active councils (rows of ``Perimeters.pieces``) on the units
    outside the covered units ``x`` (0/1 over units). ``geoms``, ``deps``: each QPV's polygon (EPSG:4326, or
    None) and department, in the relation's order. ``unit_geoms``: unit position -> outline (EPSG:4326) for
    at least the units of ``pieces`` (:func:`clsm_geo.units.unit_outlines`). ``names``: commune code -> name,
    for the labels. ``shares``: :func:`former_share_table` of the same inputs, when at hand (the outline of a
    unit holding one known former commune is then read there, not measured)."""
    if pieces is None or pieces.empty:
        return FormerEffect.empty()
    pieces = pieces[x[pieces["unit"].to_numpy(dtype=np.int64)] == 0]
    if pieces.empty:
        return FormerEffect.empty()
    weights = rel.weights.tocsc()
    coo = rel.pair_units.tocoo()
    pair_of: dict[tuple[int, int], list[int]] = {}
    for k, u in zip(coo.row.tolist(), coo.col.tolist()):
        pair_of.setdefault((int(rel.pair_qpv[k]), u), []).append(k)
    out = {"q": [], "u": [], "w": [], "f": [], "unknown": [], "pair_entry": [], "pair": []}
    labels: dict[int, set[str]] = {}
    unit_label: dict[int, str] = {}
    for u, group in pieces.groupby("unit", sort=True):
        u = int(u)
        known = [g for g in group["outline"] if g is not None]
        unknown = len(known) < len(group)
        outline = None
        lone = [c for c, g in zip(group["code"], group["outline"]) if g is not None][0] if len(known) == 1 else None
        unit_label[u] = "; ".join(sorted({f"{c} {n} > {p} {names.get(p, '')}".strip()
                                          for c, n, p in zip(group["code"], group["name"], group["insee_com"])}))
        col = weights[:, u]
        for q, w in zip(col.indices.tolist(), col.data.tolist()):
            if w <= 0 or (q, u) not in pair_of:
                continue
            out["q"].append(q)
            out["u"].append(u)
            out["w"].append(w)
            stored = shares.get((q, u, lone)) if shares is not None and lone is not None else None
            if stored is not None:
                out["f"].append(stored[1])
            else:
                if outline is None and known:
                    outline = shapely.union_all(known)
                out["f"].append(inside_share(geoms[q], outline, unit_geoms[u], deps[q]))
            out["unknown"].append(unknown)
            for k in pair_of[(q, u)]:
                out["pair_entry"].append(len(out["q"]) - 1)
                out["pair"].append(k)
    for q, u in pair_of:  # every QPV of those units, with or without polygon
        if u in unit_label:
            labels.setdefault(q, set()).add(unit_label[u])
    return FormerEffect(q=np.asarray(out["q"], dtype=np.int64), u=np.asarray(out["u"], dtype=np.int64),
                        w=np.asarray(out["w"], dtype=float), f=np.asarray(out["f"], dtype=float),
                        unknown=np.asarray(out["unknown"], dtype=bool),
                        pair_entry=np.asarray(out["pair_entry"], dtype=np.int64), pair=np.asarray(out["pair"], dtype=np.int64),
                        units=np.asarray(sorted(unit_label), dtype=np.int64),
                        labels={q: "; ".join(sorted(set(v))) for q, v in labels.items()})
