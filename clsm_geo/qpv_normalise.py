"""Normalising QPV layers: geometry repair, CRS, areas, and the administrative attributes of each QPV.

Shared by the readers of :mod:`clsm_geo.qpv_sources` (user files and the shipped-layer build).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clsm_geo import i18n
from clsm_geo import settings as _settings
from clsm_geo.errors import ClsmGeoError, InputError, located

#: Columns of a normalised QPV frame, in this order (the contract of :class:`clsm_geo.qpv.QpvLayer`).
COLUMNS = ("code_qp", "lib_qp", "communes", "insee_dep", "insee_reg", "siren_epci", "overseas", "area_ha", "geometry")

#: Region of each department (COG 2024, INSEE table d'appartenance géographique). Used only when
#: neither the file nor the commune geography gives the region.
DEP_TO_REG: dict[str, str] = {
    "01": "84", "02": "32", "03": "84", "04": "93", "05": "93", "06": "93", "07": "84", "08": "44", "09": "76",
    "10": "44", "11": "76", "12": "76", "13": "93", "14": "28", "15": "84", "16": "75", "17": "75", "18": "24",
    "19": "75", "21": "27", "22": "53", "23": "75", "24": "75", "25": "27", "26": "84", "27": "28", "28": "24",
    "29": "53", "2A": "94", "2B": "94", "30": "76", "31": "76", "32": "76", "33": "75", "34": "76", "35": "53",
    "36": "24", "37": "24", "38": "84", "39": "27", "40": "75", "41": "24", "42": "84", "43": "84", "44": "52",
    "45": "24", "46": "76", "47": "75", "48": "76", "49": "52", "50": "28", "51": "44", "52": "44", "53": "52",
    "54": "44", "55": "44", "56": "53", "57": "44", "58": "27", "59": "32", "60": "32", "61": "28", "62": "32",
    "63": "84", "64": "75", "65": "76", "66": "76", "67": "44", "68": "44", "69": "84", "70": "27", "71": "27",
    "72": "52", "73": "84", "74": "84", "75": "11", "76": "28", "77": "11", "78": "11", "79": "75", "80": "32",
    "81": "76", "82": "76", "83": "93", "84": "93", "85": "52", "86": "75", "87": "75", "88": "44", "89": "27",
    "90": "27", "91": "11", "92": "11", "93": "11", "94": "11", "95": "11",
    "971": "01", "972": "02", "973": "03", "974": "04", "976": "06",
}


#: A QPV is assigned to a commune from polygons only when this share of its area lies in the commune.
COMMUNE_SHARE_MIN = 0.05


class QpvDataWarning(UserWarning):
    """Something in a QPV file was repaired or guessed (invalid geometry, missing CRS…)."""


@dataclass
class ReadReport:
    """What :func:`read_qpv_source` found and did, for logs, the build script and tests."""

    file: str
    kind: str = ""  # "polygons" or "list"
    format: str = ""  # "GeoJSON", "ESRI Shapefile", "GPKG", "CSV", ...
    member: str | None = None  # zip member or file in a folder actually read
    features: int = 0  # input rows/features
    crs_in: str | None = None
    invalid_in: list[str] = field(default_factory=list)  # codes whose geometry was invalid in the file
    emptied: list[str] = field(default_factory=list)  # codes whose geometry was unusable (-> None)
    notes: list[str] = field(default_factory=list)


def fail(file, message, *, row=None, column=None, hint=None):
    """Raise :class:`InputError` for ``message`` at ``file`` (row and column when given), in the catalogue's words."""
    raise InputError(i18n.t("data.at", where=located(file, row, column), message=message), hint=hint)


def dep_of_commune(code: str) -> str:
    """Department of an INSEE commune code (``97x``/``98x`` overseas on 3 characters)."""
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def dep_of_qpv_code(code: str) -> str:
    """Department encoded in a QPV code (``QN01301M`` -> ``13``, ``QN97101M`` -> ``971``)."""
    d = code[2:5]
    return d if d.startswith("9") and d[1] in "78" else d[1:]


def polygonal(geom):
    """MultiPolygon made of the polygonal parts of ``geom`` (repaired if invalid); None if nothing is left."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts: list = []

    def collect(g):
        if isinstance(g, Polygon):
            if not g.is_empty and g.area > 0:
                parts.append(g)
        elif isinstance(g, MultiPolygon) or hasattr(g, "geoms"):
            for sub in g.geoms:
                collect(sub)

    collect(geom)
    if not parts:
        return None
    out = MultiPolygon(parts)
    if not out.is_valid:  # parts of a collection may overlap
        out = shapely.make_valid(shapely.unary_union(parts))
        parts = []
        collect(out)
        out = MultiPolygon(parts) if parts else None
    return out


def area_ha(geoms, deps) -> np.ndarray:
    """Planar area in hectares, each geometry in the projected CRS of its department (NaN without one)."""
    import geopandas as gpd

    from clsm_geo.geography import area_ha as projected_area_ha

    frame = gpd.GeoDataFrame({"insee_dep": list(deps)}, geometry=list(geoms), crs=_settings.STORAGE_CRS)
    return projected_area_ha(frame, "insee_dep")


def to_wgs84(frame, file, report: ReadReport):
    """Reproject to EPSG:4326; a layer without CRS is accepted only when it is clearly lon/lat."""
    if frame.crs is None:
        b = frame.total_bounds
        if np.all(np.isfinite(b)) and -180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90:
            warnings.warn(i18n.t("warnings.qpv.no_crs", None, file=file), QpvDataWarning, stacklevel=3)
            report.notes.append("no CRS: read as EPSG:4326")
            return frame.set_crs(_settings.STORAGE_CRS)
        fail(file, i18n.t("data.qpv.no_crs"), hint=i18n.t("data.qpv.no_crs_hint"))
    if frame.crs.to_epsg() == _settings.STORAGE_CRS or "CRS84" in frame.crs.to_string():
        return frame.set_crs(_settings.STORAGE_CRS, allow_override=True)
    try:
        out = frame.to_crs(_settings.STORAGE_CRS)
    except Exception as exc:
        fail(file, i18n.t("data.qpv.reproject", crs=frame.crs.to_string(), error=exc))
    report.notes.append(f"reprojected from {frame.crs.to_string()}")
    return out


def commune_attributes(geography: int):
    """insee_com -> (insee_dep, insee_reg, siren_epci) from :mod:`clsm_geo.geography`, or None."""
    try:
        from clsm_geo.geography import geography as _geography
    except ImportError:
        return None
    try:
        communes = _geography(2024).communes
    except (ClsmGeoError, OSError) as exc:
        warnings.warn(i18n.t("warnings.qpv.no_geography", None, error=exc), QpvDataWarning, stacklevel=3)
        return None
    table = pd.DataFrame(communes.drop(columns="geometry", errors="ignore"))
    if "insee_com" not in table.columns:
        return None
    for col in ("insee_dep", "insee_reg", "siren_epci"):
        if col not in table.columns:
            table[col] = None
    return table


def _attribute_table(table) -> dict[str, tuple]:
    if table is None:
        return {}
    cols = ["insee_com", "insee_dep", "insee_reg", "siren_epci"]
    t = pd.DataFrame(table)[cols].astype(object)
    t = t.where(t.notna(), None)
    return {r[0]: (r[1], r[2], None if r[3] in (None, "ZZZZZZZZZ") else r[3]) for r in t.itertuples(index=False)}


def derive_admin(frame: pd.DataFrame, table, *, overwrite: bool = False) -> pd.DataFrame:
    """Fill ``insee_dep``/``insee_reg``/``siren_epci`` from the first commune (sorted) of each QPV.

    ``table`` has ``insee_com, insee_dep, insee_reg, siren_epci`` (COG communes); without it the
    department comes from the commune or QPV code and the region from :data:`DEP_TO_REG`.
    Values already present are kept unless ``overwrite``.
    """
    lookup = _attribute_table(table)
    out = frame.copy()
    deps, regs, epcis = [], [], []
    for code, communes, dep, reg, epci in zip(out["code_qp"], out["communes"], out["insee_dep"],
                                              out["insee_reg"], out["siren_epci"], strict=True):
        first = communes[0] if communes else None
        found = lookup.get(first) if first else None
        if overwrite:
            dep = reg = epci = None
        if dep is None:
            dep = found[0] if found and found[0] else (dep_of_commune(first) if first else dep_of_qpv_code(code))
        if reg is None:
            reg = found[1] if found and found[1] else DEP_TO_REG.get(dep)
        if epci is None and found:
            epci = found[2]
        deps.append(dep)
        regs.append(reg)
        epcis.append(epci)
    out["insee_dep"], out["insee_reg"], out["siren_epci"] = deps, regs, epcis
    out["overseas"] = [bool(_settings.is_overseas(d)) for d in deps]
    return out


def communes_from_polygons(out, file, report):
    """Assign communes to QPV polygons (files without commune codes) from the COG 2024 commune polygons."""
    import geopandas as gpd

    try:
        from clsm_geo.geography import geography as _geography

        communes = _geography(2024).communes[["insee_com", "geometry"]]
    except (ImportError, ClsmGeoError, OSError) as exc:
        fail(file, i18n.t("data.qpv.no_communes_geography", error=exc), column="insee_com")
    warnings.warn(i18n.t("warnings.qpv.communes_from_polygons", None, file=file,
                         share=i18n.fmt_pct(COMMUNE_SHARE_MIN, 0)), QpvDataWarning, stacklevel=3)
    report.notes.append("communes derived from polygons")
    q = gpd.GeoDataFrame(out[["code_qp", "geometry"]].dropna(subset=["geometry"]), geometry="geometry",
                         crs=_settings.STORAGE_CRS).to_crs(_settings.METROPOLITAN_CRS)
    c = communes.to_crs(_settings.METROPOLITAN_CRS)
    inter = gpd.overlay(q.assign(qa=q.area), c, how="intersection", keep_geom_type=True)
    inter["share"] = inter.area / inter["qa"]
    keep = inter[inter["share"] >= COMMUNE_SHARE_MIN]
    best = inter.sort_values("share", ascending=False).drop_duplicates("code_qp")
    chosen = pd.concat([keep, best]).groupby("code_qp")["insee_com"].agg(lambda s: tuple(sorted(set(s))))
    out = out.copy()
    out["communes"] = [chosen.get(c, ()) for c in out["code_qp"]]
    return out


def finalise(gdf):
    """Sorted by code, RangeIndex, exact column order and plain Python types (a GeoDataFrame, EPSG:4326)."""
    import geopandas as gpd

    return gpd.GeoDataFrame(finalise_table(gdf), geometry="geometry", crs=_settings.STORAGE_CRS)


def finalise_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`finalise` of a plain DataFrame: the same columns, order and types; ``geometry`` left as it is."""
    frame = frame.sort_values("code_qp", kind="stable").reset_index(drop=True)
    for col in ("code_qp", "lib_qp", "insee_dep", "insee_reg", "siren_epci"):
        frame[col] = pd.Series([None if v is None or v != v else str(v) for v in frame[col].tolist()], dtype=object)
    frame["communes"] = pd.Series([tuple(str(c) for c in v) if v is not None else ()
                                   for v in frame["communes"].tolist()], dtype=object)
    frame["overseas"] = frame["overseas"].astype(bool)
    frame["area_ha"] = frame["area_ha"].astype(float)
    extra = [c for c in frame.columns if c not in COLUMNS]
    for col in extra:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = pd.Series([None if v is None or v != v else str(v) for v in frame[col].tolist()], dtype=object)
    return pd.DataFrame(frame[list(COLUMNS) + extra])