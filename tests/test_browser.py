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
    out.zoom = document.querySelector('.leaflet-control-zoom-in').getAttribute('aria-label');
    out.layers = document.querySelector('.leaflet-control-layers-toggle').title;
    out.fullscreen = document.querySelector('.leaflet-control-zoom-fullscreen').title;
    out.scales = [...document.querySelectorAll('.leaflet-control-scale-line')]
        .filter(e => getComputedStyle(e).display !== 'none').map(e => e.textContent);
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
    assert (shown["zoom"], shown["layers"], shown["fullscreen"]) == ("Zoom avant", "Couches", "Plein écran")
    assert len(shown["scales"]) == 1 and shown["scales"][0].endswith(" km"), shown["scales"]
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


# ------------------------------------------------------------------------------------ ways of embedding (issue 21)

from httpserver import Reply, http_server  # noqa: E402,F401

from clsm_geo.maps import embed  # noqa: E402
from clsm_geo.maps.interactive import render_page  # noqa: E402

_DRAWN = "return document.querySelectorAll('.leaflet-pane path').length"
_HOST_CSS = ("html,body{margin:0;padding:0} *{box-sizing:content-box} h1,h4{color:red;font:30px serif;display:none} "
             "button{visibility:hidden;background:red} div{padding:3px} table{border:4px solid red} "
             "p{font-family:monospace;color:#333}")
_HOST_STYLES = """return ['body', 'h1', 'p', 'main'].map(s => { const c = getComputedStyle(document.querySelector(s));
    return [c.margin, c.padding, c.fontFamily, c.color, c.fontSize, c.display, c.width]; });"""


@pytest.fixture(scope="module")
def regional_page(tmp_path_factory):
    res = _isolated(tmp_path_factory, lambda: clsm_geo.coverage(REGISTRY, 2024))
    return render_page(interactive_map(res, region="11", offline=True))


def _open(driver, url: str, *, frame: bool = False):
    """Open ``url``, wait for the map to draw (in the first iframe when ``frame``), return console errors and
    every requested URL."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)
    if frame:
        WebDriverWait(driver, 20).until(lambda d: d.find_elements("css selector", "iframe"))
        driver.switch_to.frame(0)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(_DRAWN) > 0)
    drawn = driver.execute_script(_DRAWN)
    driver.switch_to.default_content()
    requests = []
    for entry in driver.get_log("performance"):
        message = __import__("json").loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"
              and "/favicon.ico " not in e["message"]]  # the browser's own request to a test server
    leaving = [u for u in requests if not u.startswith(("file:", "data:", "about:", "http://localhost:"))
               and not u.startswith("chrome")]
    return drawn, errors, leaving


def _type(path) -> str:
    import mimetypes

    kind = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    return kind + ("; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else "")


def _local(server, path: str) -> str:
    """The server's URL by the name ``localhost`` (the test browser resolves no other name, not even IPs)."""
    return f"http://localhost:{server.port}{path}"


def test_strict_csp_split_assets(regional_page, driver, http_server, tmp_path):
    files = embed.split_assets(regional_page, tmp_path / "idf.html")
    page = files[0].read_text(encoding="utf-8")
    assert "<script>" not in page and "<style>" not in page and " style=" not in page
    headers = {"Content-Security-Policy": embed.STRICT_CSP}
    for f in [p for p in tmp_path.rglob("*") if p.is_file()]:
        rel = "/" + f.relative_to(tmp_path).as_posix()
        http_server.serve_file(rel, f, script=[Reply(headers=headers)], content_type=_type(f))
    driver.set_window_size(1200, 800)
    drawn, errors, leaving = _open(driver, _local(http_server, "/idf.html"))
    assert drawn > 100 and errors == [] and leaving == [], (drawn, errors, leaving)
    legend = driver.execute_script("return getComputedStyle(document.querySelector('.clsm-legend')).position")
    assert legend == "relative"  # the stylesheets applied
    swatch = driver.execute_script("return getComputedStyle(document.querySelector('.clsm-legend .sw.dot'))"
                                   ".backgroundColor")
    assert swatch == "rgb(0, 114, 178)"  # colours set through the CSSOM, allowed by the policy
    # the single-file page under the exact policy printed for it
    single = tmp_path / "single.html"
    single.write_text(regional_page, encoding="utf-8")
    http_server.serve_file("/single.html", single, content_type=_type(single),
                           script=[Reply(headers={"Content-Security-Policy": embed.inline_csp(regional_page)})])
    drawn, errors, leaving = _open(driver, _local(http_server, "/single.html"))
    assert drawn > 100 and errors == [] and leaving == [], (drawn, errors, leaving)


def test_iframes_plain_and_sandboxed(national_page, driver, tmp_path):
    host = tmp_path / "host.html"
    for sandbox in ("", ' sandbox="allow-scripts"'):
        host.write_text(f'<!DOCTYPE html><html lang="fr"><title>h</title><iframe src="{national_page.as_uri()}"'
                        f' width="900" height="600"{sandbox}></iframe></html>', encoding="utf-8")
        driver.set_window_size(1200, 800)
        drawn, errors, leaving = _open(driver, host.as_uri(), frame=True)
        assert drawn > 1000 and errors == [] and leaving == [], (sandbox, errors, leaving)
        driver.switch_to.frame(0)
        display, enabled = driver.execute_script(
            "return [getComputedStyle(document.querySelector('.leaflet-control-zoom-fullscreen')).display,"
            " document.fullscreenEnabled]")
        driver.switch_to.default_content()
        assert (display == "none") == (not enabled), (sandbox, display, enabled)  # never a button doing nothing
        if sandbox:
            assert display == "none"  # a sandbox without allow-fullscreen


def test_pasted_snippet_in_an_aggressive_host(regional_page, driver, tmp_path):
    fragment = embed.snippet(regional_page, title="Carte des CLSM")
    assert fragment.startswith("<iframe") and fragment.count("<iframe") == 1
    body = "<main><h1>Titre</h1><p>Texte du site.</p>{}</main>"
    bare = tmp_path / "bare.html"
    bare.write_text(f"<!DOCTYPE html><html><head><style>{_HOST_CSS}</style></head><body>"
                    + body.format("") + "</body></html>", encoding="utf-8")
    host = tmp_path / "host.html"
    host.write_text(f"<!DOCTYPE html><html><head><style>{_HOST_CSS}</style></head><body>"
                    + body.format(fragment + "<p>Entre deux cartes.</p>" + fragment) + "</body></html>",
                    encoding="utf-8")
    driver.set_window_size(1200, 800)
    driver.get(bare.as_uri())
    before = driver.execute_script(_HOST_STYLES)
    drawn, errors, leaving = _open(driver, host.as_uri(), frame=True)
    assert drawn > 100 and errors == [] and leaving == []
    assert driver.execute_script(_HOST_STYLES) == before  # nothing of the map leaks into the host
    heights = driver.execute_script("return [...document.querySelectorAll('iframe')].map(f => f.offsetHeight)")
    assert len(heights) == 2 and all(h >= 420 for h in heights), heights
    for i in range(2):  # both copies draw, and the host's button/h4 rules do not reach the legend
        driver.switch_to.frame(i)
        shown = driver.execute_script(
            "return [document.querySelectorAll('.leaflet-pane path').length,"
            " getComputedStyle(document.querySelector('.clsm-legend-toggle')).visibility,"
            " getComputedStyle(document.querySelector('.clsm-legend h4')).display]")
        driver.switch_to.default_content()
        assert shown[0] > 100 and shown[1] == "visible" and shown[2] == "block", shown


def test_phone_width_and_tab_order(national_page, driver):
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(375, 700)
    drawn, errors, leaving = _open(driver, national_page.as_uri())
    assert drawn > 1000 and errors == [] and leaving == []
    state = driver.execute_script("""
        const r = s => document.querySelector(s).getBoundingClientRect();
        const a = r('.clsm-legend'), b = r('.clsm-search');
        const overlap = !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
        return [document.querySelector('.clsm-legend').classList.contains('clsm-legend-folded'), overlap,
                document.querySelector('meta[name=viewport]').content, document.documentElement.lang,
                document.title, innerWidth];""")
    folded, overlap, viewport, lang, title, width = state
    assert folded and not overlap, state
    assert "user-scalable=no" not in viewport and "maximum-scale" not in viewport
    assert lang == "fr" and title
    # Tab order: the controls come first, no polygon takes the focus
    body = driver.find_element("css selector", "body")
    body.send_keys(Keys.TAB)
    seen = []
    for _ in range(14):
        seen.append(driver.execute_script(
            "const e = document.activeElement; return e.tagName + '.' + (e.className.baseVal ?? e.className)"))
        driver.switch_to.active_element.send_keys(Keys.TAB)
    joined = " ".join(seen)
    assert "path" not in joined.lower(), seen
    for control in ("leaflet-control-zoom-in", "clsm-search-input", "clsm-view", "clsm-territories",
                    "clsm-legend-toggle"):
        assert control in joined, (control, seen)
    # unfolded, the legend still leaves the search box and the views free
    driver.execute_script("document.querySelector('.clsm-legend-toggle').click()")
    free = driver.execute_script("""
        const r = s => document.querySelector(s).getBoundingClientRect();
        const a = r('.clsm-legend');
        return ['.clsm-search', '.clsm-views'].map(s => { const b = r(s);
            return a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top; });""")
    assert free == [True, True], free


def test_list_of_territories_by_keyboard(national_page, driver):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver.set_window_size(1200, 800)
    load(driver, national_page)
    select = driver.find_element("css selector", "select.clsm-territories")
    assert select.get_attribute("aria-label") == "Liste des territoires"
    groups = driver.execute_script("return [...document.querySelectorAll('.clsm-territories optgroup')]"
                                   ".map(g => [g.label, g.children.length])")
    assert groups == [["région", 18], ["département", 101]], groups
    Select(select).select_by_visible_text("La Réunion (974)")
    centre = ("const map = Object.values(window).find(v => v instanceof L.Map); const c = map.getCenter();"
              "return [c.lat, c.lng];")
    WebDriverWait(driver, 10).until(lambda d: (lambda c: -21.5 < c[0] < -20.8 and 55 < c[1] < 56)(
        d.execute_script(centre)))
