"""The coverage engine on the real national 2024 data, against expectations computed independently.

Expectations use plain set logic over the official QPV list by commune and the INSEE table
d'appartenance read straight from ../shared/data with pandas, never the engine's own tables.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import clsm_geo
from clsm_geo import i18n
from conftest import SHARED
from clsm_geo.errors import InputError, RegistryError
from clsm_geo.qpv import qpv

PLM = {"75056", "69123", "13055"}
RANK = {"uncovered": 0, "partial": 1, "covered": 2}


@functools.lru_cache(maxsize=1)
def official_list(shared_path: str) -> dict[str, frozenset[str]]:
    """code_qp -> official communes (metropolitan), from the ANCT list by commune (COG 2025 codes)."""
    table = pd.read_csv(f"{shared_path}/qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv",
                        dtype=str)
    table = table[~table["insee_com"].str.startswith("97")]
    # The list uses COG 2025 codes; in COG 2024 Pierrefitte-sur-Seine (93059) was still separate.
    return {code: frozenset(group) for code, group in table.groupby("code_qp")["insee_com"]}


@functools.lru_cache(maxsize=1)
def epci_members(shared_path: str) -> dict[str, frozenset[str]]:
    table = pd.read_csv(f"{shared_path}/admin/cog2024_tables_cogugaison/table_appartenance_geo_communes_2024.csv",
                        dtype=str)
    return {siren: frozenset(group) for siren, group in table.groupby("EPCI")["CODGEO"]}


def expected_commune_status(official: dict, covered: set[str]) -> dict[str, str]:
    out = {}
    for code, communes in official.items():
        inside = communes & covered
        out[code] = "covered" if inside == communes else "partial" if inside else "uncovered"
    return out


def write_registry(tmp_path, rows, name="reg.csv"):
    lines = ["id,name,status,created,closed,communes,epci"]
    for i, row in enumerate(rows):
        lines.append(",".join([row.get("id", f"T{i}"), row.get("name", f"Council {i}"), row.get("status", "actif"),
                               str(row.get("created", 2015)), str(row.get("closed", "")),
                               ";".join(row.get("communes", ())), ";".join(row.get("epci", ()))]))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped():
    return qpv(2024)


@pytest.fixture(scope="module")
def official_layer(shared):
    return qpv(2024, shared / "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv")


def statuses(result) -> dict[str, str]:
    q = result.qpv[result.qpv["in_force"]]
    return dict(zip(q["code_qp"], q["status"]))


def test_commune_method_matches_set_logic_on_constructed_registry(tmp_path, shared, official_layer):
    official = official_list(str(shared))
    rows = [
        {"communes": ["31555"]},                                   # Toulouse
        {"communes": ["44109", "44162"]},                          # Nantes, Saint-Herblain
        {"communes": ["95018"]},                                   # Argenteuil only: straddling QPV partial
        {"epci": ["200046977"]},                                   # Métropole de Lyon (incl. the whole city)
        {"epci": ["246700488"], "created": 2024},                 # Strasbourg, new this year
        {"communes": ["13055"]},                                   # the whole of Marseille
        {"communes": ["59350"], "status": "en_projet", "created": ""},   # in project: covers nothing
        {"communes": ["33063"], "status": "en_sommeil", "closed": 2023},  # dormant before 2024
    ]
    result = clsm_geo.coverage(write_registry(tmp_path, rows), 2024, qpv=official_layer, method="commune")
    covered = {"31555", "44109", "44162", "95018", "13055"} | epci_members(str(shared))["200046977"] \
        | epci_members(str(shared))["246700488"]
    expected = expected_commune_status(official, covered)
    got = statuses(result)
    assert got == expected
    assert result.summary["councils_active"] == 6
    assert result.summary["councils_new"] == 1
    assert result.summary["councils_in_project"] == 1
    assert result.summary["qpv_total"] == 1362
    assert result.summary["qpv_covered"] == sum(s != "uncovered" for s in expected.values())
    assert result.summary["qpv_partial"] == sum(s == "partial" for s in expected.values())
    assert got["QN09502I"] == "partial"          # a QPV of Argenteuil and Bezons, only Argenteuil in a council


#: Communes (outside Paris, Lyon, Marseille) hosting at least one metropolitan QPV: what hypothesis draws from.
QPV_COMMUNES = sorted({c for cs in official_list(str(SHARED)).values() for c in cs} - PLM)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(QPV_COMMUNES), min_size=1, max_size=60), st.sampled_from(QPV_COMMUNES))
def test_property_commune_method_equals_set_logic_and_is_monotonic(tmp_path, shared, official_layer, chosen, extra):
    official = official_list(str(shared))
    rows = [{"id": f"C{i}", "communes": [c]} for i, c in enumerate(sorted(chosen))]
    before = statuses(clsm_geo.coverage(write_registry(tmp_path, rows), 2024, qpv=official_layer,
                                        method="commune"))
    assert before == expected_commune_status(official, set(chosen))
    rows.append({"id": "EXTRA", "communes": [extra]})
    after = statuses(clsm_geo.coverage(write_registry(tmp_path, rows, "reg2.csv"), 2024, qpv=official_layer,
                                       method="commune"))
    assert all(RANK[after[c]] >= RANK[before[c]] for c in before)   # adding a commune never lowers coverage


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(QPV_COMMUNES), min_size=1, max_size=80))
def test_property_methods_agree_except_explained_border_slivers(tmp_path, shipped, chosen):
    rows = [{"id": f"C{i}", "communes": [c]} for i, c in enumerate(sorted(chosen))]
    result = clsm_geo.coverage(write_registry(tmp_path, rows), 2024, qpv=shipped, method="auto")
    q = result.qpv[result.qpv["in_force"] & result.qpv.geometry.notna()]
    shares = q["area_share"].to_numpy()
    assert np.all((shares >= 0) & (shares <= 1))
    cfg = result.settings
    disagree = q[q["status_commune"] != q["status_geometry"]]
    for row in disagree.itertuples():
        # Only a straddling QPV whose uncovered communes hold a sliver below the thresholds.
        assert row.status_commune == "partial"
        assert row.area_share >= cfg.covered_threshold or row.area_share <= cfg.partial_threshold
    reconciled = result.reconciliation
    assert set(reconciled["code_qp"]) == set(disagree["code_qp"])
    assert reconciled["reason"].str.len().gt(20).all()


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(QPV_COMMUNES), min_size=1, max_size=40), st.sampled_from(QPV_COMMUNES))
def test_property_geometry_shares_in_unit_interval_and_monotonic(tmp_path, shipped, chosen, extra):
    rows = [{"id": "A", "communes": sorted(chosen)}]
    before = clsm_geo.coverage(write_registry(tmp_path, rows), 2024, qpv=shipped, method="geometry").qpv
    rows.append({"id": "B", "communes": [extra]})
    after = clsm_geo.coverage(write_registry(tmp_path, rows, "reg2.csv"), 2024, qpv=shipped,
                              method="geometry").qpv
    for frame in (before, after):
        shares = frame["covered_share"].dropna().to_numpy()
        assert np.all((shares >= 0) & (shares <= 1))
    b = before.set_index("code_qp")["covered_share"].fillna(0)
    a = after.set_index("code_qp")["covered_share"].fillna(0)
    assert (a >= b - 1e-12).all()


def test_marseille_arrondissements_cover_exactly_the_qpv_inside_them(tmp_path, shared):
    """PACA polygons (1.7 m precision) against the precise OpenStreetMap arrondissement outlines (SOURCES.md
    section 7), overlaid independently."""
    import geopandas as gpd

    paca = qpv(2024, shared / "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson")
    chosen = ["13213", "13214", "13215", "13216", "13203"]
    result = clsm_geo.coverage(write_registry(tmp_path, [{"communes": chosen}]), 2024, qpv=paca,
                               method="geometry")
    arr = gpd.read_file(shared / "admin/plm_arrondissements_precise/plm_arrondissements_osm_20180711.json")
    arr = arr.rename(columns={"code": "insee_arm"}).to_crs(2154)
    raw = gpd.read_file(shared / "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson").to_crs(2154)
    marseille = raw[raw["com"].map(lambda c: list(c) == ["13055"] if not isinstance(c, str)
                                   else c.strip("[]\" ") == "13055")]
    marseille = marseille.assign(geometry=marseille.geometry.make_valid())
    inside = arr[arr["insee_arm"].isin(chosen)].union_all()
    share = marseille.geometry.intersection(inside).area / marseille.geometry.area
    expected = dict(zip(marseille["q"], np.where(share >= 0.99, "covered",
                                                 np.where(share > 0.01, "partial", "uncovered"))))
    got = statuses(result)
    assert len(expected) == 40   # the Marseille QPV entirely within the city (QN01341I straddles 13070)
    clear = {c for c, s in zip(marseille["q"], share) if not (0.98 < s < 0.995 or 0.005 < s < 0.02)}
    assert len(clear) >= 38
    assert {c: got[c] for c in clear} == {c: expected[c] for c in clear}
    assert sum(s == "covered" for s in expected.values()) >= 15


def test_commune_method_says_when_arrondissements_cannot_place_a_qpv(tmp_path, official_layer):
    result = clsm_geo.coverage(write_registry(tmp_path, [{"communes": ["13201"]}]), 2024, qpv=official_layer,
                               method="commune")
    marseille = result.qpv[result.qpv["communes"].map(lambda c: "13055" in c)]
    assert set(marseille["status"]) == {"undetermined"}
    assert marseille["note"].str.contains("les listes de communes ne suffisent pas à placer le QPV").all()
    assert result.summary["qpv_undetermined"] == len(marseille)


def test_counting_rules_for_a_year(tmp_path, official_layer):
    rows = [
        {"id": "A", "created": 2010, "communes": ["31555"]},
        {"id": "B", "created": 2024, "communes": ["49007"]},                            # new in 2024
        {"id": "C", "created": 2025, "communes": ["37261"]},                            # not yet
        {"id": "D", "status": "en_sommeil", "created": 2015, "closed": 2025, "communes": ["80021"]},  # counts
        {"id": "E", "status": "ferme", "created": 2015, "closed": 2024, "communes": ["51454"]},       # gone
        {"id": "F", "status": "en_projet", "created": "", "communes": ["10387"]},
    ]
    path = write_registry(tmp_path, rows)
    s2024 = clsm_geo.coverage(path, 2024, qpv=official_layer, method="commune").summary
    assert (s2024["councils_active"], s2024["councils_new"], s2024["councils_in_project"]) == (3, 1, 1)
    res2023 = clsm_geo.coverage(path, 2024, qpv=official_layer, method="commune")
    councils = res2023.councils_table.set_index("id")
    assert councils.loc["D", "active"] and not councils.loc["E", "active"] and not councils.loc["C", "active"]
    assert councils.loc["A", "qpv_covered"] > 0 and councils.loc["E", "qpv_covered"] == 0


def test_registry_errors_for_the_year_are_reported_with_rows(tmp_path, official_layer):
    path = write_registry(tmp_path, [{"communes": ["31555"]}, {"communes": ["99999"]}, {"epci": ["200000000"]}])
    with pytest.raises(RegistryError) as info:
        clsm_geo.coverage(path, 2024, qpv=official_layer)
    errors = {(p.row, p.column) for p in info.value.problems if p.severity == "error"}
    assert errors == {(3, "communes"), (4, "epci")}


def test_old_codes_are_resolved_and_reported(tmp_path, official_layer):
    # A plain change of code is the same commune: 27058 Les Trois Lacs became 27676
    path = write_registry(tmp_path, [{"communes": ["27058"]}])
    report = clsm_geo.validate(path, 2024)
    assert report.ok
    (warning,) = report.warnings
    assert warning.column == "communes" and "ancien code résolu (changement de code)" in warning.message
    result = clsm_geo.coverage(path, 2024, qpv=official_layer, method="commune")
    assert result.councils_table.loc[0, "communes"] == ("27676",)
    # A merged commune is a former commune: its own outline, never the whole new commune. Courcouronnes
    # (merged into Évry-Courcouronnes in 2019) has no outline in any vintage: the council is kept, the QPV
    # of Évry-Courcouronnes are undetermined and the warning says why.
    path = write_registry(tmp_path, [{"communes": ["91182"]}], "merged.csv")
    (warning,) = clsm_geo.validate(path, 2024).warnings
    assert "91228 Évry-Courcouronnes" in warning.message and "sans contour connu" in warning.message
    result = clsm_geo.coverage(path, 2024, qpv=official_layer, method="commune")
    council = result.councils_table.loc[0]
    assert council["communes"] == () and council["former_communes"] == ("91182>91228",)
    evry = result.qpv[result.qpv["communes"].map(lambda c: c == ("91228",))]
    assert len(evry) and set(evry["status"]) == {"undetermined"}


def test_infra_communal_geometry_council(tmp_path, shipped):
    import geopandas as gpd
    import shapely

    frame = shipped.frame.set_index("code_qp")
    target = frame.loc["QN03101M", "geometry"]            # a Toulouse QPV
    minx, miny, maxx, maxy = target.bounds
    half = shapely.box(minx - 0.01, miny - 0.01, (minx + maxx) / 2, maxy + 0.01)
    path = tmp_path / "reg.geojson"
    gpd.GeoDataFrame({"id": ["W", "H"], "name": ["whole", "half"], "status": ["actif", "actif"],
                      "created": ["2020", "2020"]}, geometry=[target.buffer(0.0005), half], crs=4326).to_file(path)
    result = clsm_geo.coverage(path, 2024, qpv=shipped, method="geometry")
    row = result.qpv.set_index("code_qp").loc["QN03101M"]
    assert row["status"] == "covered" and set(row["councils"]) == {"W", "H"}
    only_half = gpd.read_file(path).iloc[[1]]
    only_half.to_file(tmp_path / "half.geojson")
    half_result = clsm_geo.coverage(tmp_path / "half.geojson", 2024, qpv=shipped, method="geometry")
    share = half_result.qpv.set_index("code_qp").loc["QN03101M", "covered_share"]
    assert 0.05 < share < 0.95
    assert half_result.councils_table.loc[0, "scale"] == "infra-communal"


def test_year_2025_uses_cog_2025_and_counts_overseas(tmp_path, shipped):
    result = clsm_geo.coverage(write_registry(tmp_path, [{"communes": ["97411"]}]), 2025, qpv=shipped)
    s = result.summary
    assert s["cog_year"] == 2025 and s["qpv_total"] == 1493 and s["qpv_total_overseas"] == 131
    assert s["qpv_not_in_force"] == 0
    assert statuses(result)["QN97426M"] in {"covered", "partial"}
    s2024 = clsm_geo.coverage(write_registry(tmp_path, [{"communes": ["97411"]}], "r2.csv"), 2024,
                              qpv=shipped).summary
    assert s2024["qpv_total"] == 1362 and s2024["qpv_not_in_force"] == 131


def test_wrong_geography_or_method_is_a_clear_error(tmp_path, shared, official_layer):
    path = write_registry(tmp_path, [{"communes": ["31555"]}])
    with pytest.raises(InputError, match="la méthode geometry a besoin des polygones des QPV"):
        clsm_geo.coverage(path, 2024, qpv=official_layer, method="geometry")
    with pytest.raises(InputError, match="méthode inconnue 'fast'") as err:
        clsm_geo.coverage(path, 2024, qpv=official_layer, method="fast")
    assert err.value.hint == "choisissez auto, commune ou geometry"
    with pytest.raises(InputError, match="relève de la géographie 2015"):
        clsm_geo.coverage(path, 2020, qpv=official_layer)
    i18n.set_lang("en")
    with pytest.raises(InputError, match="geometry method needs QPV polygons"):
        clsm_geo.coverage(path, 2024, qpv=official_layer, method="geometry")
    with pytest.raises(InputError, match="2015 geography"):
        clsm_geo.coverage(path, 2020, qpv=official_layer)


def test_per_region_and_department_tables_add_up(tmp_path, shipped):
    rows = [{"epci": ["200046977"]}, {"communes": ["31555"]}, {"communes": ["75118", "75119"]}]
    result = clsm_geo.coverage(write_registry(tmp_path, rows), 2024, qpv=shipped)
    regions, departments = result.regions, result.departments
    assert len(regions) == 18 and len(departments) == 101
    for table in (regions, departments):
        assert table["qpv_total"].sum() == result.summary["qpv_total"]
        assert table["qpv_covered"].sum() == result.summary["qpv_covered"]
        # 2024 overseas: the 2015 geography is in force there and not available here: unknown, never 0
        available = table["qpv_geography_available"]
        assert table.loc[available, "qpv_covered_share"].between(0, 1).all()
        assert table.loc[~available, ["qpv_total", "qpv_covered_share"]].isna().all().all()
    assert sorted(departments.loc[~departments["qpv_geography_available"], "insee_dep"]) == [
        "971", "972", "973", "974", "976"]
    assert regions.set_index("insee_reg").loc["84", "councils_active"] == 1


@pytest.mark.parametrize("lang, straddling, city", [
    ("fr", "seuls 0,25\u00a0% de sa surface sont dans des communes officielles hors de tout CLSM, sous la "
           "tolérance de 1\u00a0%",
     "des CLSM couvrent une partie de la ville ou de la commune\u00a0; son contour place 57,6\u00a0% du QPV dans "
     "leurs périmètres"),
    ("en", "only 0.25% of its area lies in official communes outside every council, below the 1% tolerance",
     "councils cover part of the city or commune; its polygon puts 57.6% of the QPV inside their perimeters"),
])
def test_reconciliation_reasons_are_in_the_language_in_force(lang, straddling, city):
    """Why the two methods disagree is a sentence for people (workbook sheet, reconciliation.csv): from the
    catalogue, numbers formatted for the language."""
    i18n.set_lang(lang)
    try:
        rec = clsm_geo.coverage(Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv",
                                2024).reconciliation.set_index("code_qp")
    finally:
        i18n.set_lang(None)
    assert rec.loc["QN09328M", "reason"] == straddling
    assert rec.loc["QN01346M", "reason"] == city


def test_changing_a_result_changes_neither_the_layer_nor_the_registry():
    """The result's tables share columns with the QPV layer and the registry instead of copying them (copy on
    write): editing a result leaves the layer, the registry and the next result as they were."""
    import shapely

    example = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
    layer = qpv(2024)
    reg = clsm_geo.read_registry(example)
    first = clsm_geo.coverage(reg, 2024, qpv=layer)
    used = first.qpv_layer.frame  # the layer in force the result was measured on (the same for the next call)
    names, shapes = used["lib_qp"].tolist(), used.geometry.to_wkb().tolist()
    listed = reg.councils["communes"].tolist()
    first.qpv.loc[first.qpv.index[0], "lib_qp"] = "changed"
    first.qpv.loc[first.qpv.index[1], "geometry"] = shapely.Point(0, 0)
    first.perimeters.base.loc[0, "communes_listed"] = ("00000",)
    assert used["lib_qp"].tolist() == names and used.geometry.to_wkb().tolist() == shapes
    assert reg.councils["communes"].tolist() == listed
    again = clsm_geo.coverage(reg, 2024, qpv=layer)
    assert again.qpv_layer.frame is used
    assert again.qpv["lib_qp"].tolist() == names and again.qpv.geometry.to_wkb().tolist() == shapes
