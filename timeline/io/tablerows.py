"""The rows of a table file, as (row number, cells as text): CSV or Excel .xlsx.

`Table` records the defects found while reading (one `TimelineError` each) and reads numbers
the way the file writes them (a decimal comma in `;`-separated files). CSV is parsed strictly: a
quote that is never closed, a stray quote or an over-long cell is a defect with its row, and
the rows stop there (they cannot be trusted after it). An .xlsx workbook is checked to be a zip
archive of sensible unpacked size before openpyxl (imported only then) reads its first sheet.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

from timeline.errors import TimelineError

MAX_CELL = 20_000  # characters in one cell
MAX_UNZIPPED = 200 * 1024 * 1024  # an .xlsx may not unpack to more than this

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NUMBER_COMMA = re.compile(r"[+-]?\d+(,\d+)?([eE][+-]?\d+)?")


class Table:
    """One table being read: its path, number format and the defects found so far."""

    def __init__(self, path: Path, decimal_comma: bool) -> None:
        self.path = path
        self.decimal_comma = decimal_comma
        self.problems: list[TimelineError] = []
        self.spans: dict[int, int] = {}  # first row -> last row of a record over several rows

    def problem(self, row: int | None, column: str | None, problem: str, fix: str) -> None:
        where = ", ".join(
            part
            for part in (f"row {row}" if row else "", f"column {column}" if column else "")
            if part
        )
        self.problems.append(TimelineError(self.path, where, problem, fix))

    def number(self, cell: str) -> float | None:
        """A finite number from a cell (decimal comma in `;` tables), or None."""
        pattern = _NUMBER_COMMA if self.decimal_comma else _NUMBER
        if not pattern.fullmatch(cell):
            return None
        value = float(cell.replace(",", ".") if self.decimal_comma else cell)
        return value if math.isfinite(value) else None

    def number_fix(self, example: str) -> str:
        if self.decimal_comma:
            comma = example.replace(".", ",")
            return f"use a number with a decimal comma such as {comma}, no thousands separators"
        return f"use a number such as {example} (no thousands separators)"


def csv_rows(table: Table, text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of each record; a CSV defect is recorded and ends the table."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous = csv.field_size_limit(MAX_CELL + 1)
    try:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                _csv_problem(table, start, str(err), delimiter)
                return
            if reader.line_num > start:  # a quoted cell held line breaks
                table.spans[start] = reader.line_num
            yield start, cells
    finally:
        csv.field_size_limit(previous)


def _csv_problem(table: Table, row: int, message: str, delimiter: str) -> None:
    if "field larger than field limit" in message:
        table.problem(
            row,
            None,
            f"a cell is longer than {MAX_CELL:,} characters",
            "shorten it (if it should be short, look for a quote that is not closed)",
        )
    elif "unexpected end of data" in message:
        table.problem(
            row,
            None,
            'a quoted cell is never closed (a " with no closing ")',
            'close the quote; a quote inside a quoted cell is written twice ("")',
        )
    else:
        table.problem(
            row,
            None,
            f"bad CSV quoting ({message})",
            f'a quoted cell must end with " followed by {delimiter!r} or the end of the line; '
            'a quote inside a quoted cell is written twice ("")',
        )


def xlsx_rows(path: Path, raw: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of the first worksheet of an .xlsx workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_xlsx(path, "it is not a zip archive") from None
    if unzipped > MAX_UNZIPPED:
        raise _not_xlsx(path, f"it unpacks to over {MAX_UNZIPPED // 2**20} MB")
    import openpyxl  # imported here: only .xlsx tables need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # rows as stored, not padded to a (possibly huge) stated size
        rows = [list(values) for values in sheet.iter_rows(values_only=True)]
        book.close()
    except Exception as err:  # openpyxl raises many kinds on a damaged workbook
        raise _not_xlsx(path, type(err).__name__) from None
    for number, values in enumerate(rows, start=1):
        cells = [_xlsx_text(value) for value in values]
        while cells and cells[-1] == "":
            cells.pop()
        yield number, cells


def _xlsx_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _not_xlsx(path: Path, why: str) -> TimelineError:
    return TimelineError(
        path,
        "",
        f"cannot be read as an Excel workbook ({why})",
        "save it again from Excel as .xlsx, or as CSV UTF-8 (comma delimited)",
    )
