"""Words a person reads, one catalogue per language; numbers, dates and plurals formatted by Babel.

A catalogue is a folder beside this module (``fr/``, ``en/``) of TOML files, one per subject; a file's name is
the first part of its keys (``fr/status.toml`` holds ``status.qpv.covered``). Both languages have the same
files and keys (a test checks it). A value is
either a text with ``{placeholders}`` (``str.format``) or a table of CLDR plural forms (``one``, ``other``,
optionally ``zero``/``many``) chosen by :func:`tn`. Machine files never use this module: their columns and
codes stay stable snake_case (see ``docs/data-dictionary.md``).

The language is, in order: the ``lang=`` argument, :func:`set_lang` (the CLI's ``--lang``), the
``CLSM_GEO_LANG`` environment variable, then French.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import tomllib
from pathlib import Path

#: Languages with a catalogue; the first is the default.
LANGS: tuple[str, ...] = ("fr", "en")
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
_HERE = Path(__file__).resolve().parent
_forced: str | None = None


class UnknownLanguageError(ValueError):
    """A language without a catalogue."""


def check_lang(lang: str) -> str:
    """``lang`` lower-cased if it has a catalogue, else :class:`UnknownLanguageError` listing the choices."""
    code = str(lang).strip().lower()
    if code not in LANGS:
        raise UnknownLanguageError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    return code


def set_lang(lang: str | None) -> None:
    """Language for the rest of the session (``None``: back to the environment / default)."""
    global _forced
    _forced = None if lang is None else check_lang(lang)


def get_lang(lang: str | None = None) -> str:
    """The language in force: ``lang`` if given, else :func:`set_lang`, ``CLSM_GEO_LANG``, ``fr``."""
    if lang:
        return check_lang(lang)
    if _forced:
        return _forced
    env = os.environ.get("CLSM_GEO_LANG", "").strip()
    return check_lang(env) if env else LANGS[0]


@functools.cache
def catalogue(lang: str) -> dict[str, object]:
    """The flat catalogue of ``lang``: dotted keys (``status.qpv.covered``) to texts or plural tables."""
    out: dict[str, object] = {}
    for path in sorted((_HERE / check_lang(lang)).glob("*.toml")):
        out.update(_file(lang, path.stem))
    return out


@functools.cache
def _file(lang: str, subject: str) -> dict[str, object]:
    """The flat keys of one file of a catalogue (``fr/status.toml``), empty when there is no such file. Words
    are looked up here: a run reads only the files of the subjects it shows."""
    path = _HERE / lang / f"{subject}.toml"
    if not path.is_file():
        return {}
    with open(path, "rb") as fh:
        return _flatten(tomllib.load(fh), subject + ".")


def _entry(key: str, lang: str):
    """The text or plural table of ``key`` in ``lang`` (a missing key is a ``KeyError``)."""
    return _file(lang, key.split(".", 1)[0])[key]


def _flatten(node: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_plural(value):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _is_plural(value: dict) -> bool:
    return bool(value) and set(value) <= {"zero", "one", "two", "few", "many", "other"} and "other" in value


def t(key: str, lang: str | None = None, /, **values) -> str:
    """The text of ``key`` in ``lang`` with ``values`` filled in (a missing key is a ``KeyError``)."""
    text = _entry(key, get_lang(lang))
    if isinstance(text, dict):
        text = text["other"]
    return text.format(**values) if values else text


def template(key: str, lang: str | None = None) -> str:
    """The text of ``key`` with its ``{placeholders}`` left in, for code that fills one text many times
    (``template(key).format(**values)`` is ``t(key, **values)``)."""
    text = _entry(key, get_lang(lang))
    return text["other"] if isinstance(text, dict) else text


#: Rows that :func:`format_each` fills piece by piece before it goes on to the next rows: joined a piece at a time
#: over 100,000 rows, the texts no longer stay in the CPU's cache and each row took 1.4 times as long as over 10,000
#: (``format_each`` of the overlap message, 118 ms against 7.5 ms; in blocks of 4,096: 85 ms).
_FORMAT_BLOCK = 4096


def format_each(text: str, n: int, /, **columns):
    """``[text.format(**row) for row in rows]`` for ``n`` rows given column by column, as an object array.

    ``columns``: a value per placeholder, either one text for every row or a sequence of ``n`` texts. Each
    placeholder is joined with numpy's element-wise ``+`` on object arrays (one C loop per piece instead of
    one ``str.format`` call per row: thousands of warnings at once), :data:`_FORMAT_BLOCK` rows at a time.
    Placeholders with a format spec or a conversion (``{x:>3}``, ``{x!r}``) go through ``str.format`` row by
    row, with the same result.
    """
    import string

    import numpy as np

    pieces = list(string.Formatter().parse(text))
    if any(spec or conv or (field is not None and not field.isidentifier()) for _, field, spec, conv in pieces):
        rows = [{k: (v if isinstance(v, str) else v[i]) for k, v in columns.items()} for i in range(n)]
        return np.array([text.format(**row) for row in rows] or [], dtype=object)
    values = {k: (v if isinstance(v, str) else np.asarray(v, dtype=object)) for k, v in columns.items()}
    out = np.empty(n, dtype=object)
    for start in range(0, n, _FORMAT_BLOCK):  # a block's texts stay in the CPU's cache between the pieces
        stop = min(start + _FORMAT_BLOCK, n)
        block = np.full(stop - start, "", dtype=object)
        for literal, field, _, _ in pieces:
            if literal:
                block = block + literal
            if field is not None:
                value = values[field]
                block = block + (value if isinstance(value, str) else value[start:stop])
        out[start:stop] = block
    return out


def tn(key: str, n: int, lang: str | None = None, /, **values) -> str:
    """The plural form of ``key`` for the count ``n`` (CLDR rules: in French 0 and 1 are singular).

    ``{n}`` in the text is the count formatted by :func:`fmt_int`.
    """
    from babel import Locale

    code = get_lang(lang)
    forms = _entry(key, code)
    if isinstance(forms, str):
        forms = {"other": forms}
    form = "zero" if n == 0 and "zero" in forms else Locale.parse(_LOCALES[code]).plural_form(abs(n))
    text = forms.get(form) or forms["other"]
    return text.format(n=fmt_int(n, code), **values)


def has(key: str, lang: str | None = None) -> bool:
    """True when the catalogue of ``lang`` has ``key``."""
    return key in _file(get_lang(lang), key.split(".", 1)[0])


def locale(lang: str | None = None) -> str:
    """The Babel locale of ``lang`` (``fr_FR``, ``en_GB``)."""
    return _LOCALES[get_lang(lang)]


def fmt_int(n, lang: str | None = None) -> str:
    """An integer with the language's grouping (``1 362`` with a narrow no-break space in French)."""
    n = int(n)
    if 0 <= n < 1000:  # no grouping: the same text in every language, without Babel's cost (warnings in bulk)
        return str(n)
    from babel.numbers import format_decimal

    return format_decimal(n, locale=_LOCALES[get_lang(lang)])


def fmt_list(items, lang: str | None = None) -> str:
    """Items of a sentence joined as the language writes them: « A, B et C », "A, B and C" (Babel, CLDR)."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    from babel.lists import format_list

    return format_list(items, locale=_LOCALES[get_lang(lang)])


def fmt_decimal(x, decimals: int = 1, lang: str | None = None) -> str:
    """A decimal number with ``decimals`` digits after the separator (``12,5`` in French)."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(x, format=pattern, locale=_LOCALES[get_lang(lang)])


def fmt_pct(share, decimals: int = 0, lang: str | None = None) -> str:
    """A share in [0, 1] as a percentage (``56 %``, ``12,5 %`` in French: no-break space before ``%``)."""
    locale, pattern = _percent_pattern(get_lang(lang), decimals)
    return pattern.apply(share, locale)  # what babel.numbers.format_percent does, the pattern parsed once


@functools.lru_cache(maxsize=16)
def _percent_pattern(code: str, decimals: int):
    """The Babel locale of ``code`` and its percent pattern with ``decimals`` digits, parsed."""
    from babel import Locale
    from babel.numbers import parse_pattern

    locale = Locale.parse(_LOCALES[code])
    pattern = locale.percent_formats[None].pattern
    if decimals:
        pattern = pattern.replace("0", "0." + "0" * decimals, 1) if "." not in pattern else pattern
        head, _, tail = pattern.partition("0.")
        pattern = head + "0." + "0" * decimals + tail.lstrip("0")
    return locale, parse_pattern(pattern)


def fmt_date(day: _dt.date, lang: str | None = None) -> str:
    """A date in words (``31 décembre 2024``, ``31 December 2024``)."""
    from babel.dates import format_date

    return format_date(day, format="long", locale=_LOCALES[get_lang(lang)])


def year_end(year: int, lang: str | None = None) -> str:
    """31 December of ``year`` in words."""
    return fmt_date(_dt.date(int(year), 12, 31), lang)
