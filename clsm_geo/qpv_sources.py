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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clsm_geo import settings as _settings
from clsm_geo.errors import ClsmGeoError, InputError

#: Columns of a normalised QPV frame, in this order (the contract of :class:`clsm_geo.qpv.QpvLayer`).
COLUMNS = ("code_qp", "lib_qp", "communes", "insee_dep", "insee_reg", "siren_epci", "overseas", "area_ha", "geometry")

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

#: QPV code shape: QN (2024 geography) or QP (2015 geography), department on 3 characters, number, suffix.
_CODE_RE = re.compile(r"^Q[NP](\d{3}|02[AB])\d{2,3}[A-Z]?$")
_COMMUNE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_PREFIX = {2024: "QN", 2015: "QP"}
_VECTOR_EXT = (".geojson", ".json", ".shp", ".gpkg", ".fgb", ".zip")
_LIST_EXT = (".csv", ".txt", ".tsv")
#: Column names that hold commune names in some editions (COMMUNE_QP of 2015): used only if they hold codes.
_AMBIGUOUS_COMMUNE_COLUMNS = {"com", "commune_qp", "communes", "commune", "insee"}
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


# ----------------------------------------------------------------------------------- helpers
def _fail(file, message, *, row=None, column=None, hint=None):
    where = str(file)
    if row is not None:
        where += f", row {row}"
    if column is not None:
        where += f", column '{column}'"
    raise InputError(f"{where}: {message}", hint=hint)


def dep_of_commune(code: str) -> str:
    """Department of an INSEE commune code (``97x``/``98x`` overseas on 3 characters)."""
    return code[:3] if code.startswith(("97", "98")) else code[:2]


def dep_of_qpv_code(code: str) -> str:
    """Department encoded in a QPV code (``QN01301M`` -> ``13``, ``QN97101M`` -> ``971``)."""
    d = code[2:5]
    return d if d.startswith("9") and d[1] in "78" else d[1:]


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


def _pick(names, file, what) -> str:
    scored = sorted(((s, n) for n in names if (s := _member_score(n)) >= 0), key=lambda t: (-t[0], t[1]))
    if not scored:
        _fail(file, f"no QPV file found in this {what} (looked for GeoJSON, shapefile, GeoPackage or CSV)")
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
        _fail(file, f"cannot read this file as a geographic layer ({type(exc).__name__}: {exc})")
    report.format = info.get("driver") or ""
    report.crs_in = info.get("crs")
    return frame


def _read_csv(source: Path | bytes, file, report: ReadReport) -> pd.DataFrame:
    raw = source if isinstance(source, bytes) else source.read_bytes()
    text = None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        _fail(file, "cannot decode the file as UTF-8 or Windows-1252 text")
    first = text.split("\n", 1)[0]
    sep = max((";", ",", "\t", "|"), key=first.count)
    if first.count(sep) == 0:
        _fail(file, "cannot find the column separator on the header line (expected ';' or ',')")
    # Excel-protected cells ="…" written without CSV quoting: make them proper quoted cells.
    text = re.sub(r'(?:(?<=^)|(?<=[;,\t|]))="([^"]*)"(?=[;,\t|\r\n]|$)', r'"\1"', text, flags=re.M)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quotechar='"',
                            skipinitialspace=False, na_values=[""])
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        _fail(file, f"cannot parse the CSV ({exc})")
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
        return _load_raw_file(path / member, report)
    return _load_raw_file(path, report)


def _load_raw_file(path: Path, report: ReadReport):
    kind = _sniff(path)
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = [i.filename for i in zf.infolist() if not i.is_dir()]
        except zipfile.BadZipFile as exc:
            _fail(report.file, f"not a readable zip archive ({exc})")
        member = _pick(names, report.file, "zip archive")
        report.member = member
        if member.lower().endswith(".csv"):
            with zipfile.ZipFile(path) as zf:
                return _read_csv(zf.read(member), report.file, report)
        return _read_vector(f"/vsizip/{path.resolve()}/{member}", report.file, report)
    if kind == "csv":
        return _read_csv(path, report.file, report)
    return _read_vector(str(path), report.file, report)


# ----------------------------------------------------------------------------------- geometry
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
    """Planar area in hectares, each geometry in the projected CRS of its department."""
    import geopandas as gpd

    gs = gpd.GeoSeries(list(geoms), crs=_settings.STORAGE_CRS)
    out = np.full(len(gs), np.nan)
    crs = np.array([_settings.projected_crs(d) for d in deps])
    has = ~gs.isna().to_numpy()
    for epsg in sorted(set(crs[has])):
        sel = has & (crs == epsg)
        out[sel] = gs[sel].to_crs(epsg).area.to_numpy() / 10_000.0
    return out


def _to_wgs84(frame, file, report: ReadReport):
    """Reproject to EPSG:4326; a layer without CRS is accepted only when it is clearly lon/lat."""
    if frame.crs is None:
        b = frame.total_bounds
        if np.all(np.isfinite(b)) and -180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90:
            warnings.warn(f"{file}: no CRS in the file; coordinates look like longitude/latitude, read as "
                          "EPSG:4326", QpvDataWarning, stacklevel=3)
            report.notes.append("no CRS: read as EPSG:4326")
            return frame.set_crs(_settings.STORAGE_CRS)
        _fail(file, "the file has no coordinate reference system and its coordinates are not longitude/"
                    "latitude", hint="add the .prj file of the shapefile, or re-export the layer with its CRS "
                                     "(e.g. EPSG:2154 for Lambert-93)")
    if frame.crs.to_epsg() == _settings.STORAGE_CRS or "CRS84" in frame.crs.to_string():
        return frame.set_crs(_settings.STORAGE_CRS, allow_override=True)
    try:
        out = frame.to_crs(_settings.STORAGE_CRS)
    except Exception as exc:
        _fail(file, f"cannot reproject from {frame.crs.to_string()} to EPSG:4326 ({exc})")
    report.notes.append(f"reprojected from {frame.crs.to_string()}")
    return out


# ----------------------------------------------------------------------------------- normalisation
def _commune_attributes(geography: int):
    """insee_com -> (insee_dep, insee_reg, siren_epci) from :mod:`clsm_geo.geography`, or None."""
    try:
        from clsm_geo.geography import geography as _geography
    except ImportError:
        return None
    try:
        communes = _geography(2024).communes
    except (ClsmGeoError, OSError) as exc:
        warnings.warn(f"commune geography unavailable ({exc}); department and region derived from codes, "
                      "EPCI left empty", QpvDataWarning, stacklevel=3)
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


def _explode_by_commune_list(frame, code_col, name_col, file):
    """One row per commune with ``", "``-joined code/name lists -> one row per (QPV, commune)."""
    rows = []
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        codes = [c.strip() for c in re.split(r"\s*[,;]\s*", str(rec[code_col] or "")) if c.strip()]
        names = re.split(r"\s*,\s+", str(rec[name_col])) if name_col and rec.get(name_col) else []
        if names and len(names) != len(codes):
            warnings.warn(f"{file}, row {i}: {len(codes)} codes but {len(names)} names; names left empty",
                          QpvDataWarning, stacklevel=4)
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
        raise InputError(f"unknown QPV geography {geography!r}: use 2015 or 2024")
    if not path.exists():
        _fail(file, "file or folder not found")
    report = ReadReport(file=file)
    raw = _load_raw(path, report)
    report.features = len(raw)
    if report.member:
        file = f"{file} [{report.member}]"
        report.file = file
    columns = [c for c in raw.columns if c != "geometry"]
    code_col = _find_column(columns, "code_qp", file)
    if code_col is None:
        _fail(file, "no QPV code column", column="code_qp",
              hint=f"name the column of QPV codes one of: {', '.join(ALIASES['code_qp'][:6])}")
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
        raw = _to_wgs84(raw, file, report)

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
            _fail(file, "empty QPV code", row=i, column=code_col)
        if not _CODE_RE.match(code.upper()):
            _fail(file, f"{code!r} is not a QPV code (expected e.g. QN01301M or QP013001)", row=i, column=code_col)
        if not code.upper().startswith(prefix):
            _fail(file, f"code {code!r} belongs to the {other.get(code[:2].upper(), '?')} QPV geography, not "
                        f"{geography}", row=i, column=code_col,
                  hint="QP… codes are the 2015 geography (years 2015–2023; overseas until 2024), QN… codes the "
                       "2024 geography: give a file of the geography in force for the year")
    raw[code_col] = raw[code_col].map(lambda v: str(v).strip().upper())

    # communes
    com_col = _find_column(columns, "communes", file, raw)
    if com_col is not None:
        communes = []
        for i, value in enumerate(raw[com_col].tolist(), start=2):
            parsed = split_communes(value)
            if parsed is None:
                _fail(file, f"{value!r} is not a list of INSEE commune codes", row=i, column=com_col)
            communes.append(parsed)
    else:
        communes = [[] for _ in range(len(raw))]
        if not is_geo:
            _fail(file, "no commune-code column", column="insee_com",
                  hint=f"name the column of commune codes one of: {', '.join(ALIASES['communes'][:5])}")
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
            warnings.warn(f"{file}: {len(report.invalid_in)} invalid geometries repaired (make_valid, polygonal "
                          f"parts kept); {len(report.emptied)} unusable (no polygon left, geometry set to None"
                          f"{': ' + ', '.join(report.emptied[:10]) if report.emptied else ''})",
                          QpvDataWarning, stacklevel=2)
        if com_col is None and require_communes:
            out = _communes_from_polygons(out, file, report)
    if attributes:
        table = communes_table if communes_table is not None else (
            _commune_attributes(geography) if out["insee_dep"].isna().any() or out["insee_reg"].isna().any()
            or out["siren_epci"].isna().any() else None)
        out = derive_admin(out, table)
    else:
        out = derive_admin(out, None)
    out["area_ha"] = area_ha(out["geometry"], out["insee_dep"])
    gdf = gpd.GeoDataFrame(out[list(COLUMNS)], geometry="geometry", crs=_settings.STORAGE_CRS)
    return finalise(gdf), report


def _communes_from_polygons(out, file, report):
    """Assign communes to QPV polygons (files without commune codes) from the COG 2024 commune polygons."""
    import geopandas as gpd

    try:
        from clsm_geo.geography import geography as _geography

        communes = _geography(2024).communes[["insee_com", "geometry"]]
    except (ImportError, ClsmGeoError, OSError) as exc:
        _fail(file, f"no commune-code column, and the commune geography needed to derive communes from the "
                    f"polygons is unavailable ({exc})", column="insee_com")
    warnings.warn(f"{file}: no commune codes in the file; communes derived from the polygons (share of the "
                  f"QPV area >= {COMMUNE_SHARE_MIN:.0%} in the simplified COG 2024 commune polygons)",
                  QpvDataWarning, stacklevel=3)
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
    """Sorted by code, RangeIndex, exact column order and plain Python types."""
    import geopandas as gpd

    gdf = gdf.sort_values("code_qp", kind="stable").reset_index(drop=True)
    for col in ("code_qp", "lib_qp", "insee_dep", "insee_reg", "siren_epci"):
        gdf[col] = pd.Series([None if v is None or v != v else str(v) for v in gdf[col]], dtype=object)
    gdf["communes"] = pd.Series([tuple(str(c) for c in v) if v is not None else () for v in gdf["communes"]],
                                dtype=object)
    gdf["overseas"] = gdf["overseas"].astype(bool)
    gdf["area_ha"] = gdf["area_ha"].astype(float)
    extra = [c for c in gdf.columns if c not in COLUMNS]
    for col in extra:
        if gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col]):
            gdf[col] = pd.Series([None if v is None or v != v else str(v) for v in gdf[col]], dtype=object)
    return gpd.GeoDataFrame(gdf[list(COLUMNS) + extra], geometry="geometry", crs=_settings.STORAGE_CRS)
