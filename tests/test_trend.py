"""Years side by side, with the QPV geography in force each year, against answers known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

import clsm_geo
from clsm_geo.cli import main
from clsm_geo.trend import NATIONAL_COLUMNS, trend

OCCITANIE_2015 = "qpv/qpv2015_occitanie_hackaviz2021/qp.geojson"
LIST_2024 = "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    path = tmp_path_factory.mktemp("trend") / "reg.csv"
    path.write_text(
        "id,name,status,created,closed,communes\n"
        "A,Perpignan,actif,2016,,66136\n"                 # created 2016 on 2015-geography QP
        "B,Toulouse,en_sommeil,2018,2024,31555\n"          # active 2018-2023
        "C,Montpellier,en_projet,,,34172\n"
        "D,Nîmes,actif,2024,,30189\n", encoding="utf-8")
    return path


def test_trend_known_answers_for_every_year(registry, shared):
    import json

    features = pd.json_normalize(json.loads((shared / OCCITANIE_2015).read_text())["features"])
    qp_by_commune = features.groupby("properties.code_commune")["properties.code_qp"].agg(set)
    list2024 = pd.read_csv(shared / LIST_2024, dtype=str)
    communes_2024 = list2024.groupby("code_qp")["insee_com"].agg(set)

    def expected_2024(covered: set[str]) -> tuple[int, int]:
        inside = communes_2024.map(lambda cs: len(cs & covered))
        full = communes_2024.map(len)
        metro = ~communes_2024.index.str.startswith("QN97")
        return int(((inside > 0) & metro).sum()), int(((inside > 0) & (inside < full) & metro).sum())

    layer2015 = clsm_geo.qpv(2015, shared / OCCITANIE_2015)
    result = trend(registry, 2015, 2025, qpv={2015: layer2015}, method="commune").national.set_index("year")
    assert list(result.columns) == NATIONAL_COLUMNS[1:]
    perpignan, toulouse = len(qp_by_commune["66136"]), len(qp_by_commune["31555"])
    expected = {
        2015: (0, 0, 1, 0, 0), 2016: (1, 1, 1, 1, perpignan), 2017: (1, 0, 1, 1, perpignan),
        2018: (2, 1, 1, 2, perpignan + toulouse), 2023: (2, 0, 1, 2, perpignan + toulouse),
    }
    for year, (active, new, project, covering, covered) in expected.items():
        row = result.loc[year]
        assert (row.councils_active, row.councils_new, row.councils_in_project, row.councils_covering_qpv,
                row.qpv_covered) == (active, new, project, covering, covered), year
        assert row.qpv_geography == 2015 and row.qpv_total == 105
    covered24, partial24 = expected_2024({"66136", "30189"})
    row = result.loc[2024]
    assert (row.qpv_geography, row.cog_year, row.councils_active, row.councils_new) == (2024, 2024, 2, 1)
    assert (row.qpv_covered, row.qpv_partial, row.qpv_total) == (covered24, partial24, 1362)
    assert result.loc[2025, "cog_year"] == 2025 and result.loc[2025, "qpv_total"] == 1493


def test_a_2015_qpv_counts_until_2023_and_is_gone_in_2024(registry, shared):
    layer2015 = clsm_geo.qpv(2015, shared / OCCITANIE_2015)
    in_2016 = clsm_geo.coverage(registry, 2016, qpv=layer2015, method="commune")
    perpignan_qp = set(in_2016.qpv.loc[in_2016.qpv["status"] == "covered", "code_qp"])
    assert perpignan_qp and all(code.startswith("QP066") for code in perpignan_qp)
    in_2024 = clsm_geo.coverage(registry, 2024, method="commune")
    assert not perpignan_qp & set(in_2024.qpv["code_qp"])
    assert set(in_2024.councils_table.set_index("id").loc["A", "qpv_codes"]) <= set(in_2024.qpv["code_qp"])


def test_missing_2015_layer_keeps_council_counts_and_says_how_to_get_it(registry):
    result = trend(registry, 2022, 2024).national.set_index("year")
    assert pd.isna(result.loc[2022, "qpv_total"]) and result.loc[2022, "councils_active"] == 2
    assert "clsm-geo data fetch --qpv 2015" in result.loc[2022, "note"]
    assert result.loc[2024, "qpv_total"] == 1362


def test_polygons_missing_means_commune_method_and_a_note(registry, shared):
    result = trend(registry, 2023, 2024, qpv={2015: shared / OCCITANIE_2015, 2024: shared / LIST_2024})
    national = result.national.set_index("year")
    assert national.loc[2023, "method"] == "auto" and national.loc[2024, "method"] == "commune"
    assert "méthode des communes" in national.loc[2024, "note"]
    assert set(result.regions["year"]) == {2023, 2024}


def test_cli_trend_writes_csv_and_charts(registry, shared, tmp_path, capsys):
    code = main(["trend", "--from", "2022", "--to", "2025", "--registry", str(registry),
                 "--qpv-2015", str(shared / OCCITANIE_2015), "--out", str(tmp_path / "t")])
    out = capsys.readouterr().out
    assert code == 0 and "2025" in out
    header = out.splitlines()[0].split()
    assert header[:3] == ["année", "géographie", "QPV"] and "part couverte" in out.splitlines()[0]
    assert "1\u202f362" in out and "5 fichiers écrits dans" in out
    names = {p.name for p in (tmp_path / "t").iterdir()}
    assert names == {"trend.csv", "trend_regions.csv", "trend.xlsx", "trend.png", "trend.svg"}
    first = {p.name: p.read_bytes() for p in (tmp_path / "t").iterdir()}
    main(["-q", "trend", "--from", "2022", "--to", "2025", "--registry", str(registry),
          "--qpv-2015", str(shared / OCCITANIE_2015), "--out", str(tmp_path / "t")])
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "t").iterdir()}
    assert "géographie QPV 2024 à partir de 2024" in first["trend.svg"].decode("utf-8")
    assert main(["--lang", "en", "trend", "--from", "2024", "--to", "2025", "--registry", str(registry),
                 "--out", str(tmp_path / "en")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["year", "QPV", "geography"] and "1,362" in out
    assert "Share of QPV covered (%)" in (tmp_path / "en" / "trend.svg").read_text(encoding="utf-8")


def test_trend_chart_leaves_matplotlib_global_state_alone(registry, shared, tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    from clsm_geo.charts import trend_figure

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    national = trend(registry, 2023, 2024, qpv={2015: shared / OCCITANIE_2015}, method="commune").national
    fig = trend_figure(national, "en")
    assert [t.get_text() for t in fig.axes[0].texts] == ["metropolitan France: QPV 2024 geography from 2024"]
    assert fig.axes[0].get_title() == "CLSM network and QPV coverage by year"
    assert trend_figure(national).axes[0].get_title() == "Réseau des CLSM et couverture des QPV par année"
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures


def test_trend_notes_one_line_per_run_of_years_with_the_same_note():
    from clsm_geo.cli.trend import note_lines

    national = pd.DataFrame({"year": [2019, 2020, 2021, 2022, 2023, 2024, 2025],
                             "note": ["A", "A", "", "A", "A", "B", None]})
    assert note_lines(national, "fr") == ["remarque 2019–2020\u00a0: A", "remarque 2022–2023\u00a0: A",
                                          "remarque 2024\u00a0: B"]
    assert note_lines(national, "en")[-1] == "note 2024: B"
