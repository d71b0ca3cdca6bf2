"""Static maps: files in each format, overseas insets drawn, legend and source line, byte-identical reruns,
regional zoom, classification, CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clsm_geo
from clsm_geo.errors import InputError
from clsm_geo.maps import static
from clsm_geo.maps.style import classify

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "examples" / "registry_fictitious.csv"
INSETS = ("971", "972", "973", "974", "976")


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    """The example registry in 2024, computed once with an empty private cache and no network."""
    from clsm_geo import settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLSM_GEO_DATA_DIR", str(tmp_path_factory.mktemp("clsm-data")))
        mp.setenv("CLSM_GEO_OFFLINE", "1")
        settings.reset()
        result = clsm_geo.coverage(REGISTRY, 2024)
        _ = result.councils, result.regions, result.departments, result.summary
    settings.reset()
    return result


def _texts(svg: str) -> str:
    """All text of an SVG written with svg.fonttype=none, entities decoded, as one string."""
    import html

    return html.unescape(" ".join(re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.DOTALL)))


def test_each_format_is_written(res, tmp_path):
    fig = static.choropleth(res)
    magic = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF-"}
    for fmt, head in magic.items():
        path = static.save_figure(fig, tmp_path / f"map.{fmt}", dpi=60)
        assert path.read_bytes().startswith(head), fmt
    assert b"<svg" in (tmp_path / "map.svg").read_bytes()[:2000]
    with pytest.raises(InputError, match=r"\.png, \.svg ou \.pdf"):
        static.save_figure(fig, tmp_path / "map.gif")
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


def test_insets_are_drawn_in_their_boxes(res, tmp_path):
    import matplotlib.image as mpimg

    fig = static.choropleth(res)
    dpi = 80
    path = static.save_figure(fig, tmp_path / "map.png", dpi=dpi)
    image = mpimg.imread(path)[:, :, :3]
    height = image.shape[0]
    axes = {ax.get_label(): ax for ax in fig.axes}
    assert {f"inset-{c}" for c in INSETS} <= set(axes), sorted(axes)
    renderer_scale = dpi / fig.dpi
    for code in INSETS:
        box = axes[f"inset-{code}"].get_window_extent()
        x0, x1 = int(box.x0 * renderer_scale) + 3, int(box.x1 * renderer_scale) - 3
        y0, y1 = height - int(box.y1 * renderer_scale) + 3, height - int(box.y0 * renderer_scale) - 3
        crop = image[y0:y1, x0:x1]
        assert crop.size, code
        drawn = np.any(np.abs(crop - 1.0) > 0.02, axis=2).mean()
        assert drawn > 0.03, f"inset {code}: only {drawn:.1%} of its box differs from the white background"
    # the metropolitan map is drawn too, and the insets do not overlap it
    main = axes["metropole"].get_window_extent()
    for code in INSETS:
        assert axes[f"inset-{code}"].get_window_extent().x1 < main.x0, code


def test_legend_and_source_line_are_text_in_svg(res, tmp_path):
    static.choropleth(res, path=tmp_path / "map.svg")
    text = _texts((tmp_path / "map.svg").read_text(encoding="utf-8"))
    assert "Part des QPV couverts par un CLSM actif, par région" in text and "Part des QPV couverts (%)" in text
    # overseas: the 2015 geography still applies in 2024 and is not available here
    assert "sans objet (aucun QPV en vigueur, ou géographie QPV non disponible)" in text
    assert re.search(r"\b\d+ à \d+\xa0%\s+\(\d+\)", text), "class bounds with counts, French format"
    for part in ("Source\xa0: ANCT (QPV 2024), INSEE et IGN (COG 2024)", "précision\xa0: contours des QPV",
                 "au 31 décembre 2024"):
        assert part in text, part
    assert "registry_fictitious" not in text and "/" not in text  # no local path, no long provenance
    for name in ("Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"):
        assert name in text, name


def _figure_texts(fig) -> list[str]:
    """Every text a reader sees in a matplotlib figure: figure texts, axes titles and annotations, legends."""
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(loc="left")] + [t.get_text() for t in ax.texts]
    for legend in fig.legends:
        texts += [legend.get_title().get_text()] + [t.get_text() for t in legend.get_texts()]
    return texts


def test_french_title_subtitle_legend_and_source(res):
    from clsm_geo import i18n

    fig = static.choropleth(res, level="department")
    texts = _figure_texts(fig)
    assert texts[0] == "Part des QPV couverts par un CLSM actif, par département"
    assert texts[1].startswith("au 31 décembre 2024 · 5 classes (quantiles)")
    assert texts[2] == ("Source\xa0: ANCT (QPV 2024), INSEE et IGN (COG 2024), registre des CLSM\u202f; "
                        "précision\xa0: contours des QPV, à défaut leurs communes.")
    legend = fig.legends[0]
    assert legend.get_title().get_text().startswith("Part des QPV couverts (%)\nentre parenthèses\xa0: nombre")
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0] == f"0  ({int((res.departments['qpv_covered'] == 0).sum())})"  # 5 DROM: <NA>, no data
    assert all(re.fullmatch(r"\d+ à \d+\xa0%  \(\d+\)", lab) for lab in labels[1:-1]), labels
    assert labels[-1].replace("\n", " ") == "sans objet (aucun QPV en vigueur, ou géographie QPV non disponible)  (5)"
    assert labels[-1].count("\n") == 2  # wrapped: within the figure
    assert sum(int(re.search(r"\((\d+)\)$", lab).group(1)) for lab in labels) == len(res.departments)
    # no English word of the catalogue in the French figure, and the reverse
    english = {v for k, v in i18n.catalogue("en").items() if k.startswith("maps.") and isinstance(v, str)
               and len(v) > 6 and v != i18n.catalogue("fr")[k]}
    assert not [w for w in english if any(w in text for text in texts)]
    en = _figure_texts(static.choropleth(res, level="department", lang="en"))
    assert en[0] == "Share of QPV covered by an active CLSM, by department"
    assert en[1].startswith("at 31 December 2024") and en[2].startswith("Source: ANCT (QPV 2024)")
    assert any(re.fullmatch(r"\d+–\d+%  \(\d+\)", text) for text in en)


def test_paris_inset_on_national_department_maps(res):
    fig = static.choropleth(res, level="department")
    axes = {ax.get_label(): ax for ax in fig.axes}
    paris = axes["inset-paris"]
    assert paris.get_title(loc="left") == "Paris et petite couronne"
    x0, x1 = paris.get_xlim()
    y0, y1 = paris.get_ylim()
    assert 620_000 < x0 < 652_000 < x1 < 690_000 and 6_830_000 < y0 < 6_862_000 < y1 < 6_890_000  # Lambert-93
    assert sorted(t.get_text() for t in paris.texts) == ["75", "92", "93", "94"]
    assert len(paris.collections) >= 2  # departments drawn in it
    # the inset is beside the metropolitan map, and the zoomed area is outlined on it
    assert paris.get_window_extent().x0 > axes["metropole"].get_window_extent().x1 - 5
    outlined = [p for p in axes["metropole"].patches if p.get_width() < 60_000]
    assert len(outlined) == 1 and outlined[0].get_x() == pytest.approx(x0)
    assert "inset-paris" not in [ax.get_label() for ax in static.choropleth(res).axes]  # region level
    assert "inset-paris" not in [ax.get_label() for ax in static.choropleth(res, region="11").axes]


def test_many_zeros_read_naturally():
    import pandas as pd

    shares = pd.Series([0.0] * 30 + [i / 100 for i in range(1, 101)] + [np.nan])
    classes = classify(shares, "qpv_covered_share", scheme="equal_interval", k=6)
    assert classes.zero_class and classes.labels == [
        "0", "1 à 20\xa0%", "21 à 40\xa0%", "41 à 60\xa0%", "61 à 80\xa0%", "81 à 100\xa0%"]
    assert classes.counts == [30, 20, 20, 20, 20, 20] and classes.no_data == 1
    en = classify(shares, "qpv_covered_share", scheme="equal_interval", k=6, lang="en")
    assert en.labels[:2] == ["0", "1–20%"]
    # a share that rounds to 0 % is not in the class of exact zeros; 99.6 % is not "100 %"
    tiny = classify(pd.Series([0.0, 0.0, 0.003, 0.996, 1.0]), "qpv_covered_share", k=5)
    assert tiny.labels == ["0", "1\xa0%", "99\xa0%", "100\xa0%"] and list(tiny.index) == [0, 0, 1, 2, 3]
    counts = classify(pd.Series([0] * 50 + list(range(1, 21))), "councils_active", scheme="quantiles", k=3)
    assert counts.labels[0] == "0" and counts.labels[1].startswith("1 à ") and counts.counts[0] == 50


@given(st.lists(st.one_of(st.just(0.0), st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=40),
       st.sampled_from(["quantiles", "fisher_jenks", "equal_interval"]), st.integers(1, 7))
@settings(max_examples=60, deadline=None)
def test_classes_are_ordered_and_complete(values, scheme, k):
    import pandas as pd

    from clsm_geo.maps.style import shown_values

    classes = classify(pd.Series(values), "qpv_covered_share", scheme=scheme, k=k)
    shown = shown_values(values, "qpv_covered_share")
    valid = ~np.isnan(shown)
    assert sum(classes.counts) == valid.sum() and classes.no_data == (~valid).sum()
    assert len(classes.labels) == len(classes.colors) == len(classes.counts) <= max(k, 1) + 1
    order = np.argsort(shown[valid], kind="stable")
    assert (np.diff(classes.index[valid][order]) >= 0).all()  # larger values never in a lower class
    if classes.zero_class:
        assert classes.labels[0] == "0" and ((classes.index == 0) == (shown == 0)).all()


def test_reruns_are_byte_identical(res, tmp_path):
    for fmt in ("svg", "pdf", "png"):
        for name in ("a", "b"):  # a new figure each time, as a rerun would
            static.choropleth(res, path=tmp_path / f"{name}.{fmt}", dpi=50)  # hatches, legend, insets
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes(), fmt
    assert b"<dc:date>" not in (tmp_path / "a.svg").read_bytes()
    assert b"/CreationDate" not in (tmp_path / "a.pdf").read_bytes()


def test_regional_zoom(res, tmp_path):
    fig = static.choropleth(res, region="11", path=tmp_path / "idf.svg")
    labels = [ax.get_label() for ax in fig.axes]
    assert labels == ["region-11"], labels  # no overseas insets in a zoom
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert 500_000 < x0 < x1 < 800_000 and 6_700_000 < y0 < y1 < 6_950_000  # Lambert-93 around Paris
    text = _texts((tmp_path / "idf.svg").read_text(encoding="utf-8"))
    assert "Île-de-France" in text and "Seine-Saint-Denis" in text and "départements" in text
    with pytest.raises(InputError, match="code de région .99. inconnu"):
        static.choropleth(res, region="99")


def test_council_and_qpv_maps(res, tmp_path):
    static.councils_map(res, path=tmp_path / "councils.svg")
    text = _texts((tmp_path / "councils.svg").read_text(encoding="utf-8"))
    active = int(res.councils["status"].eq("active").sum())
    assert f"actif  ({active})" in text and "en projet" in text and "Périmètres des CLSM" in text
    static.qpv_map(res, region="84", path=tmp_path / "qpv.svg")
    text = _texts((tmp_path / "qpv.svg").read_text(encoding="utf-8"))
    assert "Auvergne-Rhône-Alpes" in text and "non couvert" in text and "dans la région" in text
    static.qpv_map(res, path=tmp_path / "qpv-en.svg", lang="en")
    text = _texts((tmp_path / "qpv-en.svg").read_text(encoding="utf-8"))
    assert "not covered" in text and "QPV coverage by CLSM" in text and "non couvert" not in text


def test_classification_schemes():
    import pandas as pd

    shares = pd.Series([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, np.nan])
    fractions = classify(shares, "qpv_covered_share", scheme="user_defined", bins=[0.1, 0.25])
    percents = classify(shares, "qpv_covered_share", scheme="user_defined", bins=[10, 25])
    assert fractions.labels == percents.labels == ["0 à 10\xa0%", "11 à 25\xa0%", "26 à 50\xa0%"]
    assert list(fractions.index) == [0, 0, 0, 1, 2, 2, -1] and fractions.no_data == 1
    counts = pd.Series([0, 0, 1, 2, 3, 5, 8, 13, 21])
    jenks = classify(counts, "councils_active", scheme="fisher_jenks", k=3)
    assert len(jenks.labels) == 3 and jenks.title == "CLSM actifs (nombre)"
    assert classify(counts, "councils_active", lang="en").title == "CLSM active (number)"
    assert all(re.fullmatch(r"\d+( à \d+)?", lab) for lab in jenks.labels), jenks.labels
    assert len(set(jenks.colors)) == 3
    few = classify(pd.Series([1, 1, 2]), "councils_active", k=5)
    assert len(few.labels) == 2  # fewer distinct values than classes: one class per value
    with pytest.raises(InputError, match="méthode de classes .jenks. inconnue"):
        classify(shares, "qpv_covered_share", scheme="jenks")
    with pytest.raises(InputError, match="demande des bornes"):
        classify(shares, "qpv_covered_share", scheme="user_defined")
    with pytest.raises(InputError, match="indicateur .nope. inconnu"):
        classify(shares, "nope")


def test_result_plot_returns_a_figure(res):
    from matplotlib.figure import Figure

    fig = res.plot(level="department", indicator="councils_active", scheme="equal_interval", k=4)
    assert isinstance(fig, Figure)
    assert any("CLSM actifs" in t.get_text() for t in fig.texts)


def test_cli_choropleth(res, tmp_path, capsys):
    from clsm_geo.cli import main

    out = tmp_path / "share.svg"
    code = main(["--offline", "--quiet", "map", "choropleth", "--year", "2024", "--registry", str(REGISTRY),
                 "--level", "department", "--scheme", "user_defined", "--bins", "10,25,50", "--out", str(out)])
    assert code == 0 and out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "carte écrite dans" in capsys.readouterr().out
    assert "11 à 25\xa0%" in _texts(out.read_text(encoding="utf-8"))
    code = main(["--offline", "--quiet", "--lang", "en", "map", "choropleth", "--registry", str(REGISTRY),
                 "--out", str(out)])
    text = _texts(out.read_text(encoding="utf-8"))
    assert code == 0 and "Share of QPV covered (%)" in text and "Part des" not in text
    assert "map written to" in capsys.readouterr().out
    code = main(["--offline", "--quiet", "map", "councils", "--registry", str(REGISTRY), "--out",
                 str(tmp_path / "c.txt")])
    assert code == 2 and ".png, .svg ou .pdf" in capsys.readouterr().err


@given(st.lists(st.one_of(st.integers(0, 100).map(float), st.floats(0, 1e6, allow_nan=False)), min_size=1,
                max_size=200), st.integers(1, 9), st.sampled_from(["quantiles", "equal_interval"]))
@settings(max_examples=300, deadline=None)
def test_upper_bounds_are_mapclassifys(values, k, scheme):
    """The class bounds computed without importing mapclassify are mapclassify's own, ties included."""
    import warnings

    import mapclassify

    from clsm_geo.maps.style import upper_bounds

    y = np.asarray(values)
    if scheme == "equal_interval" and y.min() == y.max():
        return  # a single value is one class per value before any scheme is asked (style.classify)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = (mapclassify.Quantiles(y, k=k) if scheme == "quantiles" else mapclassify.EqualInterval(y, k=k)).bins
    assert upper_bounds(scheme, y, k) == list(expected)


def test_outlines_projected_once_give_the_same_map(res, tmp_path):
    """The outlines of a geography projected for a panel are kept (insets.select(keep=True),
    static.prepare): a map drawn with them kept is the same file as one drawn from nothing, and a frame
    that is not the geography's is projected again."""
    from clsm_geo.maps import insets

    insets._KEPT.clear()
    cold = static.choropleth(res, level="department", path=tmp_path / "cold.png")
    static.prepare(res.vintage.geography)
    geo = res.vintage.geography
    layout = insets.national_layout(geo.departments, keep=True)
    assert layout is insets.national_layout(geo.departments, keep=True)
    panel = insets.Panel(None, *layout[0][1:4], layout[0][0])
    assert insets.select(geo.departments, panel, keep=True) is insets.select(geo.departments, panel, keep=True)
    copy = geo.departments.copy()
    assert insets.select(copy, panel, keep=True) is not insets.select(geo.departments, panel, keep=True)
    assert insets.select(copy, panel) is not insets.select(copy, panel)  # not kept unless asked
    static.choropleth(res, level="department", path=tmp_path / "warm.png")
    assert cold is not None and (tmp_path / "cold.png").read_bytes() == (tmp_path / "warm.png").read_bytes()


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_palette_colours_are_matplotlibs(stop):
    """The palettes offered come from a shipped table (no matplotlib import for an interactive map): the
    colour at any stop is the one matplotlib gives."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    from clsm_geo.maps._names import PALETTES
    from clsm_geo.maps.style import PALETTE_RANGE, palette_colours

    for name in PALETTES:
        assert palette_colours(name, [stop]) == [to_hex(colormaps[name](stop))]
        for n in (2, 3, 5, 7):
            stops = list(np.linspace(*PALETTE_RANGE, n))
            assert palette_colours(name, stops) == [to_hex(colormaps[name](s)) for s in stops]
    assert palette_colours("magma", [stop]) == [to_hex(colormaps["magma"](stop))]  # not shipped: matplotlib's


def test_the_palette_table_is_rebuilt_identical():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(REPO / "scripts" / "build_palettes.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("draw", [
    lambda res, lang: static.choropleth(res, level="department", lang=lang),
    lambda res, lang: static.choropleth(res, level="region", lang=lang),
    lambda res, lang: static.choropleth(res, level="department", region="84", lang=lang),
    lambda res, lang: static.councils_map(res, lang=lang),
    lambda res, lang: static.qpv_map(res, lang=lang),
], ids=["departments", "regions", "one-region", "councils", "qpv"])
def test_legends_stay_inside_the_figure(res, lang, draw):
    """Long legend labels (territories without data, in French the longest) are wrapped: the legend ends
    inside the figure, not cut at its right edge (as the report's national map was)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = draw(res, lang)
    renderer = FigureCanvasAgg(fig).get_renderer()
    box = fig.bbox
    for legend in fig.legends:
        extent = legend.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1, extent
