"""Where outputs go: checked against the inputs before any work, written all together, OS errors as sentences.

* :func:`check_outputs` refuses, before any computation, an output that would overwrite an input (same
  path, same file through a link, or a file inside an input folder), two outputs with the same path, a
  folder where a file is expected and the reverse, and an output under an existing file.
* :func:`output_set` is the all-or-nothing writer of a command's files: they are written into a hidden
  staging folder inside the target folder (same filesystem) and renamed into place only when all are
  complete. An exception or an interruption leaves the previous outputs as they were; a staging folder
  left by a killed process (SIGKILL) is removed by the next run that writes there.
* :func:`os_error` turns an :class:`OSError` met while writing into an :class:`~clsm_geo.errors.OutputError`
  (exit 2) naming the path and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError
from .i18n import t

#: Hidden staging folders of :func:`output_set` (``.clsm-out.<pid>.<random>.tmp``).
_STAGE_RE = re.compile(r"^\.clsm-out\.(\d+)\.[A-Za-z0-9_]+\.tmp$")
#: Temporary files of :func:`clsm_geo.io.atomic_path` (``.<name>.<pid>.<random>.tmp``).
_TMP_RE = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]{8}\.tmp(?:\.fixed)?$")

_ERRNO_KEYS = {
    errno.EACCES: "permission", errno.EPERM: "permission", errno.EROFS: "read_only", errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full", errno.ENOTDIR: "not_a_folder", errno.EISDIR: "is_a_folder",
    errno.EEXIST: "exists", errno.ENAMETOOLONG: "name_too_long",
}


def os_error(exc: OSError, path: str | os.PathLike | None = None) -> OutputError:
    """The :class:`OutputError` saying what went wrong writing ``path`` (default: the error's file name)."""
    where = _public(path if path is not None else (exc.filename or "?"))
    kind = _ERRNO_KEYS.get(exc.errno or 0)
    if kind is None:
        return OutputError(t("io.os.other", path=where, reason=exc.strerror or str(exc)), hint=t("io.os.other_hint"))
    return OutputError(t(f"io.os.{kind}", path=where), hint=t(f"io.os.{kind}_hint"))


def _public(path) -> str:
    """``path`` as the user will see it: without the hidden staging folder of :func:`output_set`."""
    parts = [p for p in Path(str(path)).parts if not _STAGE_RE.match(p)]
    return str(Path(*parts)) if parts else str(path)


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an :class:`OSError` raised in the block into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise os_error(exc, path) from exc


# ------------------------------------------------------------------------------------------------ checks


def _resolved(path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser().resolve(strict=False)))


def _is_url(value) -> bool:
    return isinstance(value, str) and bool(re.match(r"^[a-z][a-z0-9+.-]+://", value, flags=re.I))


def _first_existing_ancestor(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            return parent
    return None


def _check_parent(path: Path) -> None:
    ancestor = _first_existing_ancestor(path)
    if ancestor is not None and not ancestor.is_dir():
        raise OutputError(t("io.out.under_a_file", path=path, file=ancestor), hint=t("io.out.choose_other"))


def check_outputs(files: Iterable = (), inputs: Iterable = (), *, folders: Iterable = ()) -> None:
    """Refuse outputs that would destroy an input or cannot be written, before any work is done.

    ``files``: every file the command will write. ``folders``: folders that will receive files (they
    must be folders or not exist yet). ``inputs``: files and folders the command reads (``None`` and
    URLs are skipped). Raises :class:`OutputError` (exit 2) with the path and what to do.
    """
    files = [Path(f) for f in files if f is not None]
    for folder in (Path(f) for f in folders if f is not None):
        if folder.exists() and not folder.is_dir():
            raise OutputError(t("io.out.folder_is_a_file", path=folder), hint=t("io.out.give_folder"))
        _check_parent(folder)
    seen: dict[Path, Path] = {}
    for path in files:
        if path.is_dir():
            raise OutputError(t("io.out.file_is_a_folder", path=path), hint=t("io.out.give_file"))
        _check_parent(path)
        key = _resolved(path)
        if key in seen:
            raise OutputError(t("io.out.collide", path=path), hint=t("io.out.choose_other"))
        seen[key] = path
    for source in inputs:
        if source is None or _is_url(str(source)):
            continue
        src = Path(str(source)).expanduser()
        if not src.exists():
            continue
        real = _resolved(src)
        for key, path in seen.items():
            same = key == real
            if not same and path.exists():
                with contextlib.suppress(OSError):
                    same = os.path.samefile(src, path)
            inside = src.is_dir() and real in key.parents
            if same or inside:
                raise OutputError(t("io.out.overwrites_input", path=path, input=src), hint=t("io.out.protect_input"))


# ------------------------------------------------------------------------------------------- output set


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def leftovers(folder: str | os.PathLike) -> list[Path]:
    """Staging folders and temporary files left in ``folder`` by killed runs (their process is gone)."""
    folder = Path(folder)
    out = []
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = _STAGE_RE.match(entry.name) or (_TMP_RE.match(entry.name) if entry.is_file() else None)
            if match and not _pid_alive(int(match.group(1))):
                out.append(entry)
    return sorted(out)


def clean_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Remove :func:`leftovers` of ``folder``; returns what was removed."""
    removed = []
    for entry in leftovers(folder):
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def temp_prefix(name: str) -> str:
    """Prefix of a temporary file for ``name`` (pairs with :data:`_TMP_RE`; the pid lets a later run clean it)."""
    return f".{name}.{os.getpid()}."


@contextlib.contextmanager
def output_set(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success move every file written there into ``target``, all together.

    ``target`` is created if needed (and removed again if the block fails and it was created here and is
    empty). Files already in ``target`` that the block does not write are left alone; those it writes are
    replaced only after every file is complete. Any exception (KeyboardInterrupt included) leaves
    ``target`` as it was and removes the staging folder. OS errors become :class:`OutputError`.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise OutputError(t("io.out.folder_is_a_file", path=target), hint=t("io.out.give_folder"))
    _check_parent(target)
    created = not target.exists()
    with writing(target):
        target.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        stage = Path(tempfile.mkdtemp(prefix=f".clsm-out.{os.getpid()}.", suffix=".tmp", dir=target))
    try:
        try:
            yield stage
        except OSError as exc:
            name = exc.filename
            with contextlib.suppress(ValueError, TypeError):
                name = target / Path(exc.filename).relative_to(stage)
            raise os_error(exc, name or target) from exc
        _commit(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()  # only if empty
        raise
    shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, target: Path) -> None:
    """Move the staged files into ``target`` (renames within one filesystem: no copying)."""
    staged = sorted(p for p in stage.rglob("*") if p.is_file() and not _TMP_RE.match(p.name))
    for path in staged:  # check first, so that a wrong kind of path fails before anything is replaced
        final = target / path.relative_to(stage)
        if final.is_dir():
            raise OutputError(t("io.out.file_is_a_folder", path=final), hint=t("io.out.give_file"))
    with _folder_lock(target):  # two runs writing the same folder: each set lands whole, one after the other
        for path in staged:
            final = target / path.relative_to(stage)
            with writing(final):
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, final)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive :func:`fcntl.flock` on the folder itself (POSIX; elsewhere no lock)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def final_paths(paths: Iterable, stage: Path, target: str | os.PathLike) -> list[Path]:
    """The paths ``paths`` (inside ``stage``) will have once moved into ``target``."""
    return [Path(target) / Path(p).relative_to(stage) for p in paths]
