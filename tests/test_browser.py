"""The offline interactive map in a real browser (headless Chromium, from file://): it draws, logs no console
error, requests nothing but file:/data: resources, shows its legend and popups in French, flies to each overseas
department by keyboard, and shows hostile user text as text. One browser for the module.

Chromium missing is a failure saying how to install it (see tests/browser.py), never a skip.
"""

from __future__ import annotations

import re
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
def driver():
    with chromium(1200, 800) as d:
        yield d


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory) -> Path:
    res = hostile_result(tmp_path_factory)
    return write_html(interactive_map(res, region="11", offline=True),
                      tmp_path_factory.mktemp("browser") / "hostile.html")


def test_offline_map_draws_without_errors_or_network(national_page, driver, tmp_path):
    import matplotlib.image as mpimg

    shot = tmp_path / "national.png"
    driver.set_window_size(1200, 800)
    report = load(driver, national_page, shot)
    paths = driver.execute_script("return document.querySelectorAll('.leaflet-pane path').length")
    controls = driver.execute_script(
        "return ['.leaflet-control-layers', '.clsm-legend', '.clsm-search', '.leaflet-control-zoom-fullscreen',"
        " '.clsm-views'].map(s => document.querySelectorAll(s).length)")
    assert report.errors == [], report.errors
    assert report.remote() == [], f"the page requested {report.remote()}"
    assert report.requests and all(u.startswith(("file:", "data:")) for u in report.requests)
    assert paths > 1000, paths  # departments, councils, QPV drawn as SVG paths
    assert controls == [1, 1, 1, 1, 1], controls
    image = mpimg.imread(shot)[:, :, :3]
    not_sea = np.any(np.abs(image - SEA) > 0.03, axis=2).mean()
    assert not_sea > 0.25, f"only {not_sea:.0%} of the screenshot differs from the background"
    qpv_pixels = np.all(np.abs(image - UNCOVERED) < 0.12, axis=2).sum()
    assert qpv_pixels > 50, qpv_pixels


_POPUPS = """
    const map = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);
    const out = {};
    map.eachLayer(l => {
        const p = l.feature && l.feature.properties;
        if (!p || !p.name) return;
        const id = String(l.feature.id);
        const kind = id.startsWith('qpv-') ? 'qpv' : id.startsWith('council-') ? 'council'
                     : id.startsWith('region-') ? 'territory' : null;
        if (!kind || out[kind]) return;
        l.fire('click', {latlng: l.getBounds().getCenter()}, true);
        const popups = document.querySelectorAll('.leaflet-popup-content');
        l.fire('mouseover', {latlng: l.getBounds().getCenter()}, true);
        const tips = document.querySelectorAll('.leaflet-tooltip');
        if (!popups.length) return;
        out[kind] = {popup: popups[popups.length - 1].textContent,
                     tooltip: tips.length ? tips[tips.length - 1].textContent : ''};
        map.closePopup();
        l.fire('mouseout', {}, true);
    });
    out.legend = document.querySelector('.clsm-legend').textContent;
    out.placeholder = document.querySelector('.clsm-search-input').placeholder;
    out.buttons = [...document.querySelectorAll('.clsm-view')].map(b => b.textContent);
    out.lang = document.documentElement.lang;
    out.title = document.title;
    return out;
"""


def test_french_legend_popups_and_controls(national_page, driver, tmp_path):
    driver.set_window_size(1200, 800)
    report = load(driver, national_page)
    shown = driver.execute_script(_POPUPS)
    assert report.errors == [] and report.remote() == []
    nb = "\u00a0"
    assert shown["lang"] == "fr" and shown["title"].startswith("CLSM et quartiers prioritaires (QPV), France")
    for part in ("Périmètres des CLSM, par statut", "actif (", "partiellement couvert (", "non couvert (",
                 "Part des QPV couverts (%)", f"1 à ", f"{nb}% (", "au 31 décembre 2024", f"Source{nb}: ANCT"):
        assert part in shown["legend"], part
    for english in ("covered (", "Share of", "Sources: CLSM registry", "active ("):
        assert english not in shown["legend"], english
    qpv, council, territory = shown["qpv"], shown["council"], shown["territory"]
    assert "Couverture" in qpv["popup"] and "Surface couverte" in qpv["popup"], qpv
    assert any(s in qpv["popup"] for s in ("non couvert", "partiellement couvert", "couvert"))
    assert re.search(rf"\d{nb}%", qpv["popup"]) and "coverage" not in qpv["popup"]
    assert "Statut" in council["popup"] and "Identifiant" in council["popup"] and "actif" in council["popup"]
    assert "Région" in territory["popup"] and "QPV en vigueur" in territory["popup"]
    assert "Région" in territory["tooltip"] and "Part des QPV couverts" in territory["tooltip"]
    assert shown["placeholder"] == "Chercher une commune, un QPV…"
    assert shown["buttons"] == ["Métropole", "Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"]


def test_overseas_views_by_keyboard(national_page, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1200, 800)
    report = load(driver, national_page)
    centre = ("const map = Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map);"
              "const c = map.getCenter(); return [c.lat, c.lng, map.getZoom()];")
    lat, lon, zoom = driver.execute_script(centre)
    assert 44 < lat < 49 and 0 < lon < 5  # opens on metropolitan France
    boxes = {"La Réunion": (-21.5, -20.8, 55.1, 56.0), "Guyane": (2, 6, -55, -51),
             "Mayotte": (-13.1, -12.6, 44.9, 45.4)}
    for name, (s, n, w, e) in boxes.items():
        button = [b for b in driver.find_elements(By.CSS_SELECTOR, ".clsm-view") if b.text == name][0]
        driver.execute_script("arguments[0].focus(); window.__done = false;"
                              "Object.values(window).find(v => v instanceof L.Map)"
                              ".once('moveend', () => { window.__done = true; })", button)
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return window.__done"),
                                        f"the {name} button did not move the map")  # a 0.6 s flight
        lat, lon, z = driver.execute_script(centre)
        assert z > zoom + 1.5, (name, z)
    assert driver.get_log("browser") == []
    assert report.errors == []


def test_hostile_text_shows_as_text(hostile_page, driver, tmp_path):
    from selenium.webdriver.common.by import By

    driver.set_window_size(1000, 700)
    if True:
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
    assert "reg<img" not in shown["legend"]  # the registry's file name is not on the map
    assert any(SCRIPT in r for r in results) and any(IMG in r for r in results) and images == 0, results
    assert alerts == "undefined"
