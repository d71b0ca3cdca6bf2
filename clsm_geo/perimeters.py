"""Each council of a registry becomes, for a COG year, a set of units and a valid geometry.

Units are communes, or arrondissements in Paris, Lyon and Marseille (:mod:`clsm_geo.units`).
Codes from older COG vintages are resolved (:func:`clsm_geo.codes.resolve_communes`); an EPCI
expands to its member communes of the year; a whole PLM city expands to all its arrondissements.

A *former commune* (a commune déléguée or associée of the year, or a commune merged since) is not a unit:
its perimeter is its own outline inside the commune it is now part of (``Perimeters.pieces``), which the
coverage engine measures against the QPV polygons. Writing the new commune's code means the whole commune.
An EPCI SIREN that no longer exists in the year stands for its member communes of its last vintage.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from . import _gc, _progress, i18n
from . import settings
from .errors import Problem
from .registry import Registry

if TYPE_CHECKING:
    import geopandas as gpd

    from .vintages import Vintage

SCALES = ("infra-communal", "communal", "intercommunal", "whole EPCI")
PIECE_COLUMNS = ["council", "code", "name", "kind", "insee_com", "unit", "population", "outline_year", "outline"]


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

    ``base`` holds the registry's columns and ``own_geometry`` only, and ``matrix`` the councils × units
    0/1 sparse matrix: that is all the coverage engine reads. The per-council tuples of ``councils`` are
    derived from them on first use (they cost more than the engine itself at 30,000 councils).
    """

    year: int
    base: pd.DataFrame
    matrix: object  # scipy.sparse.csr_matrix, councils × units of the year
    problems: tuple[Problem, ...] = field(default=())
    #: Former communes in perimeters: one row per (council, former commune): ``council`` (row position),
    #: ``code, name, kind, insee_com`` (its commune of the year), ``unit`` (position of that commune among the
    #: units), ``population``, ``outline_year``, ``outline`` (shapely, EPSG:4326, inside the commune; None when
    #: unknown). See :data:`PIECE_COLUMNS`.
    pieces: pd.DataFrame | None = None

    @property
    def former(self) -> pd.DataFrame:
        """:attr:`pieces`, or an empty frame with its columns."""
        return self.pieces if self.pieces is not None else pd.DataFrame(columns=PIECE_COLUMNS)

    @functools.cached_property
    def councils(self) -> pd.DataFrame:
        """The registry's columns and the perimeter attributes of each council (see the class doc)."""
        from .geography import geography
        from .units import unit_arrays

        ua = unit_arrays(self.year)
        epci = geography(self.year).attributes("epci")  # members and names: the outlines are not decoded
        epci_members = dict(zip(epci["siren_epci"].tolist(), epci["members"].tolist()))
        epci_names = dict(zip(epci["siren_epci"].tolist(), epci["lib_epci"].tolist()))
        epci_col = self.base["epci_listed"].tolist()
        own_col = self.base["own_geometry"].tolist()
        unit_codes = _tuples(self.matrix, ua["unit"])
        communes = _tuples(self.matrix @ ua["to_commune"], ua["communes"])
        pieces = self.former
        reach = self.matrix
        population = self.matrix @ ua["population"]
        former: list[tuple] = [()] * len(self.base)
        if len(pieces):
            from scipy import sparse

            touched = sparse.csr_matrix((np.ones(len(pieces)), (pieces["council"].to_numpy(dtype=np.int64),
                                                               pieces["unit"].to_numpy(dtype=np.int64))),
                                        shape=self.matrix.shape)
            reach = self.matrix + touched
            population = population + np.bincount(pieces["council"].to_numpy(dtype=np.int64),
                                                   weights=pd.to_numeric(pieces["population"]).fillna(0).to_numpy(),
                                                   minlength=len(self.base))
            for i, group in pieces.groupby("council", sort=True):
                former[int(i)] = tuple(sorted(f"{c}>{p}" for c, p in zip(group["code"], group["insee_com"])))
        records = {
            "units": unit_codes, "communes": communes, "n_communes": [len(c) for c in communes],
            "former_communes": former,
            "population": np.asarray(population).astype(np.int64).tolist(),
            "departments": _tuples(reach @ ua["to_dep"], ua["deps"]),
            "regions": _tuples(reach @ ua["to_reg"], ua["regs"]),
            "epci_touched": _tuples(reach @ ua["to_epci"], ua["epcis"]),
            "epci_names": [tuple(epci_names.get(s, s) for s in sirens) for sirens in epci_col],
            "scale": [_scale(u, c, e, o, epci_members, f)
                      for u, c, e, o, f in zip(unit_codes, communes, epci_col, own_col, former)],
        }
        attributes = pd.DataFrame(records, index=self.base.index)
        out = pd.concat([self.base.drop(columns=["own_geometry"]), attributes], axis=1)
        out["own_geometry"] = own_col
        return out

    def geometries(self, ids=None) -> gpd.GeoSeries:
        """One valid (Multi)Polygon per council in EPSG:4326: its own geometry, or the union of its units and of
        its former communes' outlines.

        ``ids``: only these councils (the others get None), so that a step needing a few perimeters (the
        nearest council, a crossing council) does not dissolve them all.
        """
        from .units import unit_arrays, unit_outlines

        wanted = None if ids is None else set(ids)
        position = {u: i for i, u in enumerate(unit_arrays(self.year)["unit"].tolist())}
        rows = zip(self.councils["id"].tolist(), self.councils["units"].tolist(),
                   self.councils["own_geometry"].tolist())
        asked = {position[u] for cid, unit_codes, own in rows if own is None and (wanted is None or cid in wanted)
                 for u in unit_codes if u in position}
        found = unit_outlines(self.year, asked)  # only the outlines of the units drawn are decoded
        shapes = np.empty(len(position), dtype=object)
        shapes[list(found)] = list(found.values())
        outlines: dict[int, list] = {}
        for i, g in zip(self.former["council"], self.former["outline"]):
            if g is not None:
                outlines.setdefault(int(i), []).append(g)
        # Councils with the same units (a whole EPCI, one commune) share one union: computed once, and the
        # work no longer depends on pandas indexing per council (linear in the number of councils).
        unions: dict[tuple, object] = {}
        geoms = []
        councils = zip(self.councils["id"], self.councils["units"], self.councils["own_geometry"])
        for i, (cid, unit_codes, own) in enumerate(councils):
            if wanted is not None and cid not in wanted:
                geoms.append(None)
                continue
            if own is not None:
                geoms.append(own)
                continue
            key = tuple(sorted(position[u] for u in unit_codes if u in position))
            extra = outlines.get(i, [])
            if not key and not extra:
                geoms.append(None)
                continue
            if extra:  # former communes: their own outlines (rare), not shared
                geoms.append(shapely.make_valid(shapely.union_all(list(shapes[list(key)]) + extra)))
                continue
            union = unions.get(key)
            if union is None:
                union = unions[key] = shapely.make_valid(shapely.union_all(shapes[list(key)]))
            geoms.append(union)
        import geopandas as gpd

        return gpd.GeoSeries(geoms, index=self.councils.index, crs=settings.STORAGE_CRS)


def _flat_codes(registry: Registry, column: str) -> tuple[np.ndarray, np.ndarray, list]:
    """``column``'s codes flattened: codes per council, each listed code's position in the distinct codes, and the
    distinct codes (first appearance); as the reader left them when the table still holds its tuples."""
    lists = registry.code_lists(column)
    if lists is not None:
        return lists.lengths, lists.codes, lists.distinct
    return _factorized(registry.councils[column].tolist())


def _factorized(cells: list[tuple]) -> tuple[np.ndarray, np.ndarray, list]:
    """:func:`_flat_codes` of a list of tuples of codes."""
    lens = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    listed = np.fromiter(chain.from_iterable(cells), dtype=object, count=int(lens.sum()))
    first, found = pd.factorize(listed)
    return lens, first.astype(np.int64), list(found)


@_progress.stepped("perimeters")
@_gc.pausing
def build_perimeters(registry: Registry, year: int | Vintage, *, overlaps: bool = True) -> Perimeters:
    """Resolve every council of ``registry`` to units of COG ``year`` (see :class:`Perimeters`).

    ``year``: a COG year, or a :class:`~clsm_geo.vintages.Vintage` whose geography and unit tables are used.

    ``overlaps=False`` skips the overlap warnings (one sentence per overlapping council), which only the
    validation report shows; the coverage engine does not need them.

    Vectorised: codes are resolved once per distinct code; the councils × units matrix is the
    sparse product councils × codes @ codes × units (+ councils × EPCI @ EPCI × units); per-council
    tuples and attributes are read from that matrix. Python loops run only over distinct codes,
    problem cells and councils carrying their own geometry.
    """
    from scipy import sparse

    from .codes import resolved_rows
    from .geography import geography
    from .units import unit_arrays, units, units_of_commune

    vintage = year if hasattr(year, "cog_year") else None
    year = vintage.cog_year if vintage is not None else year
    ua = vintage.unit_arrays if vintage is not None else unit_arrays(year)
    n_units = len(ua["unit"])
    file = _file_name(registry)
    problems: list[Problem] = []
    councils = registry.councils  # read only: base below shares its columns (copy on write protects both)
    n = len(councils)
    rows_col = councils["row"].tolist()
    # EPCI that no longer exist in the year stand for their members of their last vintage (resolved below)
    e_index = ua["epci_units"]
    gone: dict[int, list[str]] = {}
    # each listed SIREN's row in the year's EPCI × units matrix, -1 when it is not an EPCI of the year
    e_lens, e_first, e_found = _flat_codes(registry, "epci")
    e_rows = np.repeat(np.arange(n), e_lens)
    e_cols = (e_index["lookup"].get_indexer(pd.Index(e_found, dtype=object))[e_first] if len(e_first)
              else np.empty(0, dtype=np.int64))
    for k in np.flatnonzero(e_cols < 0).tolist():  # usually none: every SIREN is of the year
        i = int(e_rows[k])
        problem, members = _vanished_epci(e_found[e_first[k]], year, file, rows_col[i])
        problems.append(problem)
        gone.setdefault(i, []).extend(members)

    # councils × codes, codes × units: each listed code's position among the distinct codes, found by hashing in
    # pandas rather than one dict lookup per cell
    if gone:
        lens, first, found = _factorized([tuple(c) + tuple(gone.get(i, ())) for i, c in
                                          enumerate(councils["communes"].tolist())])
    else:
        lens, first, found = _flat_codes(registry, "communes")
    distinct = list(found)  # in order of first appearance; cells are reported in code order (by_text below)
    position = ua["position"]
    # Codes that are units of the year (nearly all) map to themselves; only the others need resolving.
    unit_of = (ua["lookup"].get_indexer(pd.Index(distinct, dtype=object)) if distinct
               else np.empty(0, dtype=np.int64))
    to_resolve = [distinct[k] for k in np.flatnonzero(unit_of < 0).tolist()]
    by_code: dict[str, list[tuple]] = {}
    for rec in (resolved_rows(to_resolve, year, strict=False, geography=vintage.geography if vintage is not None
                              else None) if to_resolve else ()):
        by_code.setdefault(rec[0], []).append(rec[1:])
    is_unit = np.flatnonzero(unit_of >= 0)
    c_rows, c_cols, flagged = [], [], {}  # the units of the codes resolved (the others are units themselves)
    former_codes = [code for code, hits in by_code.items() if any(h[2] in _FORMER_HOWS for h in hits)]
    outlines = ((vintage.geography if vintage is not None else geography(year)).former_pieces(former_codes)
                if former_codes else {})
    code_pieces: dict[int, list[dict]] = {}
    for k in np.flatnonzero(unit_of < 0).tolist():
        code = distinct[k]
        hits = by_code.get(code, [])
        if not hits or hits[0][2] == "unknown":
            flagged[k] = [("error", i18n.t("perimeters.code.unknown", year=year),
                           hits[0][3] if hits else i18n.t("perimeters.code.not_found"))]
            continue
        for insee_com, insee_arm, how, detail in hits:
            piece = outlines.get((code, insee_com)) if how in _FORMER_HOWS else None
            if piece is not None and insee_com not in position:  # merged into Paris, Lyon or Marseille
                flagged.setdefault(k, []).append(_city_error(piece, year))
                continue
            if piece is not None:
                code_pieces.setdefault(k, []).append({**piece, "unit": position[insee_com]})
                flagged.setdefault(k, []).append(_former_warning(piece, how, detail, year))
                continue
            if how not in ("current", "arrondissement"):
                flagged.setdefault(k, []).append(("warning", i18n.t("perimeters.code.old",
                                                                    how=i18n.t(f"perimeters.how.{how}")), detail))
            got = (insee_arm,) if isinstance(insee_arm, str) and insee_arm else units_of_commune(insee_com, year)
            for u in got:
                c_rows.append(k)
                c_cols.append(position[u])
    c_rows = np.concatenate([is_unit, np.asarray(c_rows, dtype=np.int64)])
    c_cols = np.concatenate([unit_of[is_unit], np.asarray(c_cols, dtype=np.int64)])
    code_units = sparse.csr_matrix((np.ones(len(c_rows)), (c_rows, c_cols)), shape=(len(distinct), n_units))
    r_rows = np.repeat(np.arange(n), lens)
    by_codes = sparse.csr_matrix((np.ones(len(r_rows)), (r_rows, first)), shape=(n, len(distinct)))

    def by_text(keys) -> list[int]:  # distinct codes in the order of their text (problems and pieces in order)
        return sorted(keys, key=lambda k: str(distinct[k]))

    # former communes: one row per (council, former commune)
    piece_rows = []
    if code_pieces:
        keys = by_text(code_pieces)
        sub = by_codes[:, keys].tocoo()
        for i, j in sorted(set(zip(sub.row.tolist(), sub.col.tolist()))):
            for piece in code_pieces[keys[j]]:
                piece_rows.append({"council": i, **piece})
    pieces = pd.DataFrame(piece_rows, columns=PIECE_COLUMNS)

    # councils × (codes, then EPCI) @ (codes, then EPCI) × units, in one product (a SIREN that is not of the year
    # was resolved above, through its members)
    e_rows, e_cols = e_rows[e_cols >= 0], e_cols[e_cols >= 0]
    if len(e_rows):
        listed = sparse.csr_matrix((np.ones(len(r_rows) + len(e_rows)), (np.concatenate([r_rows, e_rows]),
                                    np.concatenate([first, len(distinct) + e_cols]))),
                                   shape=(n, len(distinct) + e_index["matrix"].shape[0]))
        matrix = listed @ sparse.vstack([code_units, e_index["matrix"]], format="csr")
    else:
        matrix = by_codes @ code_units

    # problem cells: only councils listing a flagged code
    if flagged:
        keys = by_text(flagged)
        sub = by_codes[:, keys].tocoo()
        for i, j in sorted(zip(sub.row.tolist(), sub.col.tolist())):
            code = distinct[keys[j]]
            for severity, message, detail in flagged[keys[j]]:
                problems.append(Problem(severity, file, rows_col[i], "communes", code, message, detail))

    # councils carrying their own geometry
    own_col = [None] * n
    extra_rows, extra_cols = [], []
    row_nnz = np.diff(matrix.tocsr().indptr)
    geometries = councils["geometry"].to_numpy()
    for i in np.flatnonzero(geometries != None).tolist():  # noqa: E711 (element-wise)
        own = _clean_polygon(geometries[i])
        own_col[i] = own
        if own is None:
            problems.append(Problem("error", file, rows_col[i], "geometry", None, i18n.t("perimeters.geometry.empty"),
                                    i18n.t("perimeters.geometry.empty_hint")))
        elif row_nnz[i] == 0:
            table = vintage.units if vintage is not None else units(year)  # outlines only when needed
            hit = table.sindex.query(own, predicate="intersects")
            extra_rows += [i] * len(hit)
            extra_cols += list(hit)
    if extra_rows:
        matrix = matrix + sparse.csr_matrix((np.ones(len(extra_rows)), (extra_rows, extra_cols)), shape=matrix.shape)
    matrix = matrix.tocsr()
    matrix.data[:] = 1.0
    matrix.sum_duplicates()
    matrix.sort_indices()

    renamed = {"communes": "communes_listed", "epci": "epci_listed"}
    base = pd.DataFrame({**{renamed.get(c, c): councils[c] for c in councils.columns if c != "geometry"},
                         "own_geometry": pd.Series(own_col, index=councils.index, dtype=object)}, index=councils.index,
                        copy=False)  # the registry's columns shared, not copied (copy on write protects both)
    if overlaps:
        problems += _overlap_warnings(base, file, year, matrix=matrix, unit_labels=ua["unit"])
    problems = registry.in_file_columns(problems)  # columns named as in the file, as the registry's own
    return Perimeters(year=year, base=base, matrix=matrix, problems=tuple(problems), pieces=pieces)


#: How a code of an earlier COG reaches a commune of the year when it names a former commune with an outline.
_FORMER_HOWS = ("deleguee", "associee", "merged")


def _former_warning(piece: dict, how: str, detail: str, year: int) -> tuple[str, str, str]:
    """The warning for a former commune in a perimeter: what it became, and which outline is used (``detail``,
    the resolution sentence of :func:`clsm_geo.codes.resolve_communes`, is replaced by a catalogue text)."""
    from .geography import geography

    names = geography(year).commune_names
    vals = {"code": piece["code"], "name": piece["name"] or "", "parent": piece["insee_com"],
            "parent_name": names.get(piece["insee_com"], ""), "year": year, "how": how,
            "outline_year": piece["outline_year"] or ""}
    if piece["outline"] is None:
        return ("warning", i18n.t("perimeters.former.unknown", **vals),
                i18n.t("perimeters.former.unknown_detail", **vals))
    return ("warning", i18n.t("perimeters.former.outline", **vals),
            i18n.t("perimeters.former.outline_detail", **vals))


def _city_error(piece: dict, year: int) -> tuple[str, str, str]:
    """The error for a former commune merged into Paris, Lyon or Marseille (69232 Saint-Rambert-l'Île-Barbe,
    in Lyon since 1963): the city's units are its arrondissements, and nothing says which one holds it."""
    from .geography import geography
    from .units import units_of_commune

    city = piece["insee_com"]
    arms = units_of_commune(city, year)
    vals = {"code": piece["code"], "name": piece["name"] or "", "parent": city,
            "parent_name": geography(year).commune_names.get(city, ""),
            "first": arms[0] if arms else "", "last": arms[-1] if arms else ""}
    return ("error", i18n.t("perimeters.former.city", **vals), i18n.t("perimeters.former.city_hint", **vals))


def _vanished_epci(siren: str, year: int, file: str, row) -> tuple[Problem, tuple[str, ...]]:
    """The problem for an EPCI SIREN that is not an EPCI of ``year`` and, when it existed earlier, its members."""
    from . import i18n
    from .geography import SHIPPED_YEARS, geography

    hist = geography(year).epci_history()
    hit = hist[hist["siren"] == siren]
    if len(hit):
        rec = hit.iloc[0]
        names = dict(zip(geography(year).epci["siren_epci"], geography(year).epci["lib_epci"]))
        succ = ", ".join(f"{s} {names.get(s, '')}".strip() for s in rec["successors"]) or "—"
        vals = {"siren": siren, "name": rec["name"], "last_year": int(rec["last_year"]), "year": year,
                "n": len(rec["members"]), "successors": succ}
        return (Problem("warning", file, row, "epci", siren, i18n.t("perimeters.epci.vanished", **vals),
                        i18n.t("perimeters.epci.vanished_hint", **vals)), tuple(rec["members"]))
    later = [y for y in SHIPPED_YEARS if y != year and siren in set(geography(y).epci["siren_epci"])]
    if later:
        vals = {"siren": siren, "year": year, "years": ", ".join(map(str, later))}
        return (Problem("error", file, row, "epci", siren, i18n.t("perimeters.epci.other_year", **vals),
                        i18n.t("perimeters.epci.other_year_hint", **vals)), ())
    return (Problem("error", file, row, "epci", siren, i18n.t("perimeters.epci_unknown.message", year=year),
                    i18n.t("perimeters.epci_unknown.hint")), ())


def _tuples(mat, labels: np.ndarray) -> list[tuple]:
    """Row by row, the labels of the non-zero columns of a sparse matrix (sorted by column)."""
    mat = mat.tocsr()
    mat.sort_indices()
    flat = labels[mat.indices].tolist()
    ptr = mat.indptr.tolist()
    return [tuple(flat[a:b]) for a, b in zip(ptr[:-1], ptr[1:])]


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


def _scale(unit_codes, communes, epci, own, epci_members, former=()) -> str:
    if own is not None:
        return "infra-communal"
    if former:
        parents = {f.split(">")[1] for f in former} | set(communes)
        return "intercommunal" if len(parents) > 1 else ("communal" if communes else "infra-communal")
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


def _overlap_warnings(councils: pd.DataFrame, file: str, year: int, *, most: int = 5, matrix=None,
                      unit_labels=None) -> list[Problem]:
    """One warning per active council sharing units with earlier active councils (vectorised on the matrix)."""
    active = (councils["status"] == "active").to_numpy()
    coo = matrix[np.flatnonzero(active)].tocoo()
    act_idx = np.flatnonzero(active)
    council, unit = act_idx[coo.row], coo.col
    order = np.lexsort((council, unit))               # by unit, then registry order
    council, unit = council[order], unit[order]
    first = np.r_[True, unit[1:] != unit[:-1]]
    owner = council[np.maximum.accumulate(np.where(first, np.arange(len(unit)), 0))]
    shared = council != owner
    if not shared.any():
        return []
    ids = councils["id"].to_numpy()
    rows = councils["row"].to_numpy()
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(ids.astype(str), kind="stable")] = np.arange(len(ids))
    c, o, u = council[shared], owner[shared], unit[shared]
    order = np.lexsort((u, id_rank[o], c))            # council, then other council's id, then unit
    c, o, u = c[order], o[order], u[order]
    pair = np.r_[True, (c[1:] != c[:-1]) | (o[1:] != o[:-1])]
    starts = np.flatnonzero(pair)
    counts = np.diff(np.r_[starts, len(c)])
    pc, po = c[starts], o[starts]
    cstart = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])     # each council's first part
    group = np.repeat(np.arange(len(cstart)), np.diff(np.r_[cstart, len(pc)]))
    keep = np.arange(len(pc)) - cstart[group] < most                  # the first ``most`` parts are written
    starts, counts, po, group = starts[keep], counts[keep], po[keep], group[keep]
    first_kept = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lang = i18n.get_lang()
    # Every sentence is filled column by column (i18n.format_each): the same texts as one str.format per part.
    labels = np.asarray(list(unit_labels), dtype=object)
    sample = labels[u[starts]]
    for extra in (1, 2):
        there = counts > extra
        sample = sample + np.where(there, ", " + labels[u[np.where(there, starts + extra, starts)]], "")
    sample = sample + np.where(counts > 3, " …", "")
    values, inverse = np.unique(counts, return_inverse=True)
    n_text = np.asarray([i18n.fmt_int(int(v), lang) for v in values], dtype=object)[inverse]
    ids_obj = np.array(list(map(str, ids.tolist())), dtype=object)  # as str.format writes them (no fixed width)
    parts = i18n.format_each(i18n.template("perimeters.overlap.part", lang), len(starts),
                             other=ids_obj[po], n=n_text, sample=sample)
    separator = i18n.t("perimeters.overlap.separator", lang)
    later = np.ones(len(parts), dtype=bool)
    later[first_kept] = False
    parts[later] = separator + parts[later]
    joined = np.add.reduceat(parts, first_kept) if len(parts) else parts
    extra = np.diff(np.r_[cstart, len(pc)]) - most
    more_of = {int(k): i18n.tn("perimeters.overlap.more", int(k), lang) for k in np.unique(extra[extra > 0])}
    more = np.asarray([more_of.get(int(k), "") for k in extra], dtype=object)
    council = pc[cstart]
    messages = i18n.format_each(i18n.template("perimeters.overlap.message", lang), len(council),
                                id=ids_obj[council], year=str(year), parts=joined, more=more)
    hint = i18n.t("perimeters.overlap.hint", lang)
    return [Problem("warning", file, int(row), "communes", None, message, hint)
            for row, message in zip(rows[council].tolist(), messages.tolist())]


def _years_of(column: pd.Series) -> np.ndarray:
    """A nullable year column as floats, NaN where missing (every comparison with NaN is False)."""
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _status_in(column: pd.Series, *values: tuple[str, ...]) -> list[np.ndarray]:
    """For each tuple of ``values``, whether each status is one of them (each distinct status compared once;
    missing: False)."""
    codes, uniques = pd.factorize(column)
    uniques = np.asarray(uniques, dtype=object)
    return [np.append(np.isin(uniques, v), False)[codes] for v in values]


def _active(councils: pd.DataFrame, year: int) -> np.ndarray:
    active, ended = _status_in(councils["status"], ("active",), ("dormant", "closed"))
    return (_years_of(councils["created"]) <= year) & (active | (ended & (_years_of(councils["closed"]) > year)))


def active_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Councils counting as active at 31 December of ``year``.

    Created in or before ``year`` and active now, or dormant/closed only after ``year``.
    """
    return pd.Series(_active(councils, year), index=councils.index)


def in_project_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Councils in project at the end of ``year`` (status in project, not created after ``year``)."""
    created = _years_of(councils["created"])
    return pd.Series(_status_in(councils["status"], ("in_project",))[0] & ~(created > year), index=councils.index)


def new_mask(councils: pd.DataFrame, year: int) -> pd.Series:
    """Active councils created during ``year``."""
    return pd.Series(_active(councils, year) & (_years_of(councils["created"]) == year), index=councils.index)


def councils_per_unit(perimeters: Perimeters, mask: np.ndarray | pd.Series) -> np.ndarray:
    """How many councils of ``mask`` (a boolean per council) hold each unit of the year (a vector over units):
    the column sums of :func:`unit_matrix`, without building it."""
    return np.asarray(perimeters.matrix.T @ np.asarray(mask, dtype=float)).ravel()


def unit_matrix(perimeters: Perimeters, mask: np.ndarray | pd.Series | None = None):
    """Sparse 0/1 matrix councils × units of the year (rows in ``perimeters.councils`` order).

    Rows of councils outside ``mask`` (a boolean per council) are all zero.
    """
    from scipy import sparse

    full = perimeters.matrix
    if mask is None:
        return full
    return (sparse.diags(np.asarray(mask, dtype=float)) @ full).tocsr()
