"""Hostile download servers against clsm_geo's downloader: time to fail, bytes received, what is left.

    .venv/bin/python benchmarks/bench_downloads.py [--max-mb 5] [--deadline 3]

A local server (tests/httpserver.py, 127.0.0.1) sends an endless body, drips one byte every 50 ms,
stalls mid-body, lies about its length, dies mid-body. For each: the error class, the seconds until the
download gave up, and the files left in the destination folder (must be none). Figures for
docs/reliability.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clsm_geo import settings  # noqa: E402
from clsm_geo._download import download  # noqa: E402
from clsm_geo.errors import ClsmGeoError  # noqa: E402
from tests.httpserver import FaultServer, Reply  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mb", type=float, default=5.0, help="size limit (MB)")
    parser.add_argument("--deadline", type=float, default=3.0, help="overall deadline per file (s)")
    args = parser.parse_args(argv)
    settings.configure(max_download_size=int(args.max_mb * 1e6), download_timeout=args.deadline,
                       read_timeout=1.0, connect_timeout=1.0, retries=3, backoff=0.1, progress=False)
    server = FaultServer().start()
    scenarios = {
        "endless body, no Content-Length": ("/endless", b"x" * 65536, [Reply(endless=True, content_length=False)]),
        "announces 10 GB": ("/huge", b"x" * 1000, [Reply(content_length=False,
                                                          headers={"Content-Length": str(10 * 10**9)})]),
        "drips 1 byte / 50 ms": ("/drip", b"z" * 100_000, [Reply(chunk_size=1, chunk_delay=0.05)]),
        "stalls mid-body (4 attempts)": ("/stall", b"s" * 100_000, [Reply(stall_after=1000, stall=60)]),
        "lies: 1 MB sent of 2 MB announced": ("/lie", b"l" * 10**6, [Reply(content_length=False,
                                                                          headers={"Content-Length": str(2 * 10**6)})]),
        "dies mid-body": ("/die", b"d" * 10**6, [Reply(truncate_to=300_000)]),
    }
    print(f"limits: {args.max_mb:g} MB, deadline {args.deadline:g} s, read timeout 1 s, 3 retries")
    print(f"{'scenario':38} {'outcome':22} {'seconds':>8} {'left':>5}")
    try:
        for name, (path, body, script) in scenarios.items():
            url = server.serve(path, body, script=script)
            with tempfile.TemporaryDirectory() as tmp:
                start = time.monotonic()
                try:
                    download(url, Path(tmp) / "file")
                    outcome = "downloaded"
                except ClsmGeoError as exc:
                    outcome = type(exc).__name__
                elapsed = time.monotonic() - start
                left = len(list(Path(tmp).iterdir()))
            print(f"{name:38} {outcome:22} {elapsed:8.2f} {left:5d}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
