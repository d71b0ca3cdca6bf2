"""The column-by-column registry parser gives exactly what the row-by-row parser gives.

``registry._parse_rows`` recognises the rows that raise no problem and parses them column by column; the others
go through ``registry._parse_row``. The reference below runs ``_parse_row`` on every row, as ``read_registry``
did before: same table (values, dtypes, order) and same problems in the same order, for any mix of cells.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pandas.testing import assert_frame_equal

from clsm_geo import read_registry, registry
from clsm_geo.errors import RegistryError

THIS_YEAR = datetime.date.today().year

CELLS = {
    "id": ["A1", "A2", "", " B3 ", "A1", "x\u200by"],
    "name": ["CLSM de Lille", "", "  Roubaix  ", "Tourcoing\u202e"],
    "status": ["actif", "Actif", "en projet", "EN_SOMMEIL", "fermé", "closed", "actiff", "", "in project"],
    "created": ["2015", "2015.0", "", "2019-05-12", "12/05/2019", "1850", "deux mille", " 2020 ", "2031"],
    "closed": ["", "2021", "2010", str(THIS_YEAR + 2), "2021.0", "x"],
    "communes": ["59350", "59350;59512", "59350 ; 59512", "59350,59512|59599", "5935", "59350;59350",
                 "", "Lille", "2a004", "2A004", "75056;", "59350.0", "59 350", "59350\t;59512", "123",
                 "\u0665\u0669\u0663\u0665\u0660", "59350 ;59350", "59350|2B004", "2B004;2b004"],
    "epci": ["", "200093201", "200093201|245900410", "200093201;200093201", "20009320", "200093201, 245900410", "Métropole"],
    "region": ["", "32", "Hauts-de-France", "hauts de france", "Bretagn", "99"],
    "notes": ["", "note", "a\x07b"],
}


def _reference(raw: pd.DataFrame, header_row: int, columns, name):
    """What ``read_registry`` computed before the column parser: ``_parse_row`` on every row."""
    problems = []
    records = raw.to_dict("records")
    rows = [registry._parse_row(record, int(i) + header_row + 1, columns, name, problems)
            for i, record in zip(raw.index, records)]
    frame = pd.DataFrame(rows, columns=list(registry._COUNCIL_COLUMNS))
    for key in ("created", "closed"):  # years as read_registry gives them
        frame[key] = frame[key].astype("Int64")
    return frame, problems


def _compare(raw: pd.DataFrame, header_row: int = 1):
    columns = {key: key for key in registry._COLUMN_ALIASES if key in raw.columns}
    expected, expected_problems = _reference(raw, header_row, columns, "r.csv")
    problems = []
    got = registry._parse_rows(raw, header_row, columns, "r.csv", problems)
    assert_frame_equal(got, expected)
    assert problems == expected_problems


row = st.fixed_dictionaries({key: st.sampled_from(values) for key, values in CELLS.items()})


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=12), st.sets(st.sampled_from(["region", "notes", "epci", "closed"])))
def test_column_parser_equals_row_parser(rows, dropped):
    raw = pd.DataFrame(rows, dtype=object).drop(columns=sorted(dropped))
    _compare(raw)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({key: st.sampled_from(["actif", "en projet"] if key == "status" else values)
                                       for key, values in CELLS.items()}), min_size=1, max_size=8))
def test_column_parser_with_gaps_in_the_index(rows):
    """Blank rows are dropped before parsing: the index then has gaps, and row numbers must follow it."""
    raw = pd.DataFrame(rows, dtype=object)
    raw.index = range(0, 3 * len(raw), 3)
    _compare(raw, header_row=4)


#: Cells that raise no problem (a council in project may list nothing).
CLEAN = {"id": ["A1", " B3 "], "name": ["CLSM de Lille", "  Roubaix  "], "status": ["en projet"],
         "created": ["", "2015"], "closed": [""], "region": ["", "32"], "notes": ["", "note"],
         "communes": ["", "59350", "59350;59512", "59350 ; 59512", "59350,59512|59599", "2A004", "59350|2B004"],
         "epci": ["", "200093201", "200093201|245900410", "200093201, 245900410"]}
clean_row = st.fixed_dictionaries({key: st.sampled_from(values) for key, values in CLEAN.items()})


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.tuples(st.just(False), st.lists(row, min_size=1, max_size=12)),
                 st.tuples(st.just(True), st.lists(clean_row, min_size=1, max_size=12))),
       st.sets(st.sampled_from(["epci", "communes"])))
def test_flattened_code_columns_are_the_tuples(case, dropped):
    """When every row is recognised as raising no problem, the parser also hands over ``communes`` and ``epci``
    flattened: the same codes council by council as the tuples of the table, which it holds by identity. When a
    row goes through the row parser (a problem, or a cell it alone reads), it hands over nothing."""
    clean, rows = case
    raw = pd.DataFrame(rows, dtype=object).drop(columns=sorted(dropped))
    columns = {key: key for key in registry._COLUMN_ALIASES if key in raw.columns}
    problems = []
    cells = registry._cells_of_frame(raw)
    frame, lists = registry._parse_cells(cells, 1, columns, "r.csv", problems)
    if problems:
        assert lists == {}
    if clean:
        assert problems == [] and sorted(lists) == ["communes", "epci"]
    for key, flat in lists.items():
        tuples = frame[key].tolist()
        assert all(a is b for a, b in zip(tuples, flat.tuples)) and len(tuples) == len(flat.tuples)
        bounds = [0, *flat.lengths.cumsum().tolist()]
        assert [tuple(flat.distinct[c] for c in flat.codes[a:b]) for a, b in zip(bounds, bounds[1:])] == tuples
        assert len(set(flat.distinct)) == len(flat.distinct)


def test_code_lists_only_while_the_table_holds_the_tuples_read(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id;name;status;created;communes;epci\n"
                    "A;CLSM A;actif;2015;59350;200093201\nB;CLSM B;actif;2016;59512;\n", encoding="utf-8")
    reg = read_registry(path)
    assert reg.code_lists("communes").distinct == ["59350", "59512"]
    assert reg.code_lists("epci").lengths.tolist() == [1, 0]
    reg.councils.loc[0, "communes"] = ("59350",)              # equal codes in another tuple: still the same codes
    assert reg.code_lists("communes") is not None
    reg.councils.loc[1, "communes"] = ("59599",)              # a user edits a cell in place
    assert reg.code_lists("communes") is None
    assert reg.code_lists("epci") is not None
    reg.councils["epci"] = [("200093201",), np.array(["245900410"])]  # a cell that is not a tuple
    assert reg.code_lists("epci") is None
    reg = read_registry(path)
    filtered = registry.Registry(councils=reg.councils.iloc[[1]].reset_index(drop=True), source=reg.source,
                                 _code_lists=reg._code_lists)
    assert filtered.code_lists("communes") is None and filtered.code_lists("epci") is None


def test_clean_rows_raise_nothing_and_keep_their_codes(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id;name;status;created;closed;communes;epci\n"
                    "A;CLSM A;actif;2015;;59350 , 59512;\n"
                    "B;CLSM B;en sommeil;2012;2020;;200093201\n"
                    "C;CLSM C;en projet;;;;\n", encoding="utf-8")
    reg = read_registry(path)
    assert reg.problems == ()
    assert reg.councils["communes"].tolist() == [("59350", "59512"), (), ()]
    assert reg.councils["epci"].tolist() == [(), ("200093201",), ()]
    assert reg.councils["status"].tolist() == ["active", "dormant", "in_project"]
    assert reg.councils["closed"].tolist() == [pd.NA, 2020, pd.NA]


def test_row_numbers_count_blank_lines(tmp_path):
    """A blank line is a row in a spreadsheet: the rows after it keep the number the user sees."""
    path = tmp_path / "r.csv"
    path.write_text("id;name;status;created;communes\nA;a;actif;2019;75056\n\nB;b;actiff;2019;75056\n",
                    encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        read_registry(path)
    [problem] = err.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "status", "actiff")
    assert "conseil\u00a0: lancez" in str(err.value) and "hint" not in str(err.value)  # the catalogue's label


def test_duplicate_ids_name_the_first_row(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("id;name;status;created;communes\nA;a;actif;2019;75056\nB;b;actif;2019;75056\n"
                    "A;c;actif;2019;75056\nA;d;actif;2019;75056\n", encoding="utf-8")
    reg = read_registry(path, strict=False)
    duplicates = [(p.row, p.value) for p in reg.problems if p.column == "id"]
    assert duplicates == [(4, "A"), (5, "A")]
    assert all("2" in p.message for p in reg.problems if p.column == "id")
    assert reg.councils["id"].tolist() == ["A", "B"]


OWN = ["59350", "59599", "59009", "59017", "59183", "59178", "59122"]


@pytest.mark.parametrize("lang, first, last", [
    ("fr", "le CLSM actif B chevauche dans le COG 2024\u00a0: A (4\u00a0: 59100, 59143, 59350 …)",
     "le CLSM actif X chevauche dans le COG 2024\u00a0: A (1\u00a0: 59350)\u202f; O2 (1\u00a0: 59599)\u202f; "
     "O3 (1\u00a0: 59009)\u202f; O4 (1\u00a0: 59017)\u202f; O5 (1\u00a0: 59183) et 2 autres CLSM"),
    ("en", "active council B overlaps in COG 2024 with A (4: 59100, 59143, 59350 …)",
     "active council X overlaps in COG 2024 with A (1: 59350); O2 (1: 59599); O3 (1: 59009); O4 (1: 59017); "
     "O5 (1: 59183) and 2 other councils"),
])
def test_overlap_warnings_name_the_other_councils(tmp_path, lang, first, last):
    """Each active council sharing units with councils listed before it gets one warning naming, for each
    shared unit, the first council that holds it: five councils by id, how many units and which (three at
    most), then how many more councils."""
    import clsm_geo
    from clsm_geo import i18n

    lines = ["id;name;status;created;communes", "A;a;actif;2019;59350,59512,59100,59143",
             "B;b;actif;2019;59350,59512,59100,59143", "P;p;en projet;;59350"]
    lines += [f"O{i};o;actif;2019;{code}" for i, code in enumerate(OWN[1:], start=2)]
    lines.append(f"X;x;actif;2019;{','.join(OWN)}")
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    i18n.set_lang(lang)
    try:
        problems = clsm_geo.validate(path, 2024).problems
    finally:
        i18n.set_lang(None)
    assert all(p.severity == "warning" for p in problems), problems
    overlaps = [p for p in problems if p.column == "communes"]
    assert [p.row for p in overlaps] == [3, 11]  # B and X; not A nor O2–O7 (first holders), not P (in project)
    assert overlaps[-1].message == last
    assert overlaps[0].message == first
    assert len({p.suggestion for p in overlaps}) == 1


def test_a_bare_carriage_return_is_a_line_break_as_in_a_spreadsheet(tmp_path):
    """``\\r0,,`` unquoted: the line breaks after the carriage return; the council is on the line after it."""
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,name,status,created,communes\n,,,,\nA,a,actif,2019,75056\n\r0,,,,\n")
    reg = read_registry(path, strict=False)
    assert [(p.row, p.column) for p in reg.problems if p.severity == "error"][:2] == [(5, "name"), (5, "status")]


# --- the CSV reader: Arrow's (files without quotes) reads the same cells as the csv module's ------------------

ODD = ["", " ", "\t", "\u00a0", "\u2009", "\x1c", "\x85", "\u3000", "\u200b", "a", "é", "59350", "x y", "\ufeff"]


@hsettings(max_examples=300, deadline=None)
@given(st.sampled_from([";", ",", "\t"]), st.integers(1, 5),
       st.lists(st.lists(st.lists(st.sampled_from(ODD + [";", ","]), max_size=4).map("".join), min_size=1,
                         max_size=6), min_size=1, max_size=8), st.booleans())
def test_arrow_csv_reads_the_cells_the_csv_module_reads(sep, width, lines, crlf):
    """Whenever Arrow reads a file without quotes, it reads the header and stripped cells the csv module's path
    reads (which repairs blank lines and drops blank extra cells); it leaves every other file to that path.
    Arrow reads lines ending in ``\\r\\n`` as they are (``crlf``); the csv module's path, after ``\\r\\n`` is
    replaced."""
    text = "\n".join(sep.join(cells) for cells in [[f"h{i}" for i in range(width)], *lines])
    fast = registry._read_csv_arrow(text.replace("\n", "\r\n") if crlf else text, sep)
    try:
        slow = registry._read_csv_module(text, sep, "r.csv", 0)
    except RegistryError:
        slow = None
    if fast is None:
        return
    assert slow is not None, "Arrow read a file the csv module's path refuses"
    assert fast[0] == slow[0]
    assert [c.to_pylist() for c in fast[1]] == [c.to_pylist() for c in slow[1]]


def test_arrow_reads_the_usual_file():
    """The fast reader is used for the usual file (otherwise the property above would hold vacuously)."""
    text = "id;name;status\nA; a ;actif\n\nB;b\u00a0;en projet"
    header, columns = registry._read_csv_arrow(text, ";")
    assert header == ["id", "name", "status"]
    assert [c.to_pylist() for c in columns] == [["A", "", "B"], ["a", "", "b"], ["actif", "", "en projet"]]
    assert registry._read_csv_arrow("id;name\nA;a;x", ";") is None  # a line of another width: the csv module


def test_the_stripped_characters_are_pythons_whitespace():
    import sys

    assert set(registry._WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


def test_a_file_with_quotes_and_one_without_read_alike(tmp_path):
    """A quoted file goes through the csv module, the same file without quotes through Arrow: same registry."""
    body = ["id;name;status;created;communes;epci", "A; CLSM A ;actif;2015;59350 , 59512;",
            "B;CLSM B\u00a0;en sommeil;2012;;200093201", "C;CLSM C;en projet;;;"]
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text("\n".join(body[:4]) + "\n", encoding="utf-8")
    quoted.write_text("\n".join(body[:1] + [line.replace("CLSM C", '"CLSM C"') for line in body[1:4]]) + "\n",
                      encoding="utf-8")
    a, b = read_registry(plain), read_registry(quoted)
    assert_frame_equal(a.councils, b.councils)
    assert a.councils["name"].tolist() == ["CLSM A", "CLSM B", "CLSM C"]
    assert a.councils["communes"].tolist() == [("59350", "59512"), (), ()]


@hsettings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["\n", "\r", "\r\n", "#", " ", "a", ";", "\x85", "\u2028", "\x0c"]), max_size=14)
       .map("".join))
def test_body_lines_break_as_splitlines(text):
    """The file's lines after its comments: the same text and count whether split into lines or not."""
    lines = text.splitlines()
    comments = 0
    while comments < len(lines) and lines[comments].lstrip().startswith("#"):
        comments += 1
    body, count = registry._body(text)
    assert (body.replace("\r\n", "\n"), count) == ("\n".join(lines[comments:]), comments)
    assert "\r" not in body.replace("\r\n", "")  # a carriage return is left only before a line feed


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab;,| \té5", max_size=5), max_size=8), st.integers(0, 8), st.integers(0, 8),
       st.booleans())
def test_has_any_searches_the_cells_of_any_arrow_layout(cells, start, stop, large):
    """``_has_any`` (a search of the array's character data) answers as a search of each cell, on slices and on
    both Arrow string types."""
    import pyarrow as pa

    array = pa.array(cells, pa.large_string() if large else pa.string()).slice(start, max(stop - start, 0))
    for characters in ((",",), (" ", "\t", ",", "|"), (";",)):
        assert registry._has_any(array, characters) == any(c in v for v in array.to_pylist() for c in characters)
