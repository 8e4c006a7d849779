"""Planner-ready outputs, built from an output folder on disk (never from the engine).

- `charts.write_charts(out_dir, group)`: PNG and SVG charts;
- `html.build_report(out_dir, group)`: one self-contained report.html;
- `export.xlsx_bytes`, `export.parquet_bytes`, `export.read_table`: Excel, Parquet, typed CSV;
- `fmt`: how money, counts, shares, dates and P50 (P10 to P90) bands are written;
- `build.report_files`, `build.write_report`: everything `timeline report` writes.

The names below are imported on first use, so that importing one module of the package (the
charts, without Excel and Parquet; or the page, without matplotlib) does not import them all.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "build_report": "timeline.reports.html",
    "parquet_bytes": "timeline.reports.export",
    "read_table": "timeline.reports.export",
    "report_files": "timeline.reports.build",
    "write_charts": "timeline.reports.charts",
    "write_report": "timeline.reports.build",
    "xlsx_bytes": "timeline.reports.export",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'timeline.reports' has no attribute {name!r}")
