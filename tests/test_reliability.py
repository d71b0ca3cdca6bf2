"""Hostile input: never a traceback, every error located, outputs safe. See docs/reliability.md."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from clsm_geo.cli import main
from clsm_geo.errors import ClsmGeoError, RegistryError
from clsm_geo.registry import read_registry
from clsm_geo.validation import validate

HEADER = "id,name,status,created,communes,epci\n"


def hostile_corpus() -> dict[str, bytes]:
    rng = __import__("random").Random(7)
    many = ";".join(f"{31000 + i:05d}" for i in range(10_000))
    return {
        "random_bytes.csv": bytes(rng.randrange(256) for _ in range(4096)),
        "nul_bytes.csv": b"id,name\x00,status\n\x00\x00\x00",
        "utf16.csv": ("\ufeff" + HEADER + "A,Lyon,actif,2015,69123,\n").encode("utf-16"),
        "latin1.csv": (HEADER + "A,Saint-Étienne,actif,2015,42218,\n").encode("latin-1"),
        "mixed_separators.csv": b"id;name,status;created,communes\nA;x,actif;2015,31555\n",
        "missing_columns.csv": b"identifier,label\nA,x\n",
        "duplicated_columns.csv": b"id,name,status,status,created,communes\nA,x,actif,actif,2015,31555\n",
        "empty.csv": b"",
        "blank_lines.csv": b"\n\n\n",
        "header_only.csv": HEADER.encode(),
        "huge_cell.csv": (HEADER + f'A,x,actif,2015,"{many}",\n').encode(),
        "formulas.csv": (HEADER + 'A,"=HYPERLINK(""http://x"",""y"")",actif,2015,31555,\n'
                                  "B,+cmd|' /C calc'!A0,actif,2015,33063,\n").encode(),
        "dates_for_years.csv": (HEADER + "A,x,actif,2015-03-01,31555,\nB,y,actif,01/03/2016,33063,\n").encode(),
        "spaces_and_zeros.csv": (HEADER + 'A,x,actif,2015," 1004 ; 01 053 ",\n').encode(),
        "unbalanced_quotes.csv": (HEADER + 'A,"x,actif,2015,31555,\n').encode(),
        "long_line.csv": (HEADER + "A," + "x" * 200_000 + ",actif,2015,31555,\n").encode(),
        "not_really.xlsx": (HEADER + "A,x,actif,2015,31555,\n").encode(),
        "zip_renamed.xlsx": _zip_bytes(),
        "bad.geojson": b'{"type": "FeatureCollection", "features": [{"type": "Feature"',
        "years_out_of_range.csv": (HEADER + "A,x,actif,1789,31555,\nB,y,actif,99999,31555,\n").encode(),
        "negative_and_float.csv": (HEADER + "A,x,actif,-2015,31555.0,\nB,y,actif,2015.5,1e4,\n").encode(),
    }


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("../evil.txt", "x")
    return buffer.getvalue()


@pytest.mark.parametrize("name,content", sorted(hostile_corpus().items()))
def test_hostile_registries_never_give_a_traceback(tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 2), (out, err)
    assert "Traceback" not in out + err and "internal error" not in err
    assert name in out + err                     # the message names the file
    assert path.read_bytes() == content          # the input is never written
    code = main(["-q", "coverage", "--registry", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err and "internal error" not in err
    if code == 2:
        assert not (tmp_path / "out").exists()   # no partial output on bad input


def test_located_errors_for_spaces_zeros_dates_and_formulas(tmp_path):
    corpus = hostile_corpus()
    (tmp_path / "a.csv").write_bytes(corpus["spaces_and_zeros.csv"])
    reg = read_registry(tmp_path / "a.csv")
    assert reg.councils.loc[0, "communes"] == ("01004", "01053")
    (tmp_path / "b.csv").write_bytes(corpus["years_out_of_range.csv"])
    with pytest.raises(RegistryError) as info:
        read_registry(tmp_path / "b.csv")
    assert {(p.row, p.column) for p in info.value.problems if p.severity == "error"} == {(2, "created"),
                                                                                        (3, "created")}


def test_formulas_are_neutralised_in_every_table_output(tmp_path, capsys):
    path = tmp_path / "reg.csv"
    path.write_bytes(hostile_corpus()["formulas.csv"])
    assert main(["-q", "coverage", "--registry", str(path), "--out", str(tmp_path / "out"),
                 "--format", "csv,xlsx"]) == 0
    councils = pd.read_csv(tmp_path / "out" / "councils.csv", dtype=str)
    assert councils["name"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'+cmd|' /C calc'!A0"]
    sheet = pd.read_excel(tmp_path / "out" / "coverage.xlsx", sheet_name="CLSM", dtype=str)  # French labels
    assert sheet["Nom"].tolist() == councils["name"].tolist()


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_arbitrary_bytes_only_raise_our_errors(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        read_registry(path, strict=False)
    except ClsmGeoError as exc:
        assert "fuzz.csv" in str(exc)


CELL = st.one_of(st.sampled_from(["", "actif", "en_projet", "zombie", "2015", "20x5", "31555", "1004", "ABCDE",
                                  "200046977", "=1+1", "31555;33063", "2016-01-01", " 75118 ", "99999"]),
                 st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=6, max_size=6), min_size=1, max_size=15))
def test_fuzz_structured_rows_every_problem_has_row_and_column(tmp_path, rows):
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=["id", "name", "status", "created", "communes", "epci"]).to_csv(buffer, index=False)
    path = tmp_path / "rows.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        report = validate(path, 2024)
    except ClsmGeoError as exc:  # whole-file problems (e.g. every row blank) are still our errors
        assert "rows.csv" in str(exc)
        return
    # A cell holding a bare carriage return is written unquoted by pandas: a spreadsheet (and the reader) then
    # sees a line break there, so rows are counted on the file's lines, not on the rows given to pandas.
    lines = len(path.read_text(encoding="utf-8").splitlines())
    for problem in report.problems:
        assert problem.file == "rows.csv"
        assert problem.row is not None and 2 <= problem.row <= lines
        assert problem.column in {"id", "name", "status", "created", "communes", "epci", "closed"}


def _geo_registry(tmp_path, geometries, crs=4326, name="reg.geojson"):
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"id": [f"G{i}" for i in range(len(geometries))],
                              "name": [f"g{i}" for i in range(len(geometries))],
                              "status": ["actif"] * len(geometries), "created": ["2020"] * len(geometries)},
                             geometry=geometries, crs=crs)
    path = tmp_path / name
    frame.to_file(path)
    return path


def test_geometry_robustness_invalid_empty_mixed_and_other_crs(tmp_path):
    import geopandas as gpd
    import clsm_geo

    bowtie = shapely.Polygon([(1.44, 43.60), (1.46, 43.62), (1.46, 43.60), (1.44, 43.62)])   # self-intersecting
    mixed = shapely.GeometryCollection([shapely.Point(1.45, 43.61), shapely.box(1.44, 43.60, 1.45, 43.61)])
    path = _geo_registry(tmp_path, [bowtie, mixed])
    result = clsm_geo.coverage(path, 2024, method="geometry")
    geoms = result.councils.set_index("id").geometry
    assert geoms.is_valid.all() and (geoms.geom_type.isin(["Polygon", "MultiPolygon"])).all()
    assert set(result.councils_table["scale"]) == {"infra-communal"}

    point = _geo_registry(tmp_path, [shapely.Point(1.45, 43.61)], name="point.geojson")
    with pytest.raises(RegistryError) as info:
        clsm_geo.coverage(point, 2024)
    assert [(p.row, p.column) for p in info.value.problems if p.severity == "error"] == [(2, "geometry")]

    lambert = gpd.GeoSeries([shapely.box(1.44, 43.60, 1.45, 43.61)], crs=4326).to_crs(2154)
    projected = _geo_registry(tmp_path, list(lambert), crs=2154, name="l93.geojson")
    again = clsm_geo.coverage(projected, 2024, method="geometry")
    assert again.councils.geometry.iloc[0].bounds[0] == pytest.approx(1.44, abs=1e-6)


def test_summary_json_is_valid_json_even_with_odd_names(tmp_path):
    path = tmp_path / "reg.csv"
    path.write_text(HEADER + 'A,"Nom ""quoté"" <b>&</b> \u2028",actif,2015,31555,\n', encoding="utf-8")
    assert main(["-q", "coverage", "--registry", str(path), "--out", str(tmp_path / "o")]) == 0
    json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------ every command that reads a registry

#: Each command that reads a registry, with where its outputs go (a folder, or a file name in tmp_path).
REGISTRY_COMMANDS = {
    "coverage": (["coverage", "--format", "csv,xlsx,geojson"], "out"),
    "uncovered": (["uncovered"], "out"),
    "gaps": (["gaps"], "out"),
    "plan": (["plan", "--steps", "2"], "out"),
    "trend": (["trend", "--from", "2023", "--to", "2024"], "out"),
    "report": (["report"], "report.html"),
    "map choropleth": (["map", "choropleth"], "map.png"),
    "map councils": (["map", "councils"], "councils.svg"),
    "map interactive": (["map", "interactive", "--offline"], "map.html"),
}


def _run(tmp_path, command: str, registry) -> tuple[int, str]:
    argv, out = REGISTRY_COMMANDS[command]
    code = main(["-q", "--offline", "--lang", "en", *argv, "--registry", str(registry), "--out", str(tmp_path / out)])
    return code, out


def _invalid_corpus() -> list[str]:
    """Corpus files every command must refuse (checked in the test: read_registry raises)."""
    return ["random_bytes.csv", "nul_bytes.csv", "mixed_separators.csv", "missing_columns.csv",
            "duplicated_columns.csv", "empty.csv", "blank_lines.csv", "header_only.csv", "unbalanced_quotes.csv",
            "not_really.xlsx", "zip_renamed.xlsx", "bad.geojson", "years_out_of_range.csv",
            "negative_and_float.csv", "nul_after_4kB.csv", "zero_width_duplicate_id.csv"]


def _more_hostile() -> dict[str, bytes]:
    return {
        "nul_after_4kB.csv": (HEADER + "A,x,actif,2015,31555,\n" * 300).encode() + b"B,y\x00,actif,2015,31555,\n",
        "zero_width_duplicate_id.csv": (HEADER + "A1,x,actif,2015,31555,\nA\u200b1,y,actif,2015,33063,\n").encode(),
    }


@pytest.mark.parametrize("command", sorted(REGISTRY_COMMANDS))
@pytest.mark.parametrize("name", _invalid_corpus())
def test_every_command_refuses_hostile_registries_cleanly(tmp_path, capsys, command, name):
    content = {**hostile_corpus(), **_more_hostile()}[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ClsmGeoError):
        read_registry(path)
    code, out = _run(tmp_path, command, path)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err and name in err
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]      # no output, no temporary file


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(REGISTRY_COMMANDS)),
       st.binary(max_size=600) | st.text(max_size=600).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_every_command_only_fails_with_our_errors(tmp_path, command, data):
    import shutil

    work = tmp_path / "fuzz"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    path = work / "fuzz.csv"
    path.write_bytes(data)
    import contextlib
    import io as _io_mod

    err = _io_mod.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(_io_mod.StringIO()):
        code, _ = _run(work, command, path)
    assert code in (0, 2), err.getvalue()
    assert "internal error" not in err.getvalue()
    assert path.read_bytes() == data
    assert not [p for p in work.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


ODD_BUT_VALID = (
    "id,name,status,created,communes,epci\n"
    'A1,"<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://evil.example/x.png)",actif,2015,31555,\n'
    'A2,"CLSM \x01 Bordeaux \u202eesimorp",actif,2016,33063,\n'
    'A3,"=HYPERLINK(""http://x"",""y"")",actif,2017,,200046977\n'
    f'A4,"{"L" * 40_000}",actif,2018,13055,\n'
)


def test_odd_but_valid_registry_through_every_command(tmp_path, capsys):
    """Injection, control, bidi and very long names: every command succeeds and every format is clean."""
    reg = tmp_path / "reg.csv"
    reg.write_text(ODD_BUT_VALID, encoding="utf-8")
    for command in sorted(REGISTRY_COMMANDS):
        code, _ = _run(tmp_path, command, reg)
        err = capsys.readouterr().err
        assert code == 0, (command, err)
    assert reg.read_text(encoding="utf-8") == ODD_BUT_VALID
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    import re

    # the report's own images (map, chart: files written beside it) are the only Markdown images allowed
    md = re.sub(r"^!\[[^\]\n]*\]\(report-[\w.-]+\.(?:png|svg)\)$", "", md, flags=re.M)
    for raw in (r"<script", r"\]\(javascript", r"!\[", r"<img", r"<"):     # not preceded by a backslash
        assert not re.search(r"(?<!\\)" + raw, md), raw
    assert "\x01" not in md and "javascript:" not in md
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    from clsm_geo import columns
    from clsm_geo.workbook import sheet_name

    sheet = pd.read_excel(tmp_path / "out" / "coverage.xlsx", sheet_name=sheet_name("councils", "en"), dtype=str)
    sheet = sheet.rename(columns={columns.label(c, "en"): c for c in ("id", "name")})
    assert sheet.loc[sheet["id"] == "A2", "name"].item() == "CLSM  Bordeaux \u202eesimorp"
    assert sheet.loc[sheet["id"] == "A4", "name"].item().endswith("[…cut]")
    assert sheet.loc[sheet["id"] == "A3", "name"].item().startswith("'=")
    assert "\\u0001" not in (tmp_path / "out" / "councils.geojson").read_text(encoding="utf-8")
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


# ----------------------------------------------------------------------------------------- numeric options


@pytest.mark.parametrize("bins,words", [
    ("0.5,0.1", "strictly increasing"), ("nan,0.5", "not a finite number"), ("0.1,inf", "not a finite number"),
    ("-0.1,0.5", "outside the allowed range"), ("10,150", "outside the allowed range"), ("a,b", "numbers"),
    (",", "numbers"),
])
def test_bins_outside_their_domain_are_refused_with_the_range(tmp_path, capsys, bins, words):
    """Issue 22 #6: `--bins 0.5,0.1` and `nan,inf` were taken."""
    reg = tmp_path / "reg.csv"
    reg.write_text(HEADER + "A,x,actif,2015,31555,\n", encoding="utf-8")
    for kind in ("choropleth", "interactive"):
        code = main(["--offline", "--lang", "en", "map", kind, "--registry", str(reg), "--scheme", "user_defined",
                     f"--bins={bins}", "--out", str(tmp_path / f"m.{'png' if kind == 'choropleth' else 'html'}")])
        err = capsys.readouterr().err
        assert code == 2 and words in err and "internal error" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.csv"]


def test_bins_in_range_are_accepted():
    from clsm_geo.maps.style import check_bins

    assert check_bins(["0.1", "0.25", "0.5"], True) == [0.1, 0.25, 0.5]
    assert check_bins(["10", "25", "100"], True) == [10, 25, 100]
    assert check_bins(["5", "500"], False) == [5, 500]
    with pytest.raises(ClsmGeoError):
        check_bins(["1", "1"], False)


@pytest.mark.parametrize("argv", [
    ["map", "choropleth", "--classes", "0"], ["coverage", "--partial-threshold", "nan"],
    ["coverage", "--timeout", "inf"], ["coverage", "--max-size", "0"], ["plan", "--steps", "-1"],
])
def test_numeric_options_outside_their_domain(tmp_path, capsys, argv):
    reg = tmp_path / "reg.csv"
    reg.write_text(HEADER + "A,x,actif,2015,31555,\n", encoding="utf-8")
    assert main(["--offline", *argv, "--registry", str(reg), "--out", str(tmp_path / "o.png")]) == 2
    assert "internal error" not in capsys.readouterr().err


def test_validate_reports_invisible_bidi_control_and_late_nul(tmp_path):
    """Issue 22 #3/#6: zero-width and right-to-left characters made two ids look identical; NUL bytes after
    the first 4 kB passed the check."""
    path = tmp_path / "chars.csv"
    path.write_text(HEADER + "A1,Lyon,actif,2015,69123,\n"
                    "A\u200b1,Caen\u202e,actif,2015,14118,\n"
                    "B\u202e2,Nice\x07,actif,2015,06088,\n", encoding="utf-8")
    report = validate(path, 2024)
    found = {(p.severity, p.row, p.column, p.message.split(" (")[0]) for p in report.problems}
    from clsm_geo import i18n

    def msg(key):  # one character of the kind in each cell: the singular
        return i18n.tn(key, 1, codes="X").split(" (")[0]

    assert ("error", 3, "id", msg("io.chars.invisible")) in found
    assert any(p.row == 3 and p.column == "id" and "ligne 2" in p.message for p in report.problems)
    assert ("warning", 3, "name", msg("io.chars.bidi")) in found
    assert ("error", 4, "id", msg("io.chars.bidi")) in found
    assert ("warning", 4, "name", msg("io.chars.control")) in found
    assert not report.ok
    fillers = tmp_path / "fillers.csv"  # Hangul fillers are printable and blank: invisible, in any column
    fillers.write_text(HEADER + "A1,Lyon,actif,2015,69123,\nA1\u3164,Caen,actif,2015,14118,\n"
                       "B2,Nice\uffa0,actif,2015,06088,\n", encoding="utf-8")
    found = {(p.severity, p.row, p.column, p.message.split(" (")[0]) for p in validate(fillers, 2024).problems}
    assert {("error", 3, "id", msg("io.chars.invisible")), ("warning", 4, "name", msg("io.chars.invisible"))} <= found
    late = tmp_path / "late_nul.csv"
    late.write_bytes((HEADER + "A,x,actif,2015,31555,\n" * 300).encode() + b"B,y\x00,actif,2015,31555,\n")
    with pytest.raises(RegistryError) as info:
        read_registry(late)
    assert [(p.row, p.severity) for p in info.value.problems] == [(302, "error")]


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=12), st.integers(0, 4), st.booleans())
def test_a_column_text_is_its_cells_joined(cells, start, filtered):
    """The whole-column text the character checks scan: every text cell, in order, whatever the column's
    layout in Arrow (sliced, filtered, with missing values)."""
    from clsm_geo.validation import _column_text

    column = pd.Series(cells, dtype="str").iloc[start:]
    if filtered:
        column = column[column.str.len().fillna(0) % 2 == 0]
    expected = "".join(v for v in column.tolist() if isinstance(v, str))
    assert _column_text(column) == expected
    assert _column_text(column.astype(object)) == expected
