"""The README's quick start runs as written (STYLE point 12: examples that run)."""

from __future__ import annotations

import shlex
from pathlib import Path

from typer.testing import CliRunner

from timeline.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"


def quick_start() -> list[str]:
    text = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in text.splitlines() if line.startswith("    uv run ")]


def test_quick_start_is_the_two_commands():
    """The quick start is exactly: simulate the decouple branch, then run the tests."""
    assert quick_start() == ["uv run timeline simulate --branch decouple", "uv run pytest"]


def test_quick_start_simulation_writes_the_timelines(tmp_path, monkeypatch):
    """The first quick-start command, run from a fresh folder, writes outputs/decouple/."""
    monkeypatch.chdir(tmp_path)
    args = shlex.split(quick_start()[0])[3:]  # after "uv run timeline"
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "outputs" / "decouple").iterdir())
    assert written == ["events.csv", "firms.csv", "run.json", "stoppages.csv", "timeline.csv"]
