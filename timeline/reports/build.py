"""Everything `timeline report` (and `timeline simulate`, by default) writes, from one reading
of the outputs: report.html and charts/ (and report.xlsx, parquet/ when asked).

matplotlib is imported only to draw charts, openpyxl and pyarrow only for report.xlsx and
parquet/."""

from __future__ import annotations

import re
from pathlib import Path

from timeline.errors import TimelineError
from timeline.io import guard
from timeline.io.output import signals_deferred, write_file
from timeline.reports.common import free_cores, plants
from timeline.reports.files import Outputs, load
from timeline.reports.html import GENERATOR, render_report

#: The names of the charts this package draws (others in charts/ are never touched).
CHART_FILE = re.compile(
    r"^(stopped|value_lost|policy|flows|(stopped_share|buffers|tornado)_[A-Za-z0-9_-]+)\.(png|svg)$"
)
REPORT = "report.html"


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


def report_of(
    outputs: Outputs,
    group: str | None = None,
    excel: bool = False,
    parquet: bool = False,
    charts: bool = True,
    jobs: int = 1,
) -> dict[str, bytes]:
    """`report.html` and `charts/*` (none with `charts=False`: the page then has no images;
    and `report.xlsx`, `parquet/**` when asked) of outputs already read, as paths relative to
    the output folder -> bytes. `jobs`: processes drawing the charts. Writes nothing."""
    check_group(outputs, group)
    drawn: dict[str, bytes] = {}
    if charts:
        from timeline.reports.charts import render  # matplotlib: only to draw

        drawn = render(outputs, group, jobs)
    files = {REPORT: render_report(outputs, drawn, group), **drawn}
    if excel or parquet:
        from timeline.reports.export import parquet_files, xlsx_for  # openpyxl, pyarrow

        if excel:
            files["report.xlsx"] = xlsx_for(outputs)
        if parquet:
            files.update(parquet_files(outputs))
    return files


def report_files(
    out_dir: Path,
    group: str | None = None,
    excel: bool = False,
    parquet: bool = False,
    charts: bool = True,
    jobs: int = 1,
) -> dict[str, bytes]:
    """`report_of` the output folder `out_dir` (read once; nothing written)."""
    return report_of(load(out_dir), group, excel, parquet, charts, jobs)


def check_report_target(out_dir: Path, force: bool = False, skip: str = "") -> None:
    """Refuse to replace a report.html that timeline did not write (unless `force`): ours
    names timeline as its generator near the top. `skip`: the option that leaves it alone."""
    path = Path(out_dir) / REPORT
    what = guard.kind(path, follow=False)
    if what == "missing" or force:
        return
    if what == "folder":
        raise TimelineError(path, "", "is a folder, not a file", "choose another --out")
    head = b""
    if what == "file":
        try:
            with open(path, "rb") as file:
                head = file.read(4096)
        except OSError:
            pass
    if GENERATOR.encode() not in head:
        raise TimelineError(
            path,
            "",
            "exists and was not written by timeline",
            f"move it, choose another --out, {f'pass {skip}, ' if skip else ''}"
            "or pass --force to replace it",
        )


def write_files(out_dir: Path, files: dict[str, bytes], prune: bool = True) -> list[Path]:
    """Write report files into `out_dir`, each atomically, with Ctrl-C held until done;
    with `prune`, remove charts of ours that are not among them (say buffers.csv is gone, or a
    branch was not run this time). Returns the files written."""
    out_dir = Path(out_dir)
    written = []
    with signals_deferred():
        for name, content in files.items():
            write_file(out_dir / name, content)
            written.append(out_dir / name)
        folder = out_dir / "charts"
        if prune and folder.is_dir():
            for path in sorted(folder.iterdir()):
                if CHART_FILE.match(path.name) and f"charts/{path.name}" not in files:
                    path.unlink(missing_ok=True)
    return written


def write_report(
    out_dir: Path,
    group: str | None = None,
    excel: bool = False,
    parquet: bool = False,
    charts: bool = True,
    jobs: int | None = None,
    force: bool = False,
) -> list[Path]:
    """Write `report_files` into `out_dir` (see `write_files`); report.html first. `jobs`:
    processes drawing the charts (default: the cores not already busy)."""
    out_dir = Path(out_dir)
    outputs = load(out_dir)
    check_report_target(out_dir, force)
    files = report_of(outputs, group, excel, parquet, charts, jobs or free_cores())
    return write_files(out_dir, files)
