"""The words catalogues and Babel formatting (French typography)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clsm_geo import i18n

NNBSP, NBSP = "\u202f", "\u00a0"


def test_catalogues_have_the_same_keys_and_placeholders():
    fr, en = i18n.catalogue("fr"), i18n.catalogue("en")
    assert set(fr) == set(en), sorted(set(fr) ^ set(en))
    import string

    def fields(value):
        texts = value.values() if isinstance(value, dict) else [value]
        return {f for text in texts for _, f, _, _ in string.Formatter().parse(text) if f}

    for key in fr:
        assert fields(fr[key]) == fields(en[key]), key


def test_french_numbers_percentages_and_dates():
    assert i18n.fmt_int(1362, "fr") == f"1{NNBSP}362"
    assert i18n.fmt_pct(0.56, 0, "fr") == f"56{NBSP}%"
    assert i18n.fmt_pct(0.125, 1, "fr") == f"12,5{NBSP}%"
    assert i18n.fmt_decimal(12.5, 1, "fr") == "12,5"
    assert i18n.year_end(2024, "fr") == "31 décembre 2024"
    assert i18n.fmt_int(1362, "en") == "1,362"
    assert i18n.fmt_pct(0.125, 1, "en") == "12.5%"
    assert i18n.year_end(2024, "en") == "31 December 2024"


def test_language_choice_and_errors(monkeypatch):
    monkeypatch.delenv("CLSM_GEO_LANG", raising=False)
    assert i18n.get_lang() == "fr"
    monkeypatch.setenv("CLSM_GEO_LANG", "en")
    assert i18n.get_lang() == "en"
    assert i18n.get_lang("FR") == "fr"
    with pytest.raises(i18n.UnknownLanguageError, match="fr, en"):
        i18n.get_lang("de")
    assert i18n.t("status.qpv.partial", "fr") == "partiellement couvert"


def test_french_catalogue_has_french_spacing():
    """No ordinary space before « : ; ! ? » » or after « « »: a no-break space (U+00A0, U+202F) there, so that a
    line never breaks before the sign (French typography)."""
    import re

    bad = []
    for key, value in i18n.catalogue("fr").items():
        for text in value.values() if isinstance(value, dict) else [value]:
            if re.search(r" [:;!?»]|« ", text):
                bad.append(key)
    assert bad == []


@settings(max_examples=300, deadline=None)
@given(share=st.one_of(st.floats(min_value=-2, max_value=20, allow_nan=False), st.integers(-5, 500)),
       decimals=st.integers(0, 3), lang=st.sampled_from(["fr", "en"]))
def test_percentages_are_babels(share, decimals, lang):
    """fmt_pct parses its pattern once per language and number of decimals: the text is Babel's own
    ``format_percent`` with that pattern."""
    from babel import Locale
    from babel.numbers import format_percent

    locale = Locale.parse({"fr": "fr_FR", "en": "en_GB"}[lang])
    pattern = locale.percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1) if "." not in pattern else pattern
        head, _, tail = pattern.partition("0.")
        pattern = head + "0." + "0" * decimals + tail.lstrip("0")
    assert i18n.fmt_pct(share, decimals, lang) == format_percent(share, format=pattern, locale=locale)


@pytest.mark.parametrize("items, french, english", [
    (["A", "B", "C"], "A, B et C", "A, B and C"),
    (["A", "B"], "A et B", "A and B"),
    (["A"], "A", "A"),
    ([], "", ""),
])
def test_lists_in_sentences_are_joined_as_each_language_writes_them(items, french, english):
    assert i18n.fmt_list(items, "fr") == french and i18n.fmt_list(items, "en") == english


def test_long_lists_in_gap_sentences_end_with_the_count_of_the_others():
    from clsm_geo.gaps import _listing

    assert _listing(["a", "b", "c"], "fr", most=8) == "a, b et c"
    assert _listing([str(i) for i in range(10)], "fr", most=8) == "0, 1, 2, 3, 4, 5, 6, 7 et 2 autres"
