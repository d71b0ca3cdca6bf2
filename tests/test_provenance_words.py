"""The QPV source is described to people in their language; ``summary.json`` keeps the recorded text."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

import clsm_geo
from clsm_geo import i18n, provenance
from clsm_geo.provenance import source_line
from clsm_geo.report import report
from conftest import SHARED

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
PACA = SHARED / "qpv" / "qpv2024_paca_cartosante_skhtay" / "qpv-paca.geojson"


def _numbers(text: str) -> list[str]:
    return [n.replace(",", ".") for n in re.findall(r"\d+(?:[.,]\d+)?", text)]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_shipped_layer_is_described_with_the_recorded_figures(lang):
    """The catalogue's description of the shipped layer gives the figures recorded with the layer (its build
    writes them in the Parquet metadata): a rebuilt layer with other figures makes this fail."""
    source = clsm_geo.qpv(2024).source
    recorded = source.precision
    assert _numbers(provenance.precision(source, lang)) == _numbers(recorded)
    codes = set(re.findall(r"QN\w+", recorded))
    assert codes and codes <= set(re.findall(r"QN\w+", provenance.precision(source, lang)))


def test_french_outputs_describe_the_source_in_french(tmp_path):
    res = clsm_geo.coverage(EXAMPLE, 2024)
    recorded = res.summary["qpv_source"]
    assert recorded["edition"].startswith("ANCT QPV 2024 list by commune")  # machine record unchanged
    page = report(res).html
    assert "liste ANCT des QPV 2024 par commune" in page and "contours simplifiés à environ 10\u00a0m" in page
    assert "list by commune" not in page and "polygons simplified" not in page
    res.to_files(tmp_path, formats=("xlsx",))
    sheet = openpyxl.load_workbook(tmp_path / "coverage.xlsx")["Sources"]
    values = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any(v.startswith("liste ANCT des QPV 2024") for v in values)
    assert not any("list by commune" in v or "polygons simplified" in v for v in values)


@pytest.mark.parametrize("lang, line", [
    ("fr", "Source QPV\u00a0: fichier qpv-paca.geojson, contours de QPV fournis par l'utilisateur, contours tels "
           "que fournis"),
    ("en", "QPV source: file qpv-paca.geojson, user-supplied QPV polygons, polygons as supplied"),
])
def test_a_user_file_is_described_in_the_language_in_force(lang, line):
    layer = clsm_geo.qpv(2024, PACA)
    i18n.set_lang(lang)
    try:
        assert source_line(layer.source) == line
    finally:
        i18n.set_lang(None)
    assert layer.source.edition == "user-supplied QPV polygons (GeoJSON)"  # as recorded in summary.json


def test_an_assembled_layer_names_its_overseas_part_in_words():
    """2024 in force: the 2024 layer in metropolitan France, a 2015 file overseas; both parts in words."""
    occitanie_2015 = SHARED / "qpv" / "qpv2015_occitanie_hackaviz2021" / "qp.geojson"
    with pytest.warns(Warning):  # the file's invalid geometries are repaired, and said so
        source = clsm_geo.vintage(2024, qpv={2015: occitanie_2015}).layer.source
    assert source.edition.endswith("overseas: user-supplied QPV polygons (GeoJSON)")  # as recorded
    assert provenance.edition(source, "fr").endswith(
        "\u202f; outre-mer\u00a0: contours de QPV fournis par l'utilisateur (GeoJSON)")
    assert provenance.edition(source, "en").endswith("; overseas: user-supplied QPV polygons (GeoJSON)")


def test_the_verbose_detail_is_in_words_too():
    source = clsm_geo.qpv(2024).source
    fr, en = source.describe("fr"), source.describe("en")
    assert fr.startswith("couche livrée ") and "liste ANCT des QPV 2024" in fr and f"sha256 {source.sha256[:12]}…" in fr
    assert en.startswith("shipped layer ") and "ANCT list of the 2024 QPV" in en


def test_plural_counts_and_unknown_keys():
    parts = (("provenance.user.as_supplied", ()), ("provenance.user.repaired", (("n", 1),)),
             ("provenance.user.emptied", (("n", 3),)), ("provenance.shipped.edition_1999", ()))
    assert provenance.words(parts, "fr") == ("contours tels que fournis\u202f; 1 géométrie invalide réparée\u202f; "
                                             "3 QPV sans contour utilisable")
    assert provenance.words(parts, "en") == "polygons as supplied; 1 invalid geometry repaired; 3 QPV without usable polygon"
    assert provenance.words((("provenance.shipped.edition_1999", ()),), "fr") == ""  # the recorded text is shown


def test_every_official_file_of_the_catalogue_is_described_in_both_languages():
    from clsm_geo.qpv import catalogue

    ids = [r["id"] for g in catalogue()["geographies"].values() for r in g["resources"]]
    assert len(ids) >= 5
    for lang in ("fr", "en"):
        missing = [i for i in ids if not i18n.has(f"provenance.official.{i}", lang)]
        assert missing == [], (lang, missing)


def test_a_cached_official_file_is_described_in_the_language_in_force():
    """A file fetched from the catalogue keeps its recorded (published) edition in summary.json; people read
    the catalogue's words for that resource."""
    from clsm_geo.cache import cache_put

    cache_put("qpv2024", PACA, meta={"geography": 2024, "resource": "geojson_2025_02",
                                     "edition": "ANCT QPV 2024 perimeters, national WGS84 GeoJSON, data.gouv.fr "
                                                "upload of 2025-02-06"})
    source = clsm_geo.qpv(2024).source  # a regional file stands for the national one here
    assert source.kind == "cache" and source.edition.startswith("ANCT QPV 2024 perimeters")
    assert provenance.edition(source, "fr") == ("contours des QPV 2024 de l'ANCT, GeoJSON national en WGS84, dépôt "
                                                "data.gouv.fr du 6 février 2025")
    assert provenance.edition(source, "en").startswith("ANCT QPV 2024 perimeters, national WGS84 GeoJSON")
    assert provenance.precision(source, "fr") == "contours tels que fournis"
