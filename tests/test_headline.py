"""The headline as the national resource centre writes it: golden strings in both languages, plurals, typography."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from clsm_geo import i18n
from clsm_geo.headline import headline

NBSP, NNBSP = "\u00a0", "\u202f"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"


def figures(active, new, project, covering, total, covered, partial=0, year=2024, **extra) -> dict:
    share = round(covered / total, 6) if total else 0.0
    return {"year": year, "councils_active": active, "councils_new": new, "councils_in_project": project,
            "councils_covering_qpv": covering, "qpv_total": total, "qpv_covered": covered, "qpv_partial": partial,
            "qpv_covered_share": share, **extra}


MANY = figures(298, 24, 133, 197, 1362, 763)
ONE = figures(1, 1, 1, 1, 1, 1)
ZERO = figures(0, 0, 0, 0, 0, 0)

GOLDEN = [
    (MANY, "fr", f"Au 31 décembre 2024{NBSP}: 298 CLSM sont actifs, dont 24 nouveaux en 2024{NNBSP}; 133 CLSM sont "
                 f"en projet{NNBSP}; 197 CLSM couvrent des quartiers prioritaires, soit 56{NBSP}% des 1{NNBSP}362 QPV "
                 "au niveau national."),
    (MANY, "en", "At 31 December 2024: 298 CLSM are active, of which 24 new in 2024; 133 CLSM are in project; 197 CLSM "
                 "cover priority neighbourhoods, i.e. 56% of the 1,362 QPV nationally."),
    (ONE, "fr", f"Au 31 décembre 2024{NBSP}: 1 CLSM est actif, dont 1 nouveau en 2024{NNBSP}; 1 CLSM est en projet"
                f"{NNBSP}; 1 CLSM couvre des quartiers prioritaires, soit 100{NBSP}% de 1 QPV au niveau national."),
    (ONE, "en", "At 31 December 2024: 1 CLSM is active, of which 1 new in 2024; 1 CLSM is in project; 1 CLSM covers "
                "priority neighbourhoods, i.e. 100% of the 1 QPV nationally."),
    (ZERO, "fr", f"Au 31 décembre 2024{NBSP}: aucun CLSM n'est actif{NNBSP}; aucun CLSM n'est en projet{NNBSP}; "
                 "aucun CLSM ne couvre de quartier prioritaire, aucun QPV n'étant en vigueur au niveau national."),
    (ZERO, "en", "At 31 December 2024: no CLSM is active; no CLSM is in project; no CLSM covers a priority "
                 "neighbourhood, no QPV being in force nationally."),
]


@pytest.mark.parametrize(("summary", "lang", "expected"), GOLDEN,
                         ids=[f"{n}-{lang}" for n in ("many", "one", "zero") for lang in ("fr", "en")])
def test_golden_headlines(summary, lang, expected):
    assert headline(summary, lang) == expected


def test_mixed_counts_take_each_their_own_plural():
    text = headline(figures(2, 0, 1, 0, 1362, 0), "fr")
    assert f": 2 CLSM sont actifs, dont aucun nouveau en 2024{NNBSP}; 1 CLSM est en projet{NNBSP}; " in text
    assert f"aucun CLSM ne couvre de quartier prioritaire, soit 0{NBSP}% des 1{NNBSP}362 QPV" in text
    text = headline(figures(1, 0, 2, 1, 2, 1, year=2019), "en")
    assert text.startswith("At 31 December 2019: 1 CLSM is active, none of them new in 2019; 2 CLSM are in project; "
                           "1 CLSM covers priority neighbourhoods, i.e. 50% of the 2 QPV nationally")


@given(active=st.integers(0, 5000), new=st.integers(0, 5000), project=st.integers(0, 5000),
       covering=st.integers(0, 5000), total=st.integers(0, 5000), covered=st.integers(0, 5000),
       partial=st.integers(0, 5000), lang=st.sampled_from(["fr", "en"]))
def test_any_figures_give_one_finished_sentence(active, new, project, covering, total, covered, partial, lang):
    covered = min(covered, total)
    summary = figures(active, min(new, active), project, min(covering, active), total, covered, min(partial, covered))
    text = headline(summary, lang)
    assert text.endswith(".") and text.replace("i.e.", "").count(".") == 1 and "{" not in text and "  " not in text
    assert (f" {i18n.fmt_int(total, lang)} QPV " in text) == (total > 0)
    assert (f" {i18n.fmt_int(active, lang)} CLSM " in f" {text}") == (active > 0)
    assert ("partiellement" in text or "partly" in text) == (summary["qpv_partial"] > 0)


def test_partial_qpv_counted_as_covered_are_said():
    fr = headline(figures(298, 24, 133, 197, 1362, 763, partial=14), "fr")
    assert fr.endswith(f"soit 56{NBSP}% des 1{NNBSP}362 QPV au niveau national (763 QPV couverts, dont 14 "
                       "partiellement).")
    en = headline(figures(298, 24, 133, 197, 1362, 1, partial=1), "en")
    assert en.endswith("of the 1,362 QPV nationally (1 QPV covered, of which 1 partly).")
    assert "partiellement" not in headline(MANY, "fr") and "partly" not in headline(MANY, "en")


def test_scope_of_the_qpv_file_and_extra_clauses():
    text = headline(figures(3, 1, 0, 2, 135, 20, qpv_scope="file"), "fr")
    assert text.endswith(f"soit 15{NBSP}% des 135 QPV de ce fichier.") and "national" not in text
    assert headline(figures(3, 1, 0, 2, 135, 20, qpv_scope="file"), "en").endswith("of the 135 QPV of this file.")
    assert headline(figures(3, 1, 0, 2, 135, 20, qpv_scope="region"), "fr").endswith("des 135 QPV de la région.")
    extra = headline(MANY, "fr", extra=["et 131 QPV ultramarins de la géographie 2015"])
    assert extra.endswith("au niveau national et 131 QPV ultramarins de la géographie 2015.")


def test_result_headline_follows_the_language(monkeypatch):
    import clsm_geo

    res = clsm_geo.coverage(EXAMPLE, 2024, method="commune")
    assert res.headline.startswith(f"Au 31 décembre 2024{NBSP}: ")
    assert res.headline_in("en").startswith("At 31 December 2024: ")
    assert res.summary["headline"] == res.headline
    i18n.set_lang("en")
    assert res.headline == res.headline_in("en") == res.summary["headline"]
    assert repr(res).endswith(res.headline_in("en") + ">")
    monkeypatch.setenv("CLSM_GEO_LANG", "fr")
    i18n.set_lang(None)
    assert res.headline == res.headline_in("fr")
