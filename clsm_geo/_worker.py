"""Run one function in a forked child process while the caller goes on (Linux, two cores or more).

The report draws its images (matplotlib: about 1 s with its import) while the main process computes the
plan, the tables and the annex; ``clsm-geo coverage`` writes ``coverage.xlsx`` while it writes the CSV
files. The function must be deterministic and return picklable data: when the child fails, is killed or
takes too long, the caller runs the function itself, so the outcome (a value or the error a user should
see) is always the one of an ordinary call.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import time
from typing import Any, Callable

#: Seconds the caller waits for a child before it kills it and runs the function itself.
DEADLINE_S = 300.0


def available() -> bool:
    """True where a child process helps: Linux (``fork``) with at least two CPUs for this process.
    ``CLSM_GEO_WORKERS=1`` turns it off."""
    if os.environ.get("CLSM_GEO_WORKERS", "").strip() == "1":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


class Job:
    """The pending value of ``fn(*args)``: :meth:`result` returns it (computed here when the child failed)."""

    def __init__(self, fn: Callable[..., Any], args: tuple, pid: int | None, fd: int | None):
        self._fn, self._args, self._pid, self._fd = fn, args, pid, fd
        self._done = False
        self._value: Any = None
        self.in_child = False  # True once the value came from the child

    def result(self) -> Any:
        if not self._done:
            data = self._collect()
            if data is not None:
                self._value, self.in_child = pickle.loads(data), True
            else:
                self._value = self._fn(*self._args)
            self._done = True
        return self._value

    def cancel(self) -> None:
        """Stop the child now and reap it (no process is left behind); the value is not computed."""
        if getattr(self, "_pid", None) is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
                os.close(self._fd)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            self._pid = None

    def __del__(self) -> None:
        """A job dropped unread: stop its child (:meth:`cancel`)."""
        self.cancel()

    def _collect(self) -> bytes | None:
        """The child's pickled value, or None when it failed, died or overran :data:`DEADLINE_S`."""
        if self._pid is None:
            return None
        chunks, deadline, ok = [], time.monotonic() + DEADLINE_S, True
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                    ok = False
                    os.kill(self._pid, signal.SIGKILL)
                    break
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self._fd)
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
        return b"".join(chunks) if ok and os.waitstatus_to_exitcode(status) == 0 else None


def start(fn: Callable[..., Any], *args: Any) -> Job:
    """Start ``fn(*args)`` in a child process when :func:`available`, else leave it to :meth:`Job.result`."""
    if not available():
        return Job(fn, args, None, None)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
        code = 1
        try:
            os.close(read_fd)
            data = pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        except BaseException:  # noqa: BLE001 - the parent computes again and shows the real error
            pass
        finally:
            os._exit(code)
    os.close(write_fd)
    return Job(fn, args, pid, read_fd)
