"""clsm_geo.cache: put/get/remove, corruption, interrupted writes, validation and concurrency."""

from __future__ import annotations

import json
import multiprocessing
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pytest

from clsm_geo import cache as cache_mod
from clsm_geo import settings
from clsm_geo.cache import CacheEntry, CacheWarning, cache_entries, cache_get, cache_put, cache_remove
from clsm_geo.errors import DataSourceError, InputError, OfflineError
from tests.httpserver import Reply, http_server, sha256_of  # noqa: F401  (fixture)

CSV = "qpv/qpv2024_anct_list_by_commune/qpv2024_code_commune_DERIVED.csv"
GEOJSON = "qpv/qpv2024_national_simplified_mafrance/qpv2024_simplified.geojson"


@pytest.fixture(autouse=True)
def _fast_network():
    from clsm_geo import i18n

    settings.configure(connect_timeout=2.0, read_timeout=0.5, retries=1, backoff=0.01, progress=False)
    i18n.set_lang("en")


@pytest.fixture
def csv(shared) -> Path:
    return shared / CSV


@pytest.fixture
def geojson(shared) -> Path:
    return shared / GEOJSON


def _cache_dir() -> Path:
    return settings.get().cache_dir


def _index_bytes() -> bytes:
    return (_cache_dir() / "index.json").read_bytes()


def _snapshot(key: str) -> tuple[bytes, dict[str, bytes]]:
    """index.json and every file under the key's folder (staging leftovers included)."""
    folder = _cache_dir() / key
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    dirs = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_dir()]
    assert dirs == [], f"leftover folders: {dirs}"
    return _index_bytes(), files


# --------------------------------------------------------------------------------------------------
# Put / get / entries / remove


def test_put_from_a_file_url_reads_the_local_file(geojson):
    """``file://`` sources are local files: copied into the cache, the source recorded as the resolved path."""
    entry = cache_put("qpv2024", geojson.resolve().as_uri())
    assert entry.path.read_bytes() == geojson.read_bytes()
    assert entry.source == str(geojson.resolve()) and entry.sha256 == sha256_of(geojson)


def test_put_from_url_then_get(http_server, geojson):
    url = http_server.serve_file("/qpv/qpv2024_simplified.geojson", geojson)
    entry = cache_put("qpv2024", url, meta={"vintage": 2024, "layer": "contours"})

    assert isinstance(entry, CacheEntry)
    assert entry.key == "qpv2024"
    assert entry.path == _cache_dir() / "qpv2024" / "qpv2024_simplified.geojson"
    assert entry.path.read_bytes() == geojson.read_bytes()
    assert entry.sha256 == sha256_of(geojson)
    assert entry.size == geojson.stat().st_size
    assert entry.source == url
    assert entry.meta == {"vintage": 2024, "layer": "contours"}
    fetched = datetime.strptime(entry.fetched_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - fetched).total_seconds()) < 60

    assert cache_get("qpv2024") == entry
    assert cache_entries() == [entry]
    index = json.loads(_index_bytes())
    assert index["version"] == 1
    assert index["entries"]["qpv2024"]["path"] == "qpv2024/qpv2024_simplified.geojson"  # relative
    assert http_server.count() == 1


def test_put_from_local_path(csv):
    entry = cache_put("qpv2024-communes", csv, expected_size=csv.stat().st_size, sha256=sha256_of(csv))
    assert entry.path == _cache_dir() / "qpv2024-communes" / csv.name
    assert entry.path.read_bytes() == csv.read_bytes()
    assert entry.source == str(csv.resolve())
    assert cache_get("qpv2024-communes") == entry
    # The same, given as a string and with another file name.
    entry2 = cache_put("communes", str(csv), filename="communes.csv")
    assert entry2.path.name == "communes.csv"
    assert entry2.sha256 == entry.sha256


def test_local_put_works_offline_url_put_does_not(http_server, csv):
    settings.configure(offline=True)
    assert cache_put("communes", csv).sha256 == sha256_of(csv)
    url = http_server.serve_file("/c.csv", csv)
    before = _snapshot("communes")
    with pytest.raises(OfflineError):
        cache_put("communes", url)
    assert http_server.connections == 0
    assert _snapshot("communes") == before


def test_get_absent_and_remove(csv):
    assert cache_get("nothing") is None
    assert cache_entries() == []
    cache_put("a", csv)
    cache_put("b", csv)
    assert [e.key for e in cache_entries()] == ["a", "b"]
    assert cache_remove("a") is True
    assert cache_remove("a") is False
    assert cache_get("a") is None
    assert not (_cache_dir() / "a").exists()
    assert [e.key for e in cache_entries()] == ["b"]
    assert cache_get("b") is not None


def test_replacing_with_another_filename_removes_old_file(csv, geojson):
    old = cache_put("qpv", csv)
    new = cache_put("qpv", geojson)
    assert not old.path.exists()
    assert sorted(p.name for p in (_cache_dir() / "qpv").iterdir()) == [geojson.name]
    assert cache_get("qpv") == new


def test_sha256_match_reuses_entry(http_server, csv):
    url = http_server.serve_file("/c.csv", csv)
    first = cache_put("communes", url, sha256=sha256_of(csv))
    second = cache_put("communes", url, sha256=sha256_of(csv))
    assert second == first
    assert http_server.count("/c.csv") == 1
    cache_put("communes", url)  # no checksum given: fetched again
    assert http_server.count("/c.csv") == 2


def test_invalid_key_filename_and_source(csv, tmp_path):
    for key in ["", "../x", ".hidden", "a/b", "x" * 65]:
        with pytest.raises(InputError):
            cache_put(key, csv)
    with pytest.raises(InputError):
        cache_get("../etc")
    with pytest.raises(InputError):
        cache_put("k", csv, filename="../x.csv")
    with pytest.raises(InputError, match="does not exist"):
        cache_put("k", tmp_path / "missing.csv")
    with pytest.raises(InputError, match="unsupported source"):
        cache_put("k", "ftp://example.org/x.csv")
    assert cache_entries() == []


def test_local_checksum_mismatch_keeps_old_entry(csv, geojson):
    old = cache_put("qpv", csv)
    before = _snapshot("qpv")
    with pytest.raises(DataSourceError, match="checksum mismatch"):
        cache_put("qpv", geojson, sha256="0" * 64)
    assert _snapshot("qpv") == before
    assert cache_get("qpv") == old


# --------------------------------------------------------------------------------------------------
# Corruption


def test_corrupted_cached_file_is_detected_and_removed(csv):
    entry = cache_put("communes", csv)
    data = bytearray(entry.path.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    entry.path.write_bytes(bytes(data))

    with pytest.raises(DataSourceError) as err:
        cache_get("communes")
    assert "corrupted" in err.value.message
    assert "removed" in err.value.message
    assert entry.sha256 in err.value.message
    assert "clsm-geo data fetch --qpv YEAR" in err.value.hint
    assert not entry.path.exists()
    assert cache_get("communes") is None
    assert cache_entries() == []


def test_unverified_get_skips_hash_but_checks_size(csv):
    entry = cache_put("communes", csv)
    data = bytearray(entry.path.read_bytes())
    data[100] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    assert cache_get("communes", verify=False) == entry  # same size: not detected without hashing
    entry.path.write_bytes(b"short")
    with pytest.raises(DataSourceError, match="corrupted"):
        cache_get("communes", verify=False)
    assert cache_get("communes") is None


def test_missing_cached_file(csv):
    entry = cache_put("qpv2024", csv)
    entry.path.unlink()
    with pytest.raises(DataSourceError, match="is missing") as err:
        cache_get("qpv2024")
    assert "clsm-geo data fetch --qpv 2024" in err.value.hint
    assert cache_entries() == []


@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"entries": 3}', b"\xff\xfe\x00"])
def test_corrupted_index_is_treated_as_empty_then_rebuilt(csv, geojson, garbage):
    cache_put("communes", csv)
    (_cache_dir() / "index.json").write_bytes(garbage)

    with pytest.warns(CacheWarning, match="treating the cache as empty"):
        assert cache_entries() == []
    with pytest.warns(CacheWarning):
        assert cache_get("communes") is None

    with pytest.warns(CacheWarning):
        entry = cache_put("qpv", geojson)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache_entries() == [entry]
        assert cache_get("qpv") == entry
    assert json.loads(_index_bytes())["entries"].keys() == {"qpv"}


def test_index_with_bad_record_skips_it(csv):
    good = cache_put("good", csv)
    index = json.loads(_index_bytes())
    index["entries"]["bad"] = {"path": "bad/x"}  # no sha256 nor size
    (_cache_dir() / "index.json").write_text(json.dumps(index))
    assert cache_entries() == [good]
    with pytest.raises(DataSourceError, match="unreadable index record"):
        cache_get("bad")
    assert "bad" not in json.loads(_index_bytes())["entries"]


# --------------------------------------------------------------------------------------------------
# Interrupted writes and validation


def test_truncated_download_leaves_previous_entry(http_server, csv):
    url = http_server.serve_file("/c.csv", csv)
    old = cache_put("communes", url)
    before = _snapshot("communes")

    http_server.set_script("/c.csv", [Reply(truncate_to=2000)])
    with pytest.raises(DataSourceError, match=f"truncated: got 2000 of {csv.stat().st_size} bytes"):
        cache_put("communes", url)
    assert http_server.count("/c.csv") == 1 + 2  # first put, then 2 attempts
    assert _snapshot("communes") == before
    assert cache_get("communes") == old


def test_interrupted_copy_leaves_previous_entry(csv, geojson, monkeypatch):
    old = cache_put("qpv", geojson)
    before = _snapshot("qpv")

    def broken_copy(src: Path, dst: Path):
        dst.write_bytes(src.read_bytes()[:1000])  # half-written, then the user hits Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "_copy_and_hash", broken_copy)
    with pytest.raises(KeyboardInterrupt):
        cache_put("qpv", geojson)
    assert _snapshot("qpv") == before
    assert cache_get("qpv") == old


def test_validate_rejecting_leaves_previous_entry(http_server, csv, geojson):
    old = cache_put("qpv", geojson)
    before = _snapshot("qpv")
    url = http_server.serve_file("/qpv.geojson", csv)  # the server now serves the wrong file
    seen: list[tuple[str, bytes]] = []

    class NotGeoJSON(Exception):
        pass

    def validate(path: Path) -> None:
        seen.append((path.name, path.read_bytes()))
        if not path.read_bytes().lstrip().startswith(b"{"):
            raise NotGeoJSON(f"{path.name} is not GeoJSON")

    with pytest.raises(NotGeoJSON, match="qpv.geojson is not GeoJSON"):
        cache_put("qpv", url, validate=validate)
    assert seen == [("qpv.geojson", csv.read_bytes())]  # ran on the new file, under its final name
    assert _snapshot("qpv") == before
    assert cache_get("qpv") == old

    # A validate that accepts lets the new file in.
    new = cache_put("qpv", geojson, validate=validate)
    assert new.sha256 == sha256_of(geojson)
    assert cache_get("qpv") == new


# --------------------------------------------------------------------------------------------------
# Two processes at once


def _put_worker(data_dir: str, url: str, sha256: str | None, go, results) -> None:
    from clsm_geo import settings as child_settings
    from clsm_geo.cache import cache_put as child_put

    child_settings.configure(data_dir=data_dir, retries=0, read_timeout=10, progress=False)
    go.wait(20)
    try:
        entry = child_put("qpv2024", url, sha256=sha256)
        results.put(("ok", entry.sha256, str(entry.path)))
    except BaseException as exc:  # reported to the parent
        results.put(("error", repr(exc), ""))


def _run_two(url: str, sha256: str | None) -> list[tuple[str, str, str]]:
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    results = ctx.Queue()
    data_dir = str(settings.get().data_dir)
    procs = [ctx.Process(target=_put_worker, args=(data_dir, url, sha256, go, results)) for _ in range(2)]
    for p in procs:
        p.start()
    go.set()
    out = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return out


def _slow(file: Path) -> Reply:
    """A slow server (~0.3 s per download, 7 chunks) so that the two fetches overlap without the lock."""
    return Reply(chunk_size=file.stat().st_size // 6, chunk_delay=0.05)


def test_two_processes_same_key_with_checksum_download_once(http_server, geojson):
    url = http_server.serve_file("/qpv.geojson", geojson, script=[_slow(geojson)])
    expected = sha256_of(geojson)
    out = _run_two(url, expected)

    assert out == [("ok", expected, str(_cache_dir() / "qpv2024" / "qpv.geojson"))] * 2
    assert http_server.count("/qpv.geojson") == 1  # the second waited, then reused the entry
    entry = cache_get("qpv2024")
    assert entry is not None and entry.sha256 == expected
    assert entry.path.read_bytes() == geojson.read_bytes()
    assert sorted(p.name for p in (_cache_dir() / "qpv2024").iterdir()) == ["qpv.geojson"]


def test_two_processes_same_key_without_checksum_serialised(http_server, csv):
    url = http_server.serve_file("/c.csv", csv, script=[_slow(csv)])
    expected = sha256_of(csv)
    out = _run_two(url, None)

    assert [o[:2] for o in out] == [("ok", expected)] * 2
    assert http_server.count("/c.csv") == 2
    assert http_server.max_concurrent("/c.csv") == 1
    t0, t1 = (r.time for r in http_server.requests)
    assert t1 - t0 >= 0.2  # the second request started only after the first download ended
    entry = cache_get("qpv2024")
    assert entry is not None and entry.sha256 == expected and entry.size == csv.stat().st_size
    assert [e.key for e in cache_entries()] == ["qpv2024"]
    assert sorted(p.name for p in (_cache_dir() / "qpv2024").iterdir()) == ["c.csv"]


# --------------------------------------------------------------------------------------------------
# Leftovers of killed fetches (issue 22 #2)


def test_leftovers_of_a_killed_fetch_are_removed_by_the_next_put_and_listed_before(csv):
    first = cache_put("qpv2024", csv)
    stale = _cache_dir() / "qpv2024" / ".incoming-dead"
    stale.mkdir()
    (stale / ".x.part").write_bytes(b"p" * 1000)
    orphan = _cache_dir() / "qpv2024" / "renamed-but-not-indexed.csv"   # killed between rename and index
    orphan.write_bytes(b"o")
    assert cache_mod.cache_leftovers() == sorted([stale, orphan])
    assert cache_get("qpv2024") == first                                   # the entry itself is untouched
    cache_put("qpv2024", csv)
    assert cache_mod.cache_leftovers() == []
    assert sorted(p.name for p in (_cache_dir() / "qpv2024").iterdir()) == [first.path.name]


def test_failed_first_fetch_leaves_no_key_folder(http_server):
    url = http_server.serve("/x.csv", b"x", script=[Reply(status=404)])
    with pytest.raises(DataSourceError):
        cache_put("qpv2015", url)
    assert not (_cache_dir() / "qpv2015").exists()
