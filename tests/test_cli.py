"""The clsm-geo command: outputs, exit codes, clear errors, source precedence, reproducible files."""

from __future__ import annotations

import json
import re

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
    assert "Au 31 décembre 2024\u00a0: 32 CLSM sont actifs, dont 4 nouveaux en 2024\u202f; " in out
    assert ("des 1\u202f362 QPV au niveau national (293 QPV couverts, dont 14 partiellement)\u202f; QPV ultramarins "
            "de la géographie 2015 non disponibles.") in out    # overseas: the 2015 geography applies, not shipped
    source = next(line for line in out.splitlines() if line.startswith("Source QPV"))
    assert source.startswith("Source QPV\u00a0: couche livrée, ANCT, QPV 2024 par commune") and len(source) <= 120
    assert "/" not in source and "sha256" not in source     # no local path, no checksum by default
    assert "Île-de-France" in out                      # the per-region table
    header = out.splitlines()[out.splitlines().index("") + 1]
    assert header.split()[:3] == ["rég.", "région", "CLSM"] and header.endswith("part couverte")
    idf = next(line for line in out.splitlines() if line.split()[:2] == ["11", "Île-de-France"])
    assert idf.split()[2:] == ["6", "6", "298", "46", "8", "15", "%"]   # 15 %: no-break space
    assert "15\u00a0%" in idf and "11 fichiers écrits dans" in out
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


def test_coverage_in_english_with_lang_en(tmp_path, capsys):
    code, out, err = run(capsys, "--offline", "--lang", "en", "coverage", "--registry", REPO_EXAMPLE,
                         "--out", tmp_path / "out")
    assert code == 0, err
    assert ("At 31 December 2024: 32 CLSM are active, of which 4 new in 2024; 6 CLSM are in project; 29 CLSM "
            "cover priority neighbourhoods, i.e. 22% of the 1,362 QPV nationally (293 QPV covered, of which 14 "
            "partly); overseas QPV of the 2015 geography not available.") in out
    assert "share covered" in out and "7 files written to" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["headline"].startswith("At 31 December 2024: ") and summary["qpv_covered"] == 293


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
    assert "ligne 3, colonne «\u00a0id\u00a0»" in out and "ligne 3, colonne «\u00a0status\u00a0»" in out
    assert "ligne 3, colonne «\u00a0created\u00a0»" in out
    code, out, err = run(capsys, "validate", registry, "--year", "2024", "--out", tmp_path / "report.csv")
    report = pd.read_csv(tmp_path / "report.csv", dtype=str)
    assert {"severity", "file", "row", "column", "value", "message", "suggestion"} <= set(report.columns)


def test_missing_registry_and_bad_options(tmp_path, capsys):
    code, _, err = run(capsys, "coverage", "--registry", tmp_path / "nope.csv")
    assert code == 2 and "fichier introuvable pour --registry" in err and "nope.csv" in err
    code, _, err = run(capsys, "coverage", "--registry", REPO_EXAMPLE, "--format", "docx",
                       "--out", tmp_path / "o")
    assert code == 2 and "format inconnu\u00a0: docx" in err and "csv, xlsx, geojson, parquet" in err
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
    # a regional file: accepted, with a warning naming what is missing, and a flag in the summary
    assert summary["qpv_scope"] == "partial" and summary["qpv_regions"] == ["93"]
    assert "01" in summary["qpv_regions_missing"] and "11" in summary["qpv_regions_missing"]
    assert ("avertissement\u00a0: le fichier QPV ne couvre qu'une partie de la France\u00a0: Provence-Alpes-Côte "
            "d'Azur\u202f; absentes\u00a0: Guadeloupe") in err
    assert "les 135 QPV de ce fichier, pas sur la France entière" in err


@pytest.mark.parametrize("method", ["commune", "geometry"])
def test_methods_by_option(tmp_path, capsys, method):
    code, out, err = run(capsys, "-q", "coverage", "--registry", REPO_EXAMPLE, "--method", method,
                         "--out", tmp_path / method)
    assert code == 0, err
    assert json.loads((tmp_path / method / "summary.json").read_text())["method"] == method


def test_unexpected_errors_are_one_sentence_not_a_traceback(tmp_path, capsys, monkeypatch):
    import clsm_geo.cli.coverage as command

    def boom(args, *rest, **options):
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


# --- one surface: global options anywhere, --registry everywhere, territories, years, checks first -----------

def test_global_options_are_accepted_after_the_command_name(tmp_path, capsys):
    code, out, err = run(capsys, "coverage", "--registry", REPO_EXAMPLE, "--out", tmp_path / "o", "-q",
                         "--offline", "--lang", "en", "--csv-dialect", "excel-fr", "--data-dir", tmp_path / "d")
    assert code == 0, err
    assert out.count("\n") == 1                                    # --quiet: the headline only
    from clsm_geo import i18n, settings

    cfg = settings.get()                                           # every global option reached the settings
    assert cfg.csv_dialect == "excel-fr" and cfg.offline and cfg.cache_dir.is_relative_to(tmp_path / "d")
    assert i18n.get_lang() == "en"
    code, out, err = run(capsys, "validate", REPO_EXAMPLE, "--lang", "en")
    assert code == 0 and out.startswith("registry_fictitious.csv: 40 councils checked against COG 2024")
    code, out, err = run(capsys, "data", "status", "--offline")
    assert code == 0 and "(hors ligne)" in out


def test_validate_takes_the_registry_as_an_option_or_a_path(capsys):
    code, by_path, _ = run(capsys, "validate", REPO_EXAMPLE)
    code2, by_option, _ = run(capsys, "validate", "--registry", REPO_EXAMPLE)
    assert code == code2 == 0 and by_path == by_option
    code, _, err = run(capsys, "validate")
    assert code == 2 and "indiquez le registre\u00a0: --registry CHEMIN" in err
    code, _, err = run(capsys, "validate", REPO_EXAMPLE, "--registry", "other.csv")
    assert code == 2 and "deux registres différents" in err


@pytest.mark.parametrize("argv, message", [
    (["--year", "2026"], "année 2026 non disponible\u00a0: années possibles 2015 à 2025 (millésimes du COG livrés\u00a0: "
                         "2024, 2025)"),
    (["--year", "2014"], "année 2014 non disponible"),
    (["--partial-threshold", "1"], "--partial-threshold doit être compris entre 0 (inclus) et 1 (exclu), reçu 1.0"),
    (["--qpv", "missing-qpv.gpkg"], "fichier introuvable pour --qpv\u00a0: missing-qpv.gpkg"),
    (["--region", "31"], "31 n'est pas un code de région\u00a0: c'est le département Haute-Garonne"),
    (["--region", "Ile de Frence"], "région inconnue\u00a0: Ile de Frence"),
    (["--department", "Seine-Saint-Denys"], "département inconnu\u00a0: Seine-Saint-Denys"),
    (["--department", "Bretagne"], "Bretagne n'est pas un département\u00a0: c'est la région Bretagne"),
    (["--region", "11", "--department", "93"], "--region et --department ne peuvent pas être donnés ensemble"),
    (["--classes", "0"], "--classes doit valoir 1 ou plus"),
    (["--scheme", "user_defined", "--bins", "a,b"], "--bins attend des nombres"),
    (["--out", "map.docx"], "impossible d'écrire une carte sous le nom 'map.docx'"),
])
def test_bad_options_are_refused_before_any_computation(capsys, monkeypatch, argv, message):
    import clsm_geo.cli.maps as command

    def never(*a, **k):
        raise AssertionError("computed before checking the options")

    monkeypatch.setattr(command, "run_coverage", never)
    code, out, err = run(capsys, "map", "choropleth", "--registry", REPO_EXAMPLE, *argv)
    assert code == 2, err
    assert message in err and "Traceback" not in err and out == ""


def test_errors_propose_the_fix(capsys):
    _, _, err = run(capsys, "trend", "--registry", REPO_EXAMPLE, "--to", "2026")
    assert "conseil\u00a0: pour un autre millésime, installez une version plus récente de clsm-geo" in err
    _, _, err = run(capsys, "map", "qpv", "--registry", REPO_EXAMPLE, "--region", "31", "--out", "x.txt")
    assert "conseil\u00a0: pour ce département, utilisez --department 31\u202f; pour sa région, --region 76 (Occitanie)" in err
    _, _, err = run(capsys, "map", "qpv", "--registry", REPO_EXAMPLE, "--region", "ile de frence")
    assert "conseil\u00a0: les plus proches\u00a0: Île-de-France (11)" in err
    _, _, err = run(capsys, "--lang", "en", "map", "qpv", "--registry", REPO_EXAMPLE, "--department", "Bouche du Rhone")
    assert "unknown department: Bouche du Rhone" in err and "closest: Bouches-du-Rhône (13)" in err


def test_territories_by_code_or_name_any_case_with_or_without_accents(tmp_path, capsys, monkeypatch):
    import clsm_geo.cli.maps as command

    from clsm_geo.cli.common import say_territory

    seen = []

    def start(args):  # what run_coverage does first, then stop
        say_territory(args)
        seen.append((args.region, args.territory))
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run_coverage", start)
    for value in ("Île-de-France", "ile-de-france", "ÎLE DE FRANCE", "11"):
        run(capsys, "map", "qpv", "--registry", REPO_EXAMPLE, "--region", value)
    assert [code for code, _ in seen] == ["11"] * 4
    _, out, _ = run(capsys, "map", "qpv", "--registry", REPO_EXAMPLE, "--region", "75")
    assert "territoire\u00a0: région 75 Nouvelle-Aquitaine (pour le département 75 Paris\u00a0: --department 75)" in out
    for value in ("93", "Seine-Saint-Denis", "seine st denis"):
        _, out, _ = run(capsys, "map", "qpv", "--registry", REPO_EXAMPLE, "--department", value)
        assert "territoire\u00a0: département 93 Seine-Saint-Denis" in out
        assert "--department 93\u00a0: la carte et le rapport sont dessinés sur la région 11 (Île-de-France)" in out
    assert seen[-1][0] == "11" and seen[-1][1].code == "93"


def test_source_line_is_short_and_the_full_provenance_is_verbose(tmp_path, capsys):
    code, out, err = run(capsys, "--offline", "coverage", "--registry", REPO_EXAMPLE, "--out", tmp_path / "o",
                         "--verbose", "--lang", "en")
    assert code == 0, err
    short, full = [line for line in out.splitlines() if line.startswith("QPV source")]
    assert short == "QPV source: shipped layer, ANCT QPV 2024 list by commune, polygons simplified to about 10 m"
    assert full.startswith("QPV source (full): shipped layer ") and "sha256" in full and len(full) > 300
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["qpv_source"]["sha256"] and summary["qpv_source"]["precision"].startswith("polygons simplified")
    assert summary["qpv_scope"] == "national" and len(summary["qpv_regions"]) == 18


def test_help_documents_the_partial_threshold_and_the_global_options(capsys):
    with pytest.raises(SystemExit):
        main(["coverage", "--help"])
    out = re.sub(r"[ \n]+", " ", capsys.readouterr().out)  # rewrapped; no-break spaces kept
    assert "--partial-threshold PART" in out and "les QPV partiellement couverts comptent parmi les QPV couverts" in out
    assert "soit 1\u00a0%" in out and "options générales (n'importe où sur la ligne)\u00a0:" in out and "--offline" in out
    with pytest.raises(SystemExit):
        main(["coverage", "--help", "--lang", "en"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--partial-threshold SHARE" in out and "partly covered QPV are counted among the covered ones" in out
    assert "default 0.01, i.e. 1 %" in out and "global options (anywhere on the line):" in out and "--offline" in out


def test_a_bad_registry_is_refused_before_the_qpv_layer_is_loaded(tmp_path, capsys, monkeypatch):
    import clsm_geo.cli.common as common

    monkeypatch.setattr(common, "load_layer", lambda *a: (_ for _ in ()).throw(AssertionError("loaded")))
    registry = tmp_path / "bad.csv"
    registry.write_text("id,name,status,created,communes\nA,x,actf,2015,Toulouse\n", encoding="utf-8")
    for command in (["coverage"], ["gaps"], ["map", "qpv"], ["report"]):
        code, out, err = run(capsys, *command, "--registry", registry, "--out", tmp_path / "o")
        assert code == 2 and out == "" and "Traceback" not in err
        assert "bad.csv\u00a0: 2 erreurs dans le registre" in err
        assert "→ code INSEE\u00a0: 31555 (Toulouse, Haute-Garonne (31))" in err
        assert "→ vouliez-vous dire «\u00a0actif\u00a0»" in err
    code, _, err = run(capsys, "trend", "--registry", registry, "--out", tmp_path / "t")
    assert code == 2 and "bad.csv\u00a0: 2 erreurs dans le registre" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "t").exists()
