"""Progress display of long steps: shown on a terminal after a delay, never with -q or off a terminal."""

from __future__ import annotations

import io
import sys
import time

import pytest

from clsm_geo import _progress, i18n, settings


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """A fake terminal as stderr, installed by calling the fixture in the test body (pytest's own capture
    replaces sys.stderr again after fixtures are set up)."""
    out = _Terminal()

    def install():
        monkeypatch.setattr(sys, "stderr", out)
        return out
    return install


def test_a_long_step_shows_its_label_and_elapsed_time_on_a_terminal(terminal):
    terminal = terminal()
    with _progress.step("perimeters", delay=0.05):
        time.sleep(0.8)
    text = terminal.getvalue()
    assert i18n.t("progress.perimeters", "fr") in text and "Périmètres des conseils" in text
    assert "00:00" in text


def test_a_short_step_shows_nothing(terminal):
    terminal = terminal()
    with _progress.step("perimeters", delay=0.5):
        pass
    assert terminal.getvalue() == ""


def test_quiet_shows_nothing(terminal):
    terminal = terminal()
    settings.configure(progress=False)
    with _progress.step("perimeters", delay=0.01):
        time.sleep(0.2)
    assert terminal.getvalue() == ""


def test_not_a_terminal_shows_nothing(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    with _progress.step("perimeters", delay=0.01):
        time.sleep(0.2)
    assert out.getvalue() == ""


def test_english_label_and_decorated_function_result(terminal):
    terminal = terminal()
    i18n.set_lang("en")

    @_progress.stepped("plan")
    def slow(x):
        time.sleep(0.8)
        return x * 2

    _progress.DELAY, old = 0.05, _progress.DELAY
    try:
        assert slow(21) == 42
    finally:
        _progress.DELAY = old
    assert "Computing the extension plan" in terminal.getvalue()


def test_an_error_inside_a_step_propagates_and_stops_the_display(terminal):
    terminal = terminal()
    with pytest.raises(ZeroDivisionError):
        with _progress.step("perimeters", delay=0.01):
            time.sleep(0.1)
            1 / 0
    size = len(terminal.getvalue())
    time.sleep(0.7)
    assert len(terminal.getvalue()) == size          # no refresh after the step ended


def _cli_stderr_on_a_terminal(args: list[str]) -> str:
    """stderr of the CLI run on a pseudo-terminal, every step shown at once (DELAY 0)."""
    import os
    import pty
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    probe = ("import sys; from clsm_geo import _progress; _progress.DELAY = 0.0; "
             "from clsm_geo.cli import main; sys.exit(main())")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", probe, *args], cwd=repo, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_cli_shows_steps_on_a_terminal_and_nothing_with_quiet():
    from pathlib import Path

    example = str(Path(__file__).resolve().parents[1] / "examples" / "registry_fictitious.csv")
    shown = _cli_stderr_on_a_terminal(["--offline", "validate", example, "--year", "2024"])
    assert "Lecture et contrôle du registre" in shown or "Périmètres des conseils" in shown
    quiet = _cli_stderr_on_a_terminal(["--offline", "-q", "validate", example, "--year", "2024"])
    assert "…" not in quiet and "Périmètres" not in quiet
