"""Official sources end to end: fixtures in the exact published layouts (built by scripts/make_official_fixtures.py
from the shipped data) served over a local HTTP server: fetch, verify, cache, read, compute, then offline from the
cache; the QPV geography in force per year and territory; nothing dropped silently."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import clsm_geo
from clsm_geo import settings
from clsm_geo.cli import main
from clsm_geo.errors import DataSourceError, InputError
from clsm_geo.qpv import QpvDataWarning, qpv
from tests.httpserver import http_server, sha256_of  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]
ZIP_PATH = "/resources/quartiers-prioritaires-de-la-politique-de-la-ville-qpv/20180110-144945/" \
           "qp-politiquedelaville-shp.zip"
DROM = ["971", "972", "973", "974", "976"]


def _script():
    spec = importlib.util.spec_from_file_location("make_official_fixtures",
                                                  REPO / "scripts" / "make_official_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return _script().build(tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="module")
def script():
    return _script()


def registry(tmp_path, communes, name="reg.csv"):
    lines = ["id,name,status,created,closed,communes,epci"]
    lines += [f"T{i},Council {i},actif,2015,,{c},," for i, c in enumerate(communes)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvDataWarning)
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------------------------ formats
def test_fixture_files_are_in_the_published_layouts(fx):
    doc = json.loads(fx["geojson_2024"].read_text(encoding="utf-8"))
    props = doc["features"][0]["properties"]
    assert list(props) == ["fid", "code_qp", "lib_qp", "insee_reg", "lib_reg", "insee_dep", "lib_dep", "insee_com",
                           "lib_com", "siren_epci"]
    assert any(", " in f["properties"]["insee_com"] for f in doc["features"])  # multi-commune cells
    raw = fx["list_2024"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b';="02571;02691";' in raw
    import zipfile

    names = zipfile.ZipFile(fx["zip_2015"]).namelist()
    assert "QP_METROPOLE_LB93.shp" in names and "QP_REUNION_RGR92UTM40S.prj" in names
    assert sum(n.endswith(".shp") for n in names) == 5


def test_2024_geojson_and_list_agree(fx):
    polygons = qpv(2024, fx["geojson_2024"]).frame
    listed = qpv(2024, fx["list_2024"]).frame
    assert len(polygons) == 20 and len(listed) == 18  # the list of the fixture has no collectivity
    both = polygons.set_index("code_qp").loc[listed["code_qp"], "communes"]
    assert both.tolist() == listed["communes"].tolist()
    assert polygons.set_index("code_qp").loc["QN00201M", "communes"] == ("02571", "02691")
    assert polygons.set_index("code_qp").loc["QN07501M", "communes"] == ("75056",)


def test_2015_zip_yields_metropolitan_and_overseas_parts_in_place(fx, script):
    layer = quiet(qpv, 2015, fx["zip_2015"])
    frame = layer.frame.set_index("code_qp")
    assert len(frame) == 18 and int(frame["overseas"].sum()) == 8
    assert sorted(frame.loc[frame["overseas"], "insee_dep"].unique()) == ["971", "972", "973", "974"]
    # Lambert-93 and the local UTM systems (RGAF09, RGFG95, RGR92) come back to the shipped WGS84 polygons
    shipped = qpv(2024).frame.set_index("code_qp")
    for code in script.selection()["code_qp"]:
        a = frame.loc[script.code_2015(code), "geometry"]
        b = shipped.loc[code, "geometry"]
        assert a.symmetric_difference(b).area < 1e-6 * b.area + 1e-12, code
    # COMMUNE_QP holds names: communes are derived from the polygons
    assert frame.loc["QP974001", "communes"] == ("97414",)
    assert frame.loc["QP002001", "communes"] == ("02571", "02691")


# ------------------------------------------------------------------------------------------ fetch over HTTP
def _catalogue_with(monkeypatch, url: str, sha: str | None):
    qpv_module = importlib.import_module("clsm_geo.qpv")
    original = qpv_module.catalogue()
    patched = copy.deepcopy(original)
    res = patched["geographies"]["2015"]["resources"][0]
    res["url"], res["sha256"] = url, sha
    monkeypatch.setattr(qpv_module, "catalogue", lambda: patched)


def test_fetch_verify_cache_read_compute_then_offline(fx, http_server, monkeypatch, tmp_path):  # noqa: F811
    from clsm_geo.qpv import fetch_qpv

    body = fx["zip_2015"].read_bytes()
    url = http_server.serve(ZIP_PATH, body)
    # a wrong checksum in the catalogue: refused, nothing cached
    _catalogue_with(monkeypatch, url, "0" * 64)
    with pytest.raises(DataSourceError, match="sha256 attendu 0{64}"):
        fetch_qpv(2015)
    from clsm_geo.in_force import availability

    assert availability(2015) is None
    # the right one: fetched, verified, cached, read
    _catalogue_with(monkeypatch, url, sha256_of(body))
    entry = quiet(fetch_qpv, 2015)
    assert entry.sha256 == sha256_of(body) and http_server.count(ZIP_PATH) == 2
    reg = registry(tmp_path, ["04112", "97414"])
    first = quiet(clsm_geo.coverage, reg, 2024)
    deps = first.departments.set_index("insee_dep")
    assert deps.loc["974", "qpv_total"] == 2 and deps.loc["974", "qpv_covered"] == 2
    # second run offline: from the cache, no request
    settings.configure(offline=True)
    second = quiet(clsm_geo.coverage, reg, 2024)
    assert http_server.count(ZIP_PATH) == 2
    assert second.summary["qpv_total"] == first.summary["qpv_total"] == 1362 + 8
    assert "overseas: " in second.summary["qpv_source"]["edition"]  # the cached 2015 file, beside the shipped 2024


def test_list_served_over_http_is_read_like_the_file(fx, http_server):  # noqa: F811
    url = http_server.serve_file("/api/1/datasets/r/4c6bb7f3", fx["list_2024"])
    layer = qpv(2024, url)
    assert layer.source.kind == "user" and len(layer.frame) == 18
    assert layer.source.sha256 == sha256_of(fx["list_2024"])


# ------------------------------------------------------------------------------------------ geography in force
def test_geographies_in_force():
    from clsm_geo.in_force import geographies_in_force

    assert geographies_in_force(2015) == geographies_in_force(2023) == {"metropolitan": 2015, "overseas": 2015}
    assert geographies_in_force(2024) == {"metropolitan": 2024, "overseas": 2015}
    assert geographies_in_force(2025) == geographies_in_force(2030) == {"metropolitan": 2024, "overseas": 2024}
    with pytest.raises(InputError):
        geographies_in_force(2014)


def test_2024_with_2015_overseas_fixture(fx, tmp_path):
    res = quiet(clsm_geo.coverage, registry(tmp_path, ["04112", "97414"]), 2024, qpv={2015: fx["zip_2015"]})
    s = res.summary
    assert s["qpv_total_metropolitan"] == 1362 and s["qpv_total_overseas"] == 8
    assert s["qpv_total_national"] == 1362 and s["qpv_overseas_geography"] == 2015
    assert s["qpv_missing_geographies"] == []
    assert re.search(r"1[,\u202f\u00a0 ]?362 QPV", s["headline"]), s["headline"]
    assert "et 8 QPV ultramarins de la géographie 2015" in s["headline"]
    deps = res.departments.set_index("insee_dep")
    assert deps.loc[DROM, "qpv_total"].tolist() == [2, 2, 2, 2, 0]
    assert deps.loc[DROM, "qpv_geography_available"].all()
    assert deps.loc["974", "qpv_covered_share"] == 1.0
    overseas = res.qpv[res.qpv["overseas"]]
    # the 2024 overseas QPV of the shipped layer are not in force in 2024; the 2015 ones are
    assert set(overseas.loc[overseas["in_force"], "code_qp"].str[:2]) == {"QP"}
    assert not overseas.loc[overseas["code_qp"].str.startswith("QN"), "in_force"].any()
    regions = res.regions.set_index("insee_reg")
    assert regions.loc["04", "qpv_total"] == 2 and regions.loc["04", "qpv_geography_available"]


def test_2024_without_2015_says_not_available_never_zero(tmp_path, capsys):
    reg = registry(tmp_path, ["04112", "97414"])
    code = main(["coverage", "--registry", str(reg), "--year", "2024", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "géographie 2015 non disponible\u00a0: `clsm-geo data fetch --qpv 2015`" in out
    for name in ("Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"):
        line = next(ln for ln in out.splitlines() if re.match(rf"^\s*0[1-6]\s+{name}\b", ln))
        assert "non disponible" in line and "0 %" not in line, line
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    missing = summary["qpv_missing_geographies"]
    assert [(m["geography"], m["territory"], m["departments"]) for m in missing] == [(2015, "overseas", DROM)]
    assert missing[0]["hint"] == "clsm-geo data fetch --qpv 2015"
    import pandas as pd

    deps = pd.read_csv(tmp_path / "out" / "departments.csv", dtype={"insee_dep": str}).set_index("insee_dep")
    assert not deps.loc[DROM, "qpv_geography_available"].any()
    assert deps.loc[DROM, ["qpv_total", "qpv_covered", "qpv_covered_share"]].isna().all().all()
    qpv_rows = pd.read_csv(tmp_path / "out" / "qpv.csv", dtype=str)
    dom = qpv_rows[qpv_rows["insee_dep"] == "974"]
    assert (dom["in_force"] == "False").all() and dom["note"].str.contains("fetch --qpv 2015").all()


def test_every_feature_counted_or_listed_out_of_scope(fx, tmp_path):
    """2025, official 2024 file: 20 features = 18 counted with their territory + 2 collectivities out of scope."""
    res = clsm_geo.coverage(registry(tmp_path, ["04112"]), 2025, qpv=fx["geojson_2024"])
    counted = res.qpv[res.qpv["in_force"]]
    assert len(counted) == 18 and res.summary["qpv_total"] == 18
    assert res.out_of_scope["code_qp"].tolist() == ["QN97801M", "QN98701M"]
    assert res.out_of_scope["reason"].str.contains("hors des départements du COG").all()
    assert res.summary["qpv_out_of_scope"] == 2
    assert set(counted["code_qp"]) | set(res.out_of_scope["code_qp"]) == set(res.qpv["code_qp"])
    assert res.departments["qpv_total"].sum() == 18
    written = {p.name for p in res.to_files(tmp_path / "o")}
    assert "out_of_scope.csv" in written


def test_years_2015_to_2023_use_the_2015_geography_everywhere(fx, tmp_path):
    res = quiet(clsm_geo.coverage, registry(tmp_path, ["04112"]), 2020, qpv={2015: fx["zip_2015"]})
    assert res.summary["qpv_total"] == 18 and res.summary["qpv_geography"] == 2015
    assert set(res.qpv["qpv_geography"]) == {2015}


def test_trend_marks_both_switches(fx, tmp_path):
    from clsm_geo.trend import trend

    t = quiet(trend, registry(tmp_path, ["04112", "97414"]), 2022, 2025, qpv={2015: fx["zip_2015"]})
    nat = t.national.set_index("year")
    assert nat["qpv_geography"].tolist() == [2015, 2015, 2024, 2024]
    assert nat["qpv_overseas_geography"].tolist() == [2015, 2015, 2015, 2024]
    assert nat["geography_switch"].tolist() == [False, False, True, True]
    assert nat.loc[2023, "qpv_total"] == 18 and nat.loc[2024, "qpv_total"] == 1362 + 8
    assert nat.loc[2025, "qpv_total"] == 1493
    written = t.to_files(tmp_path / "t", chart_formats=("svg",))
    svg = next(p for p in written if p.suffix == ".svg").read_text(encoding="utf-8")
    assert "outre-mer" in svg and "métropole" in svg


def test_data_status_per_year(fx, tmp_path, capsys):
    from clsm_geo.qpv import fetch_qpv

    assert main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert "2015–2024 · outre-mer\u00a0: géographie 2015 — non disponible" in out
    assert "2024–2026 · métropole\u00a0: géographie 2024 — livrée avec le paquet" in out
    quiet(fetch_qpv, 2015, fx["zip_2015"])
    assert main(["--lang", "en", "data", "status"]) == 0
    out = capsys.readouterr().out
    assert "2015–2024 · overseas: 2015 geography — cached" in out
    assert "QPV population 2024: not available" in out


def test_missing_geographies_never_give_zero_shares(tmp_path):
    res = clsm_geo.coverage(registry(tmp_path, ["97414"]), 2024)
    table = res.regions.set_index("insee_reg")
    assert np.isnan(table.loc["04", "qpv_covered_share"]) and table.loc["04", "councils_active"] == 1


def test_a_2015_subset_without_overseas_qpv_does_not_mean_zero_overseas(shared, tmp_path):
    """The Occitanie 2015 file (105 QPV, no overseas): the 2024 overseas figures stay "not available"."""
    occitanie = shared / "qpv/qpv2015_occitanie_hackaviz2021/qp.geojson"
    res = quiet(clsm_geo.coverage, registry(tmp_path, ["97414"]), 2024, qpv={2015: occitanie})
    missing = res.summary["qpv_missing_geographies"]
    assert [(m["geography"], m["territory"]) for m in missing] == [(2015, "overseas")]
    assert "ne contient aucun QPV d’outre-mer" in missing[0]["reason"]
    deps = res.departments.set_index("insee_dep")
    assert not deps.loc[DROM, "qpv_geography_available"].any() and deps.loc[DROM, "qpv_total"].isna().all()


def test_2024_shapefile_zip_reads_lambert93_and_utm_parts(fx):
    shp = qpv(2024, fx["shp_zip_2024"]).frame.set_index("code_qp")
    geo = qpv(2024, fx["geojson_2024"]).frame.set_index("code_qp").drop(["QN97801M", "QN98701M"])
    assert len(shp) == 18 and int(shp["overseas"].sum()) == 8
    assert shp["communes"].equals(geo["communes"])
    for code in shp.index:
        a, b = shp.loc[code, "geometry"], geo.loc[code, "geometry"]
        assert a.symmetric_difference(b).area < 1e-6 * b.area + 1e-12, code


def test_trend_regions_carry_the_geography_in_force_per_region(fx, tmp_path):
    from clsm_geo.trend import trend

    t = quiet(trend, registry(tmp_path, ["97414"]), 2024, 2025, qpv={2015: fx["zip_2015"]})
    r = t.regions.set_index(["year", "insee_reg"])
    assert r.loc[(2024, "04"), "qpv_geography"] == 2015 and r.loc[(2024, "11"), "qpv_geography"] == 2024
    assert r.loc[(2025, "04"), "qpv_geography"] == 2024
    assert r.loc[(2024, "04"), "qpv_total"] == 2 and r.loc[(2025, "04"), "qpv_total"] == 57


def test_default_2024_geojson_and_population_fetched_over_http(fx, http_server, monkeypatch, tmp_path):  # noqa: F811
    """The default 2024 resource (plain GeoJSON) and an INSEE population file by URL: fetched once, then offline."""
    from clsm_geo.population import fetch_population
    from clsm_geo.qpv import fetch_qpv

    qpv_module = importlib.import_module("clsm_geo.qpv")
    patched = copy.deepcopy(qpv_module.catalogue())
    geo = patched["geographies"]["2024"]
    res = next(r for r in geo["resources"] if r["id"] == geo["default"])
    body = fx["geojson_2024"].read_bytes()
    res["url"] = http_server.serve("/20250206-161839/qp2024.geojson", body)
    res["sha256"] = sha256_of(body)
    monkeypatch.setattr(qpv_module, "catalogue", lambda: patched)
    assert fetch_qpv(2024).sha256 == sha256_of(body)
    pop_url = http_server.serve_file("/fr/statistiques/fichier/8210600/pop_QPV24.csv", fx["population_2024"])
    assert fetch_population(2024, pop_url).sha256 == sha256_of(fx["population_2024"])
    before = len(http_server.requests)
    settings.configure(offline=True)
    res = clsm_geo.coverage(registry(tmp_path, ["04112"]), 2025)
    assert len(http_server.requests) == before
    s = res.summary
    assert s["qpv_total"] == 18 and s["qpv_out_of_scope"] == 2
    # 2025: the 18 QPV in force (10 metropolitan, 8 overseas) all have a population in the fixture
    assert s["qpv_population"] == sum(1000 + 100 * i for i in range(1, 19))
    assert s["qpv_population_covered"] == 1300 + 1400


def test_catalogue_entries_say_what_is_confirmed():
    from clsm_geo.qpv import catalogue

    cat = catalogue()
    for geo in cat["geographies"].values():
        for r in geo["resources"]:
            assert {"id", "title", "url", "format", "licence", "sha256", "url_confirmed"} <= set(r), r["id"]
            assert r["url"] is None or r["url"].startswith("https://"), r["id"]
    for g in ("2015", "2024"):
        pop = cat["population"][g]
        assert pop["page"].startswith("https://www.insee.fr/fr/statistiques/") and pop["sha256"] is None
    assert cat["population"]["2024"]["filename"] == "pop_QPV24.csv"
