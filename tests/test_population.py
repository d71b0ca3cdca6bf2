"""INSEE QPV populations: readers, sums against hand-computed values, and "not available" (never 0) without a file."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clsm_geo
from clsm_geo.cli import main
from clsm_geo.errors import InputError
from clsm_geo.population import population_for, read_population
from clsm_geo.qpv import QpvDataWarning

REPO = Path(__file__).resolve().parents[1]
OCCITANIE_QP = "qpv/qpv2015_occitanie_hackaviz2021/qp.csv"


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_official_fixtures",
                                                  REPO / "scripts" / "make_official_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("official"))


def registry(tmp_path, communes):
    lines = ["id,name,status,created,closed,communes,epci"]
    lines += [f"T{i},Council {i},actif,2015,,{c},," for i, c in enumerate(communes)]
    path = tmp_path / "reg.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(tmp_path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvDataWarning)
        return clsm_geo.coverage(registry(tmp_path, ["04112", "97414"]), 2024, **kwargs)


# ------------------------------------------------------------------------------------------ readers
def test_reads_the_insee_csv_and_workbook(fx):
    table, geography = read_population(fx["population_2024"])
    assert geography == 2024 and len(table) == 18
    assert table.set_index("code_qp").loc["QN00201M", "population"] == 1100
    table, geography = read_population(fx["population_2015"])  # five title lines above the header
    assert geography == 2015 and len(table) == 18
    assert table.set_index("code_qp").loc["QP974002", "population"] == 2800


def test_takes_the_qpv_population_never_the_communes(shared):
    table, geography = read_population(shared / OCCITANIE_QP)
    raw = pd.read_csv(shared / OCCITANIE_QP, dtype={"code_qp": str})
    assert geography == 2015 and len(table) == 105
    assert table.set_index("code_qp")["population"].to_dict() == raw.set_index("code_qp")["pop_mun"].astype(
        float).to_dict()


@pytest.mark.parametrize("text, french, english", [
    ("CODGEO;POP_MUN\nQN00201M;10\nQN00201M;12\n", "QPV présent deux fois\u00a0: QN00201M", "listed twice"),
    ("CODGEO;POP_MUN\nQN00201M;-3\n", "ligne 2, colonne «\u00a0POP_MUN\u00a0»\u00a0: population négative",
     "row 2, column 'POP_MUN': negative"),
    ("CODGEO;POP_MUN\nQN00201M;beaucoup\n", "ligne 2, colonne «\u00a0POP_MUN\u00a0»", "row 2, column 'POP_MUN'"),
    ("CODGEO;POP_MUN\n01053;100\n", "ligne 2, colonne «\u00a0CODGEO\u00a0»\u00a0: '01053' n'est pas un code QPV",
     "row 2, column 'CODGEO': '01053' is not a QPV code"),
    ("CODGEO;POP_MUN\nQN00201M;10\nQP004001;12\n", "mélange des codes QPV", "mixes QPV codes"),
    ("a;b\n1;2\n", "aucun en-tête", "no header"),
])
def test_bad_files_name_the_problem(tmp_path, text, french, english):
    """French by default, English with the language set: both name the file, row, column and value."""
    from clsm_geo import i18n

    path = tmp_path / "pop.csv"
    path.write_text(text, encoding="utf-8")
    i18n.set_lang("en")
    with pytest.raises(InputError, match=english):
        read_population(path)
    i18n.set_lang(None)
    with pytest.raises(InputError) as err:
        read_population(path)
    assert french in err.value.message and english not in err.value.message
    assert str(path) in err.value.message


def test_secret_values_stay_unknown(tmp_path):
    path = tmp_path / "pop.csv"
    path.write_bytes("\ufeffCODGEO;LIBGEO;POP_MUN\nQN00201M;Europe;1\u202f234\nQN00401M;X;s\n".encode("utf-8"))
    table, _ = read_population(path)
    assert table["population"].tolist()[0] == 1234 and np.isnan(table["population"].tolist()[1])


# ------------------------------------------------------------------------------------------ sums
def test_population_sums_equal_hand_computed_values(fx, tmp_path):
    """Fixture populations are 1000 + 100 i for the i-th QPV (sorted by code). In 2024 the metropolitan QPV
    (i = 1..10: 1100..2000) come from pop_QPV24.csv and the overseas ones of the 2015 geography (i = 11..18:
    2100..2800) from the 2015 file. Councils on Manosque (QN00402M 1300, QN00403M 1400) and Saint-Louis
    de La Réunion (QP974001 2700, QP974002 2800)."""
    res = run(tmp_path, qpv={2024: fx["geojson_2024"], 2015: fx["zip_2015"]},
              population=[fx["population_2024"], fx["population_2015"]])
    s = res.summary
    assert s["qpv_population"] == 15500 + 19600 == 35100
    assert s["qpv_population_covered"] == 1300 + 1400 + 2700 + 2800 == 8200
    assert s["qpv_population_covered_share"] == round(8200 / 35100, 6)
    assert "8\u202f200 habitants des QPV sur 35\u202f100 (23\u00a0%)" in s["headline"]
    regions = res.regions.set_index("insee_reg")
    assert regions.loc["93", "qpv_population"] == 1200 + 1300 + 1400 + 1500 + 1600 + 1700 + 1800
    assert regions.loc["93", "qpv_population_covered"] == 2700
    assert regions.loc["04", "qpv_population"] == regions.loc["04", "qpv_population_covered"] == 5500
    assert regions.loc["11", "qpv_population"] == 1900 + 2000 and regions.loc["11", "qpv_population_covered"] == 0
    deps = res.departments.set_index("insee_dep")
    assert deps.loc["971", "qpv_population"] == 2100 + 2200
    assert deps["qpv_population"].sum() == 35100
    q = res.qpv.set_index("code_qp")
    assert q.loc["QP974001", "population_covered"] == 2700 and q.loc["QN00201M", "population_covered"] == 0


def test_without_population_everything_says_not_available(fx, tmp_path):
    res = run(tmp_path, qpv={2024: fx["geojson_2024"], 2015: fx["zip_2015"]})
    s = res.summary
    assert s["qpv_population"] is None and s["qpv_population_covered_share"] is None
    assert s["population_missing_geographies"] == [2015, 2024]
    assert "habitants" not in s["headline"]  # no population figure (never 0); the tables say « non disponible »
    assert res.regions["qpv_population"].isna().all() and res.departments["qpv_population_covered"].isna().all()
    assert res.qpv["population"].isna().all()


def test_one_geography_only_gives_no_partial_national_sum(fx, tmp_path):
    res = run(tmp_path, qpv={2024: fx["geojson_2024"], 2015: fx["zip_2015"]}, population=fx["population_2024"])
    assert res.summary["qpv_population"] is None  # overseas 2015 QPV have no population: no misleading sum
    regions = res.regions.set_index("insee_reg")
    assert regions.loc["93", "qpv_population"] == 10500 and pd.isna(regions.loc["04", "qpv_population"])


def test_population_for_ignores_codes_of_other_layers(fx):
    frame = pd.DataFrame({"code_qp": ["QN00201M", "QN99999M"]})
    pop = population_for(frame, fx["population_2024"])
    assert pop.values[0] == 1100 and np.isnan(pop.values[1]) and pop.unmatched == ("QN99999M",)


def test_cli_population_option_and_cache(fx, tmp_path, capsys):
    reg = registry(tmp_path, ["04112", "97414"])
    args = ["coverage", "--registry", str(reg), "--qpv", str(fx["geojson_2024"]), "--qpv-2015", str(fx["zip_2015"]),
            "--out", str(tmp_path / "a")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QpvDataWarning)
        assert main(args + ["--population", str(fx["population_2024"]), "--population",
                            str(fx["population_2015"])]) == 0
        first = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
        assert first["qpv_population_covered"] == 8200
        # from the cache once fetched
        assert main(["data", "fetch", "--population", "2024", "--from", str(fx["population_2024"])]) == 0
        assert main(["data", "fetch", "--population", "2015", "--from", str(fx["population_2015"])]) == 0
        assert main(args[:-1] + [str(tmp_path / "b")]) == 0
    second = json.loads((tmp_path / "b" / "summary.json").read_text(encoding="utf-8"))
    assert second["qpv_population_covered"] == 8200 and len(second["population_sources"]) == 2
    # a 2015 file given as 2024 is refused, the cache unchanged
    assert main(["data", "fetch", "--population", "2024", "--from", str(fx["population_2015"])]) != 0
    assert "2015" in capsys.readouterr().err


def test_councils_table_gets_the_population_they_cover(fx, tmp_path):
    res = run(tmp_path, qpv={2024: fx["geojson_2024"], 2015: fx["zip_2015"]},
              population=[fx["population_2024"], fx["population_2015"]])
    councils = res.councils_table.set_index("id")
    assert councils.loc["T0", "qpv_population_covered"] == 1300 + 1400  # Manosque
    assert councils.loc["T1", "qpv_population_covered"] == 2700 + 2800  # Saint-Louis (La Réunion)
    assert run(tmp_path).councils_table["qpv_population_covered"].isna().all()
