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


def _twice_what_comes(x, inbox):
    return os.getpid(), x, 2 * inbox.get()


def test_a_child_started_before_its_input_receives_it():
    job = _worker.start(_twice_what_comes, "ready", inbox=True)
    job.send(21)
    pid, ready, value = job.result()
    assert (ready, value) == ("ready", 42) and pid != os.getpid() and job.in_child


def _sum_of_three_sent(inbox):
    first = inbox.get()
    return os.getpid(), [first, inbox.get(), inbox.get()]


def test_values_sent_one_after_the_other_arrive_in_order_in_the_child_and_in_the_caller():
    job = _worker.start(_sum_of_three_sent, inbox=True)
    for value in ("a", os.urandom(200_000), {"c": 3}):
        job.send(value)
    pid, got = job.result()
    assert pid != os.getpid() and job.in_child and got[0] == "a" and len(got[1]) == 200_000 and got[2] == {"c": 3}
    dead = _worker.start(_exit_then_list, os.getpid(), inbox=True)   # the child dies: the caller reads them in order
    dead.send(1)
    dead.send(2)
    assert dead.result() == [1, 2] and not dead.in_child
    with pytest.raises(RuntimeError):
        dead.send(3)                                                   # none after the result


def _exit_then_list(parent, inbox):
    if os.getpid() != parent:
        os._exit(3)
    return [inbox.get(), inbox.get()]


def test_a_value_larger_than_a_pipe_is_sent_without_holding_the_caller():
    data = os.urandom(5 << 20)  # a pipe holds 64 KiB: the send must not wait for the child to read
    job = _worker.start(_sleep_then_echo, 0.5, inbox=True)
    started = time.monotonic()
    job.send(data)
    assert time.monotonic() - started < 0.4
    assert job.result() == data and job.in_child


def _sleep_then_echo(seconds, inbox):
    time.sleep(seconds)
    return inbox.get()


def test_the_sent_value_is_used_when_the_child_dies():
    job = _worker.start(_exit_then_twice, os.getpid(), inbox=True)
    job.send(5)
    assert job.result() == 10 and not job.in_child


def _exit_then_twice(parent, inbox):
    if os.getpid() != parent:
        os._exit(3)
    return 2 * inbox.get()


def test_a_job_waiting_for_a_value_never_sent_fails_at_once():
    job = _worker.start(_twice_what_comes, "ready", inbox=True)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="nothing more was sent"):
        job.result()
    assert time.monotonic() - started < 5  # not the deadline of a child left waiting
    with pytest.raises(RuntimeError):
        _worker.start(_pid_and_double, 1).send(1)  # a job without an inbox takes nothing


def test_a_second_child_forked_meanwhile_does_not_hold_the_first():
    first = _worker.start(_twice_what_comes, "a", inbox=True)
    second = _worker.start(_sleep, 3)  # inherits the first one's inbox pipe
    started = time.monotonic()
    first.send(1)
    assert first.result()[2] == 2 and time.monotonic() - started < 2.5
    second.cancel()
