"""What a person reads is in one language: a French output holds no English label of the catalogue, and the reverse.

The labels compared are the literal parts of catalogue texts (placeholders removed) that differ between the two
languages, are at least :data:`MIN_CHARS` characters long and appear nowhere in the other language's catalogue.
The outputs are the console of ``coverage``, ``trend`` (the command itself) and of ``gaps``/``plan`` (their
printing functions, on one shared result), plus the gap sentences and plan names as written to the files.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest

import clsm_geo
from clsm_geo import i18n
from clsm_geo.cli import main
from clsm_geo.cli.gaps import gap_lines, plan_lines, uncovered_line

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv"
LANGS = ("fr", "en")
#: Shorter literal parts ("QPV", "auto", ", ") are shared words or punctuation, not labels.
MIN_CHARS = 8
#: Catalogue subjects printed by the outputs under test (others belong to maps, report, workbooks).
SUBJECTS = ("headline.", "console.", "gaps.", "plan.", "charts.", "warnings.", "status.")


def _texts(value) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _literals(text: str) -> list[str]:
    return [part.strip(" ,;:.()\u00a0\u202f…") for part, _, _, _ in string.Formatter().parse(text)]


def labels(lang: str) -> set[str]:
    """Literal parts of ``lang``'s catalogue that cannot belong to the other language."""
    other = next(code for code in LANGS if code != lang)
    theirs = [t for key, value in i18n.catalogue(other).items() for t in _texts(value)]
    out = set()
    for key, value in i18n.catalogue(lang).items():
        if not key.startswith(SUBJECTS):
            continue
        for text in _texts(value):
            for part in _literals(text):
                if len(part) >= MIN_CHARS and not any(part in t for t in theirs):
                    out.add(part)
    return out


def test_the_label_sets_are_substantial_and_disjoint():
    fr, en = labels("fr"), labels("en")
    assert len(fr) > 80 and len(en) > 80
    assert {"CLSM sont actifs", "fichiers écrits dans", "partiellement couvert"} <= fr
    assert {"CLSM are active", "files written to", "partly covered"} <= en
    assert not fr & en


@pytest.fixture(scope="module")
def result():
    return clsm_geo.coverage(EXAMPLE, 2024)


@pytest.fixture(scope="module")
def command_outputs(tmp_path_factory) -> dict[str, str]:
    """Console of ``coverage`` and ``trend`` in each language (stdout and stderr)."""
    import contextlib
    import io

    out = {}
    folder = tmp_path_factory.mktemp("lang")
    for lang in LANGS:
        text = []
        for command in (["coverage", "--registry", str(EXAMPLE)],
                        ["trend", "--from", "2023", "--to", "2025", "--registry", str(EXAMPLE)]):
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                code = main(["--offline", "--lang", lang, *command, "--out", str(folder / f"{command[0]}-{lang}")])
            assert code == 0, buffer.getvalue()
            text.append(buffer.getvalue())
        out[lang] = "\n".join(text)
    i18n.set_lang(None)
    return out


@pytest.fixture(scope="module")
def analysis_outputs(result) -> dict[str, str]:
    """Console lines of ``uncovered``, ``gaps`` and ``plan`` and the sentences they write, in each language."""
    uncovered = result.uncovered()
    out = {}
    for lang in LANGS:
        table = result.gaps(lang=lang)
        steps = result.plan(4, lang=lang)
        out[lang] = "\n".join([uncovered_line(uncovered, 2024, lang), *gap_lines(table, lang, most=50),
                               plan_lines(steps, lang), *steps["council_name"].dropna()])
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_outputs_hold_no_label_of_the_other_language(lang, command_outputs, analysis_outputs):
    other = next(code for code in LANGS if code != lang)
    foreign = labels(other)
    for name, text in (("coverage and trend", command_outputs[lang]), ("gaps and plan", analysis_outputs[lang])):
        found = sorted(label for label in foreign if label in text)
        assert not found, f"{lang} output of {name} holds {other} labels: {found}"
    # ... and they do speak their own language.
    own = labels(lang)
    assert sum(label in command_outputs[lang] for label in own) >= 10
    assert sum(label in analysis_outputs[lang] for label in own) >= 10


def test_french_is_the_default(result, command_outputs):
    assert result.headline == result.headline_in("fr")
    assert command_outputs["fr"].count("\n") > 20 and "fichiers écrits dans" in command_outputs["fr"]
    assert "files written to" in command_outputs["en"]


def test_data_warnings_are_printed_in_the_language(capsys):
    from clsm_geo.cli import _print_warning

    _print_warning("qpv.csv, ligne 3", UserWarning, "x.py", 1)
    assert capsys.readouterr().err == "avertissement\u00a0: qpv.csv, ligne 3\n"
    i18n.set_lang("en")
    _print_warning("qpv.csv, row 3", UserWarning, "x.py", 1)
    assert capsys.readouterr().err == "warning: qpv.csv, row 3\n"
