"""A local HTTP server on 127.0.0.1 with scripted faults, for tests that must never reach the internet.

Use the ``http_server`` fixture (import it into a test module: ``from tests.httpserver import http_server``,
or list ``"tests.httpserver"`` in ``pytest_plugins``)::

    def test_x(http_server, shared):
        url = http_server.serve_file("/qpv.csv", shared / "qpv" / ".../file.csv",
                                     script=[Reply(status=500), Reply()])
        ...
        assert http_server.count("/qpv.csv") == 2

Each path has a body and a *script*: a list of :class:`Reply` consumed one per request, the last one
repeating forever. A :class:`Reply` can set the status, extra headers, a delay before the headers, a
truncated body (Content-Length still announces the full size), a slow body (pause between chunks),
a stall in the middle of the body, an endless body, or drop the connection without answering. A lying
Content-Length: ``content_length=False`` with ``headers={"Content-Length": "..."}``.

Every request is recorded (:attr:`FaultServer.requests`) and every TCP connection counted
(:attr:`FaultServer.connections`), so tests can assert that nothing was requested at all.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

__all__ = ["FaultServer", "Reply", "RecordedRequest", "http_server", "sha256_of", "closed_port_url"]


@dataclass(frozen=True)
class Reply:
    """How to answer one request. Defaults: 200 with the path's full body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # None: the path's body (for 200) or a short text (for errors)
    delay: float = 0.0  # seconds to wait before sending anything
    truncate_to: int | None = None  # send only this many body bytes, then close (Content-Length stays full)
    stall_after: int | None = None  # send this many bytes, then wait `stall` seconds before the rest
    stall: float = 0.0
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0  # pause between body chunks (a slow server)
    drop: bool = False  # close the connection without any answer
    content_length: bool = True  # send a Content-Length header
    endless: bool = False  # repeat the body forever (until the client goes away or the server stops)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    time: float


class _Route:
    def __init__(self, body: bytes, script: list[Reply], content_type: str):
        self.body = body
        self.script = list(script) or [Reply()]
        self.content_type = content_type
        self.served = 0
        self.active = 0
        self.max_active = 0


class FaultServer:
    """The server (started by the ``http_server`` fixture)."""

    def __init__(self) -> None:
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fault-http-server", daemon=True)

    # -- set-up ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes, *, script: list[Reply] | None = None,
              content_type: str = "application/octet-stream") -> str:
        """Serve ``body`` at ``path`` following ``script``; returns the URL."""
        with self._lock:
            self._routes[path] = _Route(body, script or [Reply()], content_type)
        return self.url(path)

    def serve_file(self, path: str, file: Path, *, script: list[Reply] | None = None,
                   content_type: str = "application/octet-stream") -> str:
        return self.serve(path, Path(file).read_bytes(), script=script, content_type=content_type)

    def set_script(self, path: str, script: list[Reply]) -> None:
        """Replace the script of ``path`` (its request count restarts at 0)."""
        with self._lock:
            route = self._routes[path]
            route.script = list(script) or [Reply()]
            route.served = 0

    # -- inspection -----------------------------------------------------------------------------
    def count(self, path: str | None = None) -> int:
        """Requests received (for ``path``, or in all)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def max_concurrent(self, path: str) -> int:
        """Largest number of requests for ``path`` being answered at the same time."""
        with self._lock:
            return self._routes[path].max_active

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- used by the handler --------------------------------------------------------------------
    def _next(self, method: str, path: str, headers: dict[str, str]) -> tuple[_Route | None, Reply | None]:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, time.monotonic()))
            route = self._routes.get(path)
            if route is None:
                return None, None
            reply = route.script[min(route.served, len(route.script) - 1)]
            route.served += 1
            route.active += 1
            route.max_active = max(route.max_active, route.active)
            return route, reply

    def _done(self, route: _Route) -> None:
        with self._lock:
            route.active -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: FaultServer

    def verify_request(self, request, client_address) -> bool:
        with self.owner._lock:
            self.owner.connections += 1
        return True

    def handle_error(self, request, client_address) -> None:  # client went away: not our business
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        owner = self.server.owner
        route, reply = owner._next(self.command, self.path.split("?", 1)[0], dict(self.headers.items()))
        self.close_connection = True
        if route is None:
            self._send(404, b"no such path\n", {}, "text/plain", head)
            return
        try:
            if reply.delay and owner.stopping.wait(reply.delay):
                return
            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            body = reply.body if reply.body is not None else (
                route.body if reply.status == 200 else f"error {reply.status}\n".encode())
            if reply.status != 200:
                self._send(reply.status, body, reply.headers, "text/plain", head, reply.content_length)
                return
            self._send(200, body, reply.headers, route.content_type, head, reply.content_length, reply)
        except (ConnectionError, OSError):
            pass
        finally:
            owner._done(route)

    def _send(self, status: int, body: bytes, headers: dict[str, str], content_type: str, head: bool,
              content_length: bool = True, reply: Reply | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if content_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            return
        reply = reply or Reply()
        if reply.endless:
            stopping = self.server.owner.stopping
            while not stopping.is_set():
                self.wfile.write(body)
                self.wfile.flush()
                if reply.chunk_delay and stopping.wait(reply.chunk_delay):
                    return
            return
        payload = body if reply.truncate_to is None else body[: reply.truncate_to]
        stopping = self.server.owner.stopping
        sent = 0
        stalled = False
        while sent < len(payload):
            step = reply.chunk_size
            if reply.stall_after is not None and not stalled and sent < reply.stall_after:
                step = min(step, reply.stall_after - sent)
            self.wfile.write(payload[sent: sent + step])
            self.wfile.flush()
            sent += step
            if reply.stall_after is not None and not stalled and sent >= reply.stall_after:
                stalled = True
                if stopping.wait(reply.stall):
                    return
            if reply.chunk_delay and sent < len(payload) and stopping.wait(reply.chunk_delay):
                return
        if reply.truncate_to is not None:
            self.connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def http_server():
    """A :class:`FaultServer` on 127.0.0.1 (random port), stopped after the test."""
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()


def sha256_of(data: bytes | Path) -> str:
    """Hex sha256 of bytes or of a file's content."""
    if isinstance(data, Path):
        data = data.read_bytes()
    return hashlib.sha256(data).hexdigest()


def closed_port_url(path: str = "/x") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"
