"""Readers for QPV files in all the shapes they are published in, normalised to one schema.

Used by :func:`clsm_geo.qpv.qpv` for user files and by ``scripts/build_qpv_layer.py`` for the
shipped layer (same code path). Entry point: :func:`read_qpv_source`.

Supported inputs (detected from the content, then the extension):

* polygon files: GeoJSON, shapefile (``.shp`` or zipped), GeoPackage, FlatGeobuf, any of them in a
  ``.zip`` (read in place through GDAL's ``/vsizip/``, nothing is extracted) or in a folder;
* lists without polygons: the official ANCT ``listeqp2024`` CSV (``;``, UTF-8 BOM, ``="…"``), long
  CSV lists with one row per (QPV, commune), and one-row-per-commune lists such as ANCT's
  ``centroide-4326_qpv.geojson`` (points = commune centroids, never QPV polygons).

Every problem with a user file raises :class:`~clsm_geo.errors.InputError` naming the file
(and the row/column when it applies).
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from clsm_geo import i18n
from clsm_geo import settings as _settings
from clsm_geo.errors import InputError
from clsm_geo.qpv_normalise import (  # noqa: F401  (COLUMNS and QpvDataWarning re-exported)
    COLUMNS, QpvDataWarning, ReadReport, area_ha, commune_attributes, communes_from_polygons, dep_of_commune,
    dep_of_qpv_code, derive_admin, fail, finalise, polygonal, to_wgs84,
)


#: Attribute names seen across editions, compared case-insensitively, best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "code_qp": ("code_qp", "code_qpv", "codeqp", "code_quartier", "cod_qp", "id_qp", "qp", "q", "code",
                "identifiant", "identifian", "code_qv"),
    "lib_qp": ("lib_qp", "nom_qp", "lib_qpv", "nom_qpv", "libelle_qp", "nom_quartier", "lib_quartier",
               "libelle", "nom", "n", "name", "lib"),
    "communes": ("insee_com", "code_commune", "codes_communes", "code_insee", "insee_commune", "codgeo",
                 "depcom", "code_com", "com", "commune_qp", "communes", "commune", "insee", "code_commune_qp"),
    "insee_dep": ("insee_dep", "code_departement", "code_dep", "dep", "d", "departement", "code_dept", "dept"),
    "insee_reg": ("insee_reg", "code_region", "code_reg", "reg", "region"),
    "siren_epci": ("siren_epci", "epci", "code_epci", "siren"),
}


#: QPV code shape: QN (2024 geography) or QP (2015 geography), department on 3 characters, number, suffix.
_CODE_RE = re.compile(r"^Q[NP](\d{3}|02[AB])\d{2,3}[A-Z]?$")
_COMMUNE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_PREFIX = {2024: "QN", 2015: "QP"}
_VECTOR_EXT = (".geojson", ".json", ".shp", ".gpkg", ".fgb", ".zip")
_LIST_EXT = (".csv", ".txt", ".tsv")
#: Column names that hold commune names in some editions (COMMUNE_QP of 2015): used only if they hold codes.
_AMBIGUOUS_COMMUNE_COLUMNS = {"com", "commune_qp", "communes", "commune", "insee"}


# ----------------------------------------------------------------------------------- helpers


def plm_city(code: str) -> str:
    """Whole-city code for a Paris/Lyon/Marseille arrondissement code, else the code itself."""
    for city, prefix in _settings.PLM_CITIES.items():
        if code.startswith(prefix) and code != city:
            return city
    return code


def split_communes(value) -> list[str] | None:
    """Commune codes in a cell: ``"01053"``, ``="01053"``, ``"a;b"``, ``"a, b"``, JSON lists, arrays.

    Returns ``[]`` for an empty cell and ``None`` when the cell does not look like commune codes.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        tokens = [t for v in value for t in re.split(r"[\s,;|\[\]'\"]+", str(v))]
    else:
        text = str(value).strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                tokens = [str(v) for v in json.loads(text)]
            except ValueError:
                tokens = re.split(r"[\s,;|]+", text.strip("[]"))
        else:
            text = text.lstrip("=")
            tokens = re.split(r"[\s,;|]+", text)
    out = []
    for tok in tokens:
        tok = tok.strip().strip("='\"").strip()
        if not tok:
            continue
        if tok.endswith(".0") and tok[:-2].isdigit():  # numbers read as floats
            tok = tok[:-2]
        if tok.isdigit() and len(tok) == 4:  # lost leading zero
            tok = tok.zfill(5)
        if not _COMMUNE_RE.match(tok):
            return None
        out.append(plm_city(tok))
    return out


def _first_token(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        value = value[0] if len(value) else None
        if value is None:
            return None
    tok = re.split(r"[\s,;|]+", str(value).strip().lstrip("=").strip("'\"[]"))[0].strip("'\"")
    if tok.endswith(".0") and tok[:-2].isdigit():
        tok = tok[:-2]
    if not tok or tok.upper() in {"NA", "NAN", "NONE", "NULL", "ZZZZZZZZZ", "ZZ", "-"}:
        return None
    return tok


def _find_column(columns, role: str, file, frame=None) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    for alias in ALIASES[role]:
        col = lower.get(alias)
        if col is None:
            continue
        if role == "communes" and frame is not None and alias in _AMBIGUOUS_COMMUNE_COLUMNS:
            sample = frame[col].dropna().head(500)
            parsed = [split_communes(v) for v in sample]
            if not sample.empty and sum(p is not None and len(p) > 0 for p in parsed) < 0.9 * len(sample):
                continue  # e.g. COMMUNE_QP of the 2015 files holds names, not codes
        return col
    return None


# ----------------------------------------------------------------------------------- file picking
def _member_score(name: str) -> int:
    """Higher is better: national WGS84 files first, then national Lambert-93, then anything else."""
    low = name.lower()
    base = low.rsplit("/", 1)[-1]
    if base.startswith(".") or "__macosx" in low:
        return -1
    if not base.endswith((".geojson", ".json", ".shp", ".gpkg", ".fgb", ".csv")):
        return -1
    score = {".geojson": 40, ".gpkg": 35, ".shp": 30, ".fgb": 30, ".json": 20, ".csv": 10}[
        "." + base.rsplit(".", 1)[-1]]
    national = any(k in low for k in ("france", "metropole", "national", "hexagon", "outre_mer", "outremer"))
    if national:
        score += 100
    if "outre" in low and national:
        score += 20  # metropolitan + overseas in one file
    if "wgs84" in low or "4326" in low:
        score += 10
    elif "lb93" in low or "2154" in low:
        score += 5
    if re.search(r"(utm|rgaf|rgfg|rgr92|rgm04|97[1-8]|98[67]|guadeloupe|martinique|guyane|reunion|mayotte)",
                 base) and not national:
        score -= 50  # per-territory file
    if "centroide" in low or "centroid" in low:
        score -= 30
    return score


_TERRITORY_RE = re.compile(r"(utm|rgaf|rgfg|rgr92|rgm04|97[1-8]|98[67]|guadeloupe|martinique|guyane|reunion|"
                           r"mayotte|saint[-_]?martin|polynesie)")


def _territory_members(names, picked: str) -> list[str]:
    """Per-territory shapefiles to read with ``picked`` when it is a metropolitan-only file (2015 layout:
    ``QP_METROPOLE_LB93.shp``, 2024 shapefile zip: ``QP2024_France_hexagonale_LB93.shp``, each with one
    shapefile per overseas territory in its local projection)."""
    low = picked.lower().rsplit("/", 1)[-1]
    if not low.endswith(".shp") or not ("metropole" in low or "hexagon" in low) or "outre" in low:
        return []
    return sorted(n for n in names if n.lower().endswith(".shp") and n != picked
                  and _TERRITORY_RE.search(n.lower().rsplit("/", 1)[-1]) and "outre" not in n.lower())


def _pick(names, file, what) -> str:
    scored = sorted(((s, n) for n in names if (s := _member_score(n)) >= 0), key=lambda t: (-t[0], t[1]))
    if not scored:
        fail(file, i18n.t("data.qpv.no_member", what=i18n.t(f"data.qpv.what_{what}")))
    return scored[0][1]


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.startswith(b"fgb"):
        return "fgb"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"{", b"[")):
        return "json"
    suffix = path.suffix.lower()
    if suffix == ".shp" or head[:4] == b"\x00\x00\x27\x0a":
        return "shp"
    return "csv" if suffix in _LIST_EXT or suffix not in _VECTOR_EXT else suffix.lstrip(".")


# ----------------------------------------------------------------------------------- raw readers
def _read_vector(gdal_path: str, file, report: ReadReport):
    import pyogrio

    try:
        layers = pyogrio.list_layers(gdal_path)
        layer = None
        if len(layers) > 1:
            for name, _gtype in layers:
                fields = [f.lower() for f in pyogrio.read_info(gdal_path, layer=name)["fields"]]
                if any(a in fields for a in ALIASES["code_qp"]):
                    layer = name
                    break
        info = pyogrio.read_info(gdal_path, layer=layer)
        frame = pyogrio.read_dataframe(gdal_path, layer=layer)
    except Exception as exc:  # pyogrio/GDAL errors have many classes
        fail(file, i18n.t("data.qpv.not_a_layer", error=f"{type(exc).__name__}: {exc}"))
    report.format = info.get("driver") or ""
    report.crs_in = info.get("crs")
    return frame


def _read_csv(source: Path | bytes, file, report: ReadReport) -> pd.DataFrame:
    raw = source if isinstance(source, bytes) else source.read_bytes()
    from .io import decode_text

    text = decode_text(raw)
    if text is None:
        fail(file, i18n.t("data.qpv.not_text"))
    first = text.split("\n", 1)[0]
    sep = max((";", ",", "\t", "|"), key=first.count)
    if first.count(sep) == 0:
        fail(file, i18n.t("data.qpv.no_separator"))
    # Excel-protected cells ="…" written without CSV quoting: make them proper quoted cells.
    text = re.sub(r'(?:(?<=^)|(?<=[;,\t|]))="([^"]*)"(?=[;,\t|\r\n]|$)', r'"\1"', text, flags=re.M)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quotechar='"',
                            skipinitialspace=False, na_values=[""])
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        fail(file, i18n.t("data.qpv.bad_csv", error=exc))
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    report.format = "CSV"
    return frame


def _load_raw(path: Path, report: ReadReport):
    """The file as a (Geo)DataFrame, whatever its container."""
    file = report.file
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in sorted(path.rglob("*")) if p.is_file()]
        member = _pick(names, file, "folder")
        report.member = member
        extra = _territory_members(names, member)
        if extra:
            return _concat_territories([str(path / m) for m in [member, *extra]], [member, *extra], report)
        return _load_raw_file(path / member, report)
    return _load_raw_file(path, report)


def _concat_territories(gdal_paths, members, report: ReadReport):
    """The metropolitan file and the per-territory files, each reprojected to EPSG:4326, as one layer."""
    import geopandas as gpd

    frames = []
    for gdal_path, member in zip(gdal_paths, members, strict=True):
        sub = ReadReport(file=f"{report.file} [{member}]")
        frame = _read_vector(gdal_path, sub.file, sub)
        frames.append(to_wgs84(frame, sub.file, sub))
        report.notes.append(f"{member}: {len(frame)} features, CRS {sub.crs_in.split(':')[-1] if sub.crs_in else '?'}")
    report.format = "ESRI Shapefile"
    report.crs_in = "EPSG:4326 (per-territory files reprojected)"
    report.member = " + ".join(members)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=_settings.STORAGE_CRS)


def _load_raw_file(path: Path, report: ReadReport):
    kind = _sniff(path)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        except zipfile.BadZipFile as exc:
            fail(report.file, i18n.t("data.qpv.bad_zip", error=exc))
        member = _pick(names, report.file, "zip")
        report.member = member
        extra = _territory_members(names, member)
        if extra:
            return _concat_territories([f"/vsizip/{path.resolve()}/{m}" for m in [member, *extra]], [member, *extra],
                                       report)
        if member.lower().endswith(".csv"):
            with zipfile.ZipFile(path) as zf:
                return _read_csv(zf.read(member), report.file, report)
        return _read_vector(f"/vsizip/{path.resolve()}/{member}", report.file, report)
    if kind == "csv":
        return _read_csv(path, report.file, report)
    return _read_vector(str(path), report.file, report)


# ----------------------------------------------------------------------------------- geometry


# ----------------------------------------------------------------------------------- normalisation


def _explode_by_commune_list(frame, code_col, name_col, file):
    """One row per commune with ``", "``-joined code/name lists -> one row per (QPV, commune)."""
    rows = []
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        codes = [c.strip() for c in re.split(r"\s*[,;]\s*", str(rec[code_col] or "")) if c.strip()]
        names = re.split(r"\s*,\s+", str(rec[name_col])) if name_col and rec.get(name_col) else []
        if names and len(names) != len(codes):
            warnings.warn(i18n.t("warnings.qpv.names_mismatch", None, file=file, row=i, codes=len(codes),
                                 names=len(names)), QpvDataWarning, stacklevel=4)
            names = []
        for j, code in enumerate(codes):
            rows.append({**rec, code_col: code, **({name_col: names[j]} if names else {})})
    return pd.DataFrame(rows, columns=frame.columns)


def read_qpv_source(path: str | Path, geography: int, *, communes_table=None, attributes: bool = True,
                    require_communes: bool = True, label: str | None = None):
    """Read any supported QPV file into the normalised schema. Returns ``(GeoDataFrame, ReadReport)``.

    ``communes_table`` (``insee_com, insee_dep, insee_reg, siren_epci``) is used to derive missing
    department/region/EPCI; by default :func:`clsm_geo.geography.geography` is used when available.
    ``attributes=False`` skips that derivation (quick validation). ``require_communes=False`` accepts
    polygon files without commune codes (``communes`` left empty) instead of deriving them.
    """
    import geopandas as gpd
    import shapely

    path = Path(path)
    file = label or str(path)
    if geography not in _PREFIX:
        raise InputError(i18n.t("data.qpv.unknown_geography", geography=repr(geography)))
    if not path.exists():
        fail(file, i18n.t("data.qpv.file_not_found"))
    report = ReadReport(file=file)
    raw = _load_raw(path, report)
    report.features = len(raw)
    if report.member:
        file = f"{file} [{report.member}]"
        report.file = file
    columns = [c for c in raw.columns if c != "geometry"]
    code_col = _find_column(columns, "code_qp", file)
    if code_col is None:
        fail(file, i18n.t("data.qpv.no_code_column"), column="code_qp",
             hint=i18n.t("data.qpv.no_code_column_hint", names=", ".join(ALIASES["code_qp"][:6])))
    name_col = _find_column(columns, "lib_qp", file)
    raw = raw.reset_index(drop=True)

    is_geo = isinstance(raw, gpd.GeoDataFrame) and raw.geometry.notna().any()
    gtypes = set(raw.geometry.dropna().geom_type) if is_geo else set()
    if is_geo and gtypes and gtypes <= {"Point", "MultiPoint"}:
        report.notes.append("point features (commune centroids): read as a list, no QPV polygons")
        raw = pd.DataFrame(raw.drop(columns="geometry"))
        is_geo = False
    report.kind = "polygons" if is_geo else "list"
    if is_geo:
        raw = to_wgs84(raw, file, report)

    codes_text = raw[code_col].astype(object).where(raw[code_col].notna(), None)
    if codes_text.map(lambda v: v is not None and bool(re.search(r"[,;]", str(v)))).any():
        raw = _explode_by_commune_list(raw.assign(**{code_col: codes_text}), code_col, name_col, file)
        report.notes.append("one row per commune: code lists split")
        is_geo = False
        report.kind = "list"

    # codes: shape and geography
    prefix = _PREFIX[geography]
    other = {v: k for k, v in _PREFIX.items()}
    for i, value in enumerate(raw[code_col].tolist(), start=2):
        code = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
        if not code:
            fail(file, i18n.t("data.qpv.empty_code"), row=i, column=code_col)
        if not _CODE_RE.match(code.upper()):
            fail(file, i18n.t("data.qpv.not_a_code", code=repr(code)), row=i, column=code_col)
        if not code.upper().startswith(prefix):
            fail(file, i18n.t("data.qpv.other_geography", code=repr(code), other=other.get(code[:2].upper(), "?"),
                             geography=geography), row=i, column=code_col,
                 hint=i18n.t("data.qpv.other_geography_hint"))
    raw[code_col] = raw[code_col].map(lambda v: str(v).strip().upper())

    # communes
    com_col = _find_column(columns, "communes", file, raw)
    if com_col is not None:
        communes = []
        for i, value in enumerate(raw[com_col].tolist(), start=2):
            parsed = split_communes(value)
            if parsed is None:
                fail(file, i18n.t("data.qpv.not_communes", value=repr(value)), row=i, column=com_col)
            communes.append(parsed)
    else:
        communes = [[] for _ in range(len(raw))]
        if not is_geo:
            fail(file, i18n.t("data.qpv.no_commune_column"), column="insee_com",
                 hint=i18n.t("data.qpv.no_commune_column_hint", names=", ".join(ALIASES["communes"][:5])))
    extra = {role: _find_column(columns, role, file) for role in ("insee_dep", "insee_reg", "siren_epci")}

    base = pd.DataFrame({
        "code_qp": raw[code_col].to_numpy(),
        "lib_qp": raw[name_col].map(lambda v: None if v is None or v != v else str(v).strip()).to_numpy()
        if name_col else None,
        "communes": communes,
        **{role: (raw[col].map(_first_token).to_numpy() if col else None) for role, col in extra.items()},
    })
    if is_geo:
        geoms = raw.geometry.to_numpy()
        invalid = [c for c, g in zip(base["code_qp"], geoms, strict=True) if g is not None and not g.is_valid]
        report.invalid_in = sorted(set(invalid))
        base["geometry"] = [polygonal(g) for g in geoms]
    else:
        base["geometry"] = None

    # one row per code
    rows = []
    for code, grp in base.groupby("code_qp", sort=True):
        names = [n for n in grp["lib_qp"] if n]
        coms = sorted({c for lst in grp["communes"] for c in lst})
        first = {r: next((v for v in grp[r] if v), None) for r in ("insee_dep", "insee_reg", "siren_epci")}
        geoms = [g for g in grp["geometry"] if g is not None]
        geom = geoms[0] if len(geoms) == 1 else (polygonal(shapely.unary_union(geoms)) if geoms else None)
        rows.append({"code_qp": code, "lib_qp": names[0] if names else None, "communes": tuple(coms), **first,
                     "geometry": geom})
    out = pd.DataFrame(rows, columns=["code_qp", "lib_qp", "communes", "insee_dep", "insee_reg", "siren_epci",
                                      "geometry"])
    if is_geo:
        report.emptied = sorted(out.loc[out["geometry"].isna(), "code_qp"])
        if report.invalid_in or report.emptied:
            codes = (i18n.t("warnings.qpv.codes", None, codes=", ".join(report.emptied[:10]))
                     if report.emptied else "")
            warnings.warn(i18n.t("warnings.qpv.geometries", None, file=file, codes=codes,
                                 repaired=i18n.tn("warnings.qpv.repaired", len(report.invalid_in)),
                                 unusable=i18n.tn("warnings.qpv.unusable", len(report.emptied))),
                          QpvDataWarning, stacklevel=2)
        if com_col is None and require_communes:
            out = communes_from_polygons(out, file, report)
    if attributes:
        table = communes_table if communes_table is not None else (
            commune_attributes(geography) if out["insee_dep"].isna().any() or out["insee_reg"].isna().any()
            or out["siren_epci"].isna().any() else None)
        out = derive_admin(out, table)
    else:
        out = derive_admin(out, None)
    out["area_ha"] = area_ha(out["geometry"], out["insee_dep"])
    gdf = gpd.GeoDataFrame(out[list(COLUMNS)], geometry="geometry", crs=_settings.STORAGE_CRS)
    return finalise(gdf), report


