"""A function run in a child process gives what an ordinary call gives: its value, or its own error."""

from __future__ import annotations

import os
import time

import pytest

from clsm_geo import _worker

pytestmark = pytest.mark.skipif(not _worker.available(), reason="needs Linux with two CPUs (CI has them)")


def _pid_and_double(x):
    return os.getpid(), 2 * x


def _fail(message):
    raise ValueError(message)


def _sleep(seconds):
    time.sleep(seconds)
    return "late"


def _exit_in_child(parent):
    if os.getpid() != parent:
        os._exit(3)  # dies in the child only: the caller must compute the value itself
    return "computed here"


def test_the_value_comes_from_a_child():
    job = _worker.start(_pid_and_double, 21)
    pid, value = job.result()
    assert value == 42 and pid != os.getpid() and job.in_child
    assert job.result() == (pid, 42)  # kept, not computed again


def test_a_large_value_crosses_the_pipe():
    data = os.urandom(5 << 20)  # more than a pipe buffer: the child writes while the caller reads
    assert _worker.start(bytes, data).result() == data


def test_an_error_is_raised_by_the_caller():
    job = _worker.start(_fail, "refused: <code>")
    with pytest.raises(ValueError, match="refused: <code>"):
        job.result()
    assert not job.in_child


def test_a_child_that_dies_is_replaced_by_an_ordinary_call():
    job = _worker.start(_exit_in_child, os.getpid())
    assert job.result() == "computed here" and not job.in_child


def test_a_child_past_its_deadline_is_killed(monkeypatch):
    monkeypatch.setattr(_worker, "DEADLINE_S", 0.3)
    job = _worker.start(_sleep, 0.6)
    started = time.monotonic()
    assert job.result() == "late" and not job.in_child
    assert time.monotonic() - started < 5


def test_workers_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("CLSM_GEO_WORKERS", "1")
    assert not _worker.available()
    job = _worker.start(_pid_and_double, 1)
    assert job.result() == (os.getpid(), 2) and not job.in_child


def test_a_job_dropped_unread_leaves_no_process():
    job = _worker.start(_sleep, 30)
    pid = job._pid
    del job
    with pytest.raises(ChildProcessError):  # already reaped: not a zombie, not running
        os.waitpid(pid, os.WNOHANG)
