"""The clsm-geo command: outputs, exit codes, clear errors, source precedence, reproducible files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clsm_geo.cli import main

REPO_EXAMPLE = __import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
SUMMARY_KEYS = {"year", "cog_year", "qpv_geography", "method", "councils_active", "councils_new",
                "councils_in_project", "councils_covering_qpv", "qpv_total", "qpv_covered", "qpv_partial",
                "qpv_covered_share", "qpv_source"}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_coverage_on_the_example_writes_the_promised_files(tmp_path, capsys):
    code, out, err = run(capsys, "--offline", "coverage", "--year", "2024", "--registry", REPO_EXAMPLE,
                         "--out", tmp_path / "out", "--format", "csv,xlsx,geojson,parquet")
    assert code == 0, err
    assert "CLSM active at 31 Dec 2024" in out and "of the 1,362 QPV" in out
    source = next(line for line in out.splitlines() if line.startswith("Source QPV"))
    assert source.startswith("Source QPV\u00a0: couche livrée, ANCT QPV 2024") and len(source) <= 120
    assert "/" not in source and "sha256" not in source     # no local path, no checksum by default
    assert "Île-de-France" in out                      # the per-region table
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"summary.json", "qpv.csv", "councils.csv", "regions.csv", "departments.csv", "coverage.xlsx",
            "qpv.geojson", "councils.geojson", "qpv.parquet", "councils.parquet"} <= names
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["qpv_source"]["kind"] == "shipped" and summary["qpv_total"] == 1362
    qpv = pd.read_csv(tmp_path / "out" / "qpv.csv", dtype=str)
    assert {"code_qp", "lib_qp", "insee_dep", "insee_reg", "communes", "status", "covered_share",
            "councils"} <= set(qpv.columns)
    assert set(qpv["status"]) <= {"covered", "partial", "uncovered"}
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "out").iterdir())


def test_reruns_are_byte_identical_and_the_registry_is_untouched(tmp_path, capsys):
    registry = tmp_path / "reg.csv"
    registry.write_bytes(REPO_EXAMPLE.read_bytes())
    before = registry.read_bytes()
    outputs = []
    for name in ("a", "b"):
        code, _, err = run(capsys, "-q", "coverage", "--registry", registry, "--out", tmp_path / name,
                           "--format", "csv,xlsx,geojson,parquet")
        assert code == 0, err
        outputs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert outputs[0] == outputs[1]
    assert registry.read_bytes() == before


def test_bad_registry_exits_2_with_the_report_and_no_traceback(tmp_path, capsys):
    registry = tmp_path / "bad.csv"
    registry.write_text("id,name,status,created,communes\nA,x,actif,2015,99999\nA,y,zombie,20x,31555\n")
    code, out, err = run(capsys, "coverage", "--registry", registry, "--out", tmp_path / "out")
    assert code == 2
    assert "Traceback" not in err and "bad.csv" in err
    assert not (tmp_path / "out").exists()          # nothing written on bad input
    code, out, _ = run(capsys, "validate", registry)
    assert code == 2
    assert "ligne 3, colonne « id »" in out and "ligne 3, colonne « status »" in out
    assert "ligne 3, colonne « created »" in out
    code, out, err = run(capsys, "validate", registry, "--year", "2024", "--out", tmp_path / "report.csv")
    report = pd.read_csv(tmp_path / "report.csv", dtype=str)
    assert {"severity", "file", "row", "column", "value", "message", "suggestion"} <= set(report.columns)


def test_missing_registry_and_bad_options(tmp_path, capsys):
    code, _, err = run(capsys, "coverage", "--registry", tmp_path / "nope.csv")
    assert code == 2 and "fichier introuvable pour --registry" in err and "nope.csv" in err
    code, _, err = run(capsys, "coverage", "--registry", REPO_EXAMPLE, "--format", "docx",
                       "--out", tmp_path / "o")
    assert code == 2 and "format(s) inconnu(s)\u00a0: docx" in err and "csv, xlsx, geojson, parquet" in err
    code, _, err = run(capsys, "coverage", "--registry", REPO_EXAMPLE, "--partial-threshold", "2")
    assert code == 2 and "--partial-threshold" in err


def test_qpv_source_precedence_option_then_cache_then_shipped(tmp_path, shared, capsys):
    listing = shared / "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"
    code, out, err = run(capsys, "data", "fetch", "--qpv", "2024", "--from", listing)
    assert code == 0, err
    code, out, _ = run(capsys, "data", "status")
    assert "qpv2024" in out and "qpv/qpv2024.parquet" in out
    code, out, err = run(capsys, "--offline", "coverage", "--registry", REPO_EXAMPLE, "--out", tmp_path / "c")
    assert code == 0, err
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["qpv_source"]["kind"] == "cache"
    assert json.loads((tmp_path / "c" / "summary.json").read_text())["method"] == "auto"
    paca = shared / "qpv/qpv2024_paca_cartosante_skhtay/qpv-paca.geojson"
    code, out, err = run(capsys, "--offline", "coverage", "--registry", REPO_EXAMPLE, "--qpv", paca,
                         "--out", tmp_path / "u")
    assert code == 0, err
    summary = json.loads((tmp_path / "u" / "summary.json").read_text())
    assert summary["qpv_source"]["kind"] == "user" and summary["qpv_total"] == 135


@pytest.mark.parametrize("method", ["commune", "geometry"])
def test_methods_by_option(tmp_path, capsys, method):
    code, out, err = run(capsys, "-q", "coverage", "--registry", REPO_EXAMPLE, "--method", method,
                         "--out", tmp_path / method)
    assert code == 0, err
    assert json.loads((tmp_path / method / "summary.json").read_text())["method"] == method


def test_unexpected_errors_are_one_sentence_not_a_traceback(tmp_path, capsys, monkeypatch):
    import clsm_geo.cli.coverage as command

    def boom(args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(command, "run_coverage", boom)
    code, _, err = run(capsys, "coverage", "--registry", REPO_EXAMPLE, "--out", tmp_path / "x")
    assert code == 1 and "erreur interne\u00a0: RuntimeError\u00a0: disk on fire" in err and "Traceback" not in err


def test_data_dir_option_and_bad_fetch_keep_the_cache_intact(tmp_path, shared, capsys):
    data_dir = tmp_path / "mydata"
    listing = shared / "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"
    code, out, err = run(capsys, "--data-dir", data_dir, "data", "fetch", "--qpv", "2024", "--from", listing)
    assert code == 0, err
    assert str(data_dir) in out and (data_dir / "cache").is_dir()
    bad = tmp_path / "bad.csv"
    bad.write_text("this,is,not\na,qpv,list\n")
    code, _, err = run(capsys, "--data-dir", data_dir, "data", "fetch", "--qpv", "2024", "--from", bad)
    assert code == 2 and "bad.csv" in err and "Traceback" not in err
    code, out, _ = run(capsys, "--data-dir", data_dir, "data", "status")
    assert "qpv2024" in out and "qpv2024_code_commune_DERIVED.csv" in out
