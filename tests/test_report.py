"""The yearly report: content, escaping, Markdown twin, and a real offline browser run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import clsm_geo
from browser import chromium
from clsm_geo.cli import main
from clsm_geo.report import report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(2)>'


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
def regional(result):
    return report(result, region="11")


def test_report_sections_and_headline(regional, result):
    page = regional.html
    assert page.startswith("<!DOCTYPE html>")
    assert "In Île-de-France: " in page and "CLSM cover priority neighbourhoods" in page
    for heading in ("By department", "Share of QPV covered", "Interactive map", "Uncovered and partial QPV",
                    "Gaps", "Priorities"):
        assert f"<h2>{heading}" in page
    assert page.count("<svg") >= 1 and "<iframe" in page
    regions = result.regions.set_index("insee_reg")
    assert f"of the {regions.loc['11', 'qpv_total']:,} QPV" in page
    assert "Seine-Saint-Denis" in page and "Bouches-du-Rhône" not in page.split("Interactive map")[0]


def test_every_user_string_is_escaped(regional):
    page = regional.html
    assert XSS not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;b&gt;bold.csv" in page                  # the registry file name, escaped
    assert '"><img' not in page and "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page


def test_markdown_twin_and_files(regional, tmp_path):
    written = regional.write(tmp_path / "report.html")
    assert [p.name for p in written] == ["report.html", "report.md"]
    md = written[1].read_text(encoding="utf-8")
    assert md.startswith("# CLSM network and priority neighbourhoods — Île-de-France, 2024")
    assert "| insee_dep | lib_dep |" in md
    assert oct(written[0].stat().st_mode & 0o777) != oct(0o600)


def test_national_report_with_trend_by_cli(tmp_path, capsys):
    out = tmp_path / "national.html"
    code = main(["-q", "report", "--registry", str(EXAMPLE), "--from", "2023", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert "<h2>By region" in page and "<h2>Trend" in page and "CLSM network and QPV coverage by year" in page
    assert out.with_suffix(".md").is_file()


def test_report_opens_offline_in_a_real_browser(regional, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import WebDriverWait

    path = regional.write(tmp_path / "report.html")[0]
    with chromium(1200, 1800) as driver:
        driver.get_log("performance")
        driver.get(path.resolve().as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
        driver.switch_to.frame(driver.find_element("css selector", "iframe"))
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return document.querySelectorAll('.leaflet-pane path').length > 0"))
        drawn = driver.execute_script("return document.querySelectorAll('.leaflet-pane path').length")
        driver.switch_to.default_content()
        time.sleep(0.5)
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text                  # no injected script ran
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        requests = [e for e in driver.get_log("performance") if "Network.requestWillBeSent" in e["message"]
                    and '"url":"http' in e["message"]]
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
    assert drawn > 50
    assert errors == []
    assert requests == []
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    assert (np.abs(pixels - 1.0).sum(axis=2) > 0.05).mean() > 0.05   # more than 5 % of the page is not white


def test_report_from_the_result_object(result):
    page = result.report(include_map=False).html
    assert "<h2>By region" in page and "<iframe" not in page
