"""clsm_geo._download: downloads against a local faulty HTTP server, and safe zip extraction."""

from __future__ import annotations

import io
import stat
import sys
import time
import zipfile
from pathlib import Path

import pytest

from clsm_geo import __version__
from clsm_geo import _download as dl
from clsm_geo import settings
from clsm_geo._download import download, safe_extract
from clsm_geo.errors import DataSourceError, OfflineError
from tests.httpserver import Reply, closed_port_url, http_server, sha256_of  # noqa: F401  (fixture)

CSV = "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"
GEOJSON = "qpv/qpv2024_national_simplified_mafrance/qpv2024_simplified.geojson"


@pytest.fixture(autouse=True)
def _fast_network():
    """Tiny timeouts and backoff so fault tests run in milliseconds; messages in English (quoted below)."""
    from clsm_geo import i18n

    settings.configure(connect_timeout=2.0, read_timeout=0.3, retries=2, backoff=0.01, progress=False)
    i18n.set_lang("en")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------------------------------
# Success


@pytest.mark.parametrize("relpath", [CSV, GEOJSON])
def test_download_ok_is_byte_identical(http_server, shared, tmp_path, relpath):
    source = shared / relpath
    url = http_server.serve_file("/f", source)
    dest = tmp_path / "out" / source.name

    result = download(url, dest, sha256=sha256_of(source), expected_size=source.stat().st_size)

    assert result == dest
    assert dest.read_bytes() == source.read_bytes()
    assert sha256_of(dest) == sha256_of(source)
    assert _leftovers(dest.parent) == [source.name]  # no temporary file left
    assert http_server.count("/f") == 1
    ua = http_server.requests[0].headers.get("User-Agent", "")
    assert ua.startswith(f"clsm-geo/{__version__}")


def test_download_replaces_existing_file(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source)
    dest = tmp_path / "f.csv"
    dest.write_bytes(b"old content")
    download(url, dest)
    assert dest.read_bytes() == source.read_bytes()


def test_download_without_content_length(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source, script=[Reply(content_length=False)])
    dest = tmp_path / "f.csv"
    download(url, dest, sha256=sha256_of(source))
    assert dest.read_bytes() == source.read_bytes()


# --------------------------------------------------------------------------------------------------
# HTTP errors and retries


def test_404_is_not_retried(http_server, tmp_path):
    url = http_server.serve("/missing.csv", b"", script=[Reply(status=404)])
    dest = tmp_path / "f.csv"
    with pytest.raises(DataSourceError) as err:
        download(url, dest)
    assert http_server.count("/missing.csv") == 1
    assert url in err.value.message
    assert "HTTP 404 not found" in err.value.message
    assert "check the URL" in err.value.hint
    assert "--from" in err.value.hint
    assert _leftovers(tmp_path) == []


def test_403_is_not_retried(http_server, tmp_path):
    url = http_server.serve("/f", b"", script=[Reply(status=403)])
    with pytest.raises(DataSourceError, match="HTTP 403"):
        download(url, tmp_path / "f")
    assert http_server.count("/f") == 1


def test_500_then_success_retries(http_server, shared, tmp_path):
    source = shared / GEOJSON
    url = http_server.serve_file("/f", source, script=[Reply(status=500), Reply(status=503), Reply()])
    dest = tmp_path / "f.geojson"
    download(url, dest, sha256=sha256_of(source))
    assert http_server.count("/f") == 3
    assert dest.read_bytes() == source.read_bytes()
    assert _leftovers(tmp_path) == ["f.geojson"]


def test_always_500_fails_after_all_attempts(http_server, tmp_path):
    settings.configure(retries=3)
    url = http_server.serve("/f", b"", script=[Reply(status=500)])
    dest = tmp_path / "f"
    with pytest.raises(DataSourceError) as err:
        download(url, dest)
    assert http_server.count("/f") == 4  # 1 + 3 retries
    assert "HTTP 500" in err.value.message
    assert "after 4 attempts" in err.value.message
    assert url in err.value.message
    assert "retry later" in err.value.hint
    assert _leftovers(tmp_path) == []


def test_backoff_doubles(http_server, tmp_path):
    settings.configure(retries=2, backoff=0.2)
    url = http_server.serve("/f", b"", script=[Reply(status=502)])
    with pytest.raises(DataSourceError):
        download(url, tmp_path / "f")
    times = [r.time for r in http_server.requests]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 2
    assert 0.18 <= gaps[0] < 0.39
    assert 0.38 <= gaps[1] < 0.79


def test_429_honours_small_retry_after(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source, script=[Reply(status=429, headers={"Retry-After": "1"}), Reply()])
    start = time.monotonic()
    download(url, tmp_path / "f.csv")
    elapsed = time.monotonic() - start
    assert http_server.count("/f") == 2
    assert elapsed >= 0.95  # waited for Retry-After, not just the 0.01 s backoff
    gap = http_server.requests[1].time - http_server.requests[0].time
    assert gap >= 0.95


def test_long_retry_after_fails_at_once(http_server, tmp_path):
    url = http_server.serve("/f", b"", script=[Reply(status=503, headers={"Retry-After": "3600"})])
    start = time.monotonic()
    with pytest.raises(DataSourceError) as err:
        download(url, tmp_path / "f")
    assert time.monotonic() - start < 1
    assert http_server.count("/f") == 1
    assert "3600 s" in err.value.message
    assert "HTTP 503" in err.value.message


def test_connection_refused(tmp_path):
    url = closed_port_url("/f.csv")
    with pytest.raises(DataSourceError) as err:
        download(url, tmp_path / "f.csv")
    assert "could not connect" in err.value.message
    assert "after 3 attempts" in err.value.message
    assert url in err.value.message
    assert _leftovers(tmp_path) == []


def test_dropped_connection_then_success(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source, script=[Reply(drop=True), Reply()])
    download(url, tmp_path / "f.csv", sha256=sha256_of(source))
    assert http_server.count("/f") == 2


# --------------------------------------------------------------------------------------------------
# Truncation, size, checksum


def test_truncated_body_is_an_error(http_server, shared, tmp_path):
    source = shared / CSV
    size = source.stat().st_size
    url = http_server.serve_file("/f", source, script=[Reply(truncate_to=1000)])
    dest = tmp_path / "f.csv"
    with pytest.raises(DataSourceError) as err:
        download(url, dest)
    assert f"truncated: got 1000 of {size} bytes" in err.value.message
    assert http_server.count("/f") == 3  # truncation is transient: retried
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


def test_truncated_once_then_ok(http_server, shared, tmp_path):
    source = shared / GEOJSON
    url = http_server.serve_file("/f", source, script=[Reply(truncate_to=300_000), Reply()])
    dest = tmp_path / "f.geojson"
    download(url, dest, sha256=sha256_of(source))
    assert dest.read_bytes() == source.read_bytes()


def test_truncated_keeps_existing_dest(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source, script=[Reply(truncate_to=10)])
    dest = tmp_path / "f.csv"
    dest.write_bytes(b"previous")
    with pytest.raises(DataSourceError, match="truncated"):
        download(url, dest)
    assert dest.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == ["f.csv"]


def test_checksum_mismatch(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source)
    dest = tmp_path / "f.csv"
    wrong = "0" * 64
    with pytest.raises(DataSourceError) as err:
        download(url, dest, sha256=wrong)
    msg = err.value.message
    assert "checksum mismatch" in msg
    assert f"expected sha256 {wrong}" in msg
    assert f"got {sha256_of(source)}" in msg
    assert http_server.count("/f") == 1  # not retried
    assert not dest.exists()
    assert _leftovers(tmp_path) == []
    assert "--from" in err.value.hint


def test_checksum_accepts_uppercase(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source)
    download(url, tmp_path / "f.csv", sha256=sha256_of(source).upper())


def test_expected_size_mismatch(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source)
    with pytest.raises(DataSourceError, match=f"size mismatch: expected 12 bytes.*{source.stat().st_size}"):
        download(url, tmp_path / "f.csv", expected_size=12)
    assert _leftovers(tmp_path) == []


def test_expected_size_mismatch_without_content_length(http_server, shared, tmp_path):
    source = shared / CSV
    url = http_server.serve_file("/f", source, script=[Reply(content_length=False)])
    with pytest.raises(DataSourceError, match=f"expected 12 bytes, got {source.stat().st_size}"):
        download(url, tmp_path / "f.csv", expected_size=12)
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# Timeouts


def test_slow_server_times_out(http_server, tmp_path):
    settings.configure(retries=1, read_timeout=0.2)
    url = http_server.serve("/f", b"data", script=[Reply(delay=3)])
    start = time.monotonic()
    with pytest.raises(DataSourceError) as err:
        download(url, tmp_path / "f")
    elapsed = time.monotonic() - start
    assert elapsed < 2
    assert "timeout after 0.2 s" in err.value.message
    assert "after 2 attempts" in err.value.message
    assert http_server.count("/f") == 2
    assert "read 0.2 s" in err.value.hint
    assert _leftovers(tmp_path) == []


def test_stall_mid_body_times_out(http_server, shared, tmp_path):
    settings.configure(retries=0, read_timeout=0.2)
    source = shared / GEOJSON
    url = http_server.serve_file("/f", source, script=[Reply(stall_after=100_000, stall=3)])
    dest = tmp_path / "f.geojson"
    start = time.monotonic()
    with pytest.raises(DataSourceError, match="timeout after 0.2 s") as err:
        download(url, dest)
    assert time.monotonic() - start < 2
    assert "attempts" not in err.value.message  # a single attempt
    assert not dest.exists()
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# Offline, progress


def test_offline_raises_before_any_connection(http_server, tmp_path):
    settings.configure(offline=True)
    url = http_server.serve("/qpv.geojson", b"x")
    with pytest.raises(OfflineError) as err:
        download(url, tmp_path / "qpv.geojson", description="QPV 2024 contours")
    assert isinstance(err.value, DataSourceError)
    assert "QPV 2024 contours" in err.value.message
    assert url in err.value.message
    assert "--qpv PATH" in err.value.hint
    assert "clsm-geo data fetch --qpv YEAR --from PATH" in err.value.hint
    time.sleep(0.05)
    assert http_server.connections == 0
    assert http_server.requests == []
    assert _leftovers(tmp_path) == []


def test_explicit_settings_override_global(http_server, tmp_path):
    url = http_server.serve("/f", b"x")
    offline = settings.get().__class__(data_dir=tmp_path, offline=True)
    with pytest.raises(OfflineError):
        download(url, tmp_path / "f", settings=offline)
    assert http_server.connections == 0


def test_no_progress_bar_when_stderr_is_not_a_tty(http_server, shared, tmp_path, capsys):
    settings.configure(progress=True)
    url = http_server.serve_file("/f", shared / CSV)
    download(url, tmp_path / "f.csv", description="qpv list")
    assert capsys.readouterr().err == ""


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_tty(http_server, shared, tmp_path, monkeypatch):
    fake = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    url = http_server.serve_file("/f", shared / CSV)

    settings.configure(progress=True)
    download(url, tmp_path / "a.csv", description="qpv list")
    assert "qpv list" in fake.getvalue()

    fake.seek(0)
    fake.truncate()
    settings.configure(progress=False)
    download(url, tmp_path / "b.csv", description="qpv list")
    assert fake.getvalue() == ""


def test_retry_after_parsing():
    assert dl._retry_after("2") == 2.0
    assert dl._retry_after(None) is None
    assert dl._retry_after("soon") is None
    assert dl._retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


# --------------------------------------------------------------------------------------------------
# safe_extract


def _zip(path: Path, members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return path


def _all_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_safe_extract_normal_zip(shared, tmp_path):
    csv = (shared / CSV).read_bytes()
    archive = _zip(tmp_path / "a.zip", {"qpv/list.csv": csv, "README.txt": b"hello", "empty/": b""})
    dest = tmp_path / "out"
    written = safe_extract(archive, dest)
    assert sorted(written) == sorted([dest / "qpv" / "list.csv", dest / "README.txt"])
    assert (dest / "qpv" / "list.csv").read_bytes() == csv
    assert (dest / "README.txt").read_bytes() == b"hello"
    assert (dest / "empty").is_dir()
    assert [p.name for p in tmp_path.iterdir() if ".extract-" in p.name] == []  # staging removed


def test_safe_extract_selected_members(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"a.txt": b"a", "b.txt": b"b", "../evil": b"x"})
    dest = tmp_path / "out"
    assert safe_extract(archive, dest, members=["b.txt"]) == [dest / "b.txt"]
    assert _all_files(dest) == ["b.txt"]
    with pytest.raises(DataSourceError, match="no member 'c.txt'"):
        safe_extract(archive, dest, members=["c.txt"])


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/tmp/abs_x", "C:/x", "..\\x"])
def test_safe_extract_refuses_escaping_paths(tmp_path, bad):
    work = tmp_path / "work"
    work.mkdir()
    archive = _zip(tmp_path / "a.zip", {"ok.txt": b"fine", bad: b"evil"})
    dest = work / "out"
    with pytest.raises(DataSourceError) as err:
        safe_extract(archive, dest)
    assert repr(bad) in err.value.message
    assert not dest.exists()  # nothing written, not even the good member
    assert _all_files(work) == []
    assert not (tmp_path / "x").exists()
    assert not Path("/tmp/abs_x").exists()


def test_safe_extract_refuses_symlink(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(DataSourceError, match="'link' is a symbolic link"):
        safe_extract(archive, dest)
    assert _all_files(dest) == ["keep.txt"]  # an existing destination is left as it was


def test_safe_extract_refuses_zip_bomb_ratio(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * (20 * 1024**2)})
    with pytest.raises(DataSourceError, match="'zeros.bin' has a compression ratio over"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_safe_extract_refuses_total_size(tmp_path, monkeypatch):
    import clsm_geo._zip as zip_module

    monkeypatch.setattr(zip_module, "MAX_TOTAL_UNCOMPRESSED", 1500)
    archive = _zip(tmp_path / "a.zip", {"a.bin": b"a" * 1000, "b.bin": b"b" * 1000})
    with pytest.raises(DataSourceError, match="'b.bin' brings the uncompressed size over 1500"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_safe_extract_damaged_member_leaves_nothing(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("first.txt", b"first member, fine")
        zf.writestr("second.txt", b"SECOND-MEMBER-PAYLOAD")
    data = bytearray(archive.read_bytes())
    pos = data.find(b"SECOND-MEMBER-PAYLOAD")
    data[pos: pos + 6] = b"XXXXXX"  # CRC no longer matches
    archive.write_bytes(bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(DataSourceError, match="'second.txt'"):
        safe_extract(archive, dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.zip"]


def test_safe_extract_not_a_zip(tmp_path):
    bad = tmp_path / "a.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataSourceError, match="cannot open zip archive"):
        safe_extract(bad, tmp_path / "out")


# --------------------------------------------------------------------------------------------------
# Bounded downloads (issue 22 #2): size limit, overall deadline, nothing left behind


def _all_left(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_endless_body_stops_at_the_size_limit(http_server, tmp_path):
    """An endless body (no Content-Length) wrote 5.56 GB in 30 s: now it stops past max_download_size."""
    from clsm_geo.errors import DownloadLimitError

    settings.configure(max_download_size=300_000, read_timeout=2.0)
    url = http_server.serve("/endless", b"x" * 65536, script=[Reply(endless=True, content_length=False)])
    with pytest.raises(DownloadLimitError) as err:
        download(url, tmp_path / "f")
    assert "0.3 MB" in err.value.message and "--max-size" in err.value.hint
    assert http_server.count("/endless") == 1          # a size limit is not retried
    assert _leftovers(tmp_path) == []


def test_announced_length_over_the_limit_is_refused_before_the_body(http_server, tmp_path):
    from clsm_geo.errors import DownloadLimitError

    settings.configure(max_download_size=1000)
    url = http_server.serve("/big", b"x" * 5000)
    with pytest.raises(DownloadLimitError, match="announces"):
        download(url, tmp_path / "f")
    assert _leftovers(tmp_path) == []


def test_content_length_lie_is_detected(http_server, tmp_path):
    """The server announces 10,000 bytes and sends 100 before closing: a truncated body, never kept."""
    url = http_server.serve("/lie", b"y" * 100, script=[Reply(content_length=False,
                                                            headers={"Content-Length": "10000"})])
    with pytest.raises(DataSourceError, match="truncated: got 100 of 10000 bytes"):
        download(url, tmp_path / "f")
    assert _leftovers(tmp_path) == []


def test_drip_is_stopped_by_the_overall_deadline(http_server, tmp_path):
    """One byte at a time never trips the read timeout; the overall deadline stops it."""
    from clsm_geo.errors import DownloadLimitError

    settings.configure(download_timeout=1.0, read_timeout=5.0, retries=3)
    url = http_server.serve("/drip", b"z" * 10_000, script=[Reply(chunk_size=1, chunk_delay=0.05)])
    with pytest.raises(DownloadLimitError) as err:
        download(url, tmp_path / "f")
    assert "1 s" in err.value.message and "--timeout" in err.value.hint
    assert http_server.count("/drip") == 1
    assert _leftovers(tmp_path) == []


def test_stall_with_retries_ends_at_the_deadline_not_after_every_attempt(http_server, tmp_path):
    """A stalled server took 4 x 60 s to fail: the deadline caps the whole download, retries included."""
    from clsm_geo.errors import DownloadLimitError

    settings.configure(download_timeout=0.8, read_timeout=0.5, retries=10, backoff=0.01)
    url = http_server.serve("/stall", b"s" * 1000, script=[Reply(stall_after=10, stall=30)])
    with pytest.raises(DownloadLimitError):
        download(url, tmp_path / "f")
    assert http_server.count("/stall") < 11            # the deadline came before the 11 attempts
    assert _leftovers(tmp_path) == []


def test_dies_mid_body_leaves_nothing(http_server, tmp_path):
    settings.configure(retries=1)
    url = http_server.serve("/die", b"d" * 200_000, script=[Reply(truncate_to=50_000)])
    with pytest.raises(DataSourceError, match="truncated"):
        download(url, tmp_path / "f")
    assert http_server.count("/die") == 2 and _leftovers(tmp_path) == []


def test_keyboard_interrupt_mid_body_removes_the_part_file(http_server, tmp_path, monkeypatch):
    url = http_server.serve("/k", b"k" * 500_000, script=[Reply(chunk_size=50_000)])
    calls = []
    real = dl._read_some

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(dl, "_read_some", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download(url, tmp_path / "f")
    assert _leftovers(tmp_path) == []


def test_cli_fetch_with_max_size_and_timeout_leaves_the_cache_clean(http_server, tmp_path, capsys):
    from clsm_geo.cli import main

    url = http_server.serve("/endless.zip", b"e" * 65536, script=[Reply(endless=True, content_length=False)])
    code = main(["data", "fetch", "--qpv", "2024", "--from", url, "--max-size", "0.2", "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 1 and "0,2" in err and "internal error" not in err
    cache = settings.get().cache_dir
    assert [p for p in _all_left(cache) if not p.startswith(".locks")] == []
    assert main(["data", "fetch", "--qpv", "2024", "--from", url, "--timeout", "nan"]) == 2
    assert main(["data", "fetch", "--qpv", "2024", "--from", url, "--max-size", "-1"]) == 2


def test_data_status_shows_and_data_clean_removes_leftovers(tmp_path, capsys):
    """What a SIGKILL leaves (a staging folder with a .part file) is shown by status and removed by clean."""
    from clsm_geo.cli import main

    cache = settings.get().cache_dir
    stale = cache / "qpv2024" / ".incoming-abc123"
    stale.mkdir(parents=True)
    (stale / ".qpv.zip.x1.part").write_bytes(b"p" * 1_500_000)
    assert main(["--lang", "en", "data", "status"]) == 0
    out = capsys.readouterr().out
    assert "leftovers of interrupted downloads: 1 item, 1.5 MB (remove it with" in out and ".incoming-abc123" in out
    assert main(["--lang", "en", "data", "clean"]) == 0
    assert "1 leftover of downloads removed, 1.5 MB freed" in capsys.readouterr().out
    assert not stale.exists()
    assert main(["--lang", "en", "data", "clean"]) == 0
    assert "nothing to clean" in capsys.readouterr().out


def test_clean_skips_a_key_being_fetched(tmp_path):
    from clsm_geo import cache as cache_mod

    cfg = settings.get()
    stale = cfg.cache_dir / "qpv2015" / ".incoming-busy"
    stale.mkdir(parents=True)
    with cache_mod._locked(cfg, "qpv2015"):     # another process fetching (flock is per open file)
        assert cache_mod.cache_leftovers() == []
    assert cache_mod.cache_leftovers() == [stale]


def test_catalogue_sha256_pins_the_official_edition(http_server, shared, tmp_path, monkeypatch):
    """A pinned edition is refused when the file differs, unless --accept-new-edition."""
    import importlib

    from clsm_geo.cli import main

    qpv_mod = importlib.import_module("clsm_geo.qpv")

    source = shared / GEOJSON
    url = http_server.serve_file("/qpv.geojson", source)
    resource = {"id": "x", "url": url, "filename": "qpv.geojson", "edition": "test edition",
                "title": "t", "sha256": "0" * 64}
    monkeypatch.setattr(qpv_mod, "_default_resource", lambda geography: dict(resource))
    assert main(["--lang", "en", "data", "fetch", "--qpv", "2024"]) == 1
    from clsm_geo.cache import cache_entries, cache_leftovers

    assert cache_entries() == [] and cache_leftovers() == []
    assert main(["--lang", "en", "data", "fetch", "--qpv", "2024", "--accept-new-edition"]) == 0
    entry = cache_entries()[0]
    assert entry.sha256 == sha256_of(source) and "new edition accepted" in entry.meta["edition"]
    resource["sha256"] = sha256_of(source)                 # the pinned edition itself is accepted
    assert main(["data", "fetch", "--qpv", "2024"]) == 0


def test_download_messages_are_french_by_default(http_server, tmp_path):
    from clsm_geo import i18n

    i18n.set_lang(None)
    url = http_server.serve("/gone", b"", script=[Reply(status=404)])
    with pytest.raises(DataSourceError) as err:
        download(url, tmp_path / "f")
    assert err.value.message == f"impossible de télécharger {url}\u00a0: HTTP 404 introuvable"
    assert "déplacé" in err.value.hint
