"""Small files in the exact layouts of the official QPV and INSEE publications, built from the SHIPPED data.

Used by the tests (``tests/test_sources.py``, ``tests/test_population.py``), which build them into a temporary
folder and serve them over a local HTTP server. Nothing here is official data: the polygons are those of the
shipped layer ``data/qpv/qpv2024.parquet`` (ANCT QPV 2024, simplified to ~10 m), the names and codes of the
administrative units those of ``data/boundaries``; the 2015 files re-use 2024 polygons under 2015-style codes
(``QN01301M`` -> ``QP013001``), the populations are made-up round numbers, and two features of the 2024
GeoJSON (Saint-Martin, Polynésie française) are small synthetic squares standing for the collectivities
outside the five DROM. Only the *formats* are those of the producers:

* ``qp2024-france-hexagonale-outre-mer-wgs84-epsg4326.geojson``: WGS84 GeoJSON FeatureCollection, properties
  ``fid, code_qp, lib_qp, insee_reg, lib_reg, insee_dep, lib_dep, insee_com, lib_com, siren_epci``; lists of
  communes joined by ``", "``; Paris/Lyon/Marseille with the whole-city code;
* ``listeqp2024-cog2024.csv``: ``;``-separated, UTF-8 with BOM, ``insee_com`` written ``="…"`` with several
  communes separated by ``;`` in one cell;
* ``qp-politiquedelaville-shp.zip``: ``QP_METROPOLE_LB93.shp`` (EPSG:2154) and one shapefile per overseas
  territory in its local projection (RGAF09 / UTM 20N for Guadeloupe and Martinique, RGFG95 / UTM 22N for
  Guyane, RGR92 / UTM 40S for La Réunion), attributes ``CODE_QP, NOM_QP, COMMUNE_QP`` (commune NAMES);
* ``qpv-2024-shp.zip``: ``SHP/QP2024_France_hexagonale_LB93.shp`` and one shapefile per DROM in its UTM
  projection, attributes as the GeoJSON (the overseas file names are not confirmed);
* ``pop_QPV24.csv`` (INSEE, 2024 geography) and ``pop_QPV2015.xlsx`` (INSEE, 2015 geography, five title
  lines above the header as INSEE workbooks have): ``CODGEO`` (QPV code), ``LIBGEO``, ``POP_MUN``.

Usage: ``python scripts/make_official_fixtures.py OUT_DIR`` (writes every file and prints their sha256).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
#: Fixed timestamp of the zip members, so that a zip of identical members is identical.
ZIP_DATE = (2018, 1, 10, 14, 49, 44)
#: Overseas shapefiles of the 2015 zip: department -> (file stem, EPSG of its local projection).
OVERSEAS_2015 = {"971": ("QP_GUADELOUPE_RGAF09UTM20", 5490), "972": ("QP_MARTINIQUE_RGAF09UTM20", 5490),
                 "973": ("QP_GUYANE_RGFG95UTM22", 2972), "974": ("QP_REUNION_RGR92UTM40S", 2975)}
#: Synthetic squares (lon, lat of the centre) for QPV of collectivities outside the COG departments.
COLLECTIVITIES = {"978": ("QN97801M", "Quartier fictif de Saint-Martin", "97801", "Saint-Martin", (-63.08, 18.07)),
                  "987": ("QN98701M", "Quartier fictif de Papeete", "98735", "Papeete", (-149.56, -17.54))}


def _shipped():
    import geopandas as gpd

    return gpd.read_parquet(DATA / "qpv" / "qpv2024.parquet")


def _names():
    import pandas as pd

    com = pd.read_parquet(DATA / "boundaries" / "communes_2024.parquet", columns=["insee_com", "lib_com"])
    dep = pd.read_parquet(DATA / "boundaries" / "departements_2024.parquet", columns=["insee_dep", "lib_dep"])
    reg = pd.read_parquet(DATA / "boundaries" / "regions_2024.parquet", columns=["insee_reg", "lib_reg"])
    return (dict(zip(com["insee_com"], com["lib_com"])), dict(zip(dep["insee_dep"], dep["lib_dep"])),
            dict(zip(reg["insee_reg"], reg["lib_reg"])))


def selection():
    """The QPV of the fixtures: a deterministic handful of the shipped layer (GeoDataFrame, EPSG:4326).

    Alpes-de-Haute-Provence (04) and Hautes-Alpes (05) entirely, the first three QPV of Marseille, the
    first QPV spanning several communes, the first two of Paris, and the first two QPV with a polygon of
    Guadeloupe, Martinique, Guyane and La Réunion.
    """
    q = _shipped()
    q = q[q.geometry.notna()]
    parts = [q[q["insee_dep"].isin(["04", "05"])],
             q[q["communes"].map(lambda c: "13055" in c)].head(3),
             q[q["communes"].map(len) > 1].head(1),
             q[q["communes"].map(lambda c: "75056" in c)].head(2)]
    parts += [q[q["insee_dep"] == dep].head(2) for dep in OVERSEAS_2015]
    import pandas as pd

    out = pd.concat(parts).drop_duplicates("code_qp").sort_values("code_qp")
    return out.reset_index(drop=True)


def code_2015(code: str) -> str:
    """A 2015-style code for a 2024 code: ``QN01301M`` -> ``QP013001``, ``QN97101M`` -> ``QP971001``."""
    return f"QP{code[2:5]}{int(code[5:7]):03d}"


def population_of(i: int) -> int:
    """Made-up municipal population of the i-th QPV of :func:`selection` (round numbers, easy to add up)."""
    return 1000 + 100 * i


def _square(lon: float, lat: float, half: float = 0.004):
    from shapely.geometry import MultiPolygon, box

    return MultiPolygon([box(lon - half, lat - half, lon + half, lat + half)])


def write_geojson_2024(out: Path) -> Path:
    """The national WGS84 GeoJSON of the QPV 2024 (selection + two collectivities)."""
    import shapely

    communes, deps, regs = _names()
    features = []
    rows = selection()
    for i, r in enumerate(rows.itertuples(index=False), start=1):
        coms = list(r.communes)
        features.append({"type": "Feature", "properties": {
            "fid": i, "code_qp": r.code_qp, "lib_qp": r.lib_qp, "insee_reg": r.insee_reg,
            "lib_reg": regs.get(r.insee_reg), "insee_dep": r.insee_dep, "lib_dep": deps.get(r.insee_dep),
            "insee_com": ", ".join(coms), "lib_com": ", ".join(communes.get(c, c) for c in coms),
            "siren_epci": r.siren_epci}, "geometry": json.loads(shapely.to_geojson(r.geometry))})
    for j, (dep, (code, name, com, lib_com, (lon, lat))) in enumerate(sorted(COLLECTIVITIES.items())):
        features.append({"type": "Feature", "properties": {
            "fid": len(rows) + j + 1, "code_qp": code, "lib_qp": name, "insee_reg": dep, "lib_reg": lib_com,
            "insee_dep": dep, "lib_dep": lib_com, "insee_com": com, "lib_com": lib_com, "siren_epci": None},
            "geometry": json.loads(shapely.to_geojson(_square(lon, lat)))})
    doc = {"type": "FeatureCollection", "name": "QP2024_France_Hexagonale_Outre_Mer_WGS84_EPSG4326",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": features}
    path = out / "qp2024-france-hexagonale-outre-mer-wgs84-epsg4326.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def write_list_2024(out: Path) -> Path:
    """``listeqp2024-cog2024.csv``: ``;``, UTF-8 BOM, ``="…"`` commune cells (several communes per cell)."""
    communes, _, _ = _names()
    lines = ["code_qp;lib_qp;insee_com;lib_com"]
    for r in selection().itertuples(index=False):
        coms = list(r.communes)
        lines.append(f'{r.code_qp};{r.lib_qp};="{";".join(coms)}";{", ".join(communes.get(c, c) for c in coms)}')
    path = out / "listeqp2024-cog2024.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def _shapefile_members(frame, stem: str, epsg: int) -> dict[str, bytes]:
    import tempfile

    import pyogrio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(frame.to_crs(epsg), path, driver="ESRI Shapefile", encoding="UTF-8")
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def write_zip_2015(out: Path) -> Path:
    """``qp-politiquedelaville-shp.zip``: ``QP_METROPOLE_LB93.shp`` + one shapefile per overseas territory."""
    import geopandas as gpd

    communes, _, _ = _names()
    rows = selection()
    frame = gpd.GeoDataFrame({
        "CODE_QP": [code_2015(c) for c in rows["code_qp"]], "NOM_QP": rows["lib_qp"].to_numpy(),
        "COMMUNE_QP": [", ".join(communes.get(c, c) for c in coms) for coms in rows["communes"]],
    }, geometry=rows.geometry.to_numpy(), crs=4326)
    deps = rows["insee_dep"].to_numpy()
    members = _shapefile_members(frame[~rows["overseas"].to_numpy()], "QP_METROPOLE_LB93", 2154)
    for dep, (stem, epsg) in OVERSEAS_2015.items():
        members.update(_shapefile_members(frame[deps == dep], stem, epsg))
    return _write_zip(out / "qp-politiquedelaville-shp.zip", members)


def write_shapefile_zip_2024(out: Path) -> Path:
    """The QPV 2024 shapefile zip: ``SHP/QP2024_France_hexagonale_LB93.shp`` + one UTM shapefile per DROM."""
    import geopandas as gpd

    communes, deps, regs = _names()
    rows = selection()
    frame = gpd.GeoDataFrame({
        "code_qp": rows["code_qp"].to_numpy(), "lib_qp": rows["lib_qp"].to_numpy(),
        "insee_reg": rows["insee_reg"].to_numpy(), "lib_reg": [regs.get(r) for r in rows["insee_reg"]],
        "insee_dep": rows["insee_dep"].to_numpy(), "lib_dep": [deps.get(d) for d in rows["insee_dep"]],
        "insee_com": [", ".join(c) for c in rows["communes"]],
        "lib_com": [", ".join(communes.get(x, x) for x in c) for c in rows["communes"]],
        "siren_epci": rows["siren_epci"].to_numpy(),
    }, geometry=rows.geometry.to_numpy(), crs=4326)
    dep = rows["insee_dep"].to_numpy()
    members = {f"SHP/{k}": v for k, v in _shapefile_members(frame[~rows["overseas"].to_numpy()],
                                                            "QP2024_France_hexagonale_LB93", 2154).items()}
    for d, (stem, epsg) in OVERSEAS_2015.items():
        name = "QP2024_" + stem.split("_", 1)[1]
        members.update({f"SHP/{k}": v for k, v in _shapefile_members(frame[dep == d], name, epsg).items()})
    return _write_zip(out / "qpv-2024-shp.zip", members)


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, members[name])
    path.write_bytes(buf.getvalue())
    return path


def populations(geography: int) -> list[tuple[str, str, int]]:
    """(code, name, population) of every QPV of the fixtures in ``geography``, as written in the files."""
    rows = selection()
    codes = rows["code_qp"] if geography == 2024 else rows["code_qp"].map(code_2015)
    return [(c, n, population_of(i)) for i, (c, n) in enumerate(zip(codes, rows["lib_qp"]), start=1)]


def write_population_2024(out: Path) -> Path:
    """``pop_QPV24.csv``: INSEE layout, ``;``-separated UTF-8, ``CODGEO;LIBGEO;POP_MUN``."""
    lines = ["CODGEO;LIBGEO;POP_MUN"] + [f"{c};{n};{p}" for c, n, p in populations(2024)]
    path = out / "pop_QPV24.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return path


def write_population_2015(out: Path) -> Path:
    """The QPV 2015 populations as an INSEE workbook: five title lines, then ``CODGEO, LIBGEO, POP_MUN``."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "QP"
    for line in ("Population municipale des quartiers prioritaires de la politique de la ville (géographie 2015)",
                 "Fichier d'essai de clsm-geo (valeurs fictives)", "", "Source : format INSEE", ""):
        ws.append([line])
    ws.append(["CODGEO", "LIBGEO", "POP_MUN"])
    for c, n, p in populations(2015):
        ws.append([c, n, p])
    wb.properties.created = wb.properties.modified = __import__("datetime").datetime(2021, 6, 1)
    path = out / "pop_QPV2015.xlsx"
    wb.save(path)
    return path


def build(out: str | Path) -> dict[str, Path]:
    """Write every fixture into ``out``; returns name -> path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return {"geojson_2024": write_geojson_2024(out), "list_2024": write_list_2024(out),
            "zip_2015": write_zip_2015(out), "shp_zip_2024": write_shapefile_zip_2024(out),
            "population_2024": write_population_2024(out),
            "population_2015": write_population_2015(out)}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1])
        return 2
    for name, path in build(argv[0]).items():
        print(f"{name}: {path} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
