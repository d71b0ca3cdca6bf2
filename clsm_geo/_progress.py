"""A progress display for long steps (private plumbing).

``with step("perimeters"):`` shows, on stderr, the step's label (``progress.<key>`` of the i18n
catalogue) and the elapsed time once the step has lasted :data:`DELAY` seconds, refreshed until it ends,
then clears the line. Nothing is shown when ``settings.progress`` is off (``clsm-geo -q``) or stderr is
not a terminal, so files, pipes and logs never get it. Steps may nest: only the outermost one shows.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
from collections.abc import Iterator

#: Seconds a step must last before it is shown.
DELAY = 1.0
_active = threading.local()


def enabled() -> bool:
    """Whether progress may be shown: ``settings.progress`` on and stderr a terminal."""
    from . import settings

    if not settings.get().progress:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


@contextlib.contextmanager
def step(key: str, delay: float | None = None) -> Iterator[None]:
    """Show ``progress.<key>`` with the elapsed time while the block runs longer than ``delay`` seconds
    (default :data:`DELAY`)."""
    if getattr(_active, "on", False) or not enabled():
        yield
        return
    from tqdm import tqdm

    from .i18n import t

    delay = DELAY if delay is None else delay
    label = t(f"progress.{key}")
    stop = threading.Event()

    def show() -> None:
        if stop.wait(delay):
            return

        size = shutil.get_terminal_size((80, 24))     # 80 × 24 when the terminal reports 0 × 0 (tqdm would hide)
        bar = tqdm(total=None, desc=label, bar_format="{desc} … {elapsed}", file=sys.stderr, leave=False,
                   ncols=size.columns, nrows=size.lines)
        try:
            while not stop.wait(0.5):
                bar.refresh()
        finally:
            bar.close()

    thread = threading.Thread(target=show, name=f"clsm-geo progress {key}", daemon=True)
    _active.on = True
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        _active.on = False


def stepped(key: str):
    """Decorator: the function's run is the step ``key`` (see :func:`step`)."""
    import functools

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with step(key):
                return fn(*args, **kwargs)
        return inner
    return wrap
