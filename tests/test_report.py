"""The yearly report as a publication: golden structure (sections in order, French labels and numbers, no
raw column name, no Python repr), territories by code or name, size limits, Markdown twin with its images,
xlsx annex, accessibility, hostile text escaped, and a real browser that prints it to PDF."""

from __future__ import annotations

import base64
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from httpserver import http_server  # noqa: F401  (the local server fixture)

import clsm_geo
from clsm_geo.cli import main
from clsm_geo.report import Report, escape_markdown, report, report_each, resolve_territory

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(2)>'
NNBSP, NBSP = "\u202f", "\u00a0"

FR_NATIONAL = ["Chiffres clés", "Carte de la couverture", "Par région", "Évolution depuis 2015", "QPV non couverts",
               f"Plan d'extension{NBSP}: les 10 premières étapes", "Lacunes intercommunales", "Méthode et sources"]
FR_REGIONAL = ["Chiffres clés", "Carte de la couverture", "Par département", "Évolution depuis 2015",
               "QPV non couverts", "Plan d'extension et territoires prioritaires", "Lacunes intercommunales",
               "Méthode et sources"]
#: Machine column names that must never show in a page a person reads.
RAW_COLUMNS = ["councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
               "qpv_covered", "qpv_partial", "qpv_uncovered", "qpv_covered_share", "insee_reg", "insee_dep",
               "lib_reg", "lib_dep", "code_qp", "lib_qp", "nearest_council_name", "population_added",
               "n_qpv_gained", "white_epci", "straddling_qpv", "epci_partial", "crosses_epci"]
#: A number cell of a French table: 1 362, 12,5 %, 56 % or a dash.
FRENCH_NUMBER = re.compile(rf"^(–|\d{{1,3}}({NNBSP}\d{{3}})*(,\d+)?({NBSP}%)?)$")
IDF = {"75", "77", "78", "91", "92", "93", "94", "95"}


class _Page(HTMLParser):
    """What a reader sees and what the structure is: text (no CSS), headings, images, table cells."""

    def __init__(self, page: str):
        super().__init__()
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.images: list[dict] = []
        self.cells: list[tuple[str, dict, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self._stack: list[tuple[str, dict, list[str]]] = []
        self._skip = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in ("style", "script"):
            self._skip += 1
        if tag == "img":
            self.images.append(attrs)
            self.text.append(attrs.get("alt", ""))
        if tag in ("h1", "h2", "h3", "h4", "th", "td"):
            self._stack.append((tag, attrs, []))

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        if self._stack and self._stack[-1][0] == tag:
            name, attrs, parts = self._stack.pop()
            text = "".join(parts).strip()
            if name.startswith("h") and name[1:].isdigit():
                self.headings.append((int(name[1]), text))
            else:
                self.cells.append((name, attrs, text))

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        for _, _, parts in self._stack:
            parts.append(data)

    @property
    def visible(self) -> str:
        return " ".join(self.text)

    def h2(self) -> list[str]:
        return [text for level, text in self.headings if level == 2]


@pytest.fixture(scope="module")
def hostile_registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    text = EXAMPLE.read_text(encoding="utf-8").rstrip("\n")
    text += f'\nXSS1,"{XSS}",actif,2020,,93008,,"{XSS_ATTR.replace(chr(34), chr(34) * 2)}"'
    text += f'\n"{XSS_ATTR.replace(chr(34), chr(34) * 2)}",Autre,actif,2021,,93048,,\n'
    path = folder / "registry <b>bold.csv"
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def result(hostile_registry):
    return clsm_geo.coverage(hostile_registry, 2024)


@pytest.fixture(scope="module")
def national(result) -> Report:
    return report(result)


@pytest.fixture(scope="module")
def regional(result) -> Report:
    return report(result, region="ile-de-france")


@pytest.fixture(scope="module")
def department(result) -> Report:
    return report(result, department="Seine-Saint-Denis")


def _assert_publishable(page: _Page):
    text = page.visible
    for name in RAW_COLUMNS:
        assert name not in text, name
    for repr_bit in ("('", "',)", "nan", "None", "NaT", "<NA>", "True", "False", "[]"):
        assert repr_bit not in text, repr_bit
    numbers = [cell for tag, attrs, cell in page.cells if "num" in attrs.get("class", "")
               and tag == "td"]
    assert len(numbers) > 20
    bad = [n for n in numbers if not FRENCH_NUMBER.match(n) and n != "non disponible"]  # DROM 2024: 2015 geography
    assert bad == []
    assert not re.search(r"\d+\.0\b(?!\.)", " ".join(numbers))  # no float like 29.0


def test_national_report_golden_structure(national, result):
    page = _Page(national.html)
    assert national.html.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert [level for level, _ in page.headings][:1] == [1] and page.h2() == FR_NATIONAL
    assert {level for level, _ in page.headings} == {1, 2}  # headings in order, none skipped
    assert page.headings[0][1] == f"État du réseau des CLSM et des quartiers prioritaires — France, {2024}"
    _assert_publishable(page)
    text = page.visible
    s = result.summary
    assert result.headline in text                                 # the headline comes from the result
    assert f"1{NNBSP}362" in text and "1,362 QPV" not in text.replace(result.headline, "")
    # key figures as cards, in order
    cards = re.findall(r'<span class="value">([^<]*)</span> <span class="label">([^<]*)</span>', national.html)
    assert cards[:6] == [(str(s["councils_active"]), "CLSM actifs"), (str(s["councils_new"]), "nouveaux en 2024"),
                         (str(s["councils_in_project"]), "CLSM en projet"),
                         (str(s["councils_covering_qpv"]), "CLSM couvrant des QPV"),
                         (str(s["qpv_covered"]), f"QPV couverts sur 1{NNBSP}362"),
                         (f"{round(s['qpv_covered_share'] * 100)}{NBSP}%", "part des QPV couverts")]
    # the table by region: French headers, one row per region and a total row
    headers = [c for tag, attrs, c in page.cells if attrs.get("scope") == "col"]
    assert headers[:9] == ["Région", "CLSM actifs", "dont nouveaux", "CLSM en projet", "CLSM couvrant des QPV",
                           "QPV", "QPV couverts", "dont partiellement", "Part couverte"]
    rows = [c for tag, attrs, c in page.cells if attrs.get("scope") == "row"]
    assert rows[:len(result.regions)] == list(result.regions["lib_reg"]) and "France entière" in rows
    # uncovered QPV: a summary and the ten departments with most uncovered QPV, not the full list
    uncovered = result.qpv[result.qpv["in_force"] & (result.qpv["status"] == "uncovered")]
    assert f"{uncovered.shape[0]:,}".replace(",", NNBSP) + f" QPV en vigueur sur 1{NNBSP}362" in text
    top = uncovered["insee_dep"].value_counts()
    assert f"({top.index[0]})" in text
    before_method = text.split("Méthode et sources")[0]
    assert sum(1 for code in uncovered["code_qp"] if code in before_method) == 0   # no QPV listed in the page
    # evolution names the QPV geography each year; plan and gaps summarised; method with the command
    assert "QPV 2015 (non disponible)" in text and "QPV 2024" in text
    assert text.count("(à créer)") >= 1 and "EPCI accueillant des QPV sans aucun CLSM actif" in text
    assert "clsm-geo report --registry" in text and f"clsm-geo {clsm_geo.__version__}" in text
    assert "géographie 2024" in text and "131 QPV de la couche ne sont pas en vigueur en 2024" in text


def test_regional_report_only_has_its_territory(regional, result):
    page = _Page(regional.html)
    assert page.h2() == FR_REGIONAL
    assert page.headings[0][1].endswith("Île-de-France, 2024")
    _assert_publishable(page)
    text = page.visible
    assert text.count("Île-de-France, au 31 décembre 2024\u00a0: ") == 1 and "soit" in text
    idf = result.departments[result.departments["insee_reg"] == "11"]
    rows = [c for tag, attrs, c in page.cells if attrs.get("scope") == "row"]
    assert rows[:len(idf) + 1] == list(idf["lib_dep"]) + ["Ensemble de la région"]
    assert not any(r in rows for r in result.regions["lib_reg"] if r != "Île-de-France")
    others = result.departments[result.departments["insee_reg"] != "11"]
    assert [name for name in others["lib_dep"]
            if re.search(rf"(?<![\w'-]){re.escape(name)} \(", text) or name in rows] == []
    for sheet, table in regional.annex.items():
        if "insee_dep" in table and len(table):
            assert set(table["insee_dep"]) <= IDF, sheet
        if "departments" in table and len(table):
            assert all(set(d) & IDF for d in table["departments"]), sheet
    assert "--region 11" in text


def test_department_report_lists_its_qpv(department, result):
    page = _Page(department.html)
    assert page.h2()[2] == "Les quartiers prioritaires du département"
    q = result.qpv[result.qpv["in_force"] & (result.qpv["insee_dep"] == "93")]
    rows = [c for tag, attrs, c in page.cells if attrs.get("scope") == "row"]
    assert rows[:len(q)] == sorted(q["code_qp"])
    assert "partiellement couvert" in page.visible or "non couvert" in page.visible
    assert "Seine-Saint-Denis" in department.document.headline


def test_sizes_are_light(national, regional):
    assert len(national.html.encode()) <= 2_000_000
    assert len(regional.html.encode()) <= 1_000_000
    assert len(national.html.encode()) > 50_000  # the map is in


def test_accessible(national):
    page = _Page(national.html)
    assert page.images and all(len(img.get("alt", "")) > 60 for img in page.images)
    assert all(img["src"].startswith(("data:image/png;base64,", "data:image/svg+xml;base64,"))
               for img in page.images)
    ths = [attrs for tag, attrs in page.tags if tag == "th"]
    assert ths and all(a.get("scope") in ("col", "row") for a in ths)
    assert all(tag != "script" for tag, _ in page.tags)
    assert sum(1 for tag, _ in page.tags if tag == "caption") >= 4
    alt = page.images[0]["alt"]
    assert "Carte de France par département" in alt and "%" in alt


def _luminance(colour: str) -> float:
    rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_contrast():
    from clsm_geo.report.to_html import css

    text = css()
    variables = dict(re.findall(r"--(\w+):(#[0-9a-f]{6})", text))
    backgrounds = ["#ffffff", variables["soft"], "#f2f2f2", "#fafafa"]
    for name in ("ink", "muted", "accent"):
        for bg in backgrounds:
            assert _contrast(variables[name], bg) >= 4.5, (name, bg)
    for colour in re.findall(r"(?<![-\w])color:(#[0-9a-f]{6})", text):
        assert _contrast(colour, "#ffffff") >= 4.5, colour


def test_print_stylesheet(national):
    css = national.html
    assert "@page{size:A4 portrait" in css and "@bottom-left{content:" in css
    assert "tr,li,figure" in css and "break-inside:avoid" in css and "section{break-before:page}" in css


def test_hostile_text_is_escaped(result, department, tmp_path):
    page = department.html
    assert XSS not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page         # the council covering Bobigny's QPV
    assert "registry &lt;b&gt;bold.csv" in page
    md = department.markdown
    code = re.findall(r"^```sh\n(.*?)\n```$", md, flags=re.S | re.M)
    assert len(code) == 1 and "registry <b>bold.csv" in code[0]        # literal text in a code block
    prose = md.replace(code[0], "")
    assert XSS not in prose and "<script>" not in prose and "<b>" not in prose
    assert "alert\\(1\\)" in prose and "bold.csv" in prose           # escaped, not dropped


def test_markdown_twin_images_and_annex(regional, tmp_path):
    import openpyxl

    written = regional.save(tmp_path / "idf.html")
    names = [p.name for p in written]
    assert names == ["idf.html", "idf.md", "idf-carte.png", "idf-evolution.svg", "idf.xlsx"]
    md = (tmp_path / "idf.md").read_text(encoding="utf-8")
    assert md.startswith("# État du réseau des CLSM")
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == [
        escape_markdown(title) for title in FR_REGIONAL]
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (tmp_path / target).is_file()
    assert "see the HTML" not in md and "| Département | CLSM actifs |" in md
    assert (tmp_path / "idf-carte.png").read_bytes()[:4] == b"\x89PNG"
    book = openpyxl.load_workbook(tmp_path / "idf.xlsx", read_only=True)
    assert {"Départements", "QPV non couverts", "Lacunes", "Plan d'extension", "Évolution"} <= set(book.sheetnames)
    assert book["QPV non couverts"].max_row - 1 == len(regional.annex["QPV non couverts"]) > 0
    again = regional.save(tmp_path / "again.html")
    for first, second in zip(written, again):                  # byte-identical rerun, every file
        assert first.read_bytes().replace(b"idf", b"again") == second.read_bytes(), first.name
    assert oct(written[0].stat().st_mode & 0o777) != oct(0o600)


def test_english_edition(result):
    rep = report(result, region="11", lang="en")
    page = _Page(rep.html)
    assert rep.html.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert page.h2()[:3] == ["Key figures", "Map of the coverage", "By department"]
    assert "In Île-de-France at 31 December 2024:" in page.visible
    assert "clsm-geo --lang en report" in page.visible


def test_result_report_and_notebook_repr(result):
    rep = result.report(region="32")
    assert isinstance(rep, Report) and rep.territory.name == "Hauts-de-France"
    short = rep._repr_html_()
    assert len(short) < 1500 and "Hauts-de-France" in short and "<img" not in short
    assert rep.html == report(result, region="Hauts-de-France").html


@pytest.mark.parametrize("level,text,code", [
    ("region", "hauts-de-france", "32"), ("region", "ILE DE FRANCE", "11"), ("region", "11", "11"),
    ("region", "Provence-Alpes-Cote d'Azur", "93"), ("department", "93", "93"), ("department", "2a", "2A"),
    ("department", "seine saint denis", "93"), ("department", "1", "01"), ("department", "Réunion", None),
])
def test_territory_by_code_or_name(level, text, code):
    from clsm_geo.errors import InputError

    if code is None:
        with pytest.raises(InputError, match="La Réunion"):
            resolve_territory(2024, **{level: text})
    else:
        assert resolve_territory(2024, **{level: text}).code == code


def test_bad_territory_exits_2_before_computing(monkeypatch, capsys, tmp_path):
    def boom(*args, **kwargs):
        raise AssertionError("coverage must not run for a bad territory")

    import importlib

    monkeypatch.setattr(importlib.import_module("clsm_geo.coverage"), "coverage", boom)
    code = main(["report", "--registry", str(EXAMPLE), "--region", "haut de frnce", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2 and f"les plus proches{NBSP}: Hauts-de-France (32)" in err  # the closest names, best first
    assert "Traceback" not in err
    code = main(["--lang", "en", "report", "--registry", str(EXAMPLE), "--department", "savoi"])
    err = capsys.readouterr().err
    assert code == 2 and "closest: Savoie (73), Haute-Savoie (74)" in err
    assert list(tmp_path.iterdir()) == []


@given(st.text())
def test_escape_markdown_leaves_no_markup(text):
    out = escape_markdown(text)
    assert "\n" not in out
    unescaped = re.sub(r"\\.|&#?\w+;", "", out)   # backslash escapes and HTML entities are text
    assert not re.search(r"[<>|*_`\[\]]", unescaped)


def test_each_region_computes_once_and_indexes(monkeypatch, tmp_path):
    import clsm_geo.gaps
    import clsm_geo.plan

    res = clsm_geo.coverage(EXAMPLE, 2024)
    calls = {"gaps": 0, "plan": 0}
    real_gaps, real_plan = clsm_geo.gaps.gaps, clsm_geo.plan.plan

    def gaps(r, **options):
        calls["gaps"] += 1
        return real_gaps(r, **options)

    def plan(r, steps=20):
        calls["plan"] += 1
        return real_plan(r, steps)

    monkeypatch.setattr(clsm_geo.gaps, "gaps", gaps)
    monkeypatch.setattr(clsm_geo.plan, "plan", plan)
    import clsm_geo.report.figures as figures

    drawn = []  # the maps are tested elsewhere: a stub keeps this test fast
    monkeypatch.setattr(figures, "map_png", lambda res, territory, lang: drawn.append(territory.code) or b"png")
    written = report_each(res, "region", tmp_path / "regions")
    assert calls == {"gaps": 1, "plan": 1} and drawn == sorted(res.regions["insee_reg"])
    index = (tmp_path / "regions" / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', index)
    assert len(links) == len(res.regions) == 18 and "11-ile-de-france.html" in links
    assert all((tmp_path / "regions" / link).is_file() for link in links)
    assert written[0].name == "index.html"
    idf = (tmp_path / "regions" / "11-ile-de-france.html").read_text(encoding="utf-8")
    assert "clsm-geo report --registry" in idf and "--region 11" in idf


def _pdf_pages(pdf: bytes) -> int:
    try:
        import pypdf
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    import io

    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.slow
def test_report_in_a_real_browser_prints_to_a4(national, department, tmp_path):
    import json
    import time

    from browser import chromium
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.print_page_options import PrintOptions
    from selenium.webdriver.support.ui import WebDriverWait

    pages = {}
    for name, rep in (("national", national), ("department", department)):
        path = rep.save(tmp_path / f"{name}.html")[0]
        with chromium(1100, 1400) as driver:
            driver.get_log("performance")
            driver.get_log("browser")
            driver.get(path.resolve().as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            time.sleep(0.3)
            loaded = driver.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth > 0)")
            driver.set_window_size(800, 1100)  # about an A4 page wide: tables fit, nothing scrolls sideways
            time.sleep(0.2)
            too_wide = driver.execute_script(
                "return [...document.querySelectorAll('table')].filter(t => t.scrollWidth > "
                "t.parentElement.clientWidth + 1).length + (document.documentElement.scrollWidth > "
                "document.documentElement.clientWidth ? 100 : 0)")
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text                     # no injected script ran
            options = PrintOptions()
            options.page_width, options.page_height = 21.0, 29.7
            options.orientation = "portrait"
            pdf = base64.b64decode(driver.print_page(options))
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            requests = []
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message.get("method") == "Network.requestWillBeSent" and not message["params"].get(
                        "documentURL", "").startswith("chrome"):  # the browser's own start page
                    requests.append(message["params"]["request"]["url"])
        assert loaded, name
        assert too_wide == 0, name
        assert errors == [], errors
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert pdf.startswith(b"%PDF")
        pages[name] = _pdf_pages(pdf)
    assert 6 <= pages["national"] <= 12, pages
    assert 6 <= pages["department"] <= 12, pages


def test_cli_report_for_a_region_named_in_any_case(tmp_path, capsys):
    out = tmp_path / "hdf.html"
    code = main(["-q", "report", "--registry", str(EXAMPLE), "--region", "HAUTS DE FRANCE", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("Hauts-de-France, au 31 décembre 2024\u00a0: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hdf-carte.png", "hdf-evolution.svg", "hdf.html",
                                                         "hdf.md", "hdf.xlsx"]
    page = _Page(out.read_text(encoding="utf-8"))
    assert page.h2() == FR_REGIONAL
    assert f"clsm-geo report --registry {EXAMPLE} --year 2024 --region 32" in page.visible


@pytest.mark.filterwarnings("ignore:.*invalid geometries repaired")
def test_evolution_names_the_qpv_geography_of_each_year(result, shared):
    from clsm_geo.trend import trend

    layer = clsm_geo.qpv(2015, shared / "qpv/qpv2015_occitanie_hackaviz2021/qp.geojson")
    series = trend(result.registry, 2022, 2023, qpv={2015: layer}, method="commune")
    rep = report(result, trend=series, first_year=2022)
    (table,) = [b for b in next(s for s in rep.document.sections if s.id == "evolution").blocks
                if type(b).__name__ == "Table"]
    rows = {r[0]: r for r in table.rows}
    assert list(rows) == ["2022", "2023", "2024"]
    measured = series.national.set_index("year")
    for year in (2022, 2023):
        row = rows[str(year)]
        assert row[1] == "QPV 2015" and row[6] == str(measured.loc[year, "qpv_total"]) == "105"
        assert row[7] == str(measured.loc[year, "qpv_covered"])
    assert rows["2024"][1] == "QPV 2024" and rows["2024"][6] == f"1{NNBSP}362"
    assert "(non disponible)" not in _Page(rep.html).visible and "Géographie QPV 2015 non disponible" not in rep.html
    assert rep.document.sections[3].title == "Évolution depuis 2022"


def test_population_card_when_the_layer_gives_populations():
    from clsm_geo.qpv import QpvLayer
    from clsm_geo.report.analyses import Analyses
    from clsm_geo.report.sections import key_figures, method_section
    from clsm_geo.report.territory import NATION

    shipped = clsm_geo.qpv(2024)
    frame = shipped.frame.copy()
    frame["population"] = [1000 + i for i in range(len(frame))]
    res = clsm_geo.coverage(EXAMPLE, 2024, qpv=QpvLayer(frame, 2024, shipped.source))
    an = Analyses(res)
    counted = res.qpv[res.qpv["in_force"] & res.qpv["status"].isin(["covered", "partial"])]
    expected = int(frame.set_index("code_qp").loc[counted["code_qp"], "population"].sum())
    cards = key_figures(res, an, NATION, "fr").blocks[0].items
    assert cards[-1] == (f"{expected:,}".replace(",", NNBSP), "habitants des QPV couverts")
    assert "Population des QPV" not in str(method_section(res, an, NATION, "fr", "clsm-geo report").blocks)
    assert len(key_figures(res, Analyses(clsm_geo.coverage(EXAMPLE, 2024)), NATION, "fr").blocks[0].items) == 6


def _serve_tree(server, root: Path, headers: dict) -> None:
    """Every file under ``root`` at its relative, URL-quoted path, with ``headers``."""
    import mimetypes
    from urllib.parse import quote

    from httpserver import Reply

    for f in [p for p in root.rglob("*") if p.is_file()]:
        kind = mimetypes.guess_type(str(f))[0] or "application/octet-stream"
        kind += "; charset=utf-8" if kind.startswith("text/") else ""
        server.serve_file("/" + quote(f.relative_to(root).as_posix()), f, script=[Reply(headers=headers)],
                          content_type=kind)


def _styled_page(driver, url: str) -> dict:
    """Load ``url``; its console errors, whether every image drew, the computed styles the stylesheet sets."""
    import time

    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    time.sleep(0.3)
    return {"errors": [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
                       and "/favicon.ico" not in e["message"]],
            "images": driver.execute_script("return [...document.images].map(i => i.complete && i.naturalWidth > 0)"),
            "cards": driver.execute_script("const c = document.querySelector('ul.cards');"
                                           "return c ? getComputedStyle(c).display : null"),
            "font": driver.execute_script("return getComputedStyle(document.body).fontFamily")}


def test_split_assets_report_works_under_a_strict_csp(regional, tmp_path, http_server):
    """The split page under ``default-src 'self'``: styles apply, images draw, no console error; the single
    file under the policy printed for it, too; the single file under the strict policy loses its styles and
    images (the policy is really enforced)."""
    from browser import chromium

    from clsm_geo.maps.embed import STRICT_CSP

    written = regional.save(tmp_path / "split" / "rapport idf.html", split_assets=True)
    page = written[0].read_text(encoding="utf-8")
    assert "<style" not in page and " style=" not in page and "data:" not in page and "<script" not in page
    assert 'href="rapport%20idf_files/report.css"' in page
    folder = tmp_path / "split" / "rapport idf_files"
    assert (folder / "report.css").is_file() and len(list(folder.glob("*.png")) + list(folder.glob("*.svg"))) >= 1
    assert {p for p in written if p.parent == folder} == set(folder.iterdir())
    regional.save(tmp_path / "single" / "single.html")
    regional.save(tmp_path / "strict" / "strict.html")
    _serve_tree(http_server, tmp_path / "split", {"Content-Security-Policy": STRICT_CSP})
    _serve_tree(http_server, tmp_path / "single", {"Content-Security-Policy": regional.csp()})
    _serve_tree(http_server, tmp_path / "strict", {"Content-Security-Policy": STRICT_CSP})
    base = f"http://localhost:{http_server.port}"
    with chromium(1100, 1400) as driver:
        split = _styled_page(driver, base + "/rapport%20idf.html")
        inline = _styled_page(driver, base + "/single.html")
        refused = _styled_page(driver, base + "/strict.html")
    for got in (split, inline):
        assert got["errors"] == [], got["errors"]
        assert got["images"] and all(got["images"]), got["images"]
        assert got["cards"] == "grid", got["cards"]
    assert split["font"] == inline["font"]
    assert refused["errors"] and refused["cards"] == "block" and not any(refused["images"])


def test_cli_report_split_assets_prints_its_policy(tmp_path, capsys):
    from clsm_geo.maps.embed import STRICT_CSP

    out = tmp_path / "r.html"
    code = main(["--offline", "report", "--registry", str(EXAMPLE), "--year", "2024", "--from", "2024",
                 "--department", "93", "--out", str(out), "--split-assets"])
    printed = capsys.readouterr().out
    assert code == 0
    assert STRICT_CSP in printed and "politique de sécurité (CSP)" in printed
    assert (tmp_path / "r_files" / "report.css").is_file() and "<style" not in out.read_text(encoding="utf-8")
    code = main(["--offline", "--lang", "en", "report", "--registry", str(EXAMPLE), "--year", "2024",
                 "--from", "2024", "--department", "93", "--out", str(tmp_path / "s.html")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "exact Content-Security-Policy for this page: default-src 'none'; script-src 'none'; style-src 'sha256-" \
        in printed


def test_images_drawn_by_a_child_process_give_the_same_report(result, tmp_path, monkeypatch):
    """``parallel=True`` (what the command line does) draws the map and the chart in a child process while
    the rest is computed: the page, the Markdown and the images are the same bytes."""
    from clsm_geo import _worker

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    jobs = []
    start = _worker.start
    monkeypatch.setattr(_worker, "start", lambda *a, **k: jobs.append(start(*a, **k)) or jobs[-1])
    outputs = {}
    for parallel in (False, True):
        rep = report(result, region="hauts-de-france", parallel=parallel)
        folder = tmp_path / str(parallel)
        paths = rep.save(folder / "r.html")
        outputs[parallel] = {p.name: p.read_bytes() for p in paths if p.suffix != ".xlsx"}
    assert len(jobs) == 1 and jobs[0].in_child  # drawn by the child, once
    assert outputs[True] == outputs[False]
    assert set(outputs[True]) == {"r.html", "r.md", "r-carte.png", "r-evolution.svg"}


@pytest.mark.parametrize("where", [{}, {"department": "93"}])
def test_images_drawn_by_a_child_started_before_the_result_are_the_same(result, where):
    """The command line starts the drawing child before computing the coverage (report.figures.Drawing): it
    receives only the tables the images show (MapInputs), and draws the same bytes as from the result."""
    from clsm_geo import _worker
    from clsm_geo.report import evolution, figures, resolve_territory

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    territory = resolve_territory(result, **where)
    table = evolution(result, territory, 2024, None)
    job = figures.Drawing(result.vintage).images(result, territory, "fr", table)
    assert job.result() == figures.draw(result, territory, "fr", table) and job.in_child
    sent = figures.MapInputs.sent(result, territory)
    assert (sent["qpv"] is None) == (territory.level != "department")
    fields = {f.name for f in dataclasses.fields(figures.MapInputs)}
    assert set(sent) == set(figures.MapInputs.SENT) == fields - {"vintage", "qpv_layer"}


def test_a_drawing_started_on_another_vintage_draws_from_the_result(result):
    from clsm_geo import vintages
    from clsm_geo.report import evolution, figures, resolve_territory

    other = vintages.Vintage(result.year, result.vintage.geography, result.vintage.layer)  # equal, not the same
    drawing = figures.Drawing(other)
    territory = resolve_territory(result)
    table = evolution(result, territory, 2024, None)
    job = drawing.images(result, territory, "en", table)
    assert job is not drawing._job and drawing._job._pid is None  # the waiting child was stopped
    assert job.result() == figures.draw(result, territory, "en", table)


def test_the_report_command_draws_before_the_coverage_is_computed(tmp_path, monkeypatch):
    """clsm-geo report: one drawing child, started before the engine runs, and the same files as a report
    drawn in this process."""
    from clsm_geo import _worker, api
    from clsm_geo.cli import main
    from clsm_geo.report import figures

    if not _worker.available():
        pytest.skip("needs Linux with two CPUs (CI has them)")
    events = []
    drawing_init, engine = figures.Drawing.__init__, api.coverage
    monkeypatch.setattr(figures.Drawing, "__init__",
                        lambda self, v: events.append("drawing") or drawing_init(self, v))
    monkeypatch.setattr(api, "coverage", lambda *a, **k: events.append("engine") or engine(*a, **k))
    argv = ["--offline", "-q", "report", "--year", "2024", "--from", "2023", "--registry", str(EXAMPLE)]
    assert main([*argv, "--out", str(tmp_path / "a" / "r.html")]) == 0
    assert events == ["drawing", "engine"]
    monkeypatch.setenv("CLSM_GEO_WORKERS", "1")
    assert main([*argv, "--out", str(tmp_path / "b" / "r.html")]) == 0
    for name in ("r.html", "r.md", "r-carte.png", "r-evolution.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


_DRAW_PROBE = r"""
import hashlib, json, sys
from clsm_geo import _mpl_docs
applied = _mpl_docs.skip_generated_docs() if sys.argv[1] == "skip" else None
import clsm_geo
from clsm_geo.report import evolution, figures, resolve_territory
from matplotlib.lines import Line2D
line = Line2D([], [])
line.set(lw=2.5, c="red")  # aliases still accepted by the generated ``set``
res = clsm_geo.coverage(sys.argv[2], 2024)
images = {}
for where in ({}, {"department": "93"}):
    territory = resolve_territory(res, **where)
    drawn = figures.draw(res, territory, "fr", evolution(res, territory, 2023, None))
    images.update({f"{territory.code}-{k}": hashlib.sha256(v).hexdigest() for k, v in drawn.items()})
print(json.dumps({"applied": applied, "again": _mpl_docs.skip_generated_docs(), "width": line.get_linewidth(),
                  "colour": line.get_color(), "documented": "linewidth" in (Line2D.set.__doc__ or ""),
                  "images": images}))
"""


def test_matplotlib_without_its_generated_docs_draws_the_same_images():
    """The drawing child imports matplotlib without the docstrings it generates (clsm_geo._mpl_docs): the
    map and the chart are the same bytes as with them, and artists still take their properties' aliases."""
    import json
    import subprocess
    import sys

    runs = {}
    for mode in ("skip", "keep"):
        done = subprocess.run([sys.executable, "-c", _DRAW_PROBE, mode, str(EXAMPLE)], cwd=Path(__file__).parents[1],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-1500:]
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    skip, keep = runs["skip"], runs["keep"]
    assert skip["applied"] is True and skip["again"] is False and keep["again"] is False  # once, before import
    assert skip["documented"] is False and keep["documented"] is True  # the work skipped
    assert skip["width"] == keep["width"] == 2.5 and skip["colour"] == keep["colour"] == "red"
    assert len(skip["images"]) == 4 and skip["images"] == keep["images"]


def test_the_drawing_child_asks_for_matplotlib_without_its_docs(result, monkeypatch):
    """What ``Drawing``'s child runs (``_draw_sent``) asks for it before drawing (here, in a process where
    matplotlib is already imported, it changes nothing: the same images as ``draw``)."""
    import queue

    from clsm_geo import _mpl_docs
    from clsm_geo.report import evolution, figures, resolve_territory

    import matplotlib.figure  # noqa: F401

    assert _mpl_docs.skip_generated_docs() is False
    called = []
    monkeypatch.setattr(_mpl_docs, "skip_generated_docs", lambda: called.append(1) or False)
    territory = resolve_territory(result)
    table = evolution(result, territory, 2024, None)
    inbox = queue.Queue()
    inbox.put({"result": figures.MapInputs.sent(result, territory), "territory": territory, "lang": "fr",
               "table": table})
    assert figures._draw_sent(result.vintage, inbox) == figures.draw(result, territory, "fr", table)
    assert called == [1]
