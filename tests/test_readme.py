"""The README's quick start runs as written (STYLE point 12: examples that run)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from timeline.cli import DEFAULT_RUNS, app

README = Path(__file__).resolve().parent.parent / "README.md"


def quick_start_section() -> str:
    return README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]


def quick_start() -> list[str]:
    """The indented command lines of the quick start."""
    return [
        line.strip()
        for line in quick_start_section().splitlines()
        if line.startswith("    uv run ")
    ]


def test_quick_start_is_the_two_commands():
    """The quick start is exactly: simulate the decouple branch, then run the tests."""
    assert quick_start() == ["uv run timeline simulate --branch decouple", "uv run pytest"]


def test_quick_start_simulation_runs_as_written(tmp_path, monkeypatch):
    """The first quick-start command, run as written from a fresh folder (default runs, all
    cores), finishes, prints the P50 (P10-P90) summary and writes outputs/decouple/ with every
    file the quick start names and no other, and outputs/report.html and outputs/charts/;
    run.json records the default number of runs."""
    monkeypatch.chdir(tmp_path)
    args = shlex.split(quick_start()[0])[3:]  # after "uv run timeline"
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "P50 (P10-P90)" in result.stdout
    folder = tmp_path / "outputs" / "decouple"
    written = sorted(p.name for p in folder.iterdir())
    named = sorted(set(re.findall(r"\b([a-z_]+\.(?:csv|json))\b", quick_start_section())))
    assert written == named
    meta = json.loads((folder / "run.json").read_text())
    assert meta["runs"] == DEFAULT_RUNS
    assert f"{DEFAULT_RUNS} paired runs" in quick_start_section()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]
    # beside it, as the quick start says: the report and the charts, PNG and SVG
    outputs = tmp_path / "outputs"
    assert sorted(p.name for p in outputs.iterdir()) == ["charts", "decouple", "report.html"]
    assert "outputs/report.html" in quick_start_section()
    assert "outputs/charts/" in quick_start_section()
    charts = {p.suffix for p in (outputs / "charts").iterdir()}
    assert charts == {".png", ".svg"}
    assert 'id="answer"' in (outputs / "report.html").read_text(encoding="utf-8")
