"""argparse in the catalogue's words: the usage prefix, the section titles, ``-h`` and the common errors.

Nothing global is changed (no patch of argparse or gettext): :class:`Parser` is the parser class of the
``clsm-geo`` command and of its sub-commands only.
"""

from __future__ import annotations

import argparse
import re
import sys

from ..i18n import has, t

#: argparse's own error messages (Python 3.11 to 3.13) and the catalogue key of each (``help.argparse.errors.*``);
#: a message not listed here is printed as argparse writes it.
_ERRORS = (
    (r"the following arguments are required: (?P<args>.+)", "required"),
    (r"unrecognized arguments: (?P<args>.+)", "unrecognized"),
    (r"argument (?P<arg>[^:]+): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)", "invalid_choice"),
    (r"argument (?P<arg>[^:]+): invalid (?P<type>int|float) value: (?P<value>.+)", "invalid_value"),
    (r"argument (?P<arg>[^:]+): expected one argument", "expected_one"),
    (r"argument (?P<arg>[^:]+): not allowed with argument (?P<other>.+)", "not_allowed"),
    (r"one of the arguments (?P<args>.+) is required", "one_required"),
    (r"ambiguous option: (?P<option>\S+) could match (?P<matches>.+)", "ambiguous"),
    (r"argument (?P<arg>[^:]+): ignored explicit argument (?P<value>.+)", "explicit_argument"),
)


def translate(message: str) -> str:
    """``message`` from argparse in the language in force, when it is one of :data:`_ERRORS`."""
    for pattern, key in _ERRORS:
        match = re.fullmatch(pattern, message)
        if match:
            values = match.groupdict()
            if "type" in values:
                values["type"] = t(f"help.argparse.type.{values['type']}")
            if "arg" in values:  # a placeholder (COMMAND) in the words of the help; options as they are
                values["arg"] = "/".join(metavar(name) for name in values["arg"].split("/"))
            if key in ("required", "one_required"):  # names of arguments (not what the user typed)
                values["args"] = ", ".join(metavar(name) for name in values["args"].split(", "))
            text = t(f"help.argparse.errors.{key}", **values)
            if key == "invalid_choice":
                text += _did_you_mean(values["value"], values["choices"])
            return text
    return message


def _did_you_mean(value: str, choices: str) -> str:
    """`` ; did you mean 'coverage'?`` for a mistyped choice close to one of ``choices`` (argparse's list)."""
    from ..suggest import closest

    names = re.findall(r"'([^']*)'", choices) or [c.strip() for c in choices.split(",")]  # quoted up to 3.11
    found = closest(value.strip("'\""), names)
    return t("help.argparse.errors.did_you_mean", choice=found) if found else ""


def metavar(name):
    """A placeholder such as ``PATH`` or ``YEAR`` in the catalogue's words (``CHEMIN``, ``ANNÉE``), when it has
    them (``help.metavar.<name>``); choices (``{fr,en}``), command names (``registry``, which argparse lists
    through the same hook: they are typed as they are) and others as they are."""
    if not isinstance(name, str) or not name[:1].isupper():
        return name
    key = "help.metavar." + re.sub(r"\W", "_", name.lower())
    return t(key) if has(key) else name


def title(key: str) -> str:
    """A section title; argparse adds the colon, so French gets its no-break space before it here."""
    return t(key) + t("help.argparse.before_colon")


class HelpFormatter(argparse.HelpFormatter):
    """The usage line with the catalogue's prefix (``utilisation : ``) and placeholders (:func:`metavar`)."""

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, t("help.argparse.usage") if prefix is None else prefix)

    def _metavar_formatter(self, action, default_metavar):  # argparse's hook for placeholders (3.8 to 3.13)
        inner = super()._metavar_formatter(action, default_metavar)
        return lambda size: tuple(metavar(m) for m in inner(size))


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose own words (titles, ``-h``, errors) come from the catalogue."""

    def __init__(self, *args, **kwargs):
        add_help = kwargs.pop("add_help", True)
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = title("help.argparse.positionals")
        self._optionals.title = title("help.argparse.options")
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help=t("help.argparse.help"))

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, t("help.argparse.error", prog=self.prog, message=translate(message)) + "\n")


def lang_in(argv: list[str]) -> str | None:
    """The value of ``--lang`` anywhere in ``argv`` (the help is written before the line is parsed)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None
