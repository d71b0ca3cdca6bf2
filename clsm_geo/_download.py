"""Downloading official files and unpacking zip archives, safely. The only module that touches the network.

:func:`download` fetches one URL to a local file:

* a :class:`requests.Session` with a ``clsm-geo/<version>`` User-Agent and ``(connect, read)`` timeouts
  from the settings;
* up to ``1 + settings.retries`` attempts with exponential backoff (``settings.backoff``, doubling) on
  connection errors, timeouts, truncated bodies, HTTP 429 and 5xx; a small ``Retry-After`` is honoured,
  a long one ends the download at once; other 4xx are never retried;
* bounded: at most ``settings.max_download_size`` bytes (a larger announced Content-Length is refused before
  the body, a body growing past it is cut) and at most ``settings.download_timeout`` seconds for the whole
  file, retries and waits included (each read waits at most what is left); both end the download at once
  with :class:`~clsm_geo.errors.DownloadLimitError`;
* the body is streamed to a temporary file in the destination folder, checked (Content-Length,
  ``expected_size``, ``sha256``) and only then renamed onto ``dest`` (:func:`os.replace`): ``dest`` is
  either the complete, checked file or untouched, and no temporary ``.part`` file is left behind (also on
  KeyboardInterrupt; after a SIGKILL, ``clsm-geo data clean`` removes it);
* ``settings.offline`` raises :class:`~clsm_geo.errors.OfflineError` before any connection.

Every failure is a :class:`~clsm_geo.errors.DataSourceError` whose message names the URL and what
happened, and whose ``hint`` says what to do.

Zip archives are unpacked by :func:`clsm_geo._zip.safe_extract` (re-exported here).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
import urllib3.exceptions

from clsm_geo import __version__
from clsm_geo import settings as config
from clsm_geo.errors import ChecksumMismatchError, DataSourceError, DownloadLimitError, OfflineError
from clsm_geo.i18n import t
from clsm_geo.settings import Settings

USER_AGENT = f"clsm-geo/{__version__} (+https://pypi.org/project/clsm-geo/; python-requests/{requests.__version__})"
#: A ``Retry-After`` longer than this (seconds) is not waited for: the download fails at once.
MAX_RETRY_AFTER = 30.0
#: Bytes per read while streaming and hashing.
CHUNK_SIZE = 256 * 1024




def _from_local() -> str:
    return t("download.from_local")


def _retry_later() -> str:
    return t("download.retry_later", from_local=_from_local())


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; ``what`` is the human description."""

    def __init__(self, what: str, *, retry_after: float | None = None, timeout: bool = False):
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after
        self.timeout = timeout


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    expected_size: int | None = None,
    description: str | None = None,
    settings: Settings | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (atomically, checked) and return ``dest``.

    ``sha256`` (hex) and ``expected_size`` (bytes) are checked when given. ``description`` names the
    file in the progress bar and in messages (default: ``dest``'s name).

    Raises :class:`OfflineError` when ``settings.offline`` is set (before any connection) and
    :class:`DataSourceError` on any failure; ``dest`` is then left as it was.
    """
    _download(url, Path(dest), sha256=sha256, expected_size=expected_size, description=description,
              settings=settings)
    return Path(dest)


def _download(
    url: str,
    dest: Path,
    *,
    sha256: str | None,
    expected_size: int | None,
    description: str | None,
    settings: Settings | None,
) -> tuple[str, int]:
    """:func:`download`, returning the ``(sha256, size)`` of the file written (used by the cache)."""
    cfg = settings or config.get()
    label = description or dest.name
    if cfg.offline:
        raise OfflineError(t("download.offline", label=label, url=url), hint=t("download.offline_hint"))
    if sha256 is not None:
        sha256 = sha256.strip().lower()
    attempts = max(1, int(cfg.retries) + 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clock = _Clock(cfg, url)

    failure: _Retryable | None = None
    with requests.Session() as session:
        session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        for attempt in range(1, attempts + 1):
            clock.check()
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out:
                    digest, size = _attempt(session, url, out, cfg, label, expected_size, clock)
                    out.flush()
                    os.fsync(out.fileno())
                if expected_size is not None and size != expected_size:
                    raise ChecksumMismatchError(
                        t("download.size_mismatch", url=url, expected=expected_size, got=size),
                        hint=_changed_hint(url), expected=expected_size, got=size)
                if sha256 is not None and digest != sha256:
                    raise ChecksumMismatchError(
                        t("download.checksum_mismatch", url=url, expected=sha256, got=digest),
                        hint=_changed_hint(url), expected=sha256, got=digest,
                    )
                os.replace(tmp, dest)
                return digest, size
            except _Retryable as exc:
                failure = exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            # A failed attempt worth retrying.
            if attempt == attempts:
                break
            delay = cfg.backoff * 2 ** (attempt - 1)
            if failure.retry_after is not None:
                if failure.retry_after > MAX_RETRY_AFTER:
                    raise DataSourceError(
                        t("download.retry_after", url=url, what=failure.what,
                          seconds=f"{failure.retry_after:.0f}"),
                        hint=t("download.retry_after_hint", from_local=_from_local()))
                delay = max(delay, failure.retry_after)
            if delay >= clock.remaining():
                clock.expire(failure.what)
            time.sleep(delay)

    hint = _retry_later()
    if failure.timeout:
        hint += t("download.timeouts", connect=f"{cfg.connect_timeout:g}", read=f"{cfg.read_timeout:g}")
    raise DataSourceError(
        t("download.failed", url=url, what=failure.what)
        + (t("download.attempts", n=attempts) if attempts > 1 else ""),
        hint=hint,
    )


class _Clock:
    """The overall deadline of one file's download (``settings.download_timeout`` seconds)."""

    def __init__(self, cfg: Settings, url: str):
        self.cfg, self.url = cfg, url
        self.end = time.monotonic() + float(cfg.download_timeout)

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def timeouts(self) -> tuple[float, float]:
        """``(connect, read)`` timeouts, neither longer than what is left (at least 10 ms)."""
        left = max(self.remaining(), 0.01)
        return min(self.cfg.connect_timeout, left), min(self.cfg.read_timeout, left)

    def check(self) -> None:
        if self.remaining() <= 0:
            self.expire()

    def expire(self, why: str | None = None):
        raise DownloadLimitError(
            t("download.deadline", url=self.url, seconds=f"{self.cfg.download_timeout:g}")
            + (f" ({why})" if why else ""),
            hint=t("download.deadline_hint"))


def _too_big(url: str, size: int, cfg: Settings, *, announced: bool) -> DownloadLimitError:
    key = "download.announced_too_big" if announced else "download.too_big"
    return DownloadLimitError(t(key, url=url, size=_mb(size), limit=_mb(cfg.max_download_size)),
                              hint=t("download.too_big_hint"))


def _read_some(response: requests.Response, cfg: Settings, clock: _Clock) -> bytes:
    """The next bytes of the body, waiting at most the read timeout and never past the deadline."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(0.01, min(cfg.read_timeout, clock.remaining())))
    return response.raw.read1(CHUNK_SIZE, decode_content=True)


def _mb(n: int) -> str:
    from clsm_geo.i18n import fmt_decimal

    return fmt_decimal(n / 1e6, 1)


def _attempt(session: requests.Session, url: str, out, cfg: Settings, label: str,
             expected_size: int | None, clock: _Clock | None = None) -> tuple[str, int]:
    """One GET streamed into ``out``; returns ``(sha256, size)``. Raises _Retryable or DataSourceError."""
    clock = clock or _Clock(cfg, url)
    try:
        response = session.get(url, stream=True, timeout=clock.timeouts())
    except requests.exceptions.SSLError as exc:
        raise DataSourceError(t("download.tls", url=url, detail=_short(exc)), hint=t("download.tls_hint")) from exc
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise DataSourceError(t("download.invalid_url", url=url, detail=_short(exc)),
                              hint=t("download.check_url")) from exc
    except requests.exceptions.TooManyRedirects as exc:
        raise DataSourceError(t("download.redirects", url=url),
                              hint=t("download.check_url_or_local", from_local=_from_local())) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise _failure(exc, cfg, url) from exc
    except requests.exceptions.RequestException as exc:
        raise DataSourceError(t("download.failed", url=url, what=_short(exc)), hint=_retry_later()) from exc

    with response:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(t("download.what_http", status=status, reason=_reason(response)),
                             retry_after=_retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            what = t("download.not_found") if status in (404, 410) else _reason(response)
            raise DataSourceError(
                t("download.http_error", url=url, status=status, reason=what),
                hint=t("download.moved_hint" if status in (404, 410) else "download.forbidden_hint",
                       from_local=_from_local()),
            )
        if status != 200:
            raise DataSourceError(t("download.unexpected_http", url=url, status=status, reason=_reason(response)),
                                  hint=t("download.check_url_or_local", from_local=_from_local()))

        announced = _int_or_none(response.headers.get("Content-Length"))
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if announced is not None and announced > cfg.max_download_size:
            raise _too_big(url, announced, cfg, announced=True)
        if announced is not None and expected_size is not None and announced != expected_size \
                and encoding in ("", "identity"):
            raise ChecksumMismatchError(
                t("download.announced_mismatch", url=url, expected=expected_size, got=announced),
                hint=_changed_hint(url), expected=expected_size, got=announced)

        hasher = hashlib.sha256()
        size = 0
        from tqdm import tqdm

        bar = tqdm(total=announced, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                   file=sys.stderr, leave=False, disable=not _progress_enabled(cfg))
        try:
            try:
                # read1 returns what has arrived (a slow drip cannot hold a read for long); the socket's
                # read timeout is at most what is left of the deadline.
                while chunk := _read_some(response, cfg, clock):
                    size += len(chunk)
                    if size > cfg.max_download_size:
                        raise _too_big(url, size, cfg, announced=False)
                    out.write(chunk)
                    hasher.update(chunk)
                    bar.update(len(chunk))
                    clock.check()
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                    requests.exceptions.Timeout, urllib3.exceptions.HTTPError) as exc:
                if _is_timeout(exc):
                    raise _failure(exc, cfg, url) from exc
                if announced is not None:
                    raise _Retryable(t("download.what_truncated", got=_wire_bytes(response, size),
                                       announced=announced)) from exc
                raise _Retryable(t("download.what_lost", size=size, detail=_short(exc))) from exc
        finally:
            bar.close()

        received = _wire_bytes(response, size)
        if announced is not None and received != announced:
            raise _Retryable(t("download.what_truncated", got=received, announced=announced))
        return hasher.hexdigest(), size


def _failure(exc: BaseException, cfg: Settings, url: str) -> _Retryable:
    if _is_timeout(exc):
        connect = isinstance(exc, requests.exceptions.ConnectTimeout)
        seconds = cfg.connect_timeout if connect else cfg.read_timeout
        key = "download.what_timeout_connect" if connect else "download.what_timeout_read"
        return _Retryable(t(key, seconds=f"{seconds:g}"), timeout=True)
    return _Retryable(t("download.what_connect", detail=_short(exc)))


def _is_timeout(exc: BaseException | None) -> bool:
    """True when ``exc`` (or anything it wraps) is a timeout."""
    seen = 0
    stack = [exc]
    while stack and seen < 20:
        e = stack.pop()
        seen += 1
        if e is None:
            continue
        if isinstance(e, urllib3.exceptions.NewConnectionError):  # subclasses ConnectTimeoutError, but is not one
            return False
        if isinstance(e, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, socket.timeout)):
            return True
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        stack.append(e.__cause__)
        stack.append(getattr(e, "reason", None) if isinstance(getattr(e, "reason", None), BaseException) else None)
    return False


def _wire_bytes(response: requests.Response, decoded: int) -> int:
    """Bytes received on the wire (what Content-Length counts), falling back to the decoded count."""
    tell = getattr(response.raw, "tell", None)
    if callable(tell):
        with contextlib.suppress(Exception):
            value = tell()
            if isinstance(value, int):
                return value
    return decoded


def _progress_enabled(cfg: Settings) -> bool:
    if not cfg.progress:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None


def _reason(response: requests.Response) -> str:
    return (response.reason or "").strip() or "error"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _changed_hint(url: str) -> str:
    return t("download.changed_hint", url=url, from_local=_from_local())


from clsm_geo._zip import safe_extract  # noqa: E402,F401  (re-exported)
