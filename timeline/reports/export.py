"""Excel and Parquet copies of the output tables, for planners' spreadsheets and analysts' tools.

- `xlsx_bytes`: one sheet per table and one per branch summary; dates are real Excel dates,
  numbers are numbers, text is stored as text (so a cell such as `=SUM(A1)` is never a formula
  and needs no neutralising quote), a frozen, bold header row, columns sized to their content.
  The workbook is deterministic: fixed document properties and zip entry times.
- `parquet_bytes`: one table with proper types: dates as `date32`, ids and other repeated
  labels as dictionary-encoded strings, booleans as booleans.
- `read_table` (from `timeline.reports.files`): read one of timeline's CSV files with those types.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from timeline.reports.files import Outputs, is_date_column, load, read_table

__all__ = [
    "parquet_bytes",
    "parquet_files",
    "read_table",
    "workbook_tables",
    "xlsx_bytes",
    "xlsx_for",
]

#: Document properties and zip entry times of every workbook (the output must not depend on
#: the clock; the run's own time is in the summary sheets).
FIXED_TIME = dt.datetime(2025, 1, 1)
#: Text columns stored dictionary-encoded in Parquet (few distinct values, many rows).
DICTIONARY_COLUMNS = frozenset(
    {
        "firm_id",
        "branch",
        "versus",
        "metric",
        "sector",
        "country",
        "group",
        "kind",
        "actor",
        "destination",
    }
)
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MIN_WIDTH, _MAX_WIDTH = 8, 60


# --- Excel -----------------------------------------------------------------------------


class _FixedTimeZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed time (openpyxl would stamp the clock)."""

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
        info.compress_type = self.compression
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):  # type: ignore[override]
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = self._info(str(zinfo_or_arcname))
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):  # type: ignore[override]
        with open(filename, "rb") as handle:
            data = handle.read()
        name = str(arcname if arcname is not None else filename)
        self.writestr(self._info(name), data, compress_type, compresslevel)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (31 characters, none of []:*?/\\)."""
    base = _SHEET_FORBIDDEN.sub("-", name).strip("'") or "sheet"
    candidate = base[:31]
    n = 2
    while candidate.lower() in taken:
        suffix = f" ({n})"
        candidate = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(candidate.lower())
    return candidate


def _cell(value: Any) -> Any:
    """A Python value for openpyxl: None for missing, dates as dates, numpy as Python."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None and value == value.normalize():
            return value.date()
        return value.to_pydatetime()
    if isinstance(value, dt.datetime | dt.date | bool | str):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def _text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _width(values: Iterator[Any]) -> float:
    longest = _MIN_WIDTH
    for value in values:
        if value is None:
            continue
        if isinstance(value, dt.date):
            size = 10
        elif isinstance(value, float):
            size = len(f"{value:,.2f}")
        else:
            size = max((len(line) for line in str(value).splitlines()), default=0)
        longest = max(longest, size)
    return min(longest + 2, _MAX_WIDTH)


def _write_sheet(ws: Any, header: list[str], rows: list[list[Any]]) -> None:
    """Fill a write-only sheet: widths and frozen header first, then the rows."""
    for index, name in enumerate(header, start=1):
        column = (row[index - 1] if index - 1 < len(row) else None for row in rows)
        width = max(_width(iter([name])), _width(column))
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for name in header:
        cell = WriteOnlyCell(ws, value=_text(name))
        cell.data_type = "s"
        cell.font = bold
        head.append(cell)
    ws.append(head)
    for values in rows:
        ws.append([_write_cell(ws, value) for value in values])


def _write_cell(ws: Any, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    cell = WriteOnlyCell(ws, value=_text(value) if isinstance(value, str) else value)
    if isinstance(value, str):
        cell.data_type = "s"  # text stays text, even `=SUM(A1)`
    elif isinstance(value, dt.datetime):
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    return cell


def _frame_rows(frame: pd.DataFrame) -> list[list[Any]]:
    columns = [frame[c].tolist() for c in frame.columns]
    return [[_cell(v) for v in row] for row in zip(*columns, strict=True)] if columns else []


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, out)
    elif isinstance(value, list):
        out.append((prefix, " ".join(str(v) for v in value)))
    else:
        out.append((prefix, value))


def _summary_value(value: Any) -> Any:
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, bool | int | float | str) or value is None:
        return _cell(value)
    return json.dumps(value, sort_keys=True)


def xlsx_bytes(
    tables: dict[str, pd.DataFrame],
    summaries: dict[str, dict],
    created: dt.datetime | None = None,
) -> bytes:
    """An Excel workbook: a sheet per table (in order), then a sheet per branch summary.

    `summaries` maps a branch to its run.json (or any dict; nested values are flattened into
    `key.sub` rows). `created` sets the document's created/modified time (default: a fixed
    time, so the same input gives the same bytes).
    """
    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    for name, frame in tables.items():
        ws = workbook.create_sheet(sheet_name(name, taken))
        _write_sheet(ws, [str(c) for c in frame.columns], _frame_rows(frame))
    for branch, summary in summaries.items():
        ws = workbook.create_sheet(sheet_name(f"summary {branch}", taken))
        pairs: list[tuple[str, Any]] = []
        _flatten("", summary, pairs)
        _write_sheet(ws, ["field", "value"], [[k, _summary_value(v)] for k, v in pairs])
    if not workbook.sheetnames:
        workbook.create_sheet("empty")
    when = (created or FIXED_TIME).replace(tzinfo=None, microsecond=0)
    workbook.properties.creator = "timeline"
    workbook.properties.created = when
    workbook.properties.modified = when
    buffer = io.BytesIO()
    with _FixedTimeZip(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()
    return buffer.getvalue()


def workbook_tables(outputs: Outputs) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """The tables and summaries of an output folder, named for a workbook.

    Top tables first (compare, paired, sensitivity), then per branch `<branch> <table>`.
    """
    tables: dict[str, pd.DataFrame] = dict(outputs.tables)
    for branch in outputs.branches:
        for name, frame in branch.tables.items():
            tables[f"{branch.id} {name}"] = frame
    summaries = {branch.id: branch.meta for branch in outputs.branches}
    return tables, summaries


def _created(outputs: Outputs) -> dt.datetime | None:
    try:
        stamp = dt.datetime.fromisoformat(str(outputs.meta.get("created_at")))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.replace(tzinfo=None)


def xlsx_for(out_dir: Path | Outputs) -> bytes:
    """The workbook of an output folder: every table present and every branch's run.json."""
    outputs = out_dir if isinstance(out_dir, Outputs) else load(out_dir)
    tables, summaries = workbook_tables(outputs)
    return xlsx_bytes(tables, summaries, created=_created(outputs))


# --- Parquet ---------------------------------------------------------------------------


def _arrow_column(name: str, series: pd.Series) -> Any:
    if pd.api.types.is_datetime64_any_dtype(series) or (
        is_date_column(name) and series.isna().all()
    ):
        stamps = pd.to_datetime(series, errors="coerce")
        if stamps.isna().all() or (stamps.dropna() == stamps.dropna().dt.normalize()).all():
            return pa.array([None if pd.isna(v) else v.date() for v in stamps], type=pa.date32())
        return pa.array(stamps, type=pa.timestamp("us"))
    if pd.api.types.is_bool_dtype(series):
        return pa.array(series.astype("boolean"), type=pa.bool_())
    if pd.api.types.is_integer_dtype(series):
        return pa.array(series.astype("Int64"), type=pa.int64())
    if pd.api.types.is_float_dtype(series):
        return pa.array(series.astype("float64"), type=pa.float64())
    text = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in series
    ]
    array = pa.array(text, type=pa.string())
    if name in DICTIONARY_COLUMNS:
        return array.dictionary_encode()
    return array


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """One table as Parquet: dates as date32, ids dictionary-encoded, no pandas index."""
    columns = [str(c) for c in frame.columns]
    arrays = [
        _arrow_column(name, frame[column])
        for name, column in zip(columns, frame.columns, strict=True)
    ]
    table = pa.Table.from_arrays(arrays, names=columns) if columns else pa.table({})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def parquet_files(out_dir: Path | Outputs) -> dict[str, bytes]:
    """Every table of an output folder as Parquet: `parquet/<table>.parquet` for the top
    tables, `parquet/<branch>/<table>.parquet` for each branch's."""
    outputs = out_dir if isinstance(out_dir, Outputs) else load(out_dir)
    files = {f"parquet/{name}.parquet": parquet_bytes(t) for name, t in outputs.tables.items()}
    for branch in outputs.branches:
        for name, table in branch.tables.items():
            files[f"parquet/{branch.folder.name}/{name}.parquet"] = parquet_bytes(table)
    return files
