"""The garbage collector paused while a step builds many containers: reading and validating a registry,
measuring coverage.

Reading a registry makes a list per row and a tuple per cell of codes; validating one makes a problem per
overlap. None of them forms a reference cycle, yet CPython counts every container allocated and, past a
threshold, walks the older generations again, the whole session's heap included: at 100,000 rows these walks
made ``clsm_geo.validate`` grow faster than its input, and in a session holding the geography one
``clsm_geo.coverage`` call in a few paid a full collection (``benchmarks/bench_commands.py``,
``benchmarks/compare.py``). Mercurial pauses its collector in the same way while it parses large files.
Nested pauses are fine: only the outermost one turns the collector back on, and only if it was on.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from typing import Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block; the collector's state is restored after it, error or not."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pausing(fn: F) -> F:
    """``fn`` run with the collector :func:`paused`."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with paused():
            return fn(*args, **kwargs)
    return inner  # type: ignore[return-value]
