"""The "what if" planner of the interactive map (``--planner``): the data it embeds reproduces the engine
(base figures, every QPV status, any set of added units), and in headless Chromium ticking a new council on a
commune, a new council on an EPCI and an extension of an existing council shows the figures and QPV statuses
that ``clsm_geo.coverage`` computes on the registry with the exported rows added; no console error, no request.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
import urllib.parse
from pathlib import Path

import pytest
from test_maps_interactive import REGISTRY, _isolated

import clsm_geo
from clsm_geo.maps.interactive import interactive_map, render_page, write_html
from clsm_geo.maps.layers import js_json
from clsm_geo.maps.planner import COLUMNS, evaluate, planner_data, words

REGION = "32"  # Hauts-de-France: councils to extend (EX16, EX24, EX40), many uncovered QPV, a light page
MB = 1_000_000


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("planner") / "registre.csv"
    shutil.copyfile(REGISTRY, path)
    return path


@pytest.fixture(scope="module")
def res(registry, tmp_path_factory):
    return _isolated(tmp_path_factory, lambda: clsm_geo.coverage(registry, 2024))


@pytest.fixture(scope="module")
def data(res):
    return planner_data(res, region=REGION)


# --------------------------------------------------------------------------------------- embedded data


def _in_force(res):
    return res.qpv[res.qpv["in_force"]]


def test_embedded_data_reproduces_the_engine(res, data):
    q = _in_force(res)
    assert [row[0] for row in data["qpv"]] == q["code_qp"].tolist()  # every QPV in force, nationally
    assert [data["statuses"][row[6]] for row in data["qpv"]] == q["status"].tolist()
    base = evaluate(data)
    assert base["statuses"] == q["status"].tolist()
    summary = res.summary
    assert (base["qpv_covered"], base["qpv_total"], base["qpv_covered_share"]) == \
        (summary["qpv_covered"], summary["qpv_total"], summary["qpv_covered_share"])
    assert data["councils_active"] == summary["councils_active"]
    assert data["thresholds"] == [0.99, 0.01]


def test_added_units_give_the_engine_statuses(res, data):
    """Any set of added units: the page's rules equal the engine's (PlanModel runs clsm_geo.coverage's
    qpv_statuses on the same relation)."""
    from clsm_geo.plan import PlanModel
    from clsm_geo.units import unit_index

    model = PlanModel(res)
    index = unit_index(res.cog_year)
    positions = index.get_indexer([u[0] for u in data["units"]])
    assert (positions >= 0).all()
    keep = model.in_force
    rng = random.Random(20)
    open_units = [i for i, u in enumerate(data["units"]) if not u[2]]
    for size in (1, 3, 10, 40, len(open_units)):
        added = set(rng.sample(open_units, min(size, len(open_units))))
        x = model.x0.copy()
        x[positions[sorted(added)]] = 1.0
        expected = model.statuses(x).status[keep].tolist()
        assert evaluate(data, added)["statuses"] == expected, size


def test_candidates_are_the_open_qpv_of_the_region_and_their_units(res, data):
    q = _in_force(res).set_index("code_qp")
    rows = {row[0]: row for row in data["qpv"]}
    listed = [c for c, row in rows.items() if row[8]]
    assert listed and all(q.loc[c, "insee_reg"] == REGION and q.loc[c, "status"] != "covered" for c in listed)
    assert all(rows[c][1] for c in listed)  # names of listed QPV only (the others are not shown)
    assert not any(row[1] for c, row in rows.items() if not row[8] and row[7] == 0)
    units = data["units"]
    candidates = {i for i, u in enumerate(units) if u[5]}
    assert candidates == {i for row in data["qpv"] for i in row[8]}
    assert not any(units[i][2] for i in candidates)  # nothing already inside an active council
    for siren, _, members in data["epci"]:
        assert all(units[i][4] == data["epci"].index([siren, _, members]) for i in members)
    assert {units[i][4] for i in candidates if units[i][4] >= 0} == set(range(len(data["epci"])))
    # extensible councils: active, in the region, cells as in the registry
    from clsm_geo.perimeters import active_mask

    councils = res.perimeters.councils
    mine = councils[active_mask(councils, 2024).to_numpy() & councils["regions"].map(lambda r: REGION in r)]
    assert [c[0] for c in data["councils"]] == mine["id"].tolist() and "EX16" in mine["id"].tolist()
    table = res.registry.councils.set_index("id")
    for c in data["councils"]:
        row = table.loc[c[0]]
        assert c[1:] == [row["name"], "actif", str(row["created"]), "", list(row["communes"]), list(row["epci"])]
    assert data["new_id"] == "NOUVEAU-2024-" and data["columns"] == list(COLUMNS)
    assert data["format"] == {"group": "\u202f", "decimal": ",", "percent": "{n}\u00a0%"}


def test_marseille_qpv_adds_only_the_arrondissements_it_lies_in(res):
    """In Paris, Lyon and Marseille a QPV measured by its polygon adds the arrondissements it lies in, not the
    whole city (its official commune)."""
    data = planner_data(res, region="93")
    units = data["units"]
    marseille = [row for row in data["qpv"] if row[8] and all(units[i][0].startswith("132") for i in row[8])]
    assert marseille
    for row in marseille:
        where = {row[4][k] for k in range(0, len(row[4]), 2) if row[4][k + 1] > 0}
        assert row[2] == 1 and set(row[8]) <= where and len(row[8]) < 16
        assert evaluate(data, set(row[8]))["statuses"][data["qpv"].index(row)] == "covered"


def test_councils_with_their_own_geometry_are_modelled_exactly(res, tmp_path_factory):
    """A council drawn by its own (infra-communal) polygon over half of an uncovered QPV: the page keeps its
    share and its "partly" units, reproduces the engine's statuses before and after ticks, and does not offer
    it for extension (codes added to it would not change its perimeter)."""
    import geopandas as gpd
    import shapely

    qpv = _in_force(res)
    target = qpv[(qpv["insee_reg"] == REGION) & (qpv["status"] == "uncovered")].iloc[0]
    x0, y0, x1, y1 = target.geometry.bounds
    half = shapely.box(x0 - 0.01, y0 - 0.01, (x0 + x1) / 2, y1 + 0.01).intersection(target.geometry.buffer(0.001))
    folder = tmp_path_factory.mktemp("own")
    gpd.GeoDataFrame({"id": ["OWN1"], "name": ["CLSM infra-communal"], "status": ["actif"], "created": ["2020"]},
                     geometry=[half], crs=4326).to_file(folder / "own.geojson", driver="GeoJSON")
    own = _isolated(tmp_path_factory, lambda: clsm_geo.coverage(folder / "own.geojson", 2024))
    data = planner_data(own, region=REGION)
    row = next(r for r in data["qpv"] if r[0] == target["code_qp"])
    assert 0.3 < row[3] < 0.7  # its share inside the polygon, from the engine
    assert data["councils"] == [] and data["councils_active"] == 1
    assert any(u[3] for u in data["units"])  # units reached only by the polygon ("partly" for the commune method)
    engine = _in_force(own)
    assert evaluate(data)["statuses"] == engine["status"].tolist()
    assert engine.set_index("code_qp").loc[target["code_qp"], "status"] == "partial"
    from clsm_geo.plan import PlanModel
    from clsm_geo.units import unit_index

    model = PlanModel(own)
    positions = unit_index(own.cog_year).get_indexer([u[0] for u in data["units"]])
    for added in ({i for i, u in enumerate(data["units"]) if u[3]}, set(row[8]), set(range(len(data["units"])))):
        x = model.x0.copy()
        x[positions[sorted(added)]] = 1.0
        assert evaluate(data, added)["statuses"] == model.statuses(x).status[model.in_force].tolist()


def test_csv_dialect_of_the_export(res, monkeypatch):
    from clsm_geo import settings

    assert (planner_data(res, region=REGION)["sep"], planner_data(res, region=REGION)["bom"]) == (",", False)
    monkeypatch.setenv("CLSM_GEO_CSV_DIALECT", "excel-fr")
    settings.reset()
    data = planner_data(res, region=REGION)
    assert (data["sep"], data["bom"]) == (";", True)


def test_words_in_both_languages_and_escaped_json():
    fr, en = words("fr"), words("en")
    assert fr.keys() == en.keys()
    assert fr["councils_active"] == "CLSM actifs" and en["councils_active"] == "Active CLSM"
    assert "{year}" in fr["new_group"] and "{n}" in fr["new_name"]
    text = js_json({"name": "</script><img src=x>"})
    assert "<" not in text and ">" not in text


def test_page_size_assets_and_stable_output(res, tmp_path):
    plain = render_page(interactive_map(res, region=REGION, offline=True))
    page = render_page(interactive_map(res, region=REGION, offline=True, planner=True))
    again = render_page(interactive_map(res, region=REGION, offline=True, planner=True))
    assert page == again  # byte-identical
    assert "L.clsmPlanner(" in page and "L.clsmPlanner(" not in plain
    assert "L.Control.ClsmPlanner" in page  # planner.js inlined once
    assert len(page) - len(plain) < 250_000
    national = planner_data(res)
    assert len(js_json(national)) < 400_000  # national planner data: well inside the 3 MB budget
    assert sum(1 for u in national["units"] if u[5]) > sum(1 for u in planner_data(res, region=REGION)["units"]
                                                           if u[5])


def test_cli_planner_flag(registry, tmp_path, monkeypatch, capsys):
    from clsm_geo.cli import main

    monkeypatch.setenv("CLSM_GEO_OFFLINE", "1")
    out = tmp_path / "carte.html"
    assert main(["map", "interactive", "--registry", str(registry), "--year", "2024", "--region", REGION,
                 "--offline", "--planner", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "L.clsmPlanner(" in page and "Et si…\u00a0? Simuler" in page
    assert out.stat().st_size < 3 * MB


# --------------------------------------------------------------------------------------- in the browser

@pytest.fixture(scope="module")
def page(res, tmp_path_factory) -> Path:
    return write_html(interactive_map(res, region=REGION, offline=True, planner=True),
                      tmp_path_factory.mktemp("planner-page") / "hdf.html")


@pytest.fixture(scope="module")
def driver():
    from browser import chromium

    with chromium(1200, 900) as d:
        yield d


def _choices(data):
    """A commune for a new council, an EPCI (another one) for a second new council, a QPV of the region for an
    extension of EX16: three selections touching different units."""
    units, epci = data["units"], data["epci"]
    qpv = [row for row in data["qpv"] if row[8]]
    commune = next(units[i] for row in qpv for i in row[8] if units[i][4] >= 0)
    other = next(e for j, e in enumerate(epci) if j != commune[4] and not set(e[2]) & {units.index(commune)})
    taken = set(other[2]) | {units.index(commune)}
    extension = next(row for row in qpv if not set(row[8]) & taken)
    return commune[0], other[0], extension[0]


def _tick(driver, key: str, text: str) -> None:
    box = driver.find_element("css selector", ".clsm-planner-filter")
    box.clear()
    box.send_keys(text)
    driver.find_element("css selector", f'.clsm-planner-list input[data-key="{key}"]').click()


@pytest.mark.slow
def test_ticks_update_figures_and_map_as_the_engine(page, data, res, registry, driver, tmp_path):
    from browser import load
    from selenium.webdriver.support.ui import Select

    report = load(driver, page)
    driver.find_element("css selector", ".clsm-planner-toggle").click()
    figures = _figures(driver)
    assert figures["councils_active"] == res.summary["councils_active"]
    assert figures["qpv_covered"] == res.summary["qpv_covered"]

    commune, siren, qpv_code = _choices(data)
    # new council 1 on one commune, by keyboard: type in the filter, Tab to the box, Space
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("css selector", ".clsm-planner-filter")
    box.send_keys(commune)
    box.send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("data-key") == f"u:{commune}"
    focused.send_keys(Keys.SPACE)
    assert _figures(driver)["councils_active"] == res.summary["councils_active"] + 1
    driver.find_element("css selector", ".clsm-planner-new").click()   # new council 2 on an EPCI
    name = driver.find_element("css selector", ".clsm-planner-name")
    name.clear()
    name.send_keys("CLSM de l'EPCI; test")
    _tick(driver, f"e:{siren}", siren)
    Select(driver.find_element("css selector", ".clsm-planner-council")).select_by_value("c:EX16")  # extension
    _tick(driver, f"q:{qpv_code}", qpv_code)
    shown = _figures(driver)
    state = driver.execute_script(
        "const m = Object.values(window).find(v => v instanceof L.Map); const p = m.clsmPlanner;"
        "return [p.figures, document.querySelector('.clsm-planner-csv').value,"
        " document.querySelector('.clsm-planner-download').getAttribute('href'),"
        " document.querySelector('.clsm-planner-figures').textContent]")
    js, text, href, words_shown = state
    assert href.startswith("data:text/csv;charset=utf-8,")
    download = urllib.parse.unquote(href.split(",", 1)[1])
    assert download.replace("\r\n", "\n") == text  # the download holds the textarea's rows (CRLF)
    assert download.endswith("\r\n")
    assert "CLSM actifs" in words_shown and "\u00a0%" in words_shown

    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS)
    got = {r["id"]: r for r in rows}
    assert sorted(got) == ["EX16", "NOUVEAU-2024-1", "NOUVEAU-2024-2"]
    new1, new2, ex16 = got["NOUVEAU-2024-1"], got["NOUVEAU-2024-2"], got["EX16"]
    assert (new1["communes"], new1["epci"], new1["status"], new1["created"]) == (commune, "", "actif", "2024")
    assert (new2["communes"], new2["epci"], new2["name"]) == ("", siren, "CLSM de l'EPCI; test")
    adds = [data["units"][i][0] for row in data["qpv"] if row[0] == qpv_code for i in row[8]]
    assert ex16["communes"] == ";".join(["80021"] + adds) and ex16["created"] == "2018"

    # the registry with those rows: new ids appended, an existing id's row replaced
    lines = registry.read_text(encoding="utf-8").splitlines()
    by_id = {r["id"]: r for r in rows}
    out = []
    for line in lines:
        key = line.split(",", 1)[0]
        if key in by_id:
            r = by_id.pop(key)
            line = _csv_line(r, line.count(",") + 1)
        out.append(line)
    width = lines[1].count(",") + 1
    out += [_csv_line(r, width) for r in by_id.values()]
    planned = tmp_path / "registre-plan.csv"
    planned.write_text("\n".join(out) + "\n", encoding="utf-8")
    after = _isolated(_Factory(tmp_path), lambda: clsm_geo.coverage(planned, 2024))
    s = after.summary
    assert shown["councils_active"] == js["councils_active"] == s["councils_active"] == \
        res.summary["councils_active"] + 2
    assert shown["qpv_covered"] == js["qpv_covered"] == s["qpv_covered"] > res.summary["qpv_covered"]
    assert js["qpv_total"] == s["qpv_total"]
    assert js["qpv_covered_share"] == pytest.approx(s["qpv_covered_share"], abs=1e-9)
    engine = _in_force(after)
    assert js["statuses"] == engine["status"].tolist()
    region = engine[engine["insee_reg"] == REGION]
    assert js["region_qpv_covered"] == int(region["status"].isin(["covered", "partial"]).sum())

    # the map: every QPV drawn has the colour of its new status
    colours = driver.execute_script(
        "const out = {}; Object.values(window).filter(v => v instanceof L.GeoJSON).forEach(g => g.eachLayer(l => {"
        " const id = l.feature && String(l.feature.id); if (id && id.startsWith('qpv-'))"
        " out[id.slice(4)] = l.options.fillColor; })); return out;")
    status = dict(zip(engine["code_qp"], engine["status"]))
    assert colours and all(c.lower() == data["colors"][data["statuses"].index(status[k])].lower()
                           for k, c in colours.items())
    before = dict(zip(_in_force(res)["code_qp"], _in_force(res)["status"]))
    assert any(status[k] != before[k] for k in colours)  # some polygons did change colour

    # untick everything: back to the registry's figures
    driver.find_element("css selector", ".clsm-planner-clear").click()
    assert _figures(driver)["qpv_covered"] == res.summary["qpv_covered"]
    assert driver.find_element("css selector", ".clsm-planner-csv").get_attribute("value") == ""
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert report.errors == [] and errors == [], report.errors + errors
    assert report.remote() == []


class _Factory:
    """The smallest tmp_path_factory ``_isolated`` needs."""

    def __init__(self, root: Path):
        self.root = root
        self.n = 0

    def mktemp(self, name: str) -> Path:
        self.n += 1
        path = self.root / f"{name}{self.n}"
        path.mkdir()
        return path


def _csv_line(row: dict, width: int) -> str:
    cells = [row[c] for c in COLUMNS] + [""] * (width - len(COLUMNS))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _figures(driver) -> dict:
    values = driver.execute_script(
        "const out = {}; document.querySelectorAll('.clsm-planner-figures dd').forEach(dd =>"
        " out[dd.dataset.key] = Number(dd.dataset.value)); return out;")
    return {k: int(v) if float(v).is_integer() else v for k, v in values.items()}


@pytest.mark.slow
def test_planner_under_strict_csp(page, driver, tmp_path):
    """The split page (no inline script or style) runs the planner under default-src 'self'."""
    from httpserver import FaultServer, Reply
    from selenium.webdriver.support.ui import WebDriverWait

    from clsm_geo.maps import embed

    files = embed.split_assets(page.read_text(encoding="utf-8"), tmp_path / "plan.html")
    text = files[0].read_text(encoding="utf-8")
    assert "<script>" not in text and " style=" not in text
    assert (tmp_path / "plan_files" / "planner.js").read_text(encoding="utf-8") == \
        (Path(clsm_geo.__file__).parent / "maps" / "assets" / "planner.js").read_text(encoding="utf-8")
    assert 'src="plan_files/planner.js"' in text and 'href="plan_files/planner.css"' in text
    server = FaultServer().start()
    try:
        for f in [p for p in tmp_path.rglob("*") if p.is_file()]:
            kind = "text/html" if f.suffix == ".html" else "text/javascript" if f.suffix == ".js" else \
                "text/css" if f.suffix == ".css" else "application/octet-stream"
            server.serve_file("/" + f.relative_to(tmp_path).as_posix(), f, content_type=kind + "; charset=utf-8",
                              script=[Reply(headers={"Content-Security-Policy": embed.STRICT_CSP})])
        driver.get_log("browser")
        driver.get(f"http://localhost:{server.port}/plan.html")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "return document.querySelectorAll('.clsm-planner-filter').length"))
        driver.find_element("css selector", ".clsm-planner-toggle").click()
        first = driver.find_element("css selector", ".clsm-planner-list input[type=checkbox]")
        before = _figures(driver)["qpv_covered"]
        first.click()
        after = _figures(driver)["qpv_covered"]
        errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and "/favicon.ico " not in e["message"]]
        assert errors == [] and after > before, (errors, before, after)
    finally:
        server.stop()


@pytest.mark.slow
def test_hostile_council_names_stay_text(driver, tmp_path_factory, tmp_path):
    """Council names and ids written as HTML are shown as text in the council list and exported as they are."""
    from browser import load
    from selenium.webdriver.support.ui import Select
    from test_maps_interactive import IMG, SCRIPT, hostile_result

    hostile = hostile_result(tmp_path_factory)
    page = write_html(interactive_map(hostile, region="11", offline=True, planner=True), tmp_path / "h.html")
    assert SCRIPT not in page.read_text(encoding="utf-8").split("L.clsmPlanner(")[1]
    report = load(driver, page)
    driver.find_element("css selector", ".clsm-planner-toggle").click()
    Select(driver.find_element("css selector", ".clsm-planner-council")).select_by_value("c:" + IMG)
    option = driver.execute_script("return document.querySelector('.clsm-planner-council').selectedOptions[0]"
                                   ".textContent")
    assert option == f"{SCRIPT} ({IMG})"
    driver.find_element("css selector", ".clsm-planner-list input[type=checkbox]").click()
    text = driver.find_element("css selector", ".clsm-planner-csv").get_attribute("value")
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["id"], row["name"]) == (IMG, SCRIPT)
    assert driver.execute_script("return document.querySelectorAll('img[src=x], .clsm-planner script').length") == 0
    assert report.errors == [] and report.remote() == []
