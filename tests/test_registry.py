"""Reading the councils' registry: formats, encodings, statuses, and problems with row and column."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from clsm_geo.errors import InputError, RegistryError
from clsm_geo.registry import parse_year, read_registry, split_codes

HEADER = "id;name;status;created;communes;epci\n"


@pytest.fixture(autouse=True)
def _english(request):
    """The tests written against the English messages read them in English; ``french`` tests opt out."""
    from clsm_geo import i18n

    i18n.set_lang("fr" if getattr(request.function, "french", False) else "en")


def write(tmp_path, text: str, name="reg.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems_at(problems, severity):
    return {(p.row, p.column) for p in problems if p.severity == severity}


def test_semicolon_csv_with_quoted_code_lists(tmp_path):
    path = write(tmp_path, HEADER + 'A;CLSM A;actif;2015;"75118;75119";\nB;CLSM B;en_projet;;;200046977\n')
    reg = read_registry(path)
    assert reg.councils["id"].tolist() == ["A", "B"]
    assert reg.councils.loc[0, "communes"] == ("75118", "75119")
    assert reg.councils.loc[1, "epci"] == ("200046977",)
    assert reg.councils["status"].tolist() == ["active", "in_project"]
    assert reg.councils.loc[0, "created"] == 2015 and pd.isna(reg.councils.loc[1, "created"])
    assert reg.councils["row"].tolist() == [2, 3]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "latin-1"])
def test_encodings_of_french_spreadsheet_exports(tmp_path, encoding):
    text = "id,name,status,created,communes\nA,CLSM de Saint-Étienne,Fermé,2010,42218\n"
    reg = read_registry(write(tmp_path, text, encoding=encoding), strict=False)
    assert reg.councils.loc[0, "name"] == "CLSM de Saint-Étienne"
    assert reg.councils.loc[0, "status"] == "closed"


@pytest.mark.parametrize("text,expected", [
    ("actif", "active"), ("ACTIF", "active"), ("Active", "active"), ("en projet", "in_project"),
    ("En_Projet", "in_project"), ("in project", "in_project"), ("en sommeil", "dormant"), ("Dormant", "dormant"),
    ("fermé", "closed"), ("FERME", "closed"), ("closed", "closed"),
])
def test_status_values_any_case_and_accents(tmp_path, text, expected):
    path = write(tmp_path, HEADER + f"A;X;{text};2015;01004;\n")
    assert read_registry(path, strict=False).councils.loc[0, "status"] == expected


def test_every_error_names_row_and_column(tmp_path):
    text = HEADER + ("A;ok;actif;2015;01004;\n"
                     "A;dup;actif;2015;01004;\n"          # duplicate id
                     "C;bad status;zombie;2015;01004;\n"   # unknown status
                     "D;bad year;actif;20x5;01004;\n"      # bad year
                     "E;no perimeter;actif;2015;;\n"       # no perimeter
                     "F;bad code;actif;2015;ABCDE;\n"      # not a code
                     "G;bad siren;actif;2015;;12345678X\n")
    with pytest.raises(RegistryError) as info:
        read_registry(write(tmp_path, text))
    errors = problems_at(info.value.problems, "error")
    assert errors == {(3, "id"), (4, "status"), (5, "created"), (6, "communes"), (7, "communes"), (8, "epci")}
    message = str(info.value)
    assert "row 3, column 'id'" in message and "duplicate id (first used on row 2)" in message


def test_non_strict_keeps_good_rows_and_reports_bad_ones(tmp_path):
    text = HEADER + "A;ok;actif;2015;01004;\nB;bad;actif;;01004;\n"
    reg = read_registry(write(tmp_path, text), strict=False)
    assert reg.councils["id"].tolist() == ["A"]
    assert problems_at(reg.problems, "error") == {(3, "created")}


def test_warnings_leading_zero_twice_dates(tmp_path):
    text = HEADER + "A;x;actif;2019-05-12;1004;\nB;y;actif;12/05/2018;\"01004;01004\";\n"
    reg = read_registry(write(tmp_path, text))
    assert reg.councils["created"].tolist() == [2019, 2018]
    assert reg.councils.loc[0, "communes"] == ("01004",)
    assert reg.councils.loc[1, "communes"] == ("01004",)
    messages = {(p.row, p.column): p.message for p in reg.problems}
    assert "leading zero" in messages[(2, "communes")]
    assert "date" in messages[(2, "created")]
    assert messages[(3, "communes")] == "listed twice"


def test_comment_lines_keep_row_numbers_true_to_the_file(tmp_path):
    text = "# fictitious\n# second comment\n" + HEADER + "A;x;actif;2015;01004;\nB;y;actif;bad;01004;\n"
    reg = read_registry(write(tmp_path, text), strict=False)
    assert reg.councils["row"].tolist() == [4]
    assert problems_at(reg.problems, "error") == {(5, "created")}


def test_malformed_row_is_reported_with_its_row(tmp_path):
    text = HEADER + "A;x;actif;2015;75118;75119;200046977\n"   # unquoted ';' inside the communes cell
    with pytest.raises(RegistryError) as info:
        read_registry(write(tmp_path, text))
    (problem,) = info.value.problems
    assert problem.row == 2 and "7 cells where the header has 6" in problem.message
    # With an empty last cell the row still parses, and the misplaced code is caught in its column.
    with pytest.raises(RegistryError) as info:
        read_registry(write(tmp_path, HEADER + "A;x;actif;2015;75118;75119;\n"))
    assert problems_at(info.value.problems, "error") == {(2, "epci")}


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\xff" * 100, b"id;name\n"])
def test_unreadable_or_empty_files_give_clear_errors(tmp_path, content):
    path = tmp_path / "reg.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_registry(path)
    assert "reg.csv" in str(info.value)


def test_missing_required_column(tmp_path):
    with pytest.raises(RegistryError) as info:
        read_registry(write(tmp_path, "id;communes\nA;01004\n"))
    assert {p.column for p in info.value.problems} == {"name", "status"}


def test_french_column_aliases(tmp_path):
    text = "Identifiant;Nom;Statut;Année création;Communes;SIREN EPCI\nA;x;actif;2015;01004;\n"
    reg = read_registry(write(tmp_path, text))
    assert reg.councils.loc[0, "created"] == 2015


def test_xlsx_with_numeric_cells(tmp_path):
    path = tmp_path / "reg.xlsx"
    pd.DataFrame({"id": ["A"], "name": ["x"], "status": ["actif"], "created": [2015],
                  "communes": [1004]}).to_excel(path, index=False)
    reg = read_registry(path)
    assert reg.councils.loc[0, "communes"] == ("01004",)
    assert reg.councils.loc[0, "created"] == 2015


def test_geojson_registry_carries_its_own_geometry(tmp_path):
    import geopandas as gpd

    poly = shapely.box(5.36, 43.29, 5.38, 43.31)
    path = tmp_path / "reg.geojson"
    gpd.GeoDataFrame({"id": ["A"], "name": ["infra"], "status": ["actif"], "created": ["2020"]},
                     geometry=[poly], crs=4326).to_file(path)
    reg = read_registry(path)
    assert reg.councils.loc[0, "geometry"].equals(poly)


def test_registry_file_is_never_written(tmp_path):
    path = write(tmp_path, HEADER + "A;x;actif;2015;1004;\n")
    before = path.read_bytes()
    read_registry(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("text,year", [("2019", 2019), ("2019.0", 2019), ("2019-01-31", 2019),
                                       ("31/01/2019", 2019), ("", None), ("1850", None), ("soon", None)])
def test_parse_year(text, year):
    assert parse_year(text)[0] == year


def test_split_codes():
    assert split_codes(" 75118 ; 75119,75120|13201\n13202 ") == ["75118", "75119", "75120", "13201", "13202"]


# --- suggestions: the closest valid value (rapidfuzz), messages in French by default -----------------------

def french(test):
    """Read the messages in French (the default language) in this test."""
    test.french = True
    return test


def by_place(problems):
    return {(p.row, p.column): p for p in problems}


@french
def test_a_commune_name_gets_its_insee_codes_with_the_department(tmp_path):
    path = write(tmp_path, HEADER + "A;CLSM A;actif;2015;Toulouse;\nB;CLSM B;actif;2015;Saint Denis;\n"
                                    "C;CLSM C;actif;2015;Toulous;\nD;CLSM D;actif;2015;3155;\n")
    problems = by_place(read_registry(path, strict=False).problems)
    toulouse = problems[(2, "communes")]
    assert toulouse.severity == "error" and toulouse.value == "Toulouse"
    assert toulouse.message == "nom de commune à la place d'un code INSEE"
    assert toulouse.suggestion == "code INSEE\u00a0: 31555 (Toulouse, Haute-Garonne (31))"
    homonyms = problems[(3, "communes")].suggestion           # every Saint-Denis, with its department
    assert "93066 (Saint-Denis, Seine-Saint-Denis (93))" in homonyms and "97411 (Saint-Denis, La Réunion (974))" in homonyms
    assert homonyms.startswith("codes INSEE\u00a0: ")                 # several codes: the plural
    typo = problems[(4, "communes")]
    assert typo.suggestion.startswith("noms les plus proches\u00a0: 31555 (Toulouse")
    assert "31555" not in (problems[(5, "communes")].suggestion or "")   # digits: no name look-up, the code rule


@french
def test_an_epci_name_gets_its_siren(tmp_path):
    path = write(tmp_path, HEADER + "A;CLSM A;actif;2015;;Toulouse Métropole\n")
    problem = by_place(read_registry(path, strict=False).problems)[(2, "epci")]
    assert problem.suggestion == "code SIREN\u00a0: 243100518 (Toulouse Métropole)"


@french
@pytest.mark.parametrize("typo, expected", [("actf", "actif"), ("ACTIF ", None), ("en projt", "en_projet"),
                                            ("fermé", None), ("sommeil", None), ("en_someil", "en_sommeil")])
def test_a_status_typo_proposes_the_closest_status(tmp_path, typo, expected):
    path = write(tmp_path, HEADER + f"A;CLSM A;{typo};2015;31555;\n")
    problems = by_place(read_registry(path, strict=False).problems)
    if expected is None:                                       # accepted spellings stay accepted
        assert (2, "status") not in problems
    else:
        assert problems[(2, "status")].suggestion.startswith(f"vouliez-vous dire «\u00a0{expected}\u00a0»")


@french
def test_an_unknown_or_misspelt_column_names_the_expected_one(tmp_path):
    path = write(tmp_path, "id;name;statut;created;comunes;notse\nA;CLSM A;actif;2015;31555;\n")
    with pytest.raises(RegistryError) as info:                 # 'comunes' is not read: no perimeter column
        read_registry(path)
    problems = by_place(info.value.problems)
    assert problems[(1, "communes")].suggestion == "renommez la colonne «\u00a0comunes\u00a0» en «\u00a0communes\u00a0»"
    reg = read_registry(write(tmp_path, "id;name;statut;created;communes;notse\nA;CLSM A;actif;2015;31555;\n",
                              name="r2.csv"), strict=False)
    notse = by_place(reg.problems)[(1, "notse")]
    assert notse.severity == "warning" and notse.suggestion.startswith("vouliez-vous dire «\u00a0notes\u00a0»")
    with pytest.raises(RegistryError) as info:
        read_registry(write(tmp_path, "id;nom;statu;created;communes\nA;x;actif;2015;31555\n", name="r3.csv"))
    assert by_place(info.value.problems)[(1, "status")].suggestion == "renommez la colonne «\u00a0statu\u00a0» en «\u00a0status\u00a0»"


@french
def test_closing_years_that_contradict_the_status_are_warned(tmp_path):
    import datetime

    future = datetime.date.today().year + 5
    path = write(tmp_path, "id;name;status;created;communes;closed\nA;CLSM A;actif;2015;31555;2020\n"
                           f"B;CLSM B;en_sommeil;2015;31555;{future}\nC;CLSM C;ferme;2015;31555;2019\n")
    reg = read_registry(path)                                   # warnings only: the registry is read
    warnings = by_place(reg.problems)
    assert warnings[(2, "closed")].message == "conseil actif avec une année de fermeture"
    assert warnings[(3, "closed")].message.startswith(f"année de fermeture {future} dans le futur")
    assert (4, "closed") not in warnings


@french
def test_the_validation_report_warns_on_a_creation_after_the_studied_year(tmp_path):
    from clsm_geo.validation import validate

    path = write(tmp_path, "id;name;status;created;communes\nA;CLSM A;actif;2015;31555\nB;CLSM B;actif;2025;69123\n")
    report = validate(path, 2024)
    late = [p for p in report.warnings if p.column == "created"]
    assert [(p.row, p.value) for p in late] == [(3, "2025")]
    assert late[0].message == "créé en 2025, après l'année étudiée 2024\u00a0: il n'est pas compté cette année"
    assert report.ok
    text = str(report)
    assert text.startswith("reg.csv\u00a0: 2 conseils vérifiés avec le COG 2024\u00a0: 0 erreur, 1 avertissement")
    assert "avertissement\u00a0: reg.csv, ligne 3, colonne «\u00a0created\u00a0»" in text


@french
def test_the_informative_region_column_is_checked_with_the_closest_names(tmp_path):
    path = write(tmp_path, "id;name;status;created;communes;region\nA;CLSM A;actif;2015;31555;Occitanie\n"
                           "B;CLSM B;actif;2015;31555;76\nC;CLSM C;actif;2015;31555;Ocitanie\n"
                           "D;CLSM D;actif;2015;31555;31\n")
    problems = by_place(read_registry(path).problems)
    assert (2, "region") not in problems and (3, "region") not in problems
    assert problems[(4, "region")].severity == "warning"
    assert problems[(4, "region")].suggestion.startswith("les plus proches\u00a0: Occitanie (76)")
    assert problems[(5, "region")].message == "31 n'est pas un code de région\u00a0: c'est le département Haute-Garonne"


def test_years_outside_the_shipped_data_are_refused_by_the_api_too(tmp_path):
    from clsm_geo.validation import validate

    path = write(tmp_path, HEADER + "A;CLSM A;actif;2015;31555;\n")
    for year in (2014, 2026, "x"):
        with pytest.raises(InputError, match="possible years 2015 to 2025"):
            validate(path, year)


def test_problems_name_the_columns_as_the_file_writes_them(tmp_path):
    """A registry with the French template's headers: every problem about a cell names the file's header
    (« Année de création », not the code ``created``), from reading, perimeters and validation alike; a
    missing column keeps its code, since the file has no header for it."""
    import datetime

    import clsm_geo

    late = datetime.date.today().year + 1
    path = write(tmp_path, "Identifiant,Nom du CLSM,Statut,Année de création,Communes (codes INSEE),EPCI (SIREN)\n"
                           "A,Un,actif,2015,75056,\nB,Deux,actif,20155,9305,\nC,Trois,bizarre,2016,Lille,\n"
                           f"D,Quatre,actif,{late},75056,\nE,Cinq,actif,2016,,200000000\n")
    report = clsm_geo.validate(path, 2024)
    named = {(p.row, p.column) for p in report.problems}
    assert {(3, "Année de création"), (3, "Communes (codes INSEE)"), (4, "Statut"), (4, "Communes (codes INSEE)"),
            (5, "Communes (codes INSEE)"), (5, "Année de création"), (6, "EPCI (SIREN)")} <= named
    codes = {"id", "name", "status", "created", "closed", "communes", "epci"}
    assert not {column for _, column in named} & codes
    with pytest.raises(RegistryError) as refused:
        read_registry(write(tmp_path, "Identifiant,Statut\nA,actif\n", name="short.csv"))
    assert [p.column for p in refused.value.problems if p.severity == "error"] == ["name"]
