#!/usr/bin/env python
"""Build the shipped QPV 2024 layer ``data/qpv/qpv2024.parquet`` from the reference files.

Inputs (defaults under ``../shared/data`` relative to the repository, or ``$CLSM_GEO_SHARED_DATA``):

* ``--list``: ANCT official list by commune, one row per (QPV, commune) — the authority for codes,
  names and communes (COG 2025 commune codes);
* ``--polygons``: national simplified polygons (MaFrance copy of the ANCT WGS84 file, ~10 m);
* ``--patch``: Île-de-France polygons (Jondari), used only for metropolitan codes whose polygon
  collapsed in ``--polygons``;
* ``--communes-table``: INSEE table d'appartenance géographique 2024 (department, region, EPCI).

Everything is read with the package's own readers (:func:`clsm_geo.qpv_sources.read_qpv_source`).
The layer is checked before writing; on any failure nothing is written and the exit code is 1.
The output is deterministic: running twice gives byte-identical files.

    .venv/bin/python scripts/build_qpv_layer.py [--output data/qpv/qpv2024.parquet]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLSM_GEO_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULTS = {
    "list": SHARED / "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv",
    "polygons": SHARED / "qpv/qpv2024_national_simplified_mafrance/qpv2024_simplified.geojson",
    "patch": SHARED / "qpv/qpv2024_idf_pointofinterest_jondari/qpv-idf.json",
    "communes_table": SHARED / "admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv",
    "output": REPO / "data/qpv/qpv2024.parquet",
}
#: Décret n° 2023-1314 (as amended): 1,362 QPV in metropolitan France. The ANCT list has 1,493 codes.
EXPECTED_METROPOLITAN = 1362
EXPECTED_TOTAL = 1493
#: Commune changes between COG 2024 (shipped ``communes``) and COG 2025 (the official list):
#: Pierrefitte-sur-Seine (93059) merged into Saint-Denis (93066) on 1 January 2025.
COG2024_TO_2025 = {"93059": "93066"}
#: Only these overseas territories may have polygons without a code in the list (their polygons use
#: codes of another edition): Mayotte QN976xxM, Saint-Martin, Polynésie française.
POLYGON_ONLY_ALLOWED = ("QN976", "QN978", "QN987")
GRID = 1e-6  # coordinates rounded to 6 decimals (about 0.1 m)
EDITION = ("ANCT QPV 2024 list by commune (codes, names, communes; COG 2024 codes) + simplified national "
           "polygons (MaFrance copy of the ANCT WGS84 file, RemiG1984/MaFrance 8ecb4e38); 3 collapsed Essonne/"
           "Val-d'Oise polygons from the Île-de-France copy (Jondari/point-of-interest 88922581)")
PRECISION = ("polygons simplified to about 10 m (Hausdorff median 9.4 m, max 11.6 m against a 1.7 m PACA copy); "
             "3 polygons (QN09105I, QN09113I, QN09503I) about 50 m; 17 Mayotte QN976xxC codes without polygon")


def official_list(path: Path) -> dict[str, tuple[str, frozenset]]:
    """Independent plain-csv reading of the long list: code -> (name, set of COG 2025 commune codes)."""
    out: dict[str, tuple[str, set]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            name, communes = out.setdefault(row["code_qp"].strip(), (row["lib_qp"].strip(), set()))
            communes.add(row["insee_com"].strip())
    return {k: (v[0], frozenset(v[1])) for k, v in out.items()}


def communes_table(path: Path):
    import pandas as pd

    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    return t.rename(columns={"CODGEO": "insee_com", "DEP": "insee_dep", "REG": "insee_reg", "EPCI": "siren_epci"})


def build(paths: dict):
    """The layer (GeoDataFrame) and facts about the inputs, without writing anything."""
    import geopandas as gpd
    import shapely

    from clsm_geo import settings
    from clsm_geo.qpv_normalise import area_ha, derive_admin, finalise, polygonal
    from clsm_geo.qpv_sources import read_qpv_source

    table = communes_table(paths["communes_table"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lst, _ = read_qpv_source(paths["list"], 2024, communes_table=table)
        polys, prep = read_qpv_source(paths["polygons"], 2024, communes_table=table)
        patch, _ = read_qpv_source(paths["patch"], 2024, attributes=False, require_communes=False)

    poly_geom = dict(zip(polys["code_qp"], polys.geometry, strict=True))
    poly_communes = dict(zip(polys["code_qp"], polys["communes"], strict=True))
    patch_geom = dict(zip(patch["code_qp"], patch.geometry, strict=True))
    repaired = set(prep.invalid_in)
    to2025 = COG2024_TO_2025
    merged_2025 = set(to2025.values())

    geoms, sources, communes = [], [], []
    for code, coms in zip(lst["code_qp"], lst["communes"], strict=True):
        g = poly_geom.get(code)
        src = ("mafrance_make_valid" if code in repaired else "mafrance") if g is not None else None
        if g is None and patch_geom.get(code) is not None and not settings.is_overseas(lst.loc[
                lst["code_qp"] == code, "insee_dep"].iloc[0]):
            g, src = patch_geom[code], "jondari_idf_patch"
        if g is not None:
            g = polygonal(shapely.set_precision(g, GRID))
        geoms.append(g)
        sources.append(src if g is not None else None)
        # communes in COG 2024: where the list has a commune created/enlarged in 2025, take the polygon
        # file's COG 2024 communes (checked below to map exactly onto the list's).
        if merged_2025 & set(coms) and code in poly_communes:
            coms = tuple(sorted(poly_communes[code]))
        communes.append(tuple(coms))

    out = lst.drop(columns="geometry").copy()
    out["communes"] = communes
    out = derive_admin(out, table, overwrite=True)
    out["area_ha"] = area_ha(geoms, out["insee_dep"])
    out["geometry"] = geoms
    out["geom_source"] = sources
    gdf = finalise(gpd.GeoDataFrame(out, geometry="geometry", crs=settings.STORAGE_CRS))
    facts = {
        "polygon_codes": set(polys["code_qp"]),
        "polygon_names": dict(zip(polys["code_qp"], polys["lib_qp"], strict=True)),
        "polygon_communes": poly_communes,
        "polygons_invalid_in_source": len(prep.invalid_in),
        "polygons_collapsed": list(prep.emptied),
        "cog2024_codes": set(table["insee_com"]),
    }
    return gdf, facts


def _loose(name: str) -> str:
    """Names compared modulo punctuation (the polygon file has ',' where the list has ';', one '-' less)."""
    return " ".join(re.sub(r"[\W_]+", " ", name).split()).casefold()


def check(gdf, official: dict, facts: dict) -> list[str]:
    """Every failed check as a sentence (empty list = the layer may be written)."""
    import math

    import shapely

    errors: list[str] = []
    codes = list(gdf["code_qp"])
    if codes != sorted(set(codes)):
        errors.append("codes are not unique and sorted")
    metro = int((~gdf["overseas"]).sum())
    if metro != EXPECTED_METROPOLITAN:
        errors.append(f"{metro} metropolitan codes, expected {EXPECTED_METROPOLITAN}")
    if len(official) != EXPECTED_TOTAL:
        errors.append(f"the official list has {len(official)} codes, expected {EXPECTED_TOTAL}")
    missing = sorted(set(official) - set(codes))
    extra = sorted(set(codes) - set(official))
    if missing:
        errors.append(f"{len(missing)} official codes missing: {', '.join(missing[:10])}")
    if extra:
        errors.append(f"{len(extra)} codes not in the official list: {', '.join(extra[:10])}")
    orphans = sorted(c for c in facts["polygon_codes"] - set(official) if not c.startswith(POLYGON_ONLY_ALLOWED))
    if orphans:
        errors.append(f"{len(orphans)} polygon codes absent from the official list: {', '.join(orphans[:10])}")
    for row in gdf.itertuples(index=False):
        if row.code_qp not in official:
            continue
        name, coms2025 = official[row.code_qp]
        if row.lib_qp != name:
            errors.append(f"{row.code_qp}: name {row.lib_qp!r} differs from the list's {name!r}")
        mapped = frozenset(COG2024_TO_2025.get(c, c) for c in row.communes)
        if mapped != coms2025:
            errors.append(f"{row.code_qp}: communes {sorted(row.communes)} (COG 2024) do not map onto the list's "
                          f"{sorted(coms2025)} (COG 2025)")
        # cross-check with the ANCT attributes of the polygon file (an independent copy of the same data)
        pname = facts["polygon_names"].get(row.code_qp)
        if pname is not None and _loose(pname) != _loose(name):
            errors.append(f"{row.code_qp}: name {name!r} in the list, {pname!r} in the polygon file")
        pcoms = facts["polygon_communes"].get(row.code_qp)
        if pcoms and frozenset(COG2024_TO_2025.get(c, c) for c in pcoms) != coms2025:
            errors.append(f"{row.code_qp}: communes {sorted(coms2025)} in the list, {sorted(pcoms)} in the polygon file")
        unknown = [c for c in row.communes if c not in facts["cog2024_codes"] and not c.startswith(("975", "977",
                                                                                                    "978", "98"))]
        if unknown:
            errors.append(f"{row.code_qp}: communes not in COG 2024: {unknown}")
        g = row.geometry
        if g is None:
            if not row.overseas:
                errors.append(f"{row.code_qp}: metropolitan QPV without polygon")
            if not math.isnan(row.area_ha):
                errors.append(f"{row.code_qp}: area without polygon")
            continue
        if g.geom_type != "MultiPolygon" or g.is_empty or not shapely.is_valid(g):
            errors.append(f"{row.code_qp}: geometry not a valid non-empty MultiPolygon ({g.geom_type})")
        if not row.area_ha > 0:
            errors.append(f"{row.code_qp}: area_ha {row.area_ha} not > 0")
    b = gdf.total_bounds
    if not (-180 <= b[0] <= b[2] <= 180 and -90 <= b[1] <= b[3] <= 90) or gdf.crs.to_epsg() != 4326:
        errors.append("layer not in EPSG:4326")
    return errors


def to_parquet_bytes(gdf, meta: dict) -> bytes:
    """GeoParquet bytes with fixed metadata (no timestamps, no versions of this package)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clsm_geo.qpv import METADATA_KEY

    frame = gdf.copy()
    frame["communes"] = frame["communes"].map(list)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd", write_covering_bbox=False)
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[METADATA_KEY] = json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()
    table = table.replace_schema_metadata(schema_meta)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=19, row_group_size=len(frame))
    return sink.getvalue().to_pybytes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("list", "polygons", "patch", "communes_table", "output"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=Path, default=DEFAULTS[name])
    args = ap.parse_args(argv)
    paths = {k: getattr(args, k) for k in DEFAULTS}
    for k, p in paths.items():
        if k != "output" and not Path(p).is_file():
            print(f"error: input not found: {p}", file=sys.stderr)
            return 1

    from clsm_geo.errors import ClsmGeoError
    from clsm_geo.io import atomic_path, file_sha256

    try:
        gdf, facts = build(paths)
        errors = check(gdf, official_list(paths["list"]), facts)
    except (ClsmGeoError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if errors:
        print(f"refusing to write {paths['output']}: {len(errors)} check(s) failed", file=sys.stderr)
        for e in errors[:50]:
            print("  - " + e, file=sys.stderr)
        return 1
    meta = {
        "geography": 2024,
        "edition": EDITION,
        "precision": PRECISION,
        "communes_cog": 2024,
        "coordinates_grid_deg": GRID,
        "inputs": {k: {"file": Path(p).name, "sha256": file_sha256(p)} for k, p in paths.items() if k != "output"},
    }
    data = to_parquet_bytes(gdf, meta)
    if data != to_parquet_bytes(gdf, meta):
        print("error: serialisation is not deterministic", file=sys.stderr)
        return 1
    with atomic_path(paths["output"]) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the shipped file must be readable by everyone
    n_geom = int(gdf.geometry.notna().sum())
    print(f"wrote {paths['output']}: {len(gdf)} QPV ({int((~gdf['overseas']).sum())} metropolitan), "
          f"{n_geom} with polygon, {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    for k, v in meta["inputs"].items():
        print(f"  input {k}: {v['file']} sha256 {v['sha256']}")
    print("  geom_source: " + ", ".join(f"{k} {v}" for k, v in
                                        gdf["geom_source"].fillna("none").value_counts().sort_index().items()))
    print(f"  polygon-only codes left out: {len(facts['polygon_codes'] - set(gdf['code_qp']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
