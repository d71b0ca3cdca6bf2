"""The offline interactive map in a real browser (headless Chromium, from file://): it draws, logs no console
error, requests nothing but file:/data: resources, and shows hostile user text as text.

Chromium missing is a failure saying how to install it (see tests/browser.py), never a skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser import chromium, load
from test_maps_interactive import IMG, REGISTRY, SCRIPT, _isolated, hostile_result

import clsm_geo
from clsm_geo.maps.interactive import interactive_map, write_html

pytestmark = pytest.mark.slow

SEA = np.array([0xDF, 0xE7, 0xEC]) / 255  # page background of offline maps (clsm-map.css)
UNCOVERED = np.array([0xD5, 0x5E, 0x00]) / 255  # QPV not covered


@pytest.fixture(scope="module")
def national_page(tmp_path_factory) -> Path:
    res = _isolated(tmp_path_factory, lambda: clsm_geo.coverage(REGISTRY, 2024))
    return write_html(interactive_map(res, offline=True), tmp_path_factory.mktemp("browser") / "national.html")


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory) -> Path:
    res = hostile_result(tmp_path_factory)
    return write_html(interactive_map(res, region="11", offline=True),
                      tmp_path_factory.mktemp("browser") / "hostile.html")


def test_offline_map_draws_without_errors_or_network(national_page, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "national.png"
    with chromium(1200, 800) as driver:
        report = load(driver, national_page, shot)
        paths = driver.execute_script("return document.querySelectorAll('.leaflet-pane path').length")
        controls = driver.execute_script(
            "return ['.leaflet-control-layers', '.clsm-legend', '.clsm-search', '.leaflet-control-zoom-fullscreen']"
            ".map(s => document.querySelectorAll(s).length)")
    assert report.errors == [], report.errors
    assert report.remote() == [], f"the page requested {report.remote()}"
    assert report.requests and all(u.startswith(("file:", "data:")) for u in report.requests)
    assert paths > 1000, paths  # departments, councils, QPV drawn as SVG paths
    assert controls == [1, 1, 1, 1], controls
    image = mpimg.imread(shot)[:, :, :3]
    not_sea = np.any(np.abs(image - SEA) > 0.03, axis=2).mean()
    assert not_sea > 0.25, f"only {not_sea:.0%} of the screenshot differs from the background"
    qpv_pixels = np.all(np.abs(image - UNCOVERED) < 0.12, axis=2).sum()
    assert qpv_pixels > 50, qpv_pixels


def test_hostile_text_shows_as_text(hostile_page, tmp_path):
    from selenium.webdriver.common.by import By

    with chromium(1000, 700) as driver:
        report = load(driver, hostile_page, tmp_path / "hostile.png")
        shown = driver.execute_script("""
            const map = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);
            const found = {};
            map.eachLayer(l => {
                const p = l.feature && l.feature.properties;
                if (!p || !p.name) return;
                if (p.name.includes('script') && p.id) found.council = found.council || l;
                if (p.name.includes('onerror') && p.code) found.qpv = found.qpv || l;
            });
            const last = s => { const all = document.querySelectorAll(s); return all[all.length - 1]; };
            const out = {};
            for (const [kind, layer] of Object.entries(found)) {
                layer.fire('click', {latlng: layer.getBounds().getCenter()}, true);
                const popup = last('.leaflet-popup-content');
                layer.fire('mouseover', {latlng: layer.getBounds().getCenter()}, true);
                const tooltip = last('.leaflet-tooltip');
                out[kind] = {popup: popup.textContent, tooltip: tooltip ? tooltip.textContent : '',
                             elements: popup.querySelectorAll('img, script, i, b').length
                                       + (tooltip ? tooltip.querySelectorAll('img, script').length : 0)};
                map.closePopup();
                layer.fire('mouseout', {}, true);
            }
            out.legend = document.querySelector('.clsm-legend').textContent;
            out.legendElements = document.querySelectorAll('.clsm-legend img, .clsm-legend script').length;
            return out;
        """)
        box = driver.find_element(By.CSS_SELECTOR, ".clsm-search-input")
        box.send_keys("alert(1")
        results = [li.text for li in driver.find_elements(By.CSS_SELECTOR, ".clsm-search-results li")]
        images = len(driver.find_elements(By.CSS_SELECTOR, ".clsm-search-results img"))
        alerts = driver.execute_script("return typeof window.__alerted")
    assert report.errors == [] and report.remote() == []
    council, qpv = shown["council"], shown["qpv"]
    assert SCRIPT in council["popup"] and IMG in council["popup"] and SCRIPT in council["tooltip"]
    assert '<i>n</i> & "q"' in council["popup"]  # notes, as typed
    assert IMG in qpv["popup"] and IMG in qpv["tooltip"] and SCRIPT in qpv["popup"]  # QPV name, its council
    assert council["elements"] == qpv["elements"] == 0 and shown["legendElements"] == 0
    assert "reg<img src=y>.csv" in shown["legend"]
    assert any(SCRIPT in r for r in results) and any(IMG in r for r in results) and images == 0, results
    assert alerts == "undefined"
