"""The help of every command and argparse's own words are in the language asked for (``--lang`` anywhere on the
line, ``CLSM_GEO_LANG``, French by default), from ``i18n/<lang>/help.toml``; the same for the errors a person
reads (data, engine, codes, perimeters): a French output holds no English label of the catalogue, and the reverse.
"""

from __future__ import annotations

import argparse
import re
import string
from pathlib import Path

import pytest

from clsm_geo import i18n
from clsm_geo.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "registry_fictitious.csv"
MIN_CHARS = 8
HELPS = [["--help"], ["coverage", "--help"], ["map", "interactive", "--help"], ["report", "--help"],
         ["data", "fetch", "--help"], ["registry", "template", "--help"]]


def _literals(text: str) -> list[str]:
    return [part.strip(" ,;:.()'\u00a0\u202f…%") for part, _, _, _ in string.Formatter().parse(text)]


def labels(lang: str, prefixes: tuple[str, ...]) -> set[str]:
    """Literal parts of ``lang``'s texts under ``prefixes`` found nowhere in the other language's catalogue."""
    other = "en" if lang == "fr" else "fr"
    theirs = [v for value in i18n.catalogue(other).values()
              for v in (value.values() if isinstance(value, dict) else [value])]
    out = set()
    for key, value in i18n.catalogue(lang).items():
        if key.startswith(prefixes):
            for text in value.values() if isinstance(value, dict) else [value]:
                out |= {p for p in _literals(text) if len(p) >= MIN_CHARS and not any(p in x for x in theirs)}
    return out


def _help(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return re.sub(r"[ \n]+", " ", capsys.readouterr().out)  # rewrapped; no-break spaces kept


@pytest.mark.parametrize("argv", HELPS)
def test_help_in_french_by_default_and_in_english_on_request(argv, capsys, monkeypatch):
    fr_labels, en_labels = labels("fr", ("help.",)), labels("en", ("help.",))
    assert len(fr_labels) > 60 and len(en_labels) > 60 and not fr_labels & en_labels
    french = _help(capsys, argv)
    assert french.startswith("utilisation\u00a0: clsm-geo") and "afficher cette aide et quitter" in french
    assert [x for x in en_labels if x in french] == []
    for english in (_help(capsys, ["--lang", "en", *argv]), _help(capsys, [*argv, "--lang=en"])):
        assert english.startswith("usage: clsm-geo") and "show this help message and exit" in english
        assert [x for x in fr_labels if x in english] == []
    monkeypatch.setenv("CLSM_GEO_LANG", "en")
    assert _help(capsys, argv) == english


def _actions(parser: argparse.ArgumentParser, path=("clsm-geo",)):
    for action in parser._actions:
        yield path, action
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _actions(child, (*path, name))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_option_and_command_has_help_in_both_languages(lang):
    i18n.set_lang(lang)
    parser = build_parser()
    missing = [(" ".join(path), action.option_strings or action.dest) for path, action in _actions(parser)
               if action.help != argparse.SUPPRESS and not (action.help or "").strip()
               and not isinstance(action, argparse._SubParsersAction)]  # its commands have theirs (below)
    assert missing == []
    commands = [c for _, a in _actions(parser) if isinstance(a, argparse._SubParsersAction) for c in a._choices_actions]
    assert len(commands) >= 15 and all(c.help for c in commands)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_help_lists_each_command_by_the_name_one_types(lang, capsys):
    """Placeholders are translated (``REGISTRY`` -> ``REGISTRE``), command names are not: the French help
    listed the ``registry`` command as ``REGISTRE``, which is not a command."""
    from clsm_geo.cli import main

    i18n.set_lang(lang)
    parser = build_parser()
    for path, action in _actions(parser):
        if not isinstance(action, argparse._SubParsersAction):
            continue
        with pytest.raises(SystemExit):
            main([*path[1:], "--help"] if len(path) > 1 else ["--help"])
        listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()
                  if line.startswith("    ") and not line.startswith("     ") and line.split()}
        assert set(action.choices) <= listed, (path, set(action.choices) - listed)
    i18n.set_lang(None)


@pytest.mark.parametrize("argv, french, english", [
    (["coverage", "--year", "x"], "argument --year\u00a0: nombre entier invalide\u00a0: 'x'",
     "argument --year: invalid int value: 'x'"),
    (["coverage", "--method", "fast", "--registry", "r.csv"],
     "argument --method\u00a0: choix invalide\u00a0: 'fast' (choisissez parmi",
     "argument --method: invalid choice: 'fast' (choose from"),
    (["coverage"], "arguments obligatoires manquants\u00a0: --registry", "the following arguments are required: --registry"),
    (["coverage", "--registry", "r.csv", "--bogus"], "arguments non reconnus\u00a0: --bogus",
     "unrecognized arguments: --bogus"),
    (["--offline=oui", "coverage"], "argument --offline\u00a0: cette option ne prend pas de valeur ('oui' donné)",
     "argument --offline: ignored explicit argument 'oui'"),
    # the command placeholder in the words of the help, and the closest command
    (["covrage"], "argument COMMANDE\u00a0: choix invalide\u00a0: 'covrage' (choisissez parmi 'coverage', ",
     "argument COMMAND: invalid choice: 'covrage' (choose from 'coverage', "),
    (["covrage"], "'map')\u202f; vouliez-vous dire «\u00a0coverage\u00a0»\u202f?\n",
     "'map'); did you mean 'coverage'?\n"),
    (["map"], "arguments obligatoires manquants\u00a0: TYPE", "the following arguments are required: KIND"),
    (["data"], "arguments obligatoires manquants\u00a0: ACTION", "the following arguments are required: ACTION"),
    (["coverage", "--registry", "r.csv", "PATH"], "arguments non reconnus\u00a0: PATH",   # typed: as typed
     "unrecognized arguments: PATH"),
    (["coverage", "--method", "geometri", "--registry", "r.csv"],
     "(choisissez parmi 'auto', 'commune', 'geometry')\u202f; vouliez-vous dire «\u00a0geometry\u00a0»\u202f?",
     "(choose from 'auto', 'commune', 'geometry'); did you mean 'geometry'?"),
])
def test_argparse_errors_in_the_language_asked(argv, french, english, capsys):
    for lang, expected, prefix in (("fr", french, "\u00a0: erreur\u00a0: "), ("en", english, ": error: ")):
        with pytest.raises(SystemExit) as exit_:
            main([*argv, "--lang", lang])
        err = capsys.readouterr().err
        whole = expected if expected.startswith(("(", "'")) else prefix + expected  # the end of a message
        assert exit_.value.code == 2 and whole in err, err
    with pytest.raises(SystemExit):
        main(["xyz", "--lang", "en"])
    assert "did you mean" not in capsys.readouterr().err  # nothing close: no suggestion


def test_an_unknown_language_is_refused_clearly(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--lang", "xx", "coverage", "--help"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "argument --lang\u00a0: choix invalide\u00a0: 'xx' (choisissez parmi 'fr', 'en')" in err


def _errors(capsys, tmp_path, lang: str) -> str:
    """What a person reads on stderr for a series of bad inputs, in ``lang``."""
    bad_qpv = tmp_path / "qpv.csv"
    bad_qpv.write_text("code_qp,lib_qp,insee_com\nQN00103M,A,01004\nQN00105I,B,1O31X\n", encoding="utf-8")
    pop = tmp_path / "pop.csv"
    pop.write_text("CODGEO;POP_MUN\nQN00201M;-3\n", encoding="utf-8")
    registry = tmp_path / "registre.csv"
    registry.write_text("id,name,status,created,communes,epci\nA,Un,actif,2015,93059;99999,\n"
                        "B,Deux,actif,2016,93066,200054781\nC,Trois,actif,2016,,123456789\n", encoding="utf-8")
    runs = [["coverage", "--registry", str(EXAMPLE), "--qpv", str(bad_qpv), "--out", str(tmp_path / "a")],
            ["coverage", "--registry", str(EXAMPLE), "--population", str(pop), "--out", str(tmp_path / "b")],
            ["coverage", "--registry", str(EXAMPLE), "--timeout", "-1", "--out", str(tmp_path / "c")],
            ["coverage", "--registry", str(EXAMPLE), "--format", "docx", "--out", str(tmp_path / "d")],
            ["validate", str(registry), "--year", "2025"],
            ["coverage", "--registry", str(registry), "--year", "2025", "--out", str(tmp_path / "e")]]
    out = []
    for argv in runs:
        code = main(["--offline", "--lang", lang, *argv])
        captured = capsys.readouterr()
        assert code == 2, (argv, captured)
        out.append(captured.err + captured.out)
    return "\n".join(out)


def test_errors_and_problems_in_one_language(capsys, tmp_path):
    prefixes = ("data.", "engine.", "codes.", "perimeters.", "registry.", "cli.")
    french, english = _errors(capsys, tmp_path, "fr"), _errors(capsys, tmp_path, "en")
    assert "ligne 3, colonne «\u00a0insee_com\u00a0»" in french and "row 3, column 'insee_com'" in english
    assert "population négative -3" in french and "negative population -3" in english
    assert "--timeout doit être un nombre positif fini" in french and "--timeout must be a positive" in english
    assert "format inconnu\u00a0: docx" in french and "unknown format: docx" in english
    assert "ancien code résolu (commune déléguée)" in french or "ancienne commune 93059" in french
    assert "code de commune inconnu dans le COG 2025" in french and "unknown commune code in COG 2025" in english
    assert "SIREN d'EPCI inconnu dans le COG 2025" in french and "unknown EPCI SIREN in COG 2025" in english
    assert "erreurs dans le registre pour le COG 2025" in french and "errors in the registry for COG 2025" in english
    assert [x for x in labels("en", prefixes) if x in french] == []
    assert [x for x in labels("fr", prefixes) if x in english] == []
