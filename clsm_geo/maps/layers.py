"""Web-ready layers for interactive maps: simplified geometry, rounded coordinates, escaped properties.

* Departments and regions are simplified with :func:`shapely.coverage_simplify`, which keeps the borders
  shared by neighbours identical (no gaps, no overlaps), then rounded to 4 decimals (about 10 m).
* Council perimeters are simplified one by one (topology preserved) and rounded to 5 decimals.
* QPV polygons (already simplified to about 10 m in the shipped layer) are only rounded to 5 decimals (~1 m).

Every text property that reaches the page (names, ids, notes, file names) is HTML-escaped here, because
folium's tooltips and popups insert property values with ``innerHTML`` without escaping them.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping

from ..i18n import fmt_int, fmt_pct, get_lang, t
from .style import COUNCIL_STATUS_COLORS, QPV_STATUS_COLORS, council_status_label, qpv_status_label

#: Simplification tolerance in degrees (about 500 m and 60 m at French latitudes): display only, never
#: computation. QPV (about 1 km across) get their own, finer tolerances (about 30 m and 8 m).
TOLERANCE_NATIONAL = 0.005
TOLERANCE_REGION = 0.0006
QPV_TOLERANCE_NATIONAL = 0.0003
QPV_TOLERANCE_REGION = 0.00008


def esc(value) -> str:
    """Text for HTML: escaped, ``""`` for missing values."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def js_json(value) -> str:
    """JSON that is safe inside an inline ``<script>`` (no ``<``, ``>``, ``&``, U+2028/2029 left raw)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    grid = 10.0 ** -decimals
    fixed = shapely.set_precision(geoms, grid)
    return shapely.transform(fixed, lambda xy: np.round(xy, decimals))


def simplify_coverage(geoms, tolerance: float, decimals: int = 4) -> np.ndarray:
    """Simplify polygons that tile an area together, keeping shared borders shared, then round them."""
    arr = np.asarray(geoms, dtype=object)
    try:
        simplified = shapely.coverage_simplify(arr, tolerance)
    except shapely.errors.GEOSException:  # not a valid coverage: simplify each polygon on its own
        simplified = shapely.simplify(arr, tolerance, preserve_topology=True)
    return _round(shapely.make_valid(simplified), decimals)


def simplify_each(geoms, tolerance: float, decimals: int = 5) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    return _round(shapely.simplify(arr, tolerance, preserve_topology=True), decimals)


def compact_geometry(geom, decimals: int) -> dict:
    """A (Multi)Polygon with its coordinates as integers (units of 10^-decimals degree), each ring a flat list
    ``[x0, y0, dx1, dy1, ...]`` of differences: about 2.5 times shorter than GeoJSON. ``clsm-map.js`` turns it
    back into GeoJSON before Leaflet reads it. Other geometry types stay GeoJSON."""
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return mapping(geom)
    scale = 10.0 ** decimals

    def ring(r) -> list[int]:
        xy = np.rint(shapely.get_coordinates(r) * scale).astype(np.int64)
        return np.diff(xy, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel().tolist()

    def polygon(p) -> list[list[int]]:
        return [ring(p.exterior)] + [ring(i) for i in p.interiors]

    coords = polygon(geom) if geom.geom_type == "Polygon" else [polygon(p) for p in geom.geoms]
    return {"type": geom.geom_type, "z": decimals, "c": coords}


def feature_collection(geoms, properties: list[dict], ids: list[str], decimals: int | None = None) -> dict:
    """Features with ``properties`` and ``ids``; geometry compacted (:func:`compact_geometry`) when ``decimals``."""
    features = []
    for geom, props, fid in zip(geoms, properties, ids):
        if geom is None or shapely.is_empty(geom):
            continue
        shape = mapping(geom) if decimals is None else compact_geometry(geom, decimals)
        features.append({"type": "Feature", "id": fid, "geometry": shape, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _fmt_int(value, lang: str | None = None) -> str:
    return "" if pd.isna(value) else fmt_int(value, lang)


def _fmt_share(value, lang: str | None = None) -> str:
    return "" if pd.isna(value) else fmt_pct(float(value), 0, lang)


@dataclass
class WebData:
    """Everything an interactive map shows, ready for the page (EPSG:4326, escaped text)."""

    territories: dict[str, gpd.GeoDataFrame]  # "region"/"department" -> simplified shapes with figures
    land: dict | None  # departments around a zoomed region (None nationally: taken from the choropleth)
    councils: dict[str, dict]  # status -> FeatureCollection
    qpv: dict[str, dict]  # status -> FeatureCollection
    search: list[list]  # [label, kind index in SEARCH_KINDS, lat, lon, half height, half width]
    bounds: tuple[float, float, float, float]  # south, west, north, east to fit
    decimals: int = 4  # of the territories' coordinates (for :func:`feature_collection`)


def build(res, *, region: str | None = None, tolerance: float | None = None, lang: str | None = None) -> WebData:
    """The layers of an interactive map of ``res``, words and numbers in ``lang``."""
    lang = get_lang(lang)

    geo = res.vintage.geography
    tol = tolerance if tolerance is not None else (TOLERANCE_REGION if region else TOLERANCE_NATIONAL)
    deps = geo.departments
    regs = geo.regions

    decimals = 4 if region else 3  # about 10 m in a region, 100 m nationally (below the tolerance)
    if region is None and tolerance is None:
        dep_geoms, reg_geoms = national_territories(geo)
    else:
        dep_geoms = simplify_coverage(deps.geometry.values, tol, decimals)
        reg_geoms = simplify_coverage(regs.geometry.values, tol, decimals)
    dep_shapes = gpd.GeoDataFrame(deps.drop(columns="geometry"), geometry=dep_geoms, crs=4326)
    reg_shapes = gpd.GeoDataFrame(regs.drop(columns="geometry"), geometry=reg_geoms, crs=4326)
    dep_table = dep_shapes[["insee_dep", "geometry"]].merge(res.departments, on="insee_dep", how="left")
    reg_table = reg_shapes[["insee_reg", "geometry"]].merge(res.regions, on="insee_reg", how="left")
    territories = {
        "department": dep_table.rename(columns={"insee_dep": "code", "lib_dep": "name"}),
        "region": reg_table.rename(columns={"insee_reg": "code", "lib_reg": "name"}),
    }

    if region is None:
        land_shapes = dep_shapes
        metro = deps[~deps["overseas"]]
        bounds = tuple(metro.total_bounds)
    else:
        mine = deps["insee_reg"] == region
        x0, y0, x1, y1 = deps[mine].total_bounds
        bounds = (x0, y0, x1, y1)
        dx, dy = (x1 - x0) * 0.6 + 0.2, (y1 - y0) * 0.6 + 0.2
        near = dep_shapes.geometry.intersects(shapely.box(x0 - dx, y0 - dy, x1 + dx, y1 + dy))
        context = simplify_coverage(deps.geometry.values, TOLERANCE_NATIONAL, 3)  # context: coarse is enough
        land_shapes = gpd.GeoDataFrame(deps.drop(columns="geometry"), geometry=context, crs=4326)[near]
        territories = {"department": territories["department"][
            territories["department"]["code"].isin(set(deps.loc[mine, "insee_dep"]))].reset_index(drop=True)}
    land = None
    if region is not None:  # nationally, the page draws the land from the department choropleth's data
        land = feature_collection(land_shapes.geometry.values, [{} for _ in range(len(land_shapes))],
                                  [f"land-{c}" for c in land_shapes["insee_dep"]], 3)

    councils = res.councils
    councils = councils[councils.geometry.notna()]
    if region is not None:
        councils = councils[councils["regions"].map(lambda r: region in tuple(r or ()))]
    council_names = dict(zip(res.councils["id"], res.councils["name"]))
    notes = _council_notes(res)
    council_layers = {}
    geoms = simplify_each(councils.geometry.values, tol / 4)
    for status in COUNCIL_STATUS_COLORS:
        sel = (councils["status"] == status).to_numpy()
        rows = councils[sel]
        props = [{
            "name": esc(r.name), "id": esc(r.id), "status": esc(council_status_label(r.status, lang)),
            "scale": esc(r.scale), "communes": _fmt_int(r.n_communes, lang),
            "population": _fmt_int(r.population, lang), "qpv": _fmt_int(r.qpv_covered, lang),
            "notes": esc(notes.get(r.id)),
            "created": esc("" if pd.isna(r.created) else int(r.created)),
        } for r in rows.itertuples()]
        council_layers[status] = feature_collection(geoms[sel], props, [f"council-{i}" for i in range(sel.sum())],
                                                    5)

    qpv = res.qpv[res.qpv["in_force"] & res.qpv.geometry.notna()]
    if region is not None:
        qpv = qpv[qpv["insee_reg"] == region]
    qpv_tol = QPV_TOLERANCE_REGION if region else QPV_TOLERANCE_NATIONAL
    qpv_geoms = simplify_each(qpv.geometry.values, qpv_tol, 5 if region else 4)
    qpv_layers = {}
    for status in QPV_STATUS_COLORS:
        sel = (qpv["status"] == status).to_numpy()
        if status == "undetermined" and not sel.any():
            continue
        rows = qpv[sel]
        props = [{
            "name": esc(r.lib_qp), "code": esc(r.code_qp), "status": esc(qpv_status_label(r.status, lang)),
            "share": _fmt_share(r.covered_share, lang),
            "councils": esc("; ".join(f"{council_names.get(c, c)} ({c})" for c in (r.councils or ()))
                            or t("maps.web.none", lang)),
        } for r in rows.itertuples()]
        qpv_layers[status] = feature_collection(qpv_geoms[sel], props, [f"qpv-{c}" for c in rows["code_qp"]],
                                                5 if region else 4)

    search = _search_index(geo, res, councils, qpv, region)
    return WebData(territories, land, council_layers, qpv_layers, search,
                   (bounds[1], bounds[0], bounds[3], bounds[2]), decimals)


def national_territories(geo) -> tuple[np.ndarray, np.ndarray]:
    """The department and region outlines of the national map (:func:`simplify_coverage` at
    :data:`TOLERANCE_NATIONAL`, 3 decimals), in the order of ``geo``'s layers: shipped in ``data/prebuilt`` for
    the shipped boundaries and the GEOS version they were built with, else simplified once and cached
    (:mod:`clsm_geo._prebuilt`)."""
    from .. import _prebuilt

    codes_of = {"department": geo.attributes("departments")["insee_dep"].tolist(),
                "region": geo.attributes("regions")["insee_reg"].tolist()}
    shapes = _prebuilt.territories(geo.year, TOLERANCE_NATIONAL, 3, lambda: simplified_territories(geo), codes_of)
    return shapes["department"][1], shapes["region"][1]


def simplified_territories(geo) -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"department": (codes, outlines), "region": ...}`` of ``geo``: :func:`simplify_coverage` at
    :data:`TOLERANCE_NATIONAL`, 3 decimals, in the layers' order."""
    deps, regs = geo.departments, geo.regions
    return {"department": (deps["insee_dep"].tolist(), simplify_coverage(deps.geometry.values, TOLERANCE_NATIONAL, 3)),
            "region": (regs["insee_reg"].tolist(), simplify_coverage(regs.geometry.values, TOLERANCE_NATIONAL, 3))}


def _council_notes(res) -> dict:
    table = getattr(res.registry, "councils", None)
    if table is None or "notes" not in getattr(table, "columns", ()):
        return {}
    return {i: n for i, n in zip(table["id"], table["notes"]) if isinstance(n, str) and n.strip()}


#: Kinds of search entries (words: ``maps.web.kind.*``); an entry stores the index of its kind.
SEARCH_KINDS = ("region", "department", "council", "qpv", "commune")


def _bbox_rows(labels, kind, geoms, decimals=4):
    """Compact rows ``[label, kind index, lat, lon, half height, half width]`` (centre of the bounding box)."""
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    lat, lon = np.round((b[:, 1] + b[:, 3]) / 2, decimals), np.round((b[:, 0] + b[:, 2]) / 2, decimals)
    dlat = np.round((b[:, 3] - b[:, 1]) / 2 + 10.0 ** -decimals, decimals)
    dlon = np.round((b[:, 2] - b[:, 0]) / 2 + 10.0 ** -decimals, decimals)
    k = SEARCH_KINDS.index(kind)
    return [[str(lab), k, float(a), float(o), float(da), float(do)]
            for lab, a, o, da, do in zip(labels, lat, lon, dlat, dlon) if not np.isnan(a)]


def _search_index(geo, res, councils, qpv, region) -> list[list]:
    """Rows of :func:`_bbox_rows`: raw text (the page inserts it as text, never as HTML)."""
    communes = geo.attributes("communes")  # outlines decoded below for the communes listed only
    deps, regs = geo.departments, geo.regions
    if region is not None:
        communes = communes[communes["insee_reg"] == region]
        deps = deps[deps["insee_reg"] == region]
        regs = regs[regs["insee_reg"] == region]
    else:  # nationally, the communes that matter here: with a QPV in force or in a council's perimeter
        codes = {c for cs in qpv["communes"] for c in (cs or ())}
        codes |= {c for cs in res.perimeters.councils["communes"] for c in (cs or ())}
        communes = communes[communes["insee_com"].isin(codes)]
    rows = []
    rows += _bbox_rows([f"{n} ({c})" for n, c in zip(regs["lib_reg"].tolist(), regs["insee_reg"].tolist())], "region",
                       regs.geometry.values, 3)
    rows += _bbox_rows([f"{n} ({c})" for n, c in zip(deps["lib_dep"].tolist(), deps["insee_dep"].tolist())],
                       "department", deps.geometry.values, 3)
    rows += _bbox_rows([f"{n} ({c})" for n, c in zip(councils["name"].tolist(), councils["id"].tolist())], "council",
                       councils.geometry.values, 3)
    rows += _bbox_rows([f"{n} ({c})" for n, c in zip(qpv["lib_qp"].tolist(), qpv["code_qp"].tolist())], "qpv",
                       qpv.geometry.values, 4)
    listed = communes["insee_com"].tolist()
    outlines = geo.outlines("communes", listed)
    rows += _bbox_rows([f"{n} ({d})" for n, d in zip(communes["lib_com"].tolist(), communes["insee_dep"].tolist())],
                       "commune", [outlines.get(c) for c in listed], 3)
    return rows
