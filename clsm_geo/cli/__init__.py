"""The ``clsm-geo`` command. It parses arguments, calls the public API and prints; no logic of its own.

Each command lives in its own module of this package with a ``register(subparsers)`` function that adds
its parser with ``set_defaults(handler=...)``. Exit codes: 0 success, 2 bad input (with the
validation report), 1 any other failure. Errors are printed as sentences; a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings

from .. import __version__
from .. import settings as _settings
from ..errors import ClsmGeoError, InputError, RegistryError
from ..i18n import LANGS, set_lang

#: Command modules, in the order ``clsm-geo --help`` lists them.
COMMANDS = ("coverage", "validate", "trend", "report", "data", "gaps", "maps")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clsm-geo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"clsm-geo {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="folder for downloaded official files "
                        "(env CLSM_GEO_DATA_DIR; default: the user cache folder)")
    parser.add_argument("--offline", action="store_true", default=None, help="never use the network")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--lang", choices=LANGS, help="language of what a person reads: fr (default) or en "
                        "(env CLSM_GEO_LANG); machine files keep their codes")
    parser.add_argument("--csv-dialect", choices=_settings.CSV_DIALECTS, help="CSV flavour: rfc4180 (default) "
                        "or excel-fr (UTF-8 with BOM, ';', decimal comma) for French Excel")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Data warnings as one plain line on stderr (no source location: it is for users)."""
    print(f"warning: {message}", file=sys.stderr)


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
            raise InputError(f"{option} must be a positive finite number, got {value:g}",
                             hint=f"for example {option} 60")
        out[key] = int(value * scale) if key == "max_download_size" else value
    return out


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _print_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    _settings.configure(data_dir=args.data_dir, offline=args.offline, csv_dialect=args.csv_dialect,
                        progress=False if args.quiet or not sys.stderr.isatty() else None)
    set_lang(args.lang)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        pass
    try:
        _settings.configure(**_network_options(args))
        return args.handler(args) or 0
    except RegistryError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except ClsmGeoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a command that stopped reading (e.g. head)
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file the system refused (permissions, full disk, wrong kind of path)
        if args.debug:
            raise
        from .._outputs import os_error

        error = os_error(exc)
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as exc:  # an internal error: say so plainly; the traceback only with --debug
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n  rerun with --debug and report it", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
