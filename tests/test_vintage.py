"""One vintage per year: built once, passed down, read by every stage instead of a year looked up again."""

from __future__ import annotations

from pathlib import Path

import pytest

import clsm_geo
from clsm_geo import gaps
from clsm_geo.errors import DataSourceError, InputError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


@pytest.fixture(scope="module")
def v2024():
    return clsm_geo.vintage(2024)


def test_a_vintage_carries_the_year_data(v2024):
    assert v2024.year == 2024 and v2024.cog_year == 2024 and v2024.geography.year == 2024
    assert len(v2024.units) == len(v2024.unit_index) == v2024.adjacency.shared.shape[0]
    assert list(v2024.relation.qpv_codes) == v2024.layer.frame["code_qp"].tolist()
    assert v2024.relation is v2024.relation  # built once
    assert repr(v2024) == "<Vintage 2024: COG 2024, QPV 2024>"


def test_coverage_uses_the_vintage_given_and_keeps_it(v2024):
    res = clsm_geo.coverage(EXAMPLE, 2024, vintage=v2024)
    again = clsm_geo.coverage(EXAMPLE, 2024)
    assert res.vintage is v2024 and again.vintage is not v2024
    assert res.summary == again.summary
    assert res.qpv.drop(columns="geometry").equals(again.qpv.drop(columns="geometry"))
    net = gaps.network(res)
    assert net.rel is v2024.relation and net.units is v2024.unit_attributes and net.geo is v2024.geography
    assert res.regions.equals(again.regions)
    by_year = clsm_geo.build_perimeters(res.registry, 2024, overlaps=False)
    assert (res.perimeters.matrix != by_year.matrix).nnz == 0 and res.perimeters.problems == by_year.problems


def test_a_vintage_of_another_year_is_refused(v2024):
    with pytest.raises(InputError, match="le millésime donné est celui de 2024, pas de 2025"):
        clsm_geo.coverage(EXAMPLE, 2025, vintage=v2024)


def test_years_before_the_first_cog_need_the_2015_geography_and_2014_is_refused():
    with pytest.raises(DataSourceError, match="aucune couche QPV 2015 disponible pour 2020"):
        clsm_geo.vintage(2020)  # the 2015 geography is neither given, cached (isolated cache) nor shipped
    with pytest.raises(InputError, match="année 2014 non disponible"):
        clsm_geo.vintage(2014)


def test_the_default_layer_is_read_once_and_again_when_its_file_or_the_language_changes(shared):
    from clsm_geo import i18n
    from clsm_geo.in_force import layer_for_year
    from clsm_geo.cache import cache_remove
    from clsm_geo.qpv import fetch_qpv

    first = layer_for_year(2024)
    assert layer_for_year(2024) is first and first.parts[0].source.kind == "shipped"
    assert clsm_geo.vintage(2024).relation is clsm_geo.vintage(2024).relation  # nor the relation recomputed
    i18n.set_lang("en")
    try:
        english = layer_for_year(2024)
    finally:
        i18n.set_lang(None)
    assert english is not first and english.missing[0].reason.startswith("no QPV 2015 layer available")
    assert first.missing[0].reason.startswith("aucune couche QPV 2015 disponible")
    fetch_qpv(2024, shared / "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson")  # into this test's cache
    try:
        cached = layer_for_year(2024)
        assert cached is not first and cached.parts[0].source.kind == "cache"
        assert int((cached.frame["qpv_geography"] == 2024).sum()) == 135 and layer_for_year(2024) is cached
    finally:  # module fixtures of the next test file read the settings of this test before they are reset
        cache_remove("qpv2024")
    assert layer_for_year(2024).parts[0].source.kind == "shipped"
