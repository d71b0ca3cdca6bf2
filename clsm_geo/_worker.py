"""Run one function in a forked child process while the caller goes on (Linux, two cores or more).

The report draws its images (matplotlib: about 1 s with its import) while the main process computes the
plan, the tables and the annex; ``clsm-geo coverage`` writes ``coverage.xlsx`` while it writes the CSV
files. The function must be deterministic and return picklable data: when the child fails, is killed or
takes too long, the caller runs the function itself, so the outcome (a value or the error a user should
see) is always the one of an ordinary call.

A child can also start before its input exists (``start(fn, *args, inbox=True)``): it does what it can (the
report's child imports matplotlib and reads the outlines while the caller computes the coverage), then waits
for the values the caller sends (:meth:`Job.send`), which ``fn`` reads in order with ``inbox.get()``.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import signal
import struct
import sys
import threading
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



class Inbox:
    """The values a job's caller sends to it after starting it (:meth:`Job.send`): ``fn`` reads them in order with
    :meth:`get`, which waits for the next one in a child process."""

    def __init__(self, fd: int | None = None, values: list | None = None):
        self._fd, self._values = fd, list(values or ())

    def get(self) -> Any:
        """The next value sent."""
        if self._fd is None:
            if not self._values:
                raise RuntimeError("nothing more was sent to this job (Job.send)")
            return self._values.pop(0)
        size = struct.unpack("<Q", _read_exactly(self._fd, 8))[0]
        return pickle.loads(_read_exactly(self._fd, size))


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (an error if it ends before): a message is its length then its bytes, so the
    reader does not wait for the end of a pipe that another child forked meanwhile may still hold open."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the caller closed the inbox before sending")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Job:
    """The pending value of ``fn(*args)``: :meth:`result` returns it (computed here when the child failed)."""

    def __init__(self, fn: Callable[..., Any], args: tuple, pid: int | None, fd: int | None,
                 inbox_fd: int | None = None, inbox: bool = False):
        self._fn, self._args, self._pid, self._fd = fn, args, pid, fd
        self._inbox, self._inbox_fd = inbox, inbox_fd
        self._sent: list = []
        self._queue: queue.SimpleQueue | None = None  # what the sender thread writes into the inbox, in order
        self._sender: threading.Thread | None = None
        self._done = False
        self._value: Any = None
        self.in_child = False  # True once the value came from the child

    def send(self, value: Any) -> None:
        """Give ``value`` to the job's ``inbox`` (after those sent before). The bytes go to the child from a
        thread: a value larger than a pipe's buffer does not hold the caller until the child reads it."""
        if not self._inbox or self._done:
            raise RuntimeError("only a job started with inbox=True takes values, before its result")
        self._sent.append(value)
        if self._inbox_fd is not None:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            if self._sender is None:
                self._queue = queue.SimpleQueue()
                self._sender = threading.Thread(target=_write_queue, args=(self._inbox_fd, self._queue), daemon=True)
                self._sender.start()
            self._queue.put(struct.pack("<Q", len(data)) + data)

    @property
    def sent(self) -> int:
        """How many values :meth:`send` gave the job."""
        return len(self._sent)

    def _close_inbox(self) -> None:
        """No more values: the sender thread writes those queued, then closes the pipe (or it is closed now)."""
        if self._queue is not None:
            self._queue.put(None)
            self._queue = None
        elif self._inbox_fd is not None:
            os.close(self._inbox_fd)
        self._inbox_fd = None

    def result(self) -> Any:
        if not self._done:
            if self._inbox and not self._sent:
                self.cancel()  # the child waits for a value that will not come: the call below says so
            self._close_inbox()
            data = self._collect()
            if self._sender is not None:
                self._sender.join()
            if data is not None:
                self._value, self.in_child = pickle.loads(data), True
            elif self._inbox:
                self._value = self._fn(*self._args, inbox=Inbox(values=self._sent))
            else:
                self._value = self._fn(*self._args)
            self._done = True
        return self._value

    def cancel(self) -> None:
        """Stop the child now and reap it (no process is left behind); the value is not computed."""
        if getattr(self, "_inbox_fd", None) is not None or getattr(self, "_queue", None) is not None:
            self._close_inbox()
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


def _write_queue(fd: int, messages: queue.SimpleQueue) -> None:
    """Each message of ``messages`` into the pipe ``fd`` until None, then close it (the reader sees the end); a
    reader gone is no error here."""
    try:
        while (data := messages.get()) is not None:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
    except OSError:  # BrokenPipeError: the child died; the caller computes the value itself
        pass
    finally:
        os.close(fd)


def start(fn: Callable[..., Any], *args: Any, inbox: bool = False) -> Job:
    """Start ``fn(*args)`` in a child process when :func:`available`, else leave it to :meth:`Job.result`.
    ``inbox``: call ``fn(*args, inbox=...)`` with an :class:`Inbox` receiving what :meth:`Job.send` gives."""
    if not available():
        return Job(fn, args, None, None, inbox=inbox)
    read_fd, write_fd = os.pipe()
    in_read, in_write = os.pipe() if inbox else (None, None)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
        code = 1
        try:
            os.close(read_fd)
            if inbox:
                os.close(in_write)
                value = fn(*args, inbox=Inbox(in_read))
            else:
                value = fn(*args)
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
            code = 0
        except BaseException:  # noqa: BLE001 - the parent computes again and shows the real error
            pass
        finally:
            os._exit(code)
    os.close(write_fd)
    if inbox:
        os.close(in_read)
    return Job(fn, args, pid, read_fd, in_write, inbox)
