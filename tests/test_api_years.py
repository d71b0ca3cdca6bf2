"""The Python API refuses a year it cannot measure instead of silently using the nearest COG vintage."""

from __future__ import annotations

from pathlib import Path

import pytest

import clsm_geo
from clsm_geo import i18n
from clsm_geo.errors import InputError
from clsm_geo.geography import SHIPPED_YEARS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
LAST = max(SHIPPED_YEARS)


@pytest.mark.parametrize("year", [LAST + 1, 2014, "2030", True])
def test_coverage_refuses_a_year_without_data(year):
    with pytest.raises(InputError) as info:
        clsm_geo.coverage(EXAMPLE, year=year)
    assert f"année {year} non disponible" in info.value.message
    assert f"2015 à {LAST}" in info.value.message
    assert "reconstruisez" in info.value.hint


def test_trend_refuses_a_year_without_data_in_english():
    with pytest.raises(InputError) as info:
        clsm_geo.trend(EXAMPLE, 2023, LAST + 1, lang="en")
    i18n.set_lang("en")
    try:
        assert info.value.message == i18n.t("cli.year.unavailable", year=LAST + 1, first=2015, last=LAST,
                                            vintages=", ".join(map(str, SHIPPED_YEARS)))
    finally:
        i18n.set_lang(None)


def test_trend_range_in_the_catalogue():
    with pytest.raises(InputError, match="--from 2024 est après --to 2023"):
        clsm_geo.trend(EXAMPLE, 2024, 2023)


def test_last_shipped_year_still_measured():
    res = clsm_geo.coverage(EXAMPLE, year=LAST)
    assert res.summary["year"] == LAST and res.summary["cog_year"] == LAST
