"""Workbooks for people (clsm_geo.workbook), the column catalogue and the data dictionary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import clsm_geo
from clsm_geo import columns, data_dictionary, i18n, workbook
from clsm_geo.cli import main
from clsm_geo.qpv import qpv
from clsm_geo.result import COUNCIL_COLUMNS
from clsm_geo.workbook import write_workbook

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def layer():
    return qpv(2024)


@pytest.fixture(scope="module")
def result(layer):
    return clsm_geo.coverage(EXAMPLE, 2024, qpv=layer)


@pytest.fixture(scope="module")
def coverage_books(result, tmp_path_factory):
    """coverage.xlsx in French (twice) and in English."""
    base = tmp_path_factory.mktemp("books")
    return {name: result.to_files(base / name, ("xlsx",), lang=lang)[-1]
            for name, lang in (("fr", "fr"), ("fr_again", "fr"), ("en", "en"))}


def _sheet(path, title):
    return openpyxl.load_workbook(path)[title]


def _headers(ws):
    return [c.value for c in ws[1]]


def _column(ws, header):
    i = _headers(ws).index(header) + 1
    return [row[0] for row in ws.iter_rows(min_row=2, min_col=i, max_col=i)]


def _formats(ws, header):
    """The number formats of a column: of its cells holding a value, and the column's own (which empty cells
    take in Excel and LibreOffice; openpyxl does not apply it to the cells it reads)."""
    cells = _column(ws, header)
    return {c.number_format for c in cells if c.value is not None} | {
        ws.column_dimensions[openpyxl.utils.get_column_letter(_headers(ws).index(header) + 1)].number_format}


def test_every_column_of_every_output_table_is_declared_and_labelled(result, layer, tmp_path):
    """The tables the commands write have exactly the declared columns, each with a label in both languages."""
    from clsm_geo.plan import priorities
    from clsm_geo.trend import trend
    from clsm_geo.validation import validate

    series = trend(result.registry, 2024, 2024, qpv={2024: layer})
    from clsm_geo.compare import compare

    comparison = compare(result, result)
    actual = {
        "qpv": result.qpv, "councils": result.councils_table[COUNCIL_COLUMNS], "regions": result.regions,
        "departments": result.departments, "reconciliation": result.reconciliation,
        "uncovered": result.uncovered(), "gaps": result.gaps(), "plan": result.plan(1),
        "priorities": priorities(result), "trend": series.national, "trend_regions": series.regions,
        "validation": validate(EXAMPLE, 2024).to_frame(), "compare_summary": comparison.figures(),
        "compare_councils": comparison.councils, "compare_qpv": comparison.qpv, "out_of_scope": result.out_of_scope,
    }
    declared = data_dictionary.output_tables()
    assert set(declared) == set(actual) | {"summary"}
    for name, frame in actual.items():
        assert [c for c in frame.columns if c != "geometry"] == list(declared[name]["columns"]), name
    summary_keys = {f"{k}.{sub}" if isinstance(v, dict) else k
                    for k, v in result.summary.items() for sub in (v if isinstance(v, dict) else [None])}
    assert summary_keys == set(declared["summary"]["columns"])
    for spec in declared.values():
        for col in spec["columns"]:
            for lang in i18n.LANGS:
                assert columns.label(col, lang) and columns.unit(col, lang) and columns.meaning(col, lang)
    # Every table goes into a workbook with its labels as headers.
    wb = openpyxl.load_workbook(write_workbook(actual, tmp_path / "all.xlsx", result.summary, "fr"))
    for name, frame in actual.items():
        ws = wb[i18n.t(f"workbook.sheet.{name}", "fr")]
        assert _headers(ws) == [columns.label(c, "fr") for c in frame.columns if c != "geometry"], name
        assert ws.max_row == len(frame) + 1 and ws.freeze_panes == "A2"
    assert columns.label("qpv_covered_share", "fr") == "Part des QPV couverts"
    assert columns.label("qpv_covered_share", "en") == "Share of QPV covered"


def test_a_column_without_label_is_refused():
    with pytest.raises(KeyError):
        columns.label("no_such_column", "fr")


def test_the_data_dictionary_is_generated_from_the_catalogue():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import build_data_dictionary
    finally:
        sys.path.remove(str(REPO / "scripts"))
    text = build_data_dictionary.build()
    assert (REPO / "docs" / "data-dictionary.md").read_text(encoding="utf-8") == text, \
        "docs/data-dictionary.md is out of date: run python scripts/build_data_dictionary.py"
    assert "| `qpv_covered_share` | Part des QPV couverts | Share of QPV covered |" in text
    for spec in data_dictionary.output_tables().values():
        for col in spec["columns"]:
            assert f"| `{col}` |" in text


def test_coverage_workbook_in_french(coverage_books, result):
    path = coverage_books["fr"]
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Chiffres clés", "QPV", "CLSM", "Régions", "Départements", "Écarts entre méthodes",
                             "Sources"]
    ws = wb["QPV"]
    assert _headers(ws) == [columns.label(c, "fr") for c in result.qpv.columns if c != "geometry"]
    assert _headers(ws)[:3] == ["Code QPV", "Nom du QPV", "Code département"]
    assert ws.max_row == len(result.qpv) + 1
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == ws.dimensions
    assert all(8 <= ws.column_dimensions[letter].width <= 62 for letter in "ABCDEFGHIJKLMNOPQ")
    # Codes are text cells: department 01 and commune 01053 keep their zero.
    first = {h: c for h, c in zip(_headers(ws), ws[2])}
    assert first["Code département"].value == "01" and first["Code département"].data_type == "s"
    assert first["Communes"].value == "01053" and first["Communes"].number_format == "@"
    assert first["SIREN de l'EPCI"].value == "200071751" and first["SIREN de l'EPCI"].data_type == "s"
    # Shares are numbers shown as percentages; statuses in French words.
    share = _column(ws, "Part couverte")
    assert all(isinstance(c.value, (int, float)) and 0 <= c.value <= 1 for c in share)
    assert {c.number_format for c in share} == {f'0.0"{NBSP}"%'}
    assert set(c.value for c in _column(ws, "Statut")) <= {"couvert", "partiellement couvert", "non couvert"}
    assert {c.value for c in _column(ws, "Méthode")} <= {"par communes", "géométrique"}
    # Areas as decimals, lists of codes as text. The format is the column's: an empty cell (a QPV whose area
    # is not measured) is not written, and a value typed there later takes the column's format.
    area = _column(ws, "Surface")
    assert {c.number_format for c in area if c.value is not None} == {"#,##0.0"}
    empty = [c for c in area if c.value is None]
    assert len(empty) == int(result.qpv["area_ha"].isna().sum()) > 0
    assert {c.number_format for c in empty} == {"General"}  # openpyxl does not apply column styles to cells
    assert ws.column_dimensions[empty[0].column_letter].number_format == "#,##0.0"
    assert ws.column_dimensions[first["Communes"].column_letter].number_format == "@"
    councils = wb["CLSM"]
    assert set(c.value for c in _column(councils, "Statut")) == {"actif", "en projet", "en sommeil", "fermé"}
    lyon = {h: c.value for h, c in zip(_headers(councils), councils[2])}
    assert lyon["Identifiant"] == "EX01" and lyon["Codes des QPV"].startswith("QN06901M;QN06902M;")
    assert _formats(councils, "Population") == {"#,##0"}
    assert _formats(councils, "Année de création") == {"0"}
    regions = wb["Régions"]
    assert _column(regions, "Code région")[0].value == "01"
    assert _formats(regions, "Part des QPV couverts") == {f'0.0"{NBSP}"%'}
    assert _formats(regions, "QPV") == {"#,##0"}


def test_summary_and_sources_sheets(coverage_books, result):
    wb = openpyxl.load_workbook(coverage_books["fr"])
    figures = {row[2].value: row[1] for row in wb["Chiffres clés"].iter_rows(min_row=2)}
    assert _headers(wb["Chiffres clés"]) == ["Indicateur", "Valeur", "Code"]
    assert wb["Chiffres clés"]["C2"].value == "headline"
    assert figures["qpv_total"].value == 1362 and figures["qpv_total"].number_format == "#,##0"
    assert figures["qpv_covered_share"].value == pytest.approx(result.summary["qpv_covered_share"])
    assert figures["qpv_covered_share"].number_format == f'0.0"{NBSP}"%'
    assert figures["year"].value == 2024 and figures["year"].number_format == "0"
    assert figures["method"].value == "automatique" and figures["qpv_source.kind"].value == "fournie avec clsm-geo"
    assert figures["thresholds.covered"].value == 0.99 and figures["thresholds.covered"].number_format == f'0"{NBSP}"%'
    assert "qpv_source.sha256" not in figures            # on the Sources sheet
    sources = {row[0].value: row[1] for row in wb["Sources"].iter_rows(min_row=2)}
    assert sources["Date des chiffres"].value == "31 décembre 2024"
    assert sources["Code officiel géographique (INSEE)"].value == "COG 2024"
    assert sources["Géographie prioritaire"].value == "QPV 2024"
    assert sources["Couche des QPV"].value == "fournie avec clsm-geo"
    # the source in French words (summary.json keeps the recorded text: clsm_geo.provenance)
    from clsm_geo import provenance

    assert sources["Édition"].value == provenance.edition(result.qpv_layer.source, "fr")
    assert sources["Précision"].value == provenance.precision(result.qpv_layer.source, "fr")
    assert sources["Édition"].value.startswith("liste ANCT des QPV 2024")
    assert sources["Méthode"].value == "automatique"
    assert sources["Registre des CLSM"].value == "registry_fictitious.csv"
    covered = sources[f"Seuil «{NBSP}couvert{NBSP}» (méthode géométrique)"]
    assert covered.value == 0.99 and covered.number_format == f'0"{NBSP}"%'
    assert sources[f"Seuil «{NBSP}partiellement couvert{NBSP}» (méthode géométrique)"].value == 0.01
    assert sources["Version de clsm-geo"].value == clsm_geo.__version__
    assert "ANCT" in sources["Producteurs des données"].value and "INSEE" in sources["Producteurs des données"].value


def test_coverage_workbook_in_english(coverage_books, result):
    wb = openpyxl.load_workbook(coverage_books["en"])
    assert wb.sheetnames == ["Key figures", "QPV", "CLSM", "Regions", "Departments", "Methods compared", "Sources"]
    assert _headers(wb["QPV"])[:3] == ["QPV code", "QPV name", "Department code"]
    assert set(c.value for c in _column(wb["QPV"], "Status")) <= {"covered", "partly covered", "not covered"}
    assert _formats(wb["Regions"], "Share of QPV covered") == {"0.0%"}
    sources = {row[0].value: row[1].value for row in wb["Sources"].iter_rows(min_row=2)}
    assert sources["Date of the figures"] == "31 December 2024"


def test_workbooks_are_byte_identical_on_rerun(coverage_books):
    assert coverage_books["fr"].read_bytes() == coverage_books["fr_again"].read_bytes()


def test_text_is_formula_safe_and_control_characters_are_removed(tmp_path):
    frame = pd.DataFrame({"id": ["A", "B"], "name": ['=HYPERLINK("http://x","y")', "bad\x01\x1fname"],
                          "created": [2015, 2016]})
    path = write_workbook({"councils": frame}, tmp_path / "w.xlsx", {"year": 2024}, "fr")
    ws = _sheet(path, "CLSM")
    assert [c.value for c in _column(ws, "Nom")] == ["'=HYPERLINK(\"http://x\",\"y\")", "badname"]
    assert all(c.data_type == "s" for c in _column(ws, "Nom"))


def test_unlabelled_column_is_an_error_not_an_unreadable_header(tmp_path):
    with pytest.raises(KeyError):
        write_workbook({"qpv": pd.DataFrame({"mystery": [1]})}, tmp_path / "w.xlsx")
    assert not (tmp_path / "w.xlsx").exists()


@pytest.mark.parametrize("lang, sheets", [("fr", ["Plan d'extension", "Priorités", "Sources"]),
                                          ("en", ["Extension plan", "Priorities", "Sources"])])
def test_plan_command_writes_its_workbook(tmp_path, capsys, lang, sheets):
    assert main(["--offline", "-q", "--lang", lang, "plan", "--registry", str(EXAMPLE), "--steps", "2",
                 "--out", str(tmp_path)]) == 0
    wb = openpyxl.load_workbook(tmp_path / "plan.xlsx")
    assert wb.sheetnames == sheets
    plan = wb[sheets[0]]
    assert _headers(plan)[0] == columns.label("step", lang)
    actions = [row[1].value for row in plan.iter_rows(min_row=2)]
    assert actions[0] == i18n.t("workbook.values.action.current", lang) and len(actions) == 3
    csv = pd.read_csv(tmp_path / "plan.csv")
    assert csv["action"].iloc[0] == "current"     # the machine file keeps the code
    share = [row[-1] for row in plan.iter_rows(min_row=2)]
    assert [c.value for c in share] == pytest.approx(csv["qpv_covered_share"].tolist())


def test_uncovered_command_writes_its_workbook(tmp_path, capsys):
    assert main(["--offline", "-q", "uncovered", "--registry", str(EXAMPLE), "--out", str(tmp_path)]) == 0
    ws = _sheet(tmp_path / "uncovered.xlsx", "QPV non couverts")
    first = {h: c for h, c in zip(_headers(ws), ws[2])}
    assert first["Code département"].value == "01" and first["Communes"].value == "01053"
    assert first["Démarche"].value in {"création", "extension"}
    assert first["Distance au CLSM le plus proche"].number_format == "#,##0.0"
    csv = pd.read_csv(tmp_path / "uncovered.csv", dtype=str)
    assert ws.max_row == len(csv) + 1


def test_trend_writes_its_workbook(tmp_path, result, layer):
    from clsm_geo.trend import trend

    series = trend(result.registry, 2024, 2024, qpv={2024: layer})
    written = series.to_files(tmp_path, chart_formats=(), sources={"registry": "reg.csv", "method": "auto"})
    assert tmp_path / "trend.xlsx" in written
    wb = openpyxl.load_workbook(tmp_path / "trend.xlsx")
    assert wb.sheetnames == ["Évolution", "Évolution par région", "Sources"]
    assert _headers(wb["Évolution"])[:2] == ["Année", "Millésime du COG"]
    sources = {row[0].value: row[1].value for row in wb["Sources"].iter_rows(min_row=2)}
    assert sources["Années"] == "2024\u20132024" and sources["Registre des CLSM"] == "reg.csv"


def test_build_script_check_mode():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "build_data_dictionary.py"), "--check"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tables_given_as_functions_keep_their_sheet_and_values(result, tmp_path):
    """A table may be a function (a child process receives the small tables while it writes the QPV sheet):
    it is written after the others, in its own place, with the same cells."""
    tables = workbook.coverage_tables(result)
    later = workbook.coverage_tables(result, later=True)
    assert [n for n, t in later.items() if callable(t)] == list(workbook.LATER)
    sources = result.sources_for("fr")
    direct = tmp_path / "direct.xlsx"
    workbook.write_workbook(tables, direct, sources, "fr")
    deferred = tmp_path / "deferred.xlsx"
    deferred.write_bytes(workbook.workbook_bytes(later, lambda: sources, "fr"))
    a, b = openpyxl.load_workbook(direct), openpyxl.load_workbook(deferred)
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        cells = lambda ws: [[(c.value, c.number_format) for c in row] for row in ws.iter_rows()]  # noqa: E731
        assert cells(a[name]) == cells(b[name]), name


def test_the_qpv_layers_own_columns_are_the_qpv_tables(result, tmp_path):
    """QPV_LAYER_COLUMNS, which the workbook's child writes before the engine runs, are the QPV table's
    columns taken as they are from the layer (the shipped one and a user's file); the engine makes the others."""
    from clsm_geo.result import QPV_COLUMNS, QPV_LAYER_COLUMNS

    assert set(QPV_LAYER_COLUMNS) < set(QPV_COLUMNS)
    for res in (result, clsm_geo.coverage(EXAMPLE, 2024, method="commune")):
        pd.testing.assert_frame_equal(res.qpv_table[QPV_LAYER_COLUMNS],
                                      pd.DataFrame(res.qpv_layer.table[QPV_LAYER_COLUMNS]))
    table = result.qpv_table
    for column in ("status", "covered_share", "councils", "in_force", "note"):
        assert column not in QPV_LAYER_COLUMNS and column in table


def test_coverage_workbook_written_in_steps_has_the_cells_of_write_workbook(result, tmp_path):
    """coverage.xlsx (the QPV layer's columns first, then the engine's, then the small tables) holds the
    cells, formats and sheets write_workbook gives the same tables at once."""
    from clsm_geo.coverage_files import _workbook

    direct = tmp_path / "direct.xlsx"
    write_workbook(workbook.coverage_tables(result), direct, result.sources_for("fr"), "fr")
    steps = tmp_path / "steps.xlsx"
    steps.write_bytes(_workbook(result, "fr"))
    a, b = openpyxl.load_workbook(direct), openpyxl.load_workbook(steps)
    assert a.sheetnames == b.sheetnames and len(a.sheetnames) >= 7
    for name in a.sheetnames:
        cells = lambda ws: [[(c.value, c.number_format) for c in row] for row in ws.iter_rows()]  # noqa: E731
        widths = lambda ws: {k: round(d.width, 2) for k, d in ws.column_dimensions.items()}  # noqa: E731
        assert cells(a[name]) == cells(b[name]), name
        assert widths(a[name]) == widths(b[name]) and a[name].freeze_panes == b[name].freeze_panes, name
        assert a[name].auto_filter.ref == b[name].auto_filter.ref, name
    assert _workbook(result, "fr") == steps.read_bytes()  # and the same bytes again


def test_the_workbook_refuses_tables_that_are_not_those_of_the_layer_written_first(result):
    """The child writes the QPV layer's columns before the engine runs: tables of another layer are refused,
    not mixed into the sheet."""
    from clsm_geo.coverage_files import _book, _early, _later, _layer_part

    other = _layer_part(result.qpv_layer)
    other["qpv_layer"] = other["qpv_layer"].iloc[::-1].reset_index(drop=True)

    class Inbox:
        def __init__(self, values):
            self.values = list(values)

        def get(self):
            return self.values.pop(0)

    with pytest.raises(RuntimeError, match="QPV layer written first"):
        _book("fr", Inbox([other, _early(result), _later(result, "fr")]))
    good = _book("fr", Inbox([_layer_part(result.qpv_layer), _early(result), _later(result, "fr")]))
    assert good[:2] == b"PK"
