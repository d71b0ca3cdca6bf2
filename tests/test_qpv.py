"""QPV layers: shipped layer, readers of every published format, errors, geography calendar.

Reference files are read in place from the shared data folder (fixture ``shared``).
"""

from __future__ import annotations

import csv
import json
import warnings
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from clsm_geo import i18n
from clsm_geo.errors import DataSourceError, InputError
from clsm_geo.qpv import COLUMNS, QpvLayer, qpv, qpv_geography_for_year, shipped_layers
from clsm_geo.qpv_sources import QpvDataWarning, read_qpv_source
from tests.httpserver import http_server  # noqa: F401  (fixture)

LIST = "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"
CENTROIDS = "qpv/qpv2024_anct_list_by_commune/centroide-4326_qpv.geojson"
NATIONAL = "qpv/qpv2024_national_simplified_mafrance/qpv2024_simplified.geojson"
PACA = "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson"
OCCITANIE = "qpv/qpv2015_occitanie_hackaviz2021/qp.geojson"
TABLE = "admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv"


@pytest.fixture(scope="module")
def communes_table(shared):
    t = pd.read_csv(shared / TABLE, dtype=str, keep_default_na=False)
    return t.rename(columns={"CODGEO": "insee_com", "DEP": "insee_dep", "REG": "insee_reg", "EPCI": "siren_epci"})


@pytest.fixture(scope="module")
def official(shared):
    """code -> (name, set of communes), read with the csv module only."""
    out: dict = {}
    with open(shared / LIST, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["code_qp"], (row["lib_qp"], set()))[1].add(row["insee_com"])
    return out


def read(path, geography=2024, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame, report = read_qpv_source(path, geography, **kw)
    return frame, report, [str(w.message) for w in caught if issubclass(w.category, QpvDataWarning)]


def same_shapes(a, b, tol=1e-6) -> bool:
    """Same polygons up to ring orientation/start and ``tol`` degrees."""
    return bool((shapely.hausdorff_distance(a.to_numpy(), b.to_numpy()) < tol).all())


def assert_schema(frame):
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert frame["code_qp"].is_unique and list(frame["code_qp"]) == sorted(frame["code_qp"])
    assert isinstance(frame.index, pd.RangeIndex)
    assert frame.crs.to_epsg() == 4326
    assert all(isinstance(c, tuple) and list(c) == sorted(c) for c in frame["communes"])
    geoms = frame.geometry.dropna()
    assert set(geoms.geom_type) <= {"MultiPolygon"}
    assert shapely.is_valid(geoms.to_numpy()).all() and not geoms.is_empty.any()
    assert (frame.loc[frame.geometry.notna(), "area_ha"] > 0).all()
    assert frame.loc[frame.geometry.isna(), "area_ha"].isna().all()


# ------------------------------------------------------------------------------------------ shipped
def test_shipped_layer_matches_official_list(official):
    layer = qpv()
    assert isinstance(layer, QpvLayer) and layer.geography == 2024
    assert layer.source.kind == "shipped" and layer.source.has_polygons and len(layer.source.sha256) == 64
    assert "10 m" in layer.source.precision and "MaFrance" in layer.source.edition
    frame = layer.frame
    assert_schema(frame)
    assert list(frame.columns) == [*COLUMNS, "geom_source"]
    assert set(frame["code_qp"]) == set(official) and len(frame) == 1493
    assert int((~frame["overseas"]).sum()) == 1362
    to2025 = {"93059": "93066"}  # shipped communes are COG 2024; the list is COG 2025
    for row in frame.itertuples():
        name, communes = official[row.code_qp]
        assert row.lib_qp == name
        assert {to2025.get(c, c) for c in row.communes} == communes, row.code_qp
    assert frame.set_index("code_qp").loc["QN09336I", "communes"] == ("93059",)
    # every metropolitan QPV has a polygon; only the 17 Mayotte QN976xxC codes have none
    missing = frame.loc[frame.geometry.isna(), "code_qp"]
    assert len(missing) == 17 and missing.str.match(r"QN976\d\dC").all()
    assert frame["geom_source"].value_counts().to_dict()["jondari_idf_patch"] == 3
    assert frame.loc[~frame["overseas"], "insee_dep"].nunique() == 96
    assert frame.set_index("code_qp").loc["QN01301M", ["insee_dep", "insee_reg"]].tolist() == ["13", "93"]


def test_shipped_layers_listing():
    (entry,) = shipped_layers()
    assert entry["geography"] == 2024 and entry["rows"] == 1493
    assert 0 < entry["size"] <= 3_000_000 and len(entry["sha256"]) == 64
    assert entry["edition"] and entry["precision"]


def test_2015_without_source_asks_for_fetch():
    with pytest.raises(DataSourceError) as err:
        qpv(2015)
    assert "clsm-geo data fetch --qpv 2015" in str(err.value) and "--qpv CHEMIN" in str(err.value)
    assert str(err.value).startswith("aucune couche QPV 2015 disponible")


def test_unknown_geography():
    with pytest.raises(InputError):
        qpv(2020)


# ------------------------------------------------------------------------------------------ lists
def test_long_list(shared):
    layer = qpv(2024, shared / LIST)
    frame = layer.frame
    assert layer.source.kind == "user" and not layer.source.has_polygons
    assert_schema(frame)
    assert len(frame) == 1493 and int((~frame["overseas"]).sum()) == 1362
    assert int((frame["communes"].map(len) > 1).sum()) == 148
    plm = frame["communes"].explode()
    assert {"75056", "69123", "13055"} <= set(plm) and not plm.str.match(r"^(751|6938|132)\d\d$").any()
    assert frame.geometry.isna().all() and frame["area_ha"].isna().all()


def test_centroid_list_gives_same_qpv(shared, communes_table):
    long, _, _ = read(shared / LIST, communes_table=communes_table)
    cent, report, _ = read(shared / CENTROIDS, communes_table=communes_table)
    assert report.kind == "list" and cent.geometry.isna().all()  # points are commune centroids, not QPV
    pd.testing.assert_frame_equal(cent.drop(columns="geometry"), long.drop(columns="geometry"))


def _official_csv(shared, path, sep_in_cell=";"):
    """The official listeqp2024 layout built from the long list: ';', BOM, ="…" cells, communes grouped."""
    long = pd.read_csv(shared / LIST, dtype=str)
    rows = long.groupby("code_qp", sort=False).agg(lib_qp=("lib_qp", "first"), insee_com=("insee_com", list))
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(["code_qp", "lib_qp", "insee_com"])
        for i, (code, r) in enumerate(rows.iterrows()):
            coms = list(r.insee_com)
            if code == "QN07501M":  # an arrondissement code, as the official CSV has
                coms = ["75113"]
            if i % 7 == 0:
                coms = [c.lstrip("0") if c.startswith("0") else c for c in coms]  # Excel lost the zero
            w.writerow([code, r.lib_qp, '="' + sep_in_cell.join(coms) + '"'])
    return path


@pytest.mark.parametrize("sep_in_cell", [";", ", "])
def test_official_semicolon_csv(shared, tmp_path, communes_table, sep_in_cell):
    path = _official_csv(shared, tmp_path / "listeqp2024-cog2024.csv", sep_in_cell)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    frame, _, _ = read(path, communes_table=communes_table)
    long, _, _ = read(shared / LIST, communes_table=communes_table)
    pd.testing.assert_frame_equal(frame.drop(columns="geometry"), long.drop(columns="geometry"))


def test_unquoted_excel_cells(tmp_path, communes_table):
    path = tmp_path / "list.csv"
    path.write_text('\ufeffcode_qp;lib_qp;insee_com\nQN09335M;Centre Ville;="93066;93072"\nQN01301M;X;="13055"\n',
                    encoding="utf-8")
    frame, _, _ = read(path, communes_table=communes_table)
    assert frame["communes"].tolist() == [("13055",), ("93066", "93072")]


# ------------------------------------------------------------------------------------------ polygons
def test_national_simplified_polygons(shared, communes_table):
    frame, report, warns = read(shared / NATIONAL, communes_table=communes_table)
    assert report.features == 1609 and len(frame) == 1609 and report.kind == "polygons"
    assert len(report.invalid_in) == 85
    assert report.emptied == ["QN09105I", "QN09113I", "QN09503I"]
    assert any("85 géométries invalides réparées" in w for w in warns)
    assert_schema(frame)
    assert int(frame.geometry.notna().sum()) == 1606
    assert int((~frame["overseas"]).sum()) == 1362
    # dep/reg/EPCI come from the file when it gives them (ANCT uses the EPT in Grand Paris)
    row = frame.set_index("code_qp").loc["QN09328M"]
    assert row["insee_dep"] == "93" and row["siren_epci"] == "200057867"


def test_occitanie_2015(shared):
    with pytest.warns(QpvDataWarning, match="32 géométries invalides réparées"):
        layer = qpv(2015, shared / OCCITANIE)
    frame = layer.frame
    assert layer.geography == 2015 and len(frame) == 105
    assert frame["code_qp"].str.startswith("QP").all()
    assert "32 invalid geometries repaired" in layer.source.precision
    assert_schema(frame)
    assert frame.geometry.notna().all() and frame["insee_reg"].eq("76").all()
    assert frame["insee_dep"].nunique() == 12


def test_paca(shared, official):
    frame = qpv(2024, shared / PACA).frame
    assert len(frame) == 135 and frame.geometry.notna().all()
    assert_schema(frame)
    for row in frame.itertuples():
        assert set(row.communes) == official[row.code_qp][1]
        assert row.lib_qp == official[row.code_qp][0]
    assert frame["communes"].map(lambda c: "13055" in c).sum() == 41


def test_geopackage_and_zipped_shapefile_load_identically(shared, tmp_path, communes_table):
    src = gpd.read_file(shared / PACA)
    src["com"] = src["com"].map(", ".join)
    src = src.rename(columns={"q": "code_qp", "n": "lib_qp", "d": "insee_dep", "com": "insee_com"})
    ref, _, _ = read(shared / PACA, communes_table=communes_table)
    gpkg = tmp_path / "qpv.gpkg"
    src.to_file(gpkg, layer="qpv", driver="GPKG")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    src.to_crs(2154).to_file(shp_dir / "QP2024_France_hexagonale_LB93.shp")
    zpath = tmp_path / "qpv-2024-shp.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(shp_dir.iterdir()):
            zf.write(p, f"SHP/{p.name}")
            # a per-territory file: read with the Lambert-93 one (here a copy: same codes, merged)
            zf.write(p, f"SHP/QP2024_Reunion_UTM40S{p.suffix}")
    for path in (gpkg, zpath, shp_dir):
        frame, report, _ = read(path, communes_table=communes_table)
        assert_schema(frame)
        pd.testing.assert_frame_equal(frame.drop(columns=["geometry", "area_ha"]),
                                      ref.drop(columns=["geometry", "area_ha"]))
        assert (frame["area_ha"] - ref["area_ha"]).abs().max() < 0.01
        assert same_shapes(frame.geometry, ref.geometry)
    _, report, _ = read(zpath, communes_table=communes_table)
    assert report.member == "SHP/QP2024_France_hexagonale_LB93.shp + SHP/QP2024_Reunion_UTM40S.shp"
    assert "2154" in report.notes[0]


def test_zip_prefers_national_geojson(shared, tmp_path, communes_table):
    zpath = tmp_path / "qpv-2024-geojson.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(shared / PACA, "GEOJSON/QP2024_Martinique_WGS84.geojson")
        zf.write(shared / NATIONAL, "GEOJSON/QP2024_France_Hexagonale_Outre_Mer_WGS84.geojson")
    frame, report, _ = read(zpath, communes_table=communes_table)
    assert report.member.endswith("France_Hexagonale_Outre_Mer_WGS84.geojson") and len(frame) == 1609


def test_lambert93_is_reprojected(shared, tmp_path, communes_table):
    path = tmp_path / "paca_l93.geojson"
    gpd.read_file(shared / PACA).to_crs(2154).to_file(path)
    frame, report, _ = read(path, communes_table=communes_table)
    ref, _, _ = read(shared / PACA, communes_table=communes_table)
    assert any("reprojected" in n for n in report.notes)
    assert frame.crs.to_epsg() == 4326
    assert same_shapes(frame.geometry, ref.geometry)


def test_file_without_crs(shared, tmp_path, communes_table):
    data = json.loads((shared / PACA).read_text(encoding="utf-8"))
    data["features"] = data["features"][:5]
    lonlat = tmp_path / "nocrs.json"
    lonlat.write_text(json.dumps(data), encoding="utf-8")
    # GeoJSON is WGS84 by definition; use a shapefile without .prj instead
    gdf = gpd.read_file(lonlat)
    gdf["com"] = gdf["com"].map(",".join)
    for name, frame in (("ll", gdf), ("l93", gdf.to_crs(2154))):
        d = tmp_path / name
        d.mkdir()
        frame.to_file(d / "qpv.shp")
        (d / "qpv.prj").unlink()
    frame, report, warns = read(tmp_path / "ll" / "qpv.shp", communes_table=communes_table)
    assert len(frame) == 5 and any("pas de système de coordonnées" in w for w in warns)
    from clsm_geo import i18n

    i18n.set_lang("en")  # the warning in the language in force (reset after each test by conftest)
    _, _, warns = read(tmp_path / "ll" / "qpv.shp", communes_table=communes_table)
    assert any("no CRS in the file" in w for w in warns)
    with pytest.raises(InputError) as err:
        read(tmp_path / "l93" / "qpv.shp", communes_table=communes_table)
    assert "qpv.shp" in str(err.value) and "coordinate reference system" in str(err.value)


# ------------------------------------------------------------------------------------------ errors
def test_wrong_geography_codes(shared):
    with pytest.raises(InputError) as err:
        qpv(2024, shared / OCCITANIE)
    msg = str(err.value)
    assert "qp.geojson" in msg and "ligne 2" in msg and "QP066007" in msg and "géographie QPV 2015" in msg
    with pytest.raises(InputError) as err:
        qpv(2015, shared / LIST)
    assert "qpv2024_code_commune_DERIVED.csv" in str(err.value) and "QN00103M" in str(err.value)


def test_missing_code_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("quartier;insee_com\nA;01004\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        qpv(2024, path)
    assert "bad.csv" in str(err.value) and "code_qp" in str(err.value)


def test_bad_commune_code_names_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code_qp,lib_qp,insee_com\nQN00103M,A,01004\nQN00105I,B,1O31X\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        qpv(2024, path)
    assert "bad.csv, ligne 3, colonne «\u00a0insee_com\u00a0»\u00a0: '1O31X' n'est pas une liste" in str(err.value)
    i18n.set_lang("en")
    with pytest.raises(InputError) as err:
        qpv(2024, path)
    assert "bad.csv, row 3, column 'insee_com': '1O31X' is not a list of INSEE commune codes" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"{not json", b"\x00\x01\x02"])
def test_unreadable_files_raise_input_error(tmp_path, content):
    path = tmp_path / "broken.geojson"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        qpv(2024, path)
    assert "broken.geojson" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError):
        qpv(2024, tmp_path / "nope.geojson")


# ------------------------------------------------------------------------------------------ calendar
def test_qpv_geography_for_year():
    assert qpv_geography_for_year(2015) == 2015
    assert qpv_geography_for_year(2023) == 2015
    assert qpv_geography_for_year(2024) == 2024
    assert qpv_geography_for_year(2030) == 2024
    assert qpv_geography_for_year(2024, overseas=True) == 2015
    assert qpv_geography_for_year(2025, overseas=True) == 2024
    assert qpv_geography_for_year(2016, overseas=True) == 2015
    for bad in (2014, 1990, "x", 2024.5, True):
        with pytest.raises(InputError):
            qpv_geography_for_year(bad)


# ------------------------------------------------------------------------------------------ cache & URLs
def test_fetch_then_load_from_cache(shared, tmp_path):
    from clsm_geo.cache import cache_get
    from clsm_geo.qpv import fetch_qpv

    entry = fetch_qpv(2024, shared / PACA)
    assert entry.meta["geography"] == 2024 and entry.meta["path"].endswith("qpv-paca.geojson")
    layer = qpv(2024)
    assert layer.source.kind == "cache" and len(layer.frame) == 135 and layer.source.sha256 == entry.sha256
    # a bad file never replaces the good entry
    bad = tmp_path / "bad.csv"
    bad.write_text("code_qp,lib_qp,insee_com\nQP066007,X,66136\n", encoding="utf-8")
    with pytest.raises((InputError, DataSourceError)) as err:
        fetch_qpv(2024, bad)
    assert "2015" in str(err.value)
    assert cache_get("qpv2024").sha256 == entry.sha256
    # 2015: a cached file is used when present
    fetch_qpv(2015, shared / OCCITANIE)
    with pytest.warns(QpvDataWarning):
        assert len(qpv(2015).frame) == 105


def test_source_url_goes_through_cache(shared, http_server):
    url = http_server.serve_file("/r/qpv-list", shared / LIST)
    layer = qpv(2024, url)
    assert layer.source.kind == "user" and layer.source.location == url and len(layer.frame) == 1493
    assert qpv(2024, url).source.sha256 == layer.source.sha256


def test_catalogue_defaults():
    from clsm_geo.qpv import catalogue

    cat = catalogue()
    for geo in ("2015", "2024"):
        entry = cat["geographies"][geo]
        default = next(r for r in entry["resources"] if r["id"] == entry["default"])
        assert default["url"].startswith("https://") and default["licence"].startswith("Licence Ouverte")
    urls = [r["url"] or "" for r in cat["geographies"]["2024"]["resources"]]
    assert any("942d4ee8-8142-4556-8ea1-335537ce1119" in u for u in urls)
    assert any(u.endswith("20250206-161839/qp2024-france-hexagonale-outre-mer-wgs84-epsg4326.geojson") for u in urls)
    # nothing was downloaded where the catalogue was written: every sha256 is null and flagged unconfirmed
    for geo in cat["geographies"].values():
        for r in geo["resources"]:
            assert r["sha256"] is None and r["url_confirmed"] is False
    assert set(cat["population"]) == {"2015", "2024"}


def test_zipped_csv_and_folder(shared, tmp_path, communes_table):
    long, _, _ = read(shared / LIST, communes_table=communes_table)
    zpath = tmp_path / "liste.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(shared / LIST, "listeqp2024.csv")
    frame, report, _ = read(zpath, communes_table=communes_table)
    assert report.member == "listeqp2024.csv"
    pd.testing.assert_frame_equal(frame, long)
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    (folder / "qpv.geojson").write_bytes((shared / PACA).read_bytes())
    frame, report, _ = read(folder, communes_table=communes_table)
    assert report.member == "qpv.geojson" and len(frame) == 135


def test_geometry_collections_and_duplicates(tmp_path, communes_table):
    gj = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code_qp": "QN01301M", "lib_qp": "A", "insee_com": "13201"},
         "geometry": {"type": "GeometryCollection", "geometries": [
             {"type": "Polygon", "coordinates": [[[5.0, 43.0], [5.01, 43.0], [5.01, 43.01], [5.0, 43.0]]]},
             {"type": "LineString", "coordinates": [[5.0, 43.0], [5.1, 43.1]]}]}},
        {"type": "Feature", "properties": {"code_qp": "QN01301M", "lib_qp": "A", "insee_com": "13202"},
         "geometry": {"type": "Polygon", "coordinates": [[[5.02, 43.0], [5.03, 43.0], [5.03, 43.01], [5.02, 43.0]]]}},
        {"type": "Feature", "properties": {"code_qp": "QN01302M", "lib_qp": "B", "insee_com": "13055"},
         "geometry": {"type": "Polygon", "coordinates": [[[5.0, 43.0], [5.01, 43.01], [5.01, 43.0], [5.0, 43.01],
                                                          [5.0, 43.0]]]}},
    ]}
    path = tmp_path / "gc.geojson"
    path.write_text(json.dumps(gj), encoding="utf-8")
    frame, report, warns = read(path, communes_table=communes_table)
    assert_schema(frame)
    assert frame["communes"].tolist() == [("13055",), ("13055",)]  # Marseille arrondissements -> city
    assert len(frame.geometry[0].geoms) == 2 and report.invalid_in == ["QN01302M"]
    assert frame.loc[0, "insee_dep"] == "13" and frame.loc[0, "insee_reg"] == "93"


@pytest.mark.filterwarnings("ignore:.*géométries invalides réparées")
def test_communes_derived_from_polygons_when_file_has_no_codes(shared, tmp_path):
    """2015 official files give commune names only: communes come from the COG 2024 commune polygons."""
    src = gpd.read_file(shared / OCCITANIE)
    expected = {c: (com,) for c, com in zip(src["code_qp"], src["code_commune"], strict=True)}
    path = tmp_path / "QP_METROPOLE_noCodes.gpkg"
    src.drop(columns=["code_commune", "code_departement"]).rename(
        columns={"code_qp": "CODE_QP", "nom_qp": "NOM_QP", "commune_qp": "COMMUNE_QP"}).to_file(path)
    with pytest.warns(QpvDataWarning, match="communes déduites des polygones"):
        frame = qpv(2015, path).frame
    assert dict(zip(frame["code_qp"], frame["communes"], strict=True)) == expected
    assert frame["insee_reg"].eq("76").all() and frame["siren_epci"].notna().all()
