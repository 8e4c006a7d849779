"""Planner-ready outputs, built from an output folder on disk (never from the engine).

- `charts.write_charts(out_dir, group)`: PNG and SVG charts;
- `html.build_report(out_dir, group)`: one self-contained report.html;
- `export.xlsx_bytes`, `export.parquet_bytes`, `export.read_table`: Excel, Parquet, typed CSV;
- `fmt`: how money, counts, shares, dates and P50 (P10 to P90) bands are written;
- `build.report_files`, `build.write_report`: everything `timeline report` writes.
"""

from timeline.reports.build import report_files, write_report
from timeline.reports.charts import write_charts
from timeline.reports.export import parquet_bytes, read_table, xlsx_bytes
from timeline.reports.html import build_report

__all__ = [
    "build_report",
    "parquet_bytes",
    "read_table",
    "report_files",
    "write_charts",
    "write_report",
    "xlsx_bytes",
]
