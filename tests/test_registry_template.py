"""The registry template: written, filled by a person (openpyxl here), read back as is; moved cells caught."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from clsm_geo import read_registry
from clsm_geo.cli import main
from clsm_geo.errors import InputError
from clsm_geo.registry_template import write_template
from clsm_geo.validation import validate

ROWS = [
    ["T1", "CLSM de Toulouse", "actif", 2015, None, "31555", None, "76", None],
    ["T2", "CLSM Paris 18-19", "en projet", None, None, "75118;75119", None, None, "deux arrondissements"],
    ["T3", "CLSM de la Métropole de Lyon", "fermé", 2012, 2023, None, "200046977", None, None],
    ["T4", "CLSM Cherbourg (Équeurdreville)", "en sommeil", 2018, 2024, "50173", None, None, None],
]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "registre.xlsx"
    write_template(path, 2025, "fr")
    return path


def _filled(template, tmp_path, edit=None):
    wb = load_workbook(template)
    ws = wb["Registre"]
    for i, row in enumerate(ROWS, start=2):
        for j, value in enumerate(row, start=1):
            ws.cell(row=i, column=j, value=value)
    if edit:
        edit(wb)
    path = tmp_path / "rempli.xlsx"
    wb.save(path)
    return path


def test_the_template_has_its_sheets_lists_and_checks(template):
    wb = load_workbook(template)
    assert wb.sheetnames[:4] == ["Registre", "Instructions", "Communes", "EPCI"]
    reg = wb["Registre"]
    assert [c.value for c in reg[1]] == ["Identifiant", "Nom du CLSM", "Statut", "Année de création",
                                         "Année de fermeture", "Communes (codes INSEE)", "EPCI (SIREN)", "Région",
                                         "Notes"]
    assert reg.freeze_panes == "A2"
    kinds = {dv.type: dv for dv in reg.data_validations.dataValidation}
    assert kinds["list"].formula1 == '"actif,en projet,en sommeil,fermé"'
    assert (kinds["whole"].formula1, kinds["whole"].formula2) == ("1990", "2100")
    communes = {r[0]: r for r in wb["Communes"].iter_rows(min_row=2, values_only=True)}
    assert communes["01053"][1] == "Bourg-en-Bresse" and communes["75118"][3] == "arrondissement municipal"
    assert "93059" not in communes  # merged into Saint-Denis on 1 January 2025 (COG 2025)
    epci = {r[0]: r for r in wb["EPCI"].iter_rows(min_row=2, values_only=True)}
    assert epci["200046977"][1] == "Métropole de Lyon"
    text = " ".join(str(c.value) for row in wb["Instructions"].iter_rows() for c in row if c.value)
    assert "75118;75119" in text and "200046977" in text and "clsm-geo registry check" in text
    assert wb["_clsm_geo"].sheet_state == "hidden"


def test_rewriting_the_template_gives_the_same_bytes(template, tmp_path):
    again = write_template(tmp_path / "again.xlsx", 2025, "fr")
    assert again.read_bytes() == template.read_bytes()


def test_a_filled_template_reads_back_as_the_same_registry(template, tmp_path):
    path = _filled(template, tmp_path)
    reg = read_registry(path)
    csv = tmp_path / "same.csv"
    pd.DataFrame(ROWS, columns=["id", "name", "status", "created", "closed", "communes", "epci", "region",
                                "notes"]).astype("string").to_csv(csv, index=False)
    same = read_registry(csv)
    cols = ["id", "name", "status", "created", "closed", "communes", "epci", "row"]
    pd.testing.assert_frame_equal(reg.councils[cols], same.councils[cols])
    assert list(reg.councils["status"]) == ["active", "in_project", "closed", "dormant"]
    assert validate(path, 2025).ok
    assert main(["--offline", "registry", "check", str(path), "--year", "2025"]) == 0


def test_an_english_template_reads_back_too(tmp_path):
    path = write_template(tmp_path / "registry.xlsx", 2024, "en", reference_sheets=False)
    wb = load_workbook(path)
    ws = wb["Registry"]
    ws.append(["E1", "CLSM Toulouse", "active", 2015, None, "31555", None, None, None])
    wb.save(path)
    assert list(read_registry(path).councils["id"]) == ["E1"]


@pytest.mark.parametrize("edit, where", [
    (lambda wb: setattr(wb["Registre"], "title", "Feuil1"), "«\u00a0Registre\u00a0»"),
    (lambda wb: setattr(wb["Registre"]["C1"], "value", "Etat du CLSM"), "C1"),
    (lambda wb: wb["Registre"].delete_cols(4), "D1"),
    (lambda wb: wb["Registre"].move_range("A1:I5", cols=1), "A1"),
])
def test_moved_renamed_or_deleted_cells_are_named(template, tmp_path, edit, where):
    light = write_template(tmp_path / "light.xlsx", 2025, "fr", reference_sheets=False)
    path = _filled(light, tmp_path, edit)
    with pytest.raises(InputError) as err:
        read_registry(path)
    assert where in str(err.value) and "rempli.xlsx" in str(err.value)


def test_cli_writes_the_template_and_refuses_a_non_workbook_name(tmp_path, capsys):
    assert main(["--offline", "registry", "template", "--out", str(tmp_path / "r.xlsx"), "--year", "2024"]) == 0
    assert (tmp_path / "r.xlsx").is_file()
    assert main(["--offline", "registry", "template", "--out", str(tmp_path / "r.csv")]) == 2
    assert ".xlsx" in capsys.readouterr().err
