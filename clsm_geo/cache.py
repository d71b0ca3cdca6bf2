"""The local cache of official files, under ``settings.cache_dir``.

Layout::

    <cache_dir>/index.json            what is cached: {"version": 1, "entries": {key: {...}}}
    <cache_dir>/<key>/<filename>      the cached files
    <cache_dir>/.locks/<key>.lock     lock files (never deleted)

Keys are short identifiers (``qpv2024``): letters, digits, ``.``, ``_``, ``-``, starting with a letter
or digit. The index stores paths relative to the cache folder, so the data folder can be moved.

Safety:

* every write is atomic: a new file is downloaded or copied into a staging folder, checked
  (size, sha256, the caller's ``validate``), then renamed into place; ``index.json`` is rewritten
  through a temporary file and :func:`os.replace`. An error or interruption before the rename leaves
  the previous file and index untouched;
* concurrency: a per-key lock file (:func:`fcntl.flock`, exclusive) is held while a key is fetched,
  read or removed, so a second process fetching the same key waits for the first and then replaces
  (or, when ``sha256`` is given and already matches, reuses) the entry cleanly; a separate lock
  serialises read-modify-write cycles of ``index.json``. Locking needs POSIX (Linux, macOS); elsewhere
  it is skipped and concurrent fetches of the same key are not protected;
* ``cache_get`` re-hashes the file (fine for files of a few tens of MB): a missing or modified file
  is removed from the cache and reported;
* an unreadable ``index.json`` is treated as empty (with a :class:`CacheWarning`) and rewritten by
  the next :func:`cache_put`;
* leftovers: a process killed mid-download (SIGKILL, power cut) can leave its staging folder
  (``.incoming-*`` with a ``.part`` file), or a file renamed into place but not yet indexed.
  :func:`cache_leftovers` lists them (``clsm-geo data status``), :func:`cache_clean` removes them
  (``clsm-geo data clean``), both skipping keys whose lock another process holds; the next
  :func:`cache_put` of a key removes that key's leftovers itself. Downloads are bounded in size and
  time (see :mod:`clsm_geo._download`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from clsm_geo import i18n
from clsm_geo import settings as config
from clsm_geo.errors import ChecksumMismatchError, DataSourceError, InputError
from clsm_geo.io import file_sha256
from clsm_geo.settings import Settings

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking (documented)
    fcntl = None  # type: ignore[assignment]

INDEX_NAME = "index.json"
INDEX_VERSION = 1
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHUNK = 1024 * 1024


class CacheWarning(UserWarning):
    """Something in the cache was unreadable and has been ignored."""


@dataclass(frozen=True)
class CacheEntry:
    """One cached file. ``fetched_at`` is ISO 8601 UTC (``2024-05-01T12:00:00Z``)."""

    key: str
    path: Path
    sha256: str
    size: int
    source: str
    fetched_at: str
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Public API


def cache_put(
    key: str,
    source: str | Path,
    *,
    filename: str | None = None,
    sha256: str | None = None,
    expected_size: int | None = None,
    meta: dict | None = None,
    validate: Callable[[Path], None] | None = None,
    settings: Settings | None = None,
) -> CacheEntry:
    """Store ``source`` (an http(s) URL, downloaded, or a local file, copied) under ``key``.

    The file goes to ``<cache_dir>/<key>/<filename>`` (``filename`` defaults to the source's name).
    ``sha256`` and ``expected_size`` are checked when given; ``validate(path)`` is then run on the new
    file, and only if it returns normally does the new file replace the previous entry (an exception
    from ``validate`` propagates unchanged, the previous entry staying intact).

    When ``sha256`` is given and the current entry already has that checksum (and still verifies),
    it is returned without fetching again: this is what a second process fetching the same key at
    the same time gets once the first one has finished.
    """
    cfg = settings or config.get()
    _check_key(key)
    source_text, local = _parse_source(source)
    name = _check_filename(filename or _default_filename(source_text, local))
    if meta is not None:
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as exc:
            raise InputError(i18n.t("data.cache.meta_json", key=repr(key), error=exc)) from exc
    if sha256 is not None:
        sha256 = sha256.strip().lower()
    if local is not None and not local.is_file():
        raise InputError(i18n.t("data.cache.no_file", path=local), hint=i18n.t("data.cache.no_file_hint"))

    key_dir = cfg.cache_dir / key
    with _locked(cfg, key):
        if sha256 is not None:
            current = _get_unlocked(key, cfg, verify=True, quiet=True)
            if current is not None and current.sha256 == sha256:
                return current

        key_dir.mkdir(parents=True, exist_ok=True)
        for stale in _key_leftovers(key, cfg):  # we hold the key's lock: nobody else is writing here
            _remove_path(stale)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=key_dir))
        try:
            staged = staging / name
            if local is None:
                from clsm_geo._download import _download  # requests is imported only to download

                digest, size = _download(source_text, staged, sha256=sha256, expected_size=expected_size,
                                         description=f"{key} ({name})", settings=cfg)
            else:
                digest, size = _copy_and_hash(local, staged)
                if expected_size is not None and size != expected_size:
                    raise ChecksumMismatchError(
                        i18n.t("data.cache.size", path=local, expected=expected_size, got=size),
                        hint=i18n.t("data.cache.size_hint"))
                if sha256 is not None and digest != sha256:
                    raise ChecksumMismatchError(
                        i18n.t("data.cache.checksum", path=local, expected=sha256, got=digest),
                        hint=i18n.t("data.cache.checksum_hint"),
                        expected=sha256, got=digest)
            if validate is not None:
                validate(staged)

            previous = _read_index(cfg).get(key)
            final = key_dir / name
            os.replace(staged, final)
            entry = CacheEntry(key=key, path=final, sha256=digest, size=size, source=source_text,
                               fetched_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               meta=dict(meta or {}))
            _update_index(cfg, lambda entries: entries.__setitem__(key, _to_record(entry, cfg)))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                key_dir.rmdir()  # only when empty: a failed first fetch leaves no folder behind

        # The previous entry's file, if it had another name.
        if previous is not None:
            old = _record_path(previous, cfg)
            if old is not None and old != final and old.parent == key_dir:
                with contextlib.suppress(OSError):
                    old.unlink()
        return entry


def cache_get(key: str, *, verify: bool = True, settings: Settings | None = None) -> CacheEntry | None:
    """The entry cached under ``key``, or None when there is none.

    The file must exist with the recorded size and, when ``verify`` is true, the recorded sha256.
    Otherwise the entry is removed and :class:`DataSourceError` is raised.
    """
    cfg = settings or config.get()
    _check_key(key)
    with _locked(cfg, key):
        return _get_unlocked(key, cfg, verify=verify, quiet=False)


def cache_entries(settings: Settings | None = None) -> list[CacheEntry]:
    """All entries in the index (not verified), sorted by key."""
    cfg = settings or config.get()
    out = []
    for key, record in sorted(_read_index(cfg).items()):
        entry = _from_record(key, record, cfg)
        if entry is not None:
            out.append(entry)
    return out


def cache_remove(key: str, settings: Settings | None = None) -> bool:
    """Remove the entry and the files of ``key``; True when there was something to remove."""
    cfg = settings or config.get()
    _check_key(key)
    with _locked(cfg, key):
        return _remove_unlocked(key, cfg)


def cache_leftovers(settings: Settings | None = None) -> list[Path]:
    """What interrupted downloads left in the cache: staging folders (``.incoming-*``), ``.part`` and
    ``.tmp`` files, and files of a key folder that the index does not list. Keys being fetched right now
    (their lock is held) are skipped."""
    cfg = settings or config.get()
    out: list[Path] = []
    if not cfg.cache_dir.is_dir():
        return out
    for key_dir in sorted(p for p in cfg.cache_dir.iterdir() if p.is_dir() and _KEY_RE.match(p.name)):
        with _try_locked(cfg, key_dir.name) as free:
            if free:
                out.extend(_key_leftovers(key_dir.name, cfg))
    with _try_locked(cfg, ".index") as free:
        if free:
            out.extend(sorted(cfg.cache_dir.glob(f".{INDEX_NAME}.*.tmp")))
    return out


def cache_clean(settings: Settings | None = None) -> list[tuple[Path, int]]:
    """Remove :func:`cache_leftovers`; returns ``(path, bytes freed)`` for each."""
    cfg = settings or config.get()
    removed = []
    for path in cache_leftovers(cfg):
        key = path.relative_to(cfg.cache_dir).parts[0]
        with _try_locked(cfg, key if _KEY_RE.match(key) else ".index") as free:
            if free:
                size = path_size(path)
                if _remove_path(path):
                    removed.append((path, size))
    return removed


def path_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
        return path.lstat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------------------------------
# Internals


def _key_leftovers(key: str, cfg: Settings) -> list[Path]:
    """Leftovers in the folder of ``key`` (the caller holds, or has checked, the key's lock)."""
    key_dir = cfg.cache_dir / key
    if not key_dir.is_dir():
        return []
    record = _read_index(cfg, warn=False).get(key)
    current = _record_path(record, cfg) if record else None
    return sorted(p for p in key_dir.iterdir() if current is None or p != current)


def _remove_path(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def _try_locked(cfg: Settings, name: str) -> Iterator[bool]:
    """Like :func:`_locked` without waiting: yields False when another process holds the lock."""
    lock_dir = cfg.cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+b") as fh:
        if fcntl is None:
            yield True
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _get_unlocked(key: str, cfg: Settings, *, verify: bool, quiet: bool) -> CacheEntry | None:
    record = _read_index(cfg).get(key)
    if record is None:
        return None
    entry = _from_record(key, record, cfg)
    problem = None
    if entry is None:
        problem = i18n.t("data.cache.problem.index")
    elif not entry.path.is_file():
        problem = i18n.t("data.cache.problem.missing", path=entry.path)
    else:
        size = entry.path.stat().st_size
        if size != entry.size:
            problem = i18n.t("data.cache.problem.size", path=entry.path, expected=entry.size, got=size)
        elif verify:
            digest = file_sha256(entry.path)
            if digest != entry.sha256:
                problem = i18n.t("data.cache.problem.sha256", path=entry.path, expected=entry.sha256, got=digest)
    if problem is None:
        return entry
    _remove_unlocked(key, cfg)
    if quiet:
        return None
    raise DataSourceError(i18n.t("data.cache.problem.message", key=repr(key), problem=problem),
                          hint=_refetch_hint(key))


def _refetch_hint(key: str) -> str:
    match = re.fullmatch(r"qpv(\d{4})", key)
    year = match.group(1) if match else i18n.t("data.cache.year_word")
    return i18n.t("data.cache.refetch_hint", year=year) + ("" if match else i18n.t("data.cache.refetch_url"))


def _remove_unlocked(key: str, cfg: Settings) -> bool:
    removed = []

    def drop(entries: dict) -> None:
        if entries.pop(key, None) is not None:
            removed.append(key)

    if key in _read_index(cfg, warn=False):
        _update_index(cfg, drop)
    key_dir = cfg.cache_dir / key
    if key_dir.exists():
        shutil.rmtree(key_dir, ignore_errors=True)
        removed.append(key_dir)
    return bool(removed)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise InputError(i18n.t("data.cache.bad_key", key=repr(key)), hint=i18n.t("data.cache.bad_key_hint"))


def _check_filename(name: str) -> str:
    if (not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name
            or "\x00" in name or len(name) > 200):
        raise InputError(i18n.t("data.cache.bad_name", name=repr(name)), hint=i18n.t("data.cache.bad_name_hint"))
    return name


def _parse_source(source: str | Path) -> tuple[str, Path | None]:
    """``(text recorded as source, local path or None for a URL)``."""
    if isinstance(source, Path):
        path = source.expanduser().resolve()
        return str(path), path
    text = str(source)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        return text, None
    if scheme == "file":
        from urllib.request import url2pathname  # only here (its import costs more than a run's cache lookups)

        path = Path(url2pathname(urllib.parse.urlsplit(text).path)).resolve()
        return str(path), path
    if len(scheme) > 1:  # a one-letter scheme is a Windows drive
        raise InputError(i18n.t("data.cache.bad_source", source=repr(text)), hint=i18n.t("data.cache.bad_source_hint"))
    path = Path(text).expanduser().resolve()
    return str(path), path


def _default_filename(source_text: str, local: Path | None) -> str:
    if local is not None:
        return local.name
    name = urllib.parse.unquote(urllib.parse.urlsplit(source_text).path.rstrip("/").rsplit("/", 1)[-1])
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")
    return name or "download"


def _copy_and_hash(src: Path, dst: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(_CHUNK):
            fout.write(chunk)
            hasher.update(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return hasher.hexdigest(), size


@contextlib.contextmanager
def _locked(cfg: Settings, name: str) -> Iterator[None]:
    """Exclusive lock on ``<cache_dir>/.locks/<name>.lock`` (blocks until acquired; not re-entrant)."""
    lock_dir = cfg.cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _index_path(cfg: Settings) -> Path:
    return cfg.cache_dir / INDEX_NAME


def _read_index(cfg: Settings, *, warn: bool = True) -> dict[str, dict]:
    """``{key: record}``; an absent index is empty, an unreadable one too (with a warning)."""
    path = _index_path(cfg)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        if warn:
            _warn_index(path, i18n.t("data.cache.index_unreadable", error=exc))
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        if warn:
            _warn_index(path, i18n.t("data.cache.index_not_json", error=exc))
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        if warn:
            _warn_index(path, i18n.t("data.cache.index_structure"))
        return {}
    return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}


def _warn_index(path: Path, why: str) -> None:
    warnings.warn(i18n.t("data.cache.index", path=path, why=why), CacheWarning, stacklevel=4)


def _update_index(cfg: Settings, mutate: Callable[[dict], None]) -> None:
    """Read-modify-write ``index.json`` under its lock, atomically."""
    with _locked(cfg, ".index"):
        entries = _read_index(cfg, warn=False)
        mutate(entries)
        payload = {"version": INDEX_VERSION, "entries": dict(sorted(entries.items()))}
        text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        path = _index_path(cfg)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{INDEX_NAME}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _to_record(entry: CacheEntry, cfg: Settings) -> dict:
    try:
        rel = entry.path.relative_to(cfg.cache_dir).as_posix()
    except ValueError:
        rel = str(entry.path)
    return {"path": rel, "sha256": entry.sha256, "size": entry.size, "source": entry.source,
            "fetched_at": entry.fetched_at, "meta": entry.meta}


def _record_path(record: dict, cfg: Settings) -> Path | None:
    rel = record.get("path")
    if not isinstance(rel, str) or not rel:
        return None
    path = Path(rel)
    return path if path.is_absolute() else cfg.cache_dir / path


def _from_record(key: str, record: dict, cfg: Settings) -> CacheEntry | None:
    path = _record_path(record, cfg)
    try:
        entry = CacheEntry(key=key, path=path, sha256=str(record["sha256"]), size=int(record["size"]),
                           source=str(record.get("source", "")), fetched_at=str(record.get("fetched_at", "")),
                           meta=dict(record.get("meta") or {}))
    except (KeyError, TypeError, ValueError):
        return None
    return entry if path is not None else None
