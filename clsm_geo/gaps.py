"""Where the network of councils leaves priority neighbourhoods out, and where perimeters are awkward.

* :func:`uncovered`: every uncovered or partial QPV in force, with its territory, the nearest active
  council (distance between geometries, in the projected CRS of the QPV's department) and whether its
  EPCI or department already has an active council (``approach`` = ``extension``) or not (``creation``).
* :func:`gaps`: one row per finding, with a ``kind`` (:data:`KINDS`, a stable code) and a sentence naming
  the council(s), the territory and the QPV concerned, in the chosen language (catalogue ``gaps``;
  :func:`kind_label` gives the label of a kind).

Rules (see docs/gaps-and-plan.md). Only councils active in the result's year count. Perimeters are
sets of units (communes; arrondissements in Paris, Lyon and Marseille). A commune is *inside* a council
when all its units are. A QPV *is in* the official communes of its list (resolved to the COG year); in
Paris, Lyon and Marseille its polygon tells which arrondissements. Councils with their own
(infra-communal) geometry count for "has a council" and for the nearest council, not for the
commune-based findings. Neighbours are units sharing at least :data:`MIN_SHARED_M` metres of
boundary, measured with a tolerance of :data:`NEIGHBOUR_TOLERANCE_M` metres (the shipped boundaries
are simplified; see :func:`unit_adjacency`).
"""

from __future__ import annotations

import collections
import functools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import _progress
from . import i18n
from . import settings as _settings
from .adjacency import (MIN_SHARED_M, NEIGHBOUR_TOLERANCE_M, SURROUNDED_SHARE, UnitAdjacency,  # noqa: F401
                        compute_unit_adjacency, unit_adjacency)
from .units import unit_outlines

KINDS = ("straddling_qpv", "epci_partial", "crosses_epci", "crosses_department", "crosses_region", "overlap",
         "white_epci", "enclave")
UNCOVERED_COLUMNS = ["code_qp", "lib_qp", "status", "covered_share", "insee_reg", "lib_reg", "insee_dep", "lib_dep",
                     "communes", "lib_communes", "siren_epci", "lib_epci", "population", "nearest_council_id",
                     "nearest_council_name", "nearest_distance_km", "epci_has_council", "department_has_council",
                     "approach"]
GAP_COLUMNS = ["kind", "territory_type", "territory_code", "territory_name", "departments", "council_ids",
               "council_names", "qpv_codes", "n_qpv", "sentence"]


# --- the network of a result ------------------------------------------------------------------------------

class Network:
    """Active councils of a result as unit sets, and where each QPV in force lies (shared by gaps and plan)."""

    def __init__(self, res):
        from .perimeters import active_mask

        self.res = res
        self.year = res.cog_year
        self.vintage = res.vintage
        self.geo = res.vintage.geography
        self.units = res.vintage.unit_attributes  # no outlines: those asked for are read by :meth:`outlines`
        self.index = res.vintage.unit_index
        self.rel = res.vintage.relation
        self.unit_codes = self.units["unit"].to_numpy()
        self.unit_commune = self.units["insee_com"].to_numpy()
        self.unit_names = self.units["lib_unit"].to_numpy()
        self._position = {u: i for i, u in enumerate(self.unit_codes)}
        self._commune_positions: dict[str, list[int]] = {}  # commune -> its units' positions, in unit order
        for i, com in enumerate(self.unit_commune.tolist()):
            self._commune_positions.setdefault(com, []).append(i)

        councils = res.perimeters.councils
        active = active_mask(councils, res.year).to_numpy()
        own = councils["own_geometry"].notna().to_numpy()
        self.all_active = councils[active].reset_index(drop=True)
        table = councils[active & ~own]
        self.council_ids = table["id"].tolist()
        # columns as lists before zipping them: iterating a pandas string column converts each cell on its own
        self.council_names = dict(zip(councils["id"].tolist(), councils["name"].tolist()))
        ids = table["id"].tolist()
        self.council_units = {cid: frozenset(self.positions(us)) for cid, us in zip(ids, table["units"].tolist())}
        self.council_departments = dict(zip(ids, table["departments"].tolist()))
        self.council_regions = dict(zip(ids, table["regions"].tolist()))
        # Units touched by any active council, own geometries included ("has a council").
        self.touched = np.zeros(len(self.index), bool)
        for us in councils.loc[active, "units"].tolist():
            self.touched[self.positions(us)] = True
        self.claims = np.zeros(len(self.index), np.int64)
        self.unit_councils: dict[int, list[str]] = {}
        for cid, pos in self.council_units.items():
            self.claims[list(pos)] += 1
            for p in pos:
                self.unit_councils.setdefault(p, []).append(cid)

        q = res.qpv
        self.qpv = q[q["in_force"].to_numpy()].reset_index(drop=True)
        row_of = {code: i for i, code in enumerate(self.rel.qpv_codes)}
        self.qpv_rows = np.array([row_of[c] for c in self.qpv["code_qp"]], dtype=np.int64)
        self.qpv_communes = {code: () for code in self.qpv["code_qp"]}
        self.qpv_units: dict[str, frozenset[int]] = {}
        weights = self.rel.weights
        by_qpv = np.argsort(self.rel.pair_qpv, kind="stable")  # the pairs of each QPV row, in their order
        bounds = np.searchsorted(self.rel.pair_qpv[by_qpv], [self.qpv_rows, self.qpv_rows + 1])
        pair_commune = self.rel.pair_commune
        for code, r, lo, hi in zip(self.qpv["code_qp"].tolist(), self.qpv_rows.tolist(), bounds[0].tolist(),
                                   bounds[1].tolist()):
            targets = tuple(dict.fromkeys(pair_commune[by_qpv[lo:hi]].tolist()))
            self.qpv_communes[code] = targets
            area = set(weights.indices[weights.indptr[r]:weights.indptr[r + 1]].tolist())
            hosted: set[int] = set()
            for t in targets:
                pos = self.commune_positions(t)
                if len(pos) > 1 and self.rel.has_polygon[r]:
                    pos = [p for p in pos if p in area] or pos
                hosted.update(pos)
            self.qpv_units[code] = frozenset(hosted)
        self.status = dict(zip(self.qpv["code_qp"].tolist(), self.qpv["status"].tolist()))
        self.qpv_names = dict(zip(self.qpv["code_qp"].tolist(), self.qpv["lib_qp"].tolist()))

        # name of a unit (commune or arrondissement), else of a commune of the year (the geography's dictionary,
        # not copied)
        self.commune_name = collections.ChainMap(dict(zip(self.unit_codes.tolist(), self.unit_names.tolist())),
                                                 self.geo.commune_names)
        epci = self.geo.attributes("epci")
        sirens = epci["siren_epci"].tolist()
        self.epci_members = dict(zip(sirens, epci["members"].tolist()))
        self.epci_name = dict(zip(sirens, epci["lib_epci"].tolist()))
        self.epci_population = dict(zip(sirens, epci["population"].tolist()))
        self.epci_units = {s: frozenset(p for m in ms for p in self.commune_positions(m))
                           for s, ms in self.epci_members.items()}
        self.unit_epci = self.units["siren_epci"].to_numpy()
        self.unit_dep = self.units["insee_dep"].to_numpy()
        deps = self.geo.attributes("departments")
        self.dep_name = dict(zip(deps["insee_dep"].tolist(), deps["lib_dep"].tolist()))
        regs = self.geo.attributes("regions")
        self.reg_name = dict(zip(regs["insee_reg"].tolist(), regs["lib_reg"].tolist()))
        self._outlines: dict[int, object] = {}

    def outlines(self, positions) -> np.ndarray:
        """Outlines (shapely, EPSG:4326) of the units at ``positions``, in that order: read and decoded only for
        the units asked for (:func:`clsm_geo.units.unit_outlines`), kept for the next call; the whole
        layer when :attr:`vintage` already holds it."""
        positions = [int(p) for p in positions]
        if "units" in self.vintage.__dict__:
            return self.vintage.units.geometry.to_numpy()[positions]
        missing = [p for p in positions if p not in self._outlines]
        if missing:
            self._outlines.update(unit_outlines(self.year, missing))
        out = np.empty(len(positions), dtype=object)
        out[:] = [self._outlines.get(p) for p in positions]
        return out

    def positions(self, unit_codes) -> list[int]:
        at = self._position
        return [at[u] for u in unit_codes if u in at]

    def commune_positions(self, commune: str) -> list[int]:
        """Positions of the units making up ``commune`` (itself, or the arrondissements of Paris, Lyon and
        Marseille); a code that is a unit but not a commune (an arrondissement) is that unit."""
        return self._commune_positions.get(commune) or self.positions((commune,))

    def commune_inside(self, commune: str, units: frozenset[int]) -> bool:
        pos = self.commune_positions(commune)
        return bool(pos) and all(p in units for p in pos)

    def qpv_epcis(self, code: str) -> tuple[str, ...]:
        out = {self.unit_epci[p] for p in self.qpv_units[code]}
        return tuple(sorted(e for e in out if isinstance(e, str)))

    @functools.cached_property
    def epci_qpv(self) -> dict[str, list[str]]:
        """QPV in force hosted by each EPCI (through the units of their official communes)."""
        out: dict[str, list[str]] = {}
        for code in self.qpv["code_qp"]:
            for e in self.qpv_epcis(code):
                out.setdefault(e, []).append(code)
        return out

    def names(self, ids) -> tuple[str, ...]:
        return tuple(self.council_names[i] for i in ids)

    def label(self, ids, lang: str) -> str:
        return _listing([f"{self.council_names[i]} ({i})" for i in ids], lang)

    def unit_label(self, positions, lang: str, most: int = 8) -> str:
        return _listing([f"{self.unit_names[p]} ({self.unit_codes[p]})" for p in sorted(positions)], lang, most)


def network(res) -> Network:
    """The :class:`Network` of a result, built once per result (kept on it)."""
    net = res.__dict__.get("_gaps_network")
    if net is None:
        net = Network(res)
        res.__dict__["_gaps_network"] = net
    return net


# --- uncovered QPV --------------------------------------------------------------------------------------

@_progress.stepped("gaps")
def uncovered(res) -> gpd.GeoDataFrame:
    """Every uncovered and partial QPV in force, with territory, nearest active council and approach.

    ``population`` is the QPV's population when the QPV source gives it (the shipped layer does not:
    the column is then empty). ``nearest_distance_km``: distance between the QPV polygon (or its
    communes, without polygon) and the council's perimeter in the projected CRS of the QPV's
    department; only councils of the same landmass (same projected CRS) are considered. ``approach``:
    ``extension`` when the QPV's EPCI or department already has an active council, else ``creation``.
    Sorted by department and QPV code.
    """
    net = network(res)
    q = net.qpv[net.qpv["status"].isin(["uncovered", "partial"])].reset_index(drop=True)
    layer = res.qpv_layer.table.set_index("code_qp")
    population = (layer["population"].reindex(q["code_qp"]).to_numpy() if "population" in layer
                  else np.full(len(q), np.nan))
    epci_with = {e for p in np.flatnonzero(net.touched) for e in [net.unit_epci[p]] if isinstance(e, str)}
    dep_with = set()
    for deps in net.all_active["departments"]:
        dep_with.update(deps)
    nearest = _nearest_councils(net, q)
    rows = []
    for i, rec in enumerate(q.itertuples(index=False)):
        epcis = net.qpv_epcis(rec.code_qp) or ((rec.siren_epci,) if isinstance(rec.siren_epci, str) else ())
        epci_has = any(e in epci_with for e in epcis)
        dep_has = rec.insee_dep in dep_with
        cid, dist = nearest[i]
        communes = net.qpv_communes[rec.code_qp] or tuple(rec.communes)
        rows.append({
            "code_qp": rec.code_qp, "lib_qp": rec.lib_qp, "status": rec.status, "covered_share": rec.covered_share,
            "insee_reg": rec.insee_reg, "lib_reg": net.reg_name.get(rec.insee_reg), "insee_dep": rec.insee_dep,
            "lib_dep": net.dep_name.get(rec.insee_dep), "communes": communes,
            "lib_communes": tuple(net.commune_name.get(c, c) for c in communes),
            "siren_epci": ";".join(epcis), "lib_epci": ";".join(net.epci_name.get(e, e) for e in epcis),
            "population": population[i],
            "nearest_council_id": cid, "nearest_council_name": net.council_names.get(cid) if cid else None,
            "nearest_distance_km": None if dist is None else round(dist / 1000.0, 3),
            "epci_has_council": epci_has, "department_has_council": dep_has,
            "approach": "extension" if epci_has or dep_has else "creation",
        })
    out = pd.DataFrame(rows, columns=UNCOVERED_COLUMNS)
    out["population"] = pd.to_numeric(out["population"], errors="coerce").astype("Int64")
    out["nearest_distance_km"] = pd.to_numeric(out["nearest_distance_km"], errors="coerce")
    geo = gpd.GeoDataFrame(out, geometry=q.geometry.to_numpy(), crs=4326)
    return geo.sort_values(["insee_dep", "code_qp"], kind="stable", ignore_index=True)


def _nearest_councils(net: Network, q: gpd.GeoDataFrame) -> list[tuple[str | None, float | None]]:
    """(id, metres) of the nearest active council of each QPV, among councils in its projected CRS.

    The distance to a perimeter is the smallest distance to its parts (its units and former-commune outlines,
    or its own geometry): the same as to their union, without dissolving it, and a tree of small parts finds
    the nearest one much faster than a tree of large unions. Ties are broken by council id.
    """
    out: list[tuple[str | None, float | None]] = [(None, None)] * len(q)
    if len(q) == 0 or net.all_active.empty:
        return out
    perims = net.res.perimeters
    councils = perims.councils
    active = net.res.councils_table.set_index("id")["active"]
    outlines: dict[int, list] = {}
    for i, g in zip(perims.former["council"], perims.former["outline"]):
        if g is not None:
            outlines.setdefault(int(i), []).append(g)
    part_geom, part_id, part_crs = [], [], []
    rows = [(i, cid, unit_codes, own, deps) for i, (cid, unit_codes, own, deps)
            in enumerate(zip(councils["id"], councils["units"], councils["own_geometry"], councils["departments"]))
            if active.get(cid, False)]
    net.outlines(sorted({p for _, _, us, own, _ in rows if own is None for p in net.positions(us)}))  # read at once
    for i, cid, unit_codes, own, deps in rows:
        parts = [own] if own is not None else list(net.outlines(net.positions(unit_codes))) + outlines.get(i, [])
        part_geom += parts
        part_id += [cid] * len(parts)
        part_crs += [_settings.projected_crs(deps[0] if deps else None)] * len(parts)
    if not part_geom:
        return out
    part_geom, part_id, part_crs = np.array(part_geom, dtype=object), np.array(part_id, dtype=object), \
        np.array(part_crs)
    qpv_geoms = q.geometry.to_numpy().copy()
    for i, g in enumerate(qpv_geoms):
        if g is None or shapely.is_empty(g):
            pos = sorted(net.qpv_units[q["code_qp"].iloc[i]])
            qpv_geoms[i] = shapely.union_all(net.outlines(pos)) if pos else None
    qpv_crs = np.array([_settings.projected_crs(d) for d in q["insee_dep"]])
    for epsg in np.unique(qpv_crs):
        cs = np.flatnonzero(part_crs == epsg)
        qs = np.flatnonzero((qpv_crs == epsg) & np.array([g is not None for g in qpv_geoms]))
        if len(cs) == 0 or len(qs) == 0:
            continue
        c_geo = gpd.GeoSeries(part_geom[cs], crs=4326).to_crs(int(epsg)).to_numpy()
        q_geo = gpd.GeoSeries(qpv_geoms[qs], crs=4326).to_crs(int(epsg)).to_numpy()
        qi, ci, dist = nearest_parts(q_geo, c_geo)
        best: dict[int, tuple[float, str]] = {}
        for a, b, d in zip(qi.tolist(), ci.tolist(), dist.tolist()):
            key = (round(d, 3), part_id[cs[b]])
            if a not in best or key < best[a]:
                best[a] = key
        for a, (d, cid) in best.items():
            out[qs[a]] = (cid, d)
    return out


def nearest_parts(queries: np.ndarray, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(query, part, distance)`` for each part at the smallest distance from each query (every part at that
    distance: ties kept), as ``STRtree(parts).query_nearest(queries, all_matches=True)`` gives them, sorted by
    query then part. Geometries in one projected CRS; distances in its units (metres).

    Bounded by envelopes: a part is never nearer than its envelope, so once the exact distance to the part
    with the nearest envelope is known, only parts whose envelope lies within it can be nearer; their exact
    distances are computed and the smallest kept. Three times as fast as the tree's own search on the
    national example (few exact distances between outlines of hundreds of vertices; benchmarks/report_steps.py).
    Empty or missing queries get no row."""
    empty = np.zeros(0, dtype=np.intp)
    if len(queries) == 0 or len(parts) == 0:
        return empty, empty, np.zeros(0)
    boxes = shapely.STRtree(shapely.envelope(parts))
    q_boxes = shapely.envelope(queries)
    qi, pi = boxes.query_nearest(q_boxes, all_matches=False)  # a part of nearest envelope per query
    asked, first = np.unique(qi, return_index=True)  # (equidistant boxes may still come twice)
    bound = shapely.distance(queries[asked], parts[pi[first]])
    # a slack (a micrometre, and 1e-9 of the distance) against rounding between box and outline distances
    limit = bound * (1 + 1e-9) + 1e-6
    a, b = boxes.query(q_boxes[asked], predicate="dwithin", distance=limit)
    a = asked[a]
    d = shapely.distance(queries[a], parts[b])
    smallest = np.full(len(queries), np.inf)
    np.minimum.at(smallest, a, d)
    hit = d == smallest[a]
    order = np.lexsort((b[hit], a[hit]))
    return a[hit][order], b[hit][order], d[hit][order]


# --- gaps -------------------------------------------------------------------------------------------------

def kind_label(kind: str, lang: str | None = None) -> str:
    """The label of a gap ``kind`` (:data:`KINDS`) in ``lang`` (``QPV partagé entre CLSM``...)."""
    return i18n.t(f"gaps.kind.{kind}", lang)


@_progress.stepped("gaps")
def gaps(res, lang: str | None = None, *, geometry: bool = True) -> gpd.GeoDataFrame:
    """One row per finding (``kind`` in :data:`KINDS`) with a sentence in ``lang`` (default: the current
    language); sorted by kind, territory, councils. ``geometry=False``: the same rows without their
    geometries (column of None), none of them read or dissolved (the report shows none)."""
    net = network(res)
    lang = i18n.get_lang(lang)
    shapes = _Shapes(net) if geometry else _NoShapes()
    rows: list[dict] = []
    rows += _straddling(net, lang, shapes)
    rows += _epci_partial(net, lang, shapes)
    rows += _crossing(net, lang, shapes)
    rows += _overlaps(net, lang, shapes)
    rows += _white_epci(net, lang, shapes)
    rows += _enclaves(net, lang, shapes)
    order = {k: i for i, k in enumerate(KINDS)}
    rows.sort(key=lambda r: (order[r["kind"]], r["territory_code"], r["council_ids"]))
    frame = pd.DataFrame([{k: r[k] for k in GAP_COLUMNS} for r in rows], columns=GAP_COLUMNS)
    if len(frame):
        frame["n_qpv"] = frame["qpv_codes"].map(len).astype(int)
    return gpd.GeoDataFrame(frame, geometry=[r.get("geometry") for r in rows], crs=4326)


def _row(net: Network, kind, ttype, code, name, councils, qpv, sentence, geometry, departments=()) -> dict:
    return {"kind": kind, "territory_type": ttype, "territory_code": code, "territory_name": name,
            "departments": tuple(sorted(departments)), "council_ids": tuple(councils),
            "council_names": net.names(councils), "qpv_codes": tuple(sorted(qpv)), "n_qpv": len(qpv),
            "sentence": sentence, "geometry": geometry}


def _w(key: str, n: int, lang: str) -> str:
    """A counted word of the ``gaps.words`` catalogue (``3 communes membres``, ``couvrent``)."""
    return i18n.tn(f"gaps.words.{key}", n, lang)


def _s(key: str, lang: str, **values) -> str:
    """A sentence (or clause) of the ``gaps.sentence`` catalogue."""
    return i18n.t(f"gaps.sentence.{key}", lang, **values)


def _more(n: int, lang: str) -> str:
    return " " + _w("more", n, lang) if n > 0 else ""


def _listing(items: list[str], lang: str, most: int | None = None) -> str:
    """Items of a sentence, « A, B et C »; beyond ``most``, the first ``most`` and the count of the others
    (« A, B et 3 autres »)."""
    if most is not None and len(items) > most:
        return ", ".join(items[:most]) + _more(len(items) - most, lang)
    return i18n.fmt_list(items, lang)


def _qpv_label(net: Network, codes, lang: str, most: int = 8) -> str:
    """QPV codes and names for a sentence; beyond ``most``, the count of the others (all are in qpv_codes)."""
    lib = net.qpv_names
    return _listing([f"{c} {lib.get(c, '')}".strip() for c in sorted(codes)], lang, most)


def _communes(net: Network, codes, lang: str) -> str:
    return _listing([f"{net.commune_name.get(c, c)} ({c})" for c in codes], lang)


def _hosting(net: Network, qpv, lang: str) -> str:
    """``; on y compte 2 QPV : ...`` or nothing."""
    return _s("hosting", lang, qpv_count=_w("qpv", len(qpv), lang), qpv=_qpv_label(net, qpv, lang)) if qpv else ""


class _Shapes:
    """The geometry of each finding (EPSG:4326): an EPCI's outline, a QPV's polygon, a council's perimeter
    (dissolved on first use: only crossing councils need one), units' outlines."""

    def __init__(self, net: Network):
        self.net = net
        self._councils: dict = {}

    def epci(self, siren):
        geoms = self.net.__dict__.get("_epci_geoms")
        if geoms is None:
            epci = self.net.geo.epci
            geoms = self.net.__dict__["_epci_geoms"] = dict(zip(epci["siren_epci"], epci.geometry))
        return geoms.get(siren)

    def qpv(self) -> dict:
        return dict(zip(self.net.qpv["code_qp"], self.net.qpv.geometry))

    def council(self, cid):
        if cid not in self._councils:
            self._councils[cid] = self.net.res.council_geometries([cid])[cid]
        return self._councils[cid]

    def units(self, positions) -> dict:
        positions = list(positions)
        return dict(zip(positions, self.net.outlines(positions)))


class _NoShapes:
    """:class:`_Shapes` when no geometry is wanted: None for each, nothing read."""

    def epci(self, siren):
        return None

    def qpv(self) -> dict:
        return collections.defaultdict(lambda: None)

    def council(self, cid):
        return None

    def units(self, positions) -> dict:
        return dict.fromkeys(positions)


def _straddling(net: Network, lang: str, shapes) -> list[dict]:
    rows = []
    geoms = shapes.qpv()
    lib = dict(zip(net.qpv["code_qp"].tolist(), net.qpv["lib_qp"].tolist()))
    for code in net.qpv["code_qp"]:
        communes = net.qpv_communes[code]
        if len(communes) < 2:
            continue
        cut = []
        near = {cid for c in communes for p in net.commune_positions(c)
                for cid in net.unit_councils.get(p, ())}
        for cid in sorted(near):
            units = net.council_units[cid]
            inside = [c for c in communes if net.commune_inside(c, units)]
            if 0 < len(inside) < len(communes):
                cut.append((cid, inside))
        if not cut:
            continue
        in_any = {c for _, inside in cut for c in inside}
        outside = [c for c in communes if c not in in_any and
                   not any(net.commune_inside(c, net.council_units[i]) for i in near)]
        parts = i18n.t("gaps.words.semicolon", lang).join(
            _s("straddling_part", lang, council=net.council_names[cid], id=cid, communes=_communes(net, inside, lang))
            for cid, inside in cut)
        rest = (_s("straddling_outside", lang, communes=_communes(net, outside, lang)) if outside
                else _s("straddling_elsewhere", lang))
        sentence = _s("straddling", lang, code=code, name=lib[code], communes=_w("communes", len(communes), lang),
                      parts=parts, rest=rest, status=i18n.t(f"status.qpv.{net.status[code]}", lang))
        deps = {net.unit_dep[p] for p in net.qpv_units[code]}
        rows.append(_row(net, "straddling_qpv", "qpv", code, lib[code], [c for c, _ in cut], [code], sentence,
                         geoms[code], deps))
    return rows


def _epci_partial(net: Network, lang: str, shapes) -> list[dict]:
    covered_units = np.zeros(len(net.index), bool)
    for units in net.council_units.values():
        covered_units[list(units)] = True
    hosts: dict[int, list[str]] = {}
    for code in net.qpv["code_qp"]:
        if net.status[code] == "covered":
            continue
        for p in net.qpv_units[code]:
            if not covered_units[p]:
                hosts.setdefault(p, []).append(code)
    rows = []
    for siren, members in sorted(net.epci_members.items()):
        units = net.epci_units[siren]
        covering = sorted({cid for p in units for cid in net.unit_councils.get(p, ())})
        if not covering:
            continue
        outside = sorted(p for p in units if p in hosts)
        if not outside:
            continue
        qpv = sorted({c for p in outside for c in hosts[p]})
        touched = [m for m in members if any(covered_units[p] for p in net.commune_positions(m))]
        sentence = _s("epci_partial", lang, epci=net.epci_name[siren], siren=siren, councils=net.label(covering, lang),
                      covers=_w("covers", len(covering), lang), inside=i18n.fmt_int(len(touched), lang),
                      members=_w("member_communes", len(members), lang), units=net.unit_label(outside, lang),
                      hosts=_w("hosts", len(outside), lang), qpv_count=_w("qpv_not_covered", len(qpv), lang),
                      qpv=_qpv_label(net, qpv, lang))
        deps = {net.unit_dep[p] for p in units}
        rows.append(_row(net, "epci_partial", "epci", siren, net.epci_name[siren], covering, qpv, sentence,
                         shapes.epci(siren), deps))
    return rows


def _crossing(net: Network, lang: str, shapes) -> list[dict]:
    rows = []
    covered = dict(zip(net.res.councils_table["id"].tolist(), net.res.councils_table["qpv_codes"].tolist()))
    for cid in net.council_ids:
        units = net.council_units[cid]
        epcis = sorted({net.unit_epci[p] for p in units if isinstance(net.unit_epci[p], str)})
        name = net.council_names[cid]
        if len(epcis) >= 2:
            for siren in epcis:
                members = net.epci_members.get(siren, ())
                inside = [m for m in members if net.commune_inside(m, units)]
                if len(inside) == len(members):
                    continue
                left = [c for c in net.epci_qpv.get(siren, []) if not (net.qpv_units[c] <= units)]
                rest = (_s("crosses_epci_rest", lang, qpv_count=_w("qpv", len(left), lang),
                           qpv=_qpv_label(net, left, lang)) if left else "")
                sentence = _s("crosses_epci", lang, council=name, id=cid, epci=net.epci_name[siren], siren=siren,
                              inside=i18n.fmt_int(len(inside), lang),
                              members=_w("member_communes", len(members), lang), rest=rest)
                deps = {net.unit_dep[p] for p in net.epci_units[siren]}
                rows.append(_row(net, "crosses_epci", "epci", siren, net.epci_name[siren], [cid], left, sentence,
                                 shapes.epci(siren), deps))
        qpv = covered.get(cid, ())
        deps = net.council_departments[cid]
        covering = (_s("crosses_covering", lang, qpv_count=_w("qpv", len(qpv), lang), qpv=_qpv_label(net, qpv, lang))
                    if qpv else "")
        for kind, codes, names, word in (("crosses_department", deps, net.dep_name, "departments"),
                                         ("crosses_region", net.council_regions[cid], net.reg_name, "regions")):
            if len(codes) < 2:
                continue
            listed = _listing([f"{c} {names.get(c, c)}" for c in codes], lang)
            sentence = _s("crosses", lang, council=name, id=cid, territories=_w(word, len(codes), lang),
                          listed=listed, covering=covering)
            rows.append(_row(net, kind, "council", cid, name, [cid], qpv, sentence, shapes.council(cid), deps))
    return rows


def _hosted(net: Network) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for code in net.qpv["code_qp"]:
        for p in net.qpv_units[code]:
            out.setdefault(p, []).append(code)
    return out


def _overlaps(net: Network, lang: str, shapes) -> list[dict]:
    rows = []
    hosted = _hosted(net)
    claimed = np.flatnonzero(net.claims >= 2)
    geoms = shapes.units(claimed.tolist())
    for p in claimed:
        ids = sorted(net.unit_councils[int(p)])
        qpv = hosted.get(int(p), [])
        sentence = _s("overlap", lang, unit=net.unit_names[p], code=net.unit_codes[p],
                      councils_count=_w("active_councils", len(ids), lang), councils=net.label(ids, lang),
                      hosting=_hosting(net, qpv, lang))
        rows.append(_row(net, "overlap", "commune", net.unit_codes[p], net.unit_names[p], ids, qpv, sentence,
                         geoms[p], {net.unit_dep[p]}))
    return rows


def _white_epci(net: Network, lang: str, shapes) -> list[dict]:
    rows = []
    for siren, qpv in sorted(net.epci_qpv.items()):
        units = net.epci_units.get(siren, frozenset())
        if any(net.touched[p] for p in units):
            continue
        deps = {net.unit_dep[p] for p in units}
        sentence = _s("white_epci", lang, epci=net.epci_name[siren], siren=siren,
                      department=_w("department_word", len(deps), lang), departments=_listing(sorted(deps), lang),
                      qpv_count=_w("qpv", len(qpv), lang), qpv=_qpv_label(net, qpv, lang))
        rows.append(_row(net, "white_epci", "epci", siren, net.epci_name[siren], [], qpv, sentence,
                         shapes.epci(siren), deps))
    return rows


def enclaves_of(adjacency: UnitAdjacency, units) -> list[int]:
    """Units outside ``units`` (positions) all of whose neighbours are in it, and enclosed by land."""
    inside = set(units)
    out = []
    for c in adjacency.neighbours_of(sorted(inside)).tolist():
        around = adjacency.neighbours(c)
        if len(around) and adjacency.surrounded[c] >= SURROUNDED_SHARE and all(n in inside for n in around.tolist()):
            out.append(c)
    return out


def _enclaves(net: Network, lang: str, shapes) -> list[dict]:
    if not net.council_ids:
        return []
    adjacency = net.vintage.adjacency
    hosted = _hosted(net)
    rows = []
    for cid in net.council_ids:
        found = enclaves_of(adjacency, net.council_units[cid])
        geoms = shapes.units(found)
        for p in found:
            qpv = hosted.get(p, [])
            others = sorted(o for o in net.unit_councils.get(p, ()) if o != cid)
            belongs = _s("enclave_belongs", lang, councils=net.label(others, lang)) if others else ""
            sentence = _s("enclave", lang, unit=net.unit_names[p], code=net.unit_codes[p],
                          council=net.council_names[cid], id=cid, belongs=belongs, hosting=_hosting(net, qpv, lang))
            rows.append(_row(net, "enclave", "commune", net.unit_codes[p], net.unit_names[p], [cid], qpv,
                             sentence, geoms[p], {net.unit_dep[p]}))
    return rows
