"""The coverage engine: which QPV are covered by active councils in a year, by two methods.

* ``commune``: a QPV is ``covered`` when all its official communes lie inside active councils'
  perimeters, ``partial`` when some do, ``uncovered`` otherwise. Where a council covers only some
  arrondissements of Paris, Lyon or Marseille (or an infra-communal perimeter), the lists cannot
  tell which part of the city the QPV is in: the status is ``undetermined`` and the note says so.
* ``geometry``: the share of the QPV's area inside perimeters (see :mod:`clsm_geo.apportion`):
  ``covered`` from ``settings.covered_threshold`` (99 %), ``partial`` above
  ``settings.partial_threshold`` (1 %), else ``uncovered``.
* ``auto``: geometry for QPV with a polygon, commune for the others.

A council counts for a year when created in or before it and active, or closed/dormant only after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _gc, i18n
from . import settings as _settings
from .apportion import FormerEffect, QpvUnitRelation, former_effect
from .errors import InputError, RegistryError
from .perimeters import Perimeters, active_mask, build_perimeters, councils_per_unit
from .registry import Registry, read_registry
from .result import CoverageResult
from .vintages import relation_for  # noqa: F401  (re-exported: clsm_geo.coverage.relation_for)

METHODS = ("auto", "commune", "geometry")
#: Note of QPV whose department is not in the COG (collectivités d'outre-mer such as Saint-Martin, Polynésie).
STATUSES = ("covered", "partial", "uncovered", "undetermined")


@_gc.pausing
def coverage(registry, year: int = 2024, *, qpv=None, method: str = "auto", population=None,
             settings=None, vintage=None) -> CoverageResult:
    """Coverage of the QPV in force in ``year`` by the councils active at 31 December of ``year``.

    ``registry``: a path or a :class:`~clsm_geo.registry.Registry`. ``qpv``: a
    :class:`~clsm_geo.qpv.QpvLayer`, a path or URL, or None for the default source of the year's
    QPV geography (user cache, then the shipped layer), or a dict ``{2015: …, 2024: …}`` of those.
    Each territory is measured with the geography in force there in ``year``
    (:func:`clsm_geo.in_force.layer_for_year`: in 2024, metropolitan QPV of the 2024 geography and
    overseas QPV of the 2015 geography); a geography that cannot be found is listed in
    ``summary["qpv_missing_geographies"]``. ``population``: INSEE QPV population file(s) (path, list of
    paths, or ``{geography: path}``), default the cached ones (:mod:`clsm_geo.population`).
    ``method``: ``auto``, ``commune`` or ``geometry``. ``year`` must be measurable
    (:func:`clsm_geo.vintages.check_year`: 2015 to the last shipped COG year, never a silent nearest vintage).
    ``vintage``: a :class:`~clsm_geo.vintages.Vintage` of ``year`` already built (then ``qpv`` is not read);
    the result keeps the one it used (``res.vintage``) for gaps, plan, maps and report.
    Raises :class:`RegistryError` when the registry has errors.
    """
    from .vintages import check_year
    from .vintages import vintage as build_vintage

    year = check_year(year)
    cfg = settings or _settings.get()
    if method not in METHODS:
        raise InputError(i18n.t("engine.coverage.unknown_method", method=repr(method)),
                         hint=i18n.t("engine.coverage.unknown_method_hint"))
    reg = registry if isinstance(registry, Registry) else read_registry(registry)
    if vintage is None:
        vintage = build_vintage(year, qpv, settings=cfg)
    elif vintage.year != year:
        raise InputError(i18n.t("engine.coverage.vintage_year", given=vintage.year, year=year))
    cog_year, layer = vintage.cog_year, vintage.layer
    perims = build_perimeters(reg, vintage, overlaps=False)
    errors = [p for p in perims.problems if p.severity == "error"]
    if errors:
        raise RegistryError(i18n.tn("engine.coverage.registry_errors", len(errors), year=cog_year),
                            list(reg.problems) + list(perims.problems),
                            hint=i18n.t("engine.coverage.registry_errors_hint", registry=reg.source, year=year))
    if method == "geometry" and not layer.has_polygons:
        raise InputError(i18n.t("engine.coverage.no_polygons"), hint=i18n.t("engine.coverage.no_polygons_hint"))
    from .population import population_for

    pop = population_for(layer.table, population, settings=cfg)
    return _compute(reg, perims, vintage, method, cfg, pop)


def _compute(reg, perims: Perimeters, vintage, method, cfg, pop=None) -> CoverageResult:
    from .in_force import in_force_mask

    year, cog_year, layer = vintage.year, vintage.cog_year, vintage.layer
    frame = layer.table  # attributes; polygons from the layer where a step needs them
    rel = vintage.relation
    councils = perims.base
    active = active_mask(councils, year).to_numpy()
    own = councils["own_geometry"].notna().to_numpy()
    x = np.minimum(councils_per_unit(perims, active & ~own), 1.0)  # units inside active unit perimeters

    # Commune method; units of infra-communal perimeters and of former communes count as "partly" covered (0.5).
    partly = councils_per_unit(perims, active & own) > 0
    former = _former(perims, active, rel, layer, x, vintage)
    partly[former.units] = True
    x_commune = commune_indicator(x, partly)
    own_rows = active & own                 # councils with their own (infra-communal) perimeter: usually none
    own_share = _own_geometry_shares(layer, councils[own_rows]) if own_rows.any() else np.zeros(len(frame))
    use_geometry = uses_geometry(rel, method)
    st = qpv_statuses(rel, x, x_commune, own_share, use_geometry, cfg, former=former)
    commune_status, geometry_status, area_share = st.commune_status, st.geometry_status, st.area_share
    status, share = st.status, st.share
    used = np.where(use_geometry, "geometry", "commune")

    council_ids = councils["id"].tolist()
    touching = _councils_per_qpv(rel, perims, active, own, layer, use_geometry, cfg)
    _add_former_councils(touching, rel, perims, active, layer, use_geometry, cfg, cog_year, vintage.former_shares)
    deps = set(vintage.geography.attributes("departments")["insee_dep"])
    in_scope = frame["insee_dep"].isin(deps).to_numpy()
    in_force = in_force_mask(frame, year, layer.geography) & in_scope
    qpv_geography = (frame["qpv_geography"].astype(int) if "qpv_geography" in frame.columns
                     else pd.Series(layer.geography, index=frame.index))

    notes = _notes(frame, rel, commune_status, use_geometry, former, in_scope, in_force, getattr(layer, "missing", ()),
                   year)
    population = pop.values if pop is not None else np.full(len(frame), np.nan)
    counted = np.isin(status, ("covered", "partial"))
    qpv_table = _qpv_table(
        frame, status=status, covered_share=np.round(share, 6), method=used,
        councils=[tuple(map(council_ids.__getitem__, js)) for js in touching],
        status_commune=commune_status, status_geometry=np.where(rel.has_polygon, geometry_status, None),
        area_share=np.where(rel.has_polygon, np.round(area_share, 6), np.nan),
        in_force=in_force, qpv_geography=qpv_geography.to_numpy(),
        population=population, population_covered=np.where(counted, population, np.where(np.isnan(population),
                                                                                          np.nan, 0.0)),
        note=notes,
    )
    reconciliation = _reconcile(qpv_table, rel, cfg, former) if method != "commune" else None
    return CoverageResult.build(
        year=year, cog_year=cog_year, method=method, registry=reg, perimeters=perims, qpv_layer=layer,
        qpv=qpv_table, reconciliation=reconciliation, settings=cfg, population=pop, vintage=vintage,
        in_scope=in_scope,
    )


def _qpv_table(frame, **columns) -> pd.DataFrame:
    """The result's QPV table: the columns of :data:`clsm_geo.result.QPV_COLUMNS` taken from ``columns`` or else
    from ``frame`` (the layer's attribute table), built at once (no geometry: the result adds it on demand)."""
    from .result import QPV_COLUMNS

    data = {c: columns[c] if c in columns else frame[c] for c in QPV_COLUMNS}
    return pd.DataFrame(data, index=frame.index, copy=False)  # frame's columns shared


@dataclass(frozen=True)
class QpvStatuses:
    """Statuses of every QPV of a relation for one set of covered units (see :func:`qpv_statuses`)."""

    status: np.ndarray
    share: np.ndarray
    commune_status: np.ndarray
    commune_share: np.ndarray
    geometry_status: np.ndarray
    area_share: np.ndarray


def commune_indicator(x: np.ndarray, partly: np.ndarray) -> np.ndarray:
    """Units vector of the commune method: 1 inside perimeters, 0.5 where only infra-communal ones reach."""
    return np.where(x > 0, 1.0, np.where(partly, 0.5, 0.0))


def uses_geometry(rel: QpvUnitRelation, method: str) -> np.ndarray:
    """Per QPV, whether ``method`` measures it by geometry (auto and geometry: QPV with a polygon)."""
    return rel.has_polygon if method in ("auto", "geometry") else np.zeros(len(rel.qpv_codes), bool)


def qpv_statuses(rel: QpvUnitRelation, x: np.ndarray, x_commune: np.ndarray, own_share: np.ndarray,
                 use_geometry: np.ndarray, settings, former: FormerEffect | None = None) -> QpvStatuses:
    """The engine's rules, pure: status and covered share of every QPV of ``rel``.

    ``x``: 0/1 vector over units inside active councils' unit perimeters; ``x_commune``: the same
    for the commune method (:func:`commune_indicator`); ``own_share``: share of each QPV's area
    inside infra-communal (own-geometry) perimeters; ``use_geometry``: :func:`uses_geometry`;
    ``former``: outlines of former communes in perimeters (:func:`clsm_geo.apportion.former_effect`).
    A few sparse products: cheap enough to evaluate thousands of scenarios per second.

    Former communes: their outline adds ``W[q, u] × f`` to the area share (``f``: share of the QPV's area in
    the unit inside the outline). For the commune method the outline settles the unit for that QPV when
    ``f`` is at least the covered threshold (inside) or at most the partial threshold (outside, and no
    outline unknown); otherwise the unit stays "partly" covered, hence ``undetermined``. A QPV reaching a
    unit whose former-commune outline is unknown is ``undetermined`` by both methods unless already covered.
    """
    n = len(rel.qpv_codes)
    frac = rel.commune_fractions(x_commune)
    area_share = rel.area_shares(x)
    unknown_q = np.zeros(n, dtype=bool)
    if former is not None and len(former.q) and (x[former.u] > 0).any():
        former = _drop_covered(former, x)   # units now wholly inside perimeters need no outline
    if former is not None and len(former.q):
        area_share = np.clip(area_share + np.bincount(former.q, weights=former.w * former.f, minlength=n), 0, 1)
        settled = np.where(former.f >= settings.covered_threshold, 1.0,
                           np.where((former.f <= settings.partial_threshold) & ~former.unknown, 0.0, 0.5))
        e = former.pair_entry
        frac = frac + np.bincount(former.pair, weights=(settled[e] - x_commune[former.u[e]]) / np.maximum(
            rel.pair_size[former.pair], 1), minlength=len(frac))
        unknown_q[former.q[former.unknown & (former.f < settings.covered_threshold)]] = True
    commune_status, commune_share = _commune_status(rel, frac, n)
    area_share = area_share + (1.0 - area_share) * own_share
    geometry_status = np.where(area_share >= settings.covered_threshold, "covered",
                               np.where(unknown_q, "undetermined",
                                        np.where(area_share > settings.partial_threshold, "partial", "uncovered")))
    status = np.where(use_geometry, geometry_status, commune_status)
    share = np.where(use_geometry, np.where(geometry_status == "undetermined", np.nan, area_share), commune_share)
    return QpvStatuses(status=status, share=share, commune_status=commune_status, commune_share=commune_share,
                       geometry_status=geometry_status, area_share=area_share)


def _commune_status(rel: QpvUnitRelation, frac: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Commune-method status from the fraction of each (QPV, official commune) pair's units inside perimeters.

    A pair is *in* (fraction 1), *out* (0) or *unsettled* (in between: the lists cannot place the QPV inside
    the commune). ``covered``: all pairs in; ``uncovered``: all out; ``partial``: at least one in and one out;
    anything else involves an unsettled pair whose answer would change the status: ``undetermined``.
    """
    frac = np.round(frac, 9)
    full = np.bincount(rel.pair_qpv, weights=(frac >= 1.0).astype(float), minlength=n)
    zero = np.bincount(rel.pair_qpv, weights=(frac <= 0.0).astype(float), minlength=n)
    total = np.bincount(rel.pair_qpv, minlength=n).astype(float)
    share = np.bincount(rel.pair_qpv, weights=frac, minlength=n) / np.maximum(total, 1)
    status = np.where((total > 0) & (full == total), "covered",
                      np.where(zero == total, "uncovered",
                               np.where((full > 0) & (zero > 0), "partial", "undetermined")))
    return status, np.where(status == "undetermined", np.nan, share)


def _drop_covered(former: FormerEffect, x: np.ndarray) -> FormerEffect:
    """``former`` without the entries of units where ``x`` is 1."""
    keep = x[former.u] == 0
    index = np.cumsum(keep) - 1
    pk = keep[former.pair_entry]
    return FormerEffect(q=former.q[keep], u=former.u[keep], w=former.w[keep], f=former.f[keep],
                        unknown=former.unknown[keep], pair_entry=index[former.pair_entry[pk]],
                        pair=former.pair[pk], units=former.units[x[former.units] == 0], labels=former.labels)


def _former(perims: Perimeters, active: np.ndarray, rel: QpvUnitRelation, layer, x: np.ndarray,
            vintage) -> FormerEffect:
    """Outlines of the former communes in active councils' perimeters, measured on the uncovered units."""
    pieces = perims.former
    if pieces.empty:
        return FormerEffect.empty()
    pieces = pieces[active[pieces["council"].to_numpy(dtype=np.int64)]]
    if pieces.empty:
        return FormerEffect.empty()
    return former_effect(rel, layer.geometries, layer.table["insee_dep"].to_numpy(), pieces, x,
                         _Outlines(vintage.cog_year, pieces["unit"].tolist()), vintage.geography.commune_names,
                         vintage.former_shares)


class _Outlines:
    """Unit position -> outline (EPSG:4326) of the units ``positions`` (:func:`clsm_geo.units.unit_outlines`),
    read on first use: a run whose former-commune shares all come from ``data/prebuilt`` never reads them."""

    def __init__(self, year: int, positions: list[int]):
        self._year, self._positions, self._outlines = year, positions, None

    def __getitem__(self, position: int):
        if self._outlines is None:
            from .units import unit_outlines

            self._outlines = unit_outlines(self._year, self._positions)
        return self._outlines[position]


def _add_former_councils(touching, rel, perims, active, layer, use_geometry, cfg, year, shares=None) -> None:
    """Add to ``touching`` the councils whose former-commune outlines hold more than the partial threshold of a
    QPV (geometry) or that reach one of its official communes through such an outline (commune method).
    ``shares``: :func:`clsm_geo.apportion.former_share_table` of the layer and year, when at hand."""
    pieces = perims.former
    if pieces.empty:
        return
    pieces = pieces[active[pieces["council"].to_numpy(dtype=np.int64)]]
    from .apportion import inside_share

    unit_geoms = _Outlines(year, pieces["unit"].tolist())
    weights = rel.weights.tocsc()
    geoms, deps = layer.geometries, layer.table["insee_dep"].to_numpy()
    pair_units = rel.pair_units.tocsc()

    def share(q, u, code, outline):
        stored = shares.get((q, u, code)) if shares is not None and outline is not None else None
        return stored[0] if stored is not None else inside_share(geoms[q], outline, unit_geoms[u], deps[q])

    for council, u, code, outline in zip(pieces["council"].tolist(), pieces["unit"].tolist(), pieces["code"].tolist(),
                                         pieces["outline"].tolist()):
        col = weights[:, u]
        for q, w in zip(col.indices.tolist(), col.data.tolist()):
            if use_geometry[q] and w * share(q, u, code, outline) > cfg.partial_threshold:
                touching[q] = sorted(set(touching[q]) | {int(council)})
        for k in pair_units[:, u].indices.tolist():
            q = int(rel.pair_qpv[k])
            if use_geometry[q]:
                continue
            # commune method: a council touches the QPV unless its known outline leaves the QPV out
            if rel.has_polygon[q] and outline is not None and share(q, u, code, outline) <= cfg.partial_threshold:
                continue
            touching[q] = sorted(set(touching[q]) | {int(council)})


def _own_geometry_shares(layer, own_councils: pd.DataFrame) -> np.ndarray:
    """Share of each QPV of ``layer`` (:class:`~clsm_geo.qpv.QpvLayer`) in the union of active councils' own
    (infra-communal) geometries, computed in the projected CRS of each QPV's department."""
    import geopandas as gpd
    import shapely

    out = np.zeros(len(layer.table))
    if own_councils.empty:
        return out
    frame = layer.frame
    union = shapely.union_all(own_councils["own_geometry"].to_numpy())
    geoms = frame.geometry
    hits = geoms.sindex.query(union, predicate="intersects")
    if len(hits) == 0:
        return out
    for epsg, idx in _group_by_crs(frame["insee_dep"].to_numpy()[hits], hits):
        q = gpd.GeoSeries(geoms.to_numpy()[idx], crs=4326).to_crs(epsg)
        u = gpd.GeoSeries([union], crs=4326).to_crs(epsg).iloc[0]
        inter = shapely.area(shapely.intersection(q.to_numpy(), u))
        out[idx] = np.clip(inter / np.maximum(shapely.area(q.to_numpy()), 1e-9), 0, 1)
    return out


def _group_by_crs(deps: np.ndarray, idx: np.ndarray):
    crs = np.array([_settings.projected_crs(d) for d in deps])
    for epsg in sorted(set(crs.tolist())):
        yield epsg, idx[crs == epsg]


def _councils_per_qpv(rel, perims, active, own, layer, use_geometry, cfg) -> list[list[int]]:
    """Positions of the active councils that cover each QPV (above the partial threshold)."""
    counted = active & ~own                                  # councils measured by their units
    from scipy import sparse

    # One product: the counted councils' rows of the councils × units matrix (CSR) times the relation's units ×
    # (QPV, pairs) table, restricted to the columns that count (each QPV measured by geometry: its area share per
    # council; each pair of a QPV measured by its communes: the units of the pair a council holds).
    n_qpv = rel.weights.shape[0]
    columns = np.concatenate([np.flatnonzero(use_geometry), n_qpv + np.flatnonzero(~use_geometry[rel.pair_qpv])])
    at = np.flatnonzero(counted)
    both = (perims.matrix[at] @ rel.by_unit[:, columns]).tocoo()
    column = columns[both.col]
    area = column < n_qpv                                   # area share of a QPV per council; units of a pair
    q = np.where(area, column, rel.pair_qpv[np.where(area, 0, column - n_qpv)])
    keep = np.where(area, both.data > cfg.partial_threshold, both.data > 0)
    q = q[keep].astype(np.int64)
    c = at[both.row[keep]].astype(np.int64)

    # QPV × councils, each pair once, councils in order within a QPV (CSR sums repeated pairs; 0 stays out)
    touched = sparse.csr_matrix((np.ones(len(q), dtype=np.int64), (q, c)), shape=(len(layer.table), len(perims.base)))
    touched.sum_duplicates()
    bounds, councils = touched.indptr.tolist(), touched.indices.tolist()
    out: list[list[int]] = [councils[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    for j in np.flatnonzero(active & own):
        shares = _own_geometry_shares(layer, perims.base.iloc[[j]])
        for q in np.flatnonzero(shares > cfg.partial_threshold).tolist():
            if int(j) not in out[q]:
                out[q] = sorted([*out[q], int(j)])
    return out


def _notes(frame, rel, commune_status, use_geometry, former: FormerEffect | None, in_scope, in_force, missing,
           year) -> list[str]:
    """The note of each QPV (empty for most): former communes, official communes unknown in the year, no polygon,
    what the lists cannot tell, out of the COG's scope, geography in force not available (``missing``)."""
    from . import i18n

    plm = set(_settings.PLM_CITIES)
    unknown = set(former.q[former.unknown].tolist()) if former is not None else set()
    labels = former.labels if former is not None else {}
    separator = i18n.t("engine.note.separator")
    undetermined = commune_status == "undetermined"
    gaps = [(i18n.t("engine.note.missing_geography", year=year, geography=m.geography, hint=m.hint),
             (frame["overseas"].to_numpy(dtype=bool) == (m.territory == "overseas")) & ~in_force & in_scope)
            for m in missing]
    some = ~rel.has_polygon | undetermined | ~in_scope
    for _, here in gaps:
        some |= here
    some[list(labels)] = True
    if rel.unresolved:
        some |= np.isin(frame["code_qp"].to_numpy(), list(rel.unresolved))
    notes = [""] * len(frame)
    codes, communes = frame["code_qp"].to_numpy(), frame["communes"].to_numpy()
    for i in np.flatnonzero(some).tolist():
        code, parts = codes[i], []
        if i in labels:
            key = "perimeters.former.note_unknown" if i in unknown else "perimeters.former.note"
            parts.append(i18n.t(key, codes=labels[i]))
        if code in rel.unresolved:
            parts.append(i18n.tn("engine.note.unresolved", len(rel.unresolved[code]), codes=", ".join(rel.unresolved[code])))
        if not rel.has_polygon[i]:
            parts.append(i18n.t("engine.note.no_polygon"))
        if undetermined[i] and i not in labels:
            city = plm & set(communes[i])
            parts.append(i18n.t("engine.note.part_of_city" if city else "engine.note.part_of_commune")
                         + i18n.t("engine.note.geometry_used" if use_geometry[i] else "engine.note.use_geometry"))
        if not in_scope[i]:
            parts.append(i18n.t("engine.note.out_of_scope"))
        parts += [gap for gap, here in gaps if here[i]]
        notes[i] = separator.join(parts)
    return notes


def _reconcile(table: pd.DataFrame, rel: QpvUnitRelation, cfg, former: FormerEffect | None = None) -> pd.DataFrame:
    """QPV where the commune and geometry methods disagree, with the reason; ``former_communes`` names the former
    communes (code name > commune of the year) whose outline decided or left open the QPV's status."""
    from . import i18n

    labels = former.labels if former is not None else {}
    unknown = set(former.q[former.unknown].tolist()) if former is not None else set()
    commune, geometry = table["status_commune"].to_numpy(), table["status_geometry"].to_numpy()
    positions = np.flatnonzero(rel.has_polygon & (commune != geometry))
    columns = ["code_qp", "lib_qp", "insee_dep", "communes", "status_commune", "status_geometry", "area_share"]
    # those rows of those columns, each of its own dtype (no geometry copied)
    out = {c: pd.Series(table[c].to_numpy()[positions], dtype=table[c].dtype) for c in columns}
    reasons = []
    for pos, c, g, s in zip(positions.tolist(), commune[positions].tolist(), geometry[positions].tolist(),
                            table["area_share"].to_numpy()[positions].tolist()):
        if pos in labels and pos in unknown:
            reason = i18n.t("perimeters.former.reason_unknown", codes=labels[pos])
        elif pos in labels:
            reason = i18n.t("perimeters.former.reason", codes=labels[pos], share=i18n.fmt_pct(s, 1))
        elif c == "undetermined":
            reason = i18n.t("engine.reconcile.part_of_city", share=i18n.fmt_pct(s, 1))
        elif c == "partial" and g == "covered":
            reason = i18n.t("engine.reconcile.straddling_covered", outside=i18n.fmt_pct(1 - s, 2),
                            tolerance=i18n.fmt_pct(1 - cfg.covered_threshold, 0))
        elif c == "partial" and g == "uncovered":
            reason = i18n.t("engine.reconcile.straddling_uncovered", share=i18n.fmt_pct(s, 2),
                            threshold=i18n.fmt_pct(cfg.partial_threshold, 0))
        elif c == "uncovered" and g != "uncovered":
            reason = i18n.t("engine.reconcile.own_geometry", share=i18n.fmt_pct(s, 1))
        elif c == "covered" and g != "covered":
            reason = i18n.t("engine.reconcile.outside_communes", share=i18n.fmt_pct(s, 2))
        else:
            reason = i18n.t("engine.reconcile.other", commune=i18n.t(f"status.qpv.{c}"),
                            geometry=i18n.t(f"status.qpv.{g}"), share=i18n.fmt_pct(s, 1))
        reasons.append(reason)
    out["reason"] = pd.Series(reasons, dtype=object)
    out["former_communes"] = pd.Series([labels.get(p, "") for p in positions.tolist()], dtype=object)
    return pd.DataFrame(out, copy=False)
