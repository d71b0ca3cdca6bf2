"""Data-source errors read in French by default and in English with ``lang="en"``."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from clsm_geo import i18n
from clsm_geo._zip import safe_extract
from clsm_geo.cache import cache_put
from clsm_geo.errors import ClsmGeoError
from clsm_geo.population import read_population
from clsm_geo.qpv import load_layer_file, qpv_geography_for_year


def _message(action, lang: str | None) -> str:
    i18n.set_lang(lang)
    with pytest.raises(ClsmGeoError) as info:
        action()
    return str(info.value) + " " + str(getattr(info.value, "hint", "") or "")


def _zip(tmp_path: Path, name: str, arcname: str = "a.txt") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(arcname, "x")
    return path


CASES = {
    "corrupt_zip": (lambda p: (p / "bad.zip").write_bytes(b"not a zip") and
                    (lambda: safe_extract(p / "bad.zip", p / "out")),
                    "impossible d'ouvrir l'archive zip", "cannot open zip archive"),
    "missing_member": (lambda p: (lambda: safe_extract(_zip(p, "m.zip"), p / "out", ["b.txt"])),
                       "ne contient pas 'b.txt'", "has no member 'b.txt'"),
    "zip_slip": (lambda p: (lambda: safe_extract(_zip(p, "s.zip", "../evil.txt"), p / "out")),
                 "refusée", "refusing to extract"),
    "bad_cache_key": (lambda p: (lambda: cache_put("bad key/..", p / "x")), "clé de cache invalide", "invalid cache key"),
    "before_2015": (lambda p: (lambda: qpv_geography_for_year(2010)), "aucune géographie QPV avant 2015", "no QPV geography before 2015"),
    "unreadable_layer": (lambda p: (p / "l.geojson").write_text("{nope") and
                         (lambda: load_layer_file(p / "l.geojson")), "impossible de lire la couche QPV", "cannot read the QPV layer"),
    "population_columns": (lambda p: (p / "pop.csv").write_text("a;b\n1;2\n") and
                           (lambda: read_population(p / "pop.csv")), "aucun en-tête", "no header"),
    "population_missing": (lambda p: (lambda: read_population(p / "absent.csv")), "fichier de population introuvable", "population file not found"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_message_french_then_english(case: str, tmp_path: Path) -> None:
    make, french, english = CASES[case]
    action = make(tmp_path)
    fr = _message(action, None)
    en = _message(action, "en")
    i18n.set_lang(None)
    assert french in fr, fr
    assert english.lower() in en.lower(), en
    assert english.lower() not in fr.lower() and french not in en


def test_unknown_qpv_geography_french_then_english() -> None:
    from clsm_geo.qpv import qpv

    fr = _message(lambda: qpv(1999), None)
    en = _message(lambda: qpv(1999), "en")
    i18n.set_lang(None)
    assert "géographie QPV inconnue 1999" in fr and "unknown" not in fr.lower()
    assert "1999" in en and "inconnue" not in en


def test_missing_shipped_boundaries_french_then_english(tmp_path: Path, monkeypatch) -> None:
    import importlib

    geography = importlib.import_module("clsm_geo.geography")

    monkeypatch.setattr(geography, "boundaries_dir", lambda: tmp_path / "boundaries")
    geography._manifest.cache_clear()
    try:
        fr = _message(lambda: geography.read_layer("communes", 2024, ["insee_com"]), None)
        en = _message(lambda: geography.read_layer("communes", 2024, ["insee_com"]), "en")
    finally:
        i18n.set_lang(None)
        geography._manifest.cache_clear()
    assert "contours livrés manquent" in fr and "are missing" not in fr and "manifest.json" in fr
    assert "boundaries are missing" in en and "scripts/build_boundaries.py" in en
