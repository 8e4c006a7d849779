"""Everything `timeline report` writes, from one reading of the output folder."""

from __future__ import annotations

import re
from pathlib import Path

from timeline.errors import TimelineError
from timeline.io.output import write_file
from timeline.reports.charts import plants, render
from timeline.reports.export import parquet_files, xlsx_for
from timeline.reports.files import Outputs, load
from timeline.reports.html import render_report

#: The names of the charts this package draws (others in charts/ are never touched).
CHART_FILE = re.compile(
    r"^(stopped|value_lost|policy|flows|(stopped_share|buffers|tornado)_[A-Za-z0-9_-]+)\.(png|svg)$"
)


def check_group(outputs: Outputs, group: str | None) -> None:
    """A `--group` that no plant is in is a user error (most likely a typo)."""
    if not group:
        return
    groups = set()
    for branch in outputs.branches:
        groups |= {g for g in plants(branch)["group"].astype(str) if g.strip()}
    if group not in groups:
        fix = f"use one of: {', '.join(sorted(groups))}" if groups else "leave out --group"
        raise TimelineError("--group", "", f"no plant is in group {group!r}", fix)


def report_files(
    out_dir: Path, group: str | None = None, excel: bool = False, parquet: bool = False
) -> dict[str, bytes]:
    """`report.html` and `charts/*` (and `report.xlsx`, `parquet/**` when asked), as paths
    relative to `out_dir` -> bytes. Reads the folder once; writes nothing."""
    outputs = load(out_dir)
    check_group(outputs, group)
    charts = render(outputs, group)
    files = {"report.html": render_report(outputs, charts, group), **charts}
    if excel:
        files["report.xlsx"] = xlsx_for(outputs)
    if parquet:
        files.update(parquet_files(outputs))
    return files


def write_report(
    out_dir: Path, group: str | None = None, excel: bool = False, parquet: bool = False
) -> list[Path]:
    """Write `report_files` into `out_dir`, each file atomically; remove charts of ours that
    the outputs no longer allow (say buffers.csv is gone). Returns the files written."""
    out_dir = Path(out_dir)
    files = report_files(out_dir, group, excel, parquet)
    written = []
    for name, content in files.items():
        write_file(out_dir / name, content)
        written.append(out_dir / name)
    folder = out_dir / "charts"
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if CHART_FILE.match(path.name) and f"charts/{path.name}" not in files:
                path.unlink(missing_ok=True)
    return written
