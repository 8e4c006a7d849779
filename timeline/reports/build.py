"""Everything `timeline report` writes, as file name -> bytes, from one reading of the folder."""

from __future__ import annotations

from pathlib import Path

from timeline.reports.charts import render
from timeline.reports.export import parquet_files, xlsx_for
from timeline.reports.files import load
from timeline.reports.html import render_report


def report_files(
    out_dir: Path, group: str | None = None, excel: bool = False, parquet: bool = False
) -> dict[str, bytes]:
    """`report.html` and `charts/*` (and `report.xlsx`, `parquet/**` when asked), relative to
    `out_dir`. Reads the folder once; writes nothing."""
    outputs = load(out_dir)
    charts = render(outputs, group)
    files = {"report.html": render_report(outputs, charts, group), **charts}
    if excel:
        files["report.xlsx"] = xlsx_for(outputs)
    if parquet:
        files.update(parquet_files(outputs))
    return files
