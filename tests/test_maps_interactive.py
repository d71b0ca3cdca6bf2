"""Interactive maps: layers and legend in the page, self-contained offline pages, escaping of every
user-supplied text, size budgets, stable output, simplified geometry that keeps shared borders, CLI."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

import clsm_geo
from clsm_geo.errors import InputError
from clsm_geo.maps import layers
from clsm_geo.maps.interactive import interactive_map, write_html

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "examples" / "registry_fictitious.csv"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MB = 1_000_000


def _isolated(tmp_path_factory, build):
    from clsm_geo import settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLSM_GEO_DATA_DIR", str(tmp_path_factory.mktemp("clsm-data")))
        mp.setenv("CLSM_GEO_OFFLINE", "1")
        settings.reset()
        result = build()
        _ = result.councils, result.regions, result.departments, result.summary
    settings.reset()
    return result


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return _isolated(tmp_path_factory, lambda: clsm_geo.coverage(REGISTRY, 2024))


def hostile_result(tmp_path_factory):
    """Councils in Seine-Saint-Denis whose id, name, notes, registry file name and one QPV name are HTML."""
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "reg<img src=y>.csv"
    path.write_text(
        "id,name,status,created,closed,communes,epci,notes\n"
        f'"{IMG.replace(chr(34), chr(34) * 2)}",{SCRIPT},actif,2020,,93066;93001,,"<i>n</i> & ""q"" {SCRIPT}"\n'
        "B2,CLSM de Drancy,actif,2019,,93029,,\n", encoding="utf-8")
    result = _isolated(tmp_path_factory, lambda: clsm_geo.coverage(path, 2024))
    qpv = result.qpv_table.copy()
    target = qpv.index[qpv["councils"].map(lambda ids: IMG in ids)][0]  # a QPV of the hostile council
    qpv.loc[target, "lib_qp"] = IMG
    return dataclasses.replace(result, qpv_table=qpv)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_result(tmp_path_factory)


@pytest.fixture(scope="module")
def pages(res, tmp_path_factory):
    """National and regional pages, offline and online (written once for the module)."""
    folder = tmp_path_factory.mktemp("pages")
    out = {}
    for name, options in {"national": {"offline": True}, "region": {"offline": True, "region": "11"},
                          "online": {"offline": False, "region": "11"}}.items():
        out[name] = write_html(interactive_map(res, **options), folder / f"{name}.html")
    return out


def _legend(page: str) -> str:
    import json

    call = re.search(r"L\.clsmControls\(map_\d+, (\[.*?\]), (\".*?\"), (\[.*?\]),\s+(\{.*?\})\);", page, re.S)
    return json.loads(call.group(2)), json.loads(call.group(3)), json.loads(call.group(4))


def _decoded(page: str) -> str:
    """The page with JSON ``\\uXXXX`` escapes decoded (folium writes layer names and popups that way)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def test_layers_legend_and_controls_are_in_the_page(pages, res):
    page = _decoded(pages["national"].read_text(encoding="utf-8"))
    nb = "\u00a0"
    for layer in ("CLSM actif (", "CLSM en projet (", "QPV couvert (", "QPV partiellement couvert (",
                  "QPV non couvert (", f"Régions{nb}: part des QPV couverts",
                  f"Départements{nb}: part des QPV couverts"):
        assert layer in page, layer
    assert "L.control.layers" in page and "L.clsmControls" in page
    assert "L.control.fullscreen" in page and "fitBounds" in page and '"Plein écran"' in page
    assert page.count("L.tooltip") + page.count("bindTooltip") >= 5 and "bindPopup" in page
    assert page.startswith('<!DOCTYPE html>\n<html lang="fr">') and "<title>CLSM et quartiers prioritaires" in page
    # the legend names the statuses, the classes (French number format, counts) and the sources
    legend, views, words = _legend(page)
    for part in ("Périmètres des CLSM, par statut", "non couvert", "sans objet (aucun QPV en vigueur, ou géographie QPV non disponible)",
                 "Part des QPV couverts (%)", f"Source{nb}: ANCT (QPV 2024), INSEE et IGN (COG 2024)",
                 "au 31 décembre 2024"):
        assert part in legend, part
    assert re.search(r"<span>0 \(\d+\)</span>", legend)
    assert re.search(rf"<span>\d+ à \d+{nb}% \(\d+\)</span>", legend)
    assert "registry_fictitious" not in legend
    assert words["search"] == "Chercher une commune, un QPV…" and words["kinds"][2] == "CLSM"
    assert words["fold"] == "Replier la légende"
    # one-click views: metropolitan France and each overseas department, each framing its department
    assert [v[0] for v in views] == ["Métropole", "Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"]
    reunion = views[4]
    assert -21.5 < reunion[1] < reunion[3] < -20.8 and 55.1 < reunion[2] < reunion[4] < 56  # S, W, N, E
    # popups and tooltips: French field names, French numbers
    for alias in ("Département", "CLSM actifs", "QPV en vigueur", "Part couverte", "Surface couverte",
                  "Couverture", "Identifiant", "Population"):
        assert f'"{alias}"' in page, alias
    assert re.search(rf'"share": ?"\d+{nb}%"', page) and re.search(r'"population": ?"\d{1,3}(\u202f\d{3})+"', page)
    # search index: communes, QPV and councils
    assert '"Île-de-France (11)",0' in page and '"Seine-Saint-Denis (93)",1' in page
    assert '"Villeurbanne (69)",4' in page and re.search(r'"[^"]+ \(QN\d{5}[A-Z]\)",3', page)
    region = _decoded(pages["region"].read_text(encoding="utf-8"))
    assert "Régions" + nb + ": part" not in region and "Départements" + nb + ": part" in region
    assert _legend(region)[1] == []  # no overseas views in a regional zoom
    assert '"Villeurbanne (69)"' not in region and '"Saint-Denis (93)",4' in region


def test_same_classes_and_colours_as_the_static_map(res):
    from clsm_geo.maps.static import choropleth

    page = interactive_map(res, offline=True).get_root().render()
    legend = _legend(page)[0]
    fig = choropleth(res, level="department")
    handles = fig.legends[0].legend_handles
    from matplotlib.colors import to_hex

    section = legend.split("Départements")[1]
    for handle, text in zip(handles[:-1], fig.legends[0].get_texts()):
        label, count = re.fullmatch(r"(.+)  \((\d+)\)", text.get_text()).groups()
        assert f'data-fill="{to_hex(handle.get_facecolor())}"' in section, label
        assert f"<span>{label} ({count})</span>" in section, label


def test_english_page(res):
    page = _decoded(interactive_map(res, offline=True, lang="en").get_root().render())
    legend, views, words = _legend(page)
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert "QPV not covered (" in page and '"Share covered"' in page and "Regions: share of QPV covered" in page
    assert "Share of QPV covered (%)" in legend and "at 31 December 2024" in legend and "non couvert" not in legend
    assert views[0][0] == "Metropolitan France" and words["search"] == "Search a commune, QPV…"
    # no French word of the maps catalogue in the English legend, and the reverse in the French one
    from clsm_geo import i18n

    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    only = lambda a, b: {v for k, v in a.items() if k.startswith("maps.") and isinstance(v, str)  # noqa: E731
                         and len(v) > 5 and "{" not in v and v != b[k]}
    french_legend = _legend(_decoded(interactive_map(res, offline=True).get_root().render()))[0]
    assert not [w for w in only(fr, en) if w in legend], "French words in the English legend"
    assert not [w for w in only(en, fr) if w in french_legend], "English words in the French legend"


def test_offline_page_is_self_contained(pages):
    page = pages["national"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=", page)
    assert not re.search(r"url\((?!['\"]?(data:|#))", page), "every CSS url() is inlined"
    assert "cdn." not in page and "tile.openstreetmap" not in page and "L.tileLayer" not in page
    # URLs left are namespaces, comments of the vendored code and Leaflet's attribution link: none is loaded
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "https://leafletjs.com",
                    "http://www.sitepoint.com/html5-full-screen-api/",
                    "https://bugs.chromium.org/p/chromium/issues/detail?id=600120",
                    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319"}, urls
    assert "1.9.4" in page  # the vendored Leaflet
    online = pages["online"].read_text(encoding="utf-8")
    assert re.search(r'<script src="https://cdn\.jsdelivr\.net/npm/leaflet@', online) and "L.tileLayer" in online


def test_size_budgets(pages):
    """Issue 21: offline national page at most 2 MB, regional at most 600 kB (display simplification and
    compact coordinates)."""
    assert pages["national"].stat().st_size <= 2 * MB, pages["national"].stat().st_size
    assert pages["region"].stat().st_size <= 0.6 * MB, pages["region"].stat().st_size
    assert pages["online"].stat().st_size <= 2 * MB


def test_user_text_is_escaped(hostile, tmp_path):
    page = write_html(interactive_map(hostile, region="11", offline=True), tmp_path / "m.html")
    text = page.read_text(encoding="utf-8")
    for raw in (SCRIPT, IMG, "<img", "onerror=alert(1)>", "<i>n</i>"):
        assert raw not in text, raw
    # escaped as HTML text (then JSON-escaped inside the inline script)
    json_html = lambda s: s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    assert json_html("&lt;script&gt;alert(1)&lt;/script&gt;") in text  # council name (tooltip/popup)
    assert json_html("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;") in text  # council id, QPV name
    assert json_html("&lt;i&gt;n&lt;/i&gt; &amp; &quot;q&quot;") in text  # notes
    assert "reg<img" not in text and "reg&lt;img" not in text  # the registry file name is not on the map


def test_page_is_stable(res, tmp_path):
    first = interactive_map(res, region="11", offline=True).get_root().render()
    second = interactive_map(res, region="11", offline=True).get_root().render()
    assert first == second


def test_result_map_is_a_folium_map(res):
    import folium

    m = res.map(region="93", offline=True)
    assert isinstance(m, folium.Map)
    notebook = m._repr_html_()
    assert "<iframe" in notebook and "ClsmSearch" in notebook


def test_compact_geometry_round_trips():
    poly = shapely.Polygon([(2.3512, 48.8566), (2.36, 48.86), (2.35, 48.87)], [[(2.352, 48.86), (2.353, 48.861),
                                                                               (2.352, 48.862)]])
    shape = layers.compact_geometry(shapely.MultiPolygon([poly]), 4)
    assert shape["z"] == 4 and shape["c"][0][0][:4] == [23512, 488566, 88, 34]  # first point, then steps
    scale = 1e4
    rings = []
    for flat in shape["c"][0]:
        xy = [(sum(flat[0:i + 1:2]) / scale, sum(flat[1:i + 2:2]) / scale) for i in range(0, len(flat), 2)]
        rings.append(xy)
    assert shapely.Polygon(rings[0], rings[1:]).equals_exact(poly, 1e-9)


def test_simplified_borders_stay_shared(res):
    from clsm_geo.geography import geography

    deps = geography(2024).departments.geometry.values
    simplified = layers.simplify_coverage(deps, layers.TOLERANCE_NATIONAL)
    assert shapely.coverage_is_valid(simplified)  # no gap, no overlap between neighbours
    assert shapely.get_num_coordinates(simplified).sum() < 0.8 * shapely.get_num_coordinates(deps).sum()
    coords = shapely.get_coordinates(simplified)
    assert (abs(coords * 1e4 - (coords * 1e4).round()) < 1e-6).all()  # 4 decimals


def test_vendored_assets_match_their_manifest():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "vendor_map_assets.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    readme = (REPO / "clsm_geo" / "maps" / "assets" / "README.md").read_text(encoding="utf-8")
    assert "leaflet" in readme and "1.9.4" in readme and "BSD-2-Clause" in readme and "MIT" in readme


def test_cli_interactive(tmp_path, capsys):
    from clsm_geo.cli import main

    out = tmp_path / "idf.html"
    code = main(["--quiet", "map", "interactive", "--year", "2024", "--registry", str(REGISTRY), "--region",
                 "11", "--offline", "--out", str(out)])
    assert code == 0 and "carte écrite dans" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "L.Control.ClsmSearch" in page and 'lang="fr"' in page and not re.search(r"<script[^>]+src=", page)
    code = main(["--quiet", "map", "interactive", "--registry", str(REGISTRY), "--region", "99", "--out",
                 str(tmp_path / "x.html")])
    assert code == 2 and "région inconnue\u00a0: 99" in capsys.readouterr().err


def test_cli_split_assets_snippet_and_csp(tmp_path, capsys):
    from clsm_geo.cli import main
    from clsm_geo.maps import embed

    base = ["map", "interactive", "--registry", str(REGISTRY), "--region", "93"]
    out = tmp_path / "site" / "carte.html"
    out.parent.mkdir()
    assert main(base + ["--split-assets", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert embed.STRICT_CSP in said and "carte_files" in said
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script>|<style>|\sstyle=", page)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(r.startswith("carte_files/") and (out.parent / r).is_file() for r in refs), refs
    assert (out.parent / "carte_files" / "images" / "layers.png").is_file()  # what leaflet.css points to
    css = (out.parent / "carte_files" / "leaflet.css").read_text(encoding="utf-8")
    assert "url(images/layers.png)" in css and "data:" not in css  # data: images are refused by the CSP
    # the snippet: one isolated iframe holding the whole page
    snip = tmp_path / "snippet.html"
    assert main(base + ["--snippet", "--out", str(snip)]) == 0
    text = snip.read_text(encoding="utf-8")
    assert text.startswith('<iframe class="clsm-geo-map" title="CLSM et quartiers prioritaires')
    assert text.count("<iframe") == 1 and "<script" not in text and "&lt;script" in text
    assert "aspect-ratio:4/3" in text
    assert main(base + ["--snippet", "--height", "600px", "--out", str(snip)]) == 0
    assert "height:600px;" in snip.read_text(encoding="utf-8")
    assert main(base + ["--snippet", "--height", "1px;x", "--out", str(snip)]) == 2
    assert "hauteur '1px;x' invalide" in capsys.readouterr().err
    with pytest.raises(InputError, match="hauteur '600px;background:url\\(x\\)' invalide") as err:
        embed.snippet("<p>x</p>", title="t", height="600px;background:url(x)")  # from Python: the same words
    assert err.value.hint == "donnez une longueur CSS comme 600px ou 70vh"
    # the single-file page prints the exact policy it needs: every inline block by hash
    single = tmp_path / "single.html"
    assert main(base + ["--offline", "--out", str(single)]) == 0
    said = capsys.readouterr().out
    text = single.read_text(encoding="utf-8")
    csp = embed.inline_csp(text)
    blocks = set(re.findall(r"<script>.*?</script>|<style>.*?</style>", text, re.S))
    assert csp in said and csp.count("'sha256-") == len(blocks)  # one hash per distinct inline block
    with pytest.raises(SystemExit) as exit_:  # one way at a time (argparse says so)
        main(base + ["--split-assets", "--snippet", "--out", str(snip)])
    assert exit_.value.code == 2 and "incompatible avec l'argument --split-assets" in capsys.readouterr().err


def _contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    import numpy as np
    from matplotlib.colors import to_rgb

    def lum(c):
        r = np.array(to_rgb(c))
        r = np.where(r <= 0.03928, r / 12.92, ((r + 0.055) / 1.055) ** 2.4)
        return 0.2126 * r[0] + 0.7152 * r[1] + 0.0722 * r[2]

    low, high = sorted([lum(a), lum(b)])
    return (high + 0.05) / (low + 0.05)


def test_contrast_of_map_graphics_and_text():
    """Issue 21: map graphics at least 3:1 against what is under them, text at least 4.5:1."""
    import numpy as np
    import pandas as pd
    from matplotlib.colors import to_hex, to_rgb

    from clsm_geo.maps import interactive as web
    from clsm_geo.maps.style import COUNCIL_STATUS_COLORS, OUTLINE, QPV_STATUS_COLORS, classify

    classes = classify(pd.Series(np.linspace(0.01, 1, 50)), "qpv_covered_share", k=5).colors
    under = [web.SEA, web.LAND] + [  # class colours as drawn: at the choropleth's opacity over the land
        to_hex(web.CHOROPLETH_OPACITY * np.array(to_rgb(c)) + (1 - web.CHOROPLETH_OPACITY) * np.array(to_rgb(web.LAND)))
        for c in classes] + classes
    for colour in [*QPV_STATUS_COLORS.values(), *COUNCIL_STATUS_COLORS.values()]:
        for background in under:  # the outline (or the fill) separates every shape from what is under it
            assert max(_contrast(OUTLINE, background), _contrast(colour, background)) >= 3, (colour, background)
    for background in (web.SEA, web.LAND):  # territories are outlined by the boundary lines
        assert _contrast(web.BOUNDARY, background) >= 3
    css = (REPO / "clsm_geo" / "maps" / "assets" / "clsm-map.css").read_text(encoding="utf-8")
    text_colours = set(re.findall(r"(?<!-)color:\s*(#[0-9a-fA-F]{3,6})", css))
    assert text_colours and all(_contrast(c, "#ffffff") >= 4.5 for c in text_colours), text_colours


def test_the_map_decodes_the_outlines_it_draws_not_the_communes_of_france(monkeypatch):
    """Council perimeters and the commune search entries come from the outlines of the communes concerned
    (Geography.outlines): building the map never loads the whole communes layer (35,000 outlines)."""
    import importlib

    geo_module = importlib.import_module("clsm_geo.geography")  # the module (clsm_geo.geography is a function)
    loaded = []
    layer = geo_module.Geography._layer

    def spy(self, name):
        loaded.append(name)
        return layer(self, name)

    monkeypatch.setattr(geo_module.Geography, "_layer", spy)
    fresh = clsm_geo.coverage(REGISTRY, 2024)
    data = layers.build(fresh)
    assert fresh.councils.geometry.notna().all()
    assert "communes" not in loaded and "arrondissements" not in loaded
    kinds = [row[1] for row in data.search]
    assert kinds.count(layers.SEARCH_KINDS.index("commune")) > 100
