"""The ``clsm-geo`` command. It parses arguments, calls the public API and prints; no logic of its own.

Each command lives in its own module of this package with a ``register(subparsers)`` function that adds
its parser with ``set_defaults(handler=...)``. Global options (``--offline``, ``-q``, ``--lang``, ...) are
accepted anywhere on the line, before or after the command name. Every option and input is checked before
any computation (``check(args)`` of the command's module, when it has one). Exit codes: 0 success, 2 bad
input (with the validation report), 1 any other failure. Errors are printed as sentences in the chosen
language; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
import warnings

from .. import __version__
from .. import settings as _settings
from ..errors import ClsmGeoError, InputError, RegistryError
from ..i18n import LANGS, UnknownLanguageError, set_lang, t
from ._parser import Parser, lang_in, title

#: Command modules, in the order ``clsm-geo --help`` lists them.
COMMANDS = ("coverage", "validate", "registry", "compare", "trend", "report", "data", "gaps", "maps")
#: Global options: (flags, argparse keywords, ``help`` being a catalogue key). Their defaults live on the main
#: parser only.
GLOBAL_OPTIONS = (
    (("--data-dir",), {"metavar": "DIR", "help": "help.global.data_dir"}),
    (("--offline",), {"action": "store_true", "help": "help.global.offline"}),
    (("--quiet", "-q"), {"action": "store_true", "help": "help.global.quiet"}),
    (("--verbose", "-v"), {"action": "store_true", "help": "help.global.verbose"}),
    (("--debug",), {"action": "store_true", "help": "help.global.debug"}),
    (("--lang",), {"choices": LANGS, "help": "help.global.lang"}),
    (("--csv-dialect",), {"choices": _settings.CSV_DIALECTS, "help": "help.global.csv_dialect"}),
)
_DEFAULTS = {"data_dir": None, "offline": None, "quiet": False, "verbose": False, "debug": False, "lang": None,
             "csv_dialect": None}


def _add_globals(parser: argparse.ArgumentParser, *, top: bool) -> None:
    group = parser.add_argument_group(title("help.global.title"))
    for flags, kwargs in GLOBAL_OPTIONS:
        kwargs = {**kwargs, "help": t(kwargs["help"])}
        group.add_argument(*flags, **kwargs, **({} if top else {"default": argparse.SUPPRESS}))
    if top:
        parser.set_defaults(**_DEFAULTS)


def _leaf_parsers(parser: argparse.ArgumentParser):
    """Every parser under ``parser`` (commands and sub-commands such as ``map choropleth``)."""
    for action in parser._actions:  # argparse has no public walk of sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _leaf_parsers(child)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="clsm-geo", description=t("help.main.description"))
    parser.add_argument("--version", action="version", version=f"clsm-geo {__version__}",
                        help=t("help.argparse.version"))
    _add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title=title("help.main.commands"))
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    for child in _leaf_parsers(parser):
        _add_globals(child, top=False)
    return parser


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data warnings as one plain line on stderr (no source location: it is for users)."""
    print(t("cli.warning", message=message), file=sys.stderr)


def _terminated(signum, frame) -> None:
    """SIGTERM as an interruption, so that temporary files and folders are removed on the way out."""
    raise KeyboardInterrupt


def _network_options(args) -> dict:
    """``--timeout`` / ``--max-size`` of the commands that download, checked."""
    out = {}
    for name, key, scale in (("timeout", "download_timeout", 1.0), ("max_size", "max_download_size", 1e6)):
        value = getattr(args, name, None)
        if value is None:
            continue
        if not (value > 0 and value != float("inf")):  # also refuses nan
            option = "--" + name.replace("_", "-")
            raise InputError(t("engine.option.positive", option=option, value=f"{value:g}"),
                             hint=t("engine.option.positive_hint", option=option))
        out[key] = int(value * scale) if key == "max_download_size" else value
    return out


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _print_warning
    argv = sys.argv[1:] if argv is None else list(argv)
    try:  # the help and argparse's messages are written in the language asked for, before parsing
        set_lang(lang_in(argv))
    except UnknownLanguageError:
        set_lang(None)  # argparse then refuses the value, in the default language
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.offline is False:
        args.offline = None
    _settings.configure(data_dir=args.data_dir, offline=args.offline, csv_dialect=args.csv_dialect,
                        progress=False if args.quiet or not sys.stderr.isatty() else None)
    set_lang(args.lang)
    if _settings.get().csv_dialect not in _settings.CSV_DIALECTS:  # from CLSM_GEO_CSV_DIALECT
        parser.error(t("engine.coverage.csv_dialect_env", dialect=repr(_settings.get().csv_dialect),
                            choices=", ".join(_settings.CSV_DIALECTS)))
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass
    try:
        _settings.configure(**_network_options(args))
        checker = getattr(args, "check", None)
        if checker is not None:
            checker(args)
        return args.handler(args) or 0
    except RegistryError as exc:
        from ..validation import format_registry_error

        print(format_registry_error(exc), file=sys.stderr)
        return exc.exit_code
    except ClsmGeoError as exc:
        print(t("cli.error", message=exc.message), file=sys.stderr)
        if exc.hint:
            print("  " + t("cli.hint", hint=exc.hint), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(t("cli.interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a command that stopped reading (e.g. head)
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the system refused (permissions, full disk, wrong kind of path)
        if args.debug:
            raise
        from .._outputs import os_error

        error = os_error(exc)
        print(t("cli.error", message=error.message), file=sys.stderr)
        if error.hint:
            print("  " + t("cli.hint", hint=error.hint), file=sys.stderr)
        return error.exit_code
    except Exception as exc:  # an internal error: say so plainly; the traceback only with --debug
        if args.debug:
            raise
        print(t("cli.internal_error", name=type(exc).__name__, message=exc), file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: Allocations between two collections of the youngest generation in the ``clsm-geo`` process (Python's
#: default: 700), and how often the older ones are collected. A run allocates millions of objects that live
#: to its end (imported modules, tables); with the default, the collector walks them again and again.
GC_THRESHOLDS = (50_000, 20, 100)


def entry() -> None:
    """The ``clsm-geo`` program: :func:`main` in a process of its own, then exit with its code.

    The process collects garbage less often (:data:`GC_THRESHOLDS`) and, once the command is done, freezes
    what is left (:func:`gc.freeze`) so that shutting down does not walk every object once more: together
    about 0.2 s of a 1.3 s coverage run (``benchmarks/bench_commands.py``). :func:`main` itself, which
    tests and notebooks call, leaves the collector as it is. Modules that SciPy imports and no command uses
    are imported only if used (:mod:`clsm_geo._lazy_imports`).
    """
    from .. import _lazy_imports

    _lazy_imports.defer()
    gc.set_threshold(*GC_THRESHOLDS)
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
