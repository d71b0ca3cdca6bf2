"""Static maps: files in each format, overseas insets drawn, legend and source line, byte-identical reruns,
regional zoom, classification, CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

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
    with pytest.raises(InputError, match="png, .svg or .pdf"):
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
    assert "Share of QPV covered by an active CLSM" in text and "(%)" in text
    # overseas: the 2015 geography still applies in 2024 and is not available here
    assert "no data (no QPV in force, or QPV geography not available)" in text
    assert re.search(r"\b\d+ – \d+\s+\(\d+\)", text), "class bounds with counts"
    for part in ("registry_fictitious.csv", "ANCT 2024 geography", "COG 2024", "31 December 2024"):
        assert part in text, part
    for name in ("Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"):
        assert name in text, name


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
    assert "Île-de-France" in text and "Seine-Saint-Denis" in text and "departments" in text
    with pytest.raises(InputError, match="unknown region code"):
        static.choropleth(res, region="99")


def test_council_and_qpv_maps(res, tmp_path):
    static.councils_map(res, path=tmp_path / "councils.svg")
    text = _texts((tmp_path / "councils.svg").read_text(encoding="utf-8"))
    active = int(res.councils["status"].eq("active").sum())
    assert f"active  ({active})" in text and "in project" in text and "CLSM perimeters" in text
    static.qpv_map(res, region="84", path=tmp_path / "qpv.svg")
    text = _texts((tmp_path / "qpv.svg").read_text(encoding="utf-8"))
    assert "Auvergne-Rhône-Alpes" in text and "not covered" in text and "covered" in text


def test_classification_schemes():
    import pandas as pd

    shares = pd.Series([0.0, 0.05, 0.1, 0.2, 0.3, 0.5, np.nan])
    fractions = classify(shares, "qpv_covered_share", scheme="user_defined", bins=[0.1, 0.25])
    percents = classify(shares, "qpv_covered_share", scheme="user_defined", bins=[10, 25])
    assert fractions.labels == percents.labels == ["0 – 10", "10 – 25", "25 – 50"]
    assert list(fractions.index) == [0, 0, 0, 1, 2, 2, -1] and fractions.no_data == 1
    counts = pd.Series([0, 0, 1, 2, 3, 5, 8, 13, 21])
    jenks = classify(counts, "councils_active", scheme="fisher_jenks", k=3)
    assert len(jenks.labels) == 3 and jenks.title == "CLSM active (number of councils)"
    assert all(re.fullmatch(r"\d+( – \d+)?", lab) for lab in jenks.labels), jenks.labels
    assert len(set(jenks.colors)) == 3
    few = classify(pd.Series([1, 1, 2]), "councils_active", k=5)
    assert len(few.labels) == 2  # fewer distinct values than classes: one class per value
    with pytest.raises(InputError, match="unknown classification"):
        classify(shares, "qpv_covered_share", scheme="jenks")
    with pytest.raises(InputError, match="needs bins"):
        classify(shares, "qpv_covered_share", scheme="user_defined")
    with pytest.raises(InputError, match="unknown indicator"):
        classify(shares, "nope")


def test_result_plot_returns_a_figure(res):
    from matplotlib.figure import Figure

    fig = res.plot(level="department", indicator="councils_active", scheme="equal_interval", k=4)
    assert isinstance(fig, Figure)
    assert any("CLSM active" in t.get_text() for t in fig.texts)


def test_cli_choropleth(res, tmp_path, capsys):
    from clsm_geo.cli import main

    out = tmp_path / "share.svg"
    code = main(["--offline", "--quiet", "map", "choropleth", "--year", "2024", "--registry", str(REGISTRY),
                 "--level", "department", "--scheme", "user_defined", "--bins", "10,25,50", "--out", str(out)])
    assert code == 0 and out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "map written to" in capsys.readouterr().out
    assert "10 – 25" in _texts(out.read_text(encoding="utf-8"))
    code = main(["--offline", "--quiet", "map", "councils", "--registry", str(REGISTRY), "--out",
                 str(tmp_path / "c.txt")])
    assert code == 2 and "png, .svg or .pdf" in capsys.readouterr().err
