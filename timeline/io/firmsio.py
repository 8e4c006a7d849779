"""Read a firm table (CSV or Excel .xlsx) into validated `Firm` records, every defect at once.

The columns come from the `Firm` model: a field without a default is a required column, one with
a default an optional column (an empty cell takes the default). Columns whose names start with
`x_` are the user's own and are ignored; any other unknown column, or a column given twice, is
refused. Cells are converted by the field's type (whole numbers, numbers, space-separated lists,
supplier links), so the model can type its numbers strictly.

CSV: UTF-8 (a byte-order mark is accepted), RFC 4180 quoting read strictly (a quote that is
never closed is an error with its row, not a cell that swallows the rest of the file). A header
with `;` and no `,` is read as `;`-separated with decimal commas (0,5): what Excel writes in
many European locales. Excel: the first worksheet of an .xlsx workbook.

All defects are listed, one line each with row, column and fix (up to `MAX_PROBLEMS`); a defect
in the header stops there, since the rows cannot be read without it.
"""

from __future__ import annotations

import graphlib
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from timeline.errors import TimelineError, explain
from timeline.io.guard import read_bytes, setting
from timeline.io.tablerows import Table, csv_rows, xlsx_rows
from timeline.io.text import describe, unsafe_char
from timeline.io.yamlio import MAX_INPUT_ENV, decode_text
from timeline.model.scenario import Firm, SupplierLink
from timeline.model.uncertain import looks_like_distribution

MAX_BYTES = 10 * 1024 * 1024  # default cap of a table's file; $TIMELINE_MAX_INPUT_BYTES overrides
MAX_FIRMS = 100_000  # default cap of rows; $TIMELINE_MAX_FIRMS overrides
MAX_FIRMS_ENV = "TIMELINE_MAX_FIRMS"
MAX_PROBLEMS = 20  # defects listed before "and N more"
EXTRA_PREFIX = "x_"

_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


def _kind(name: str, info: FieldInfo) -> str:
    """How a cell of this field is read: links, words, int, float, bool, uncertain (a number
    or a distribution) or text."""
    if name == "suppliers":
        return "links"
    annotation: Any = info.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if float in options and len(options) > 1:
            return "uncertain"
        annotation = options[0] if len(options) == 1 else str
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
        if float in typing.get_args(annotation):  # optional: a number or a distribution
            return "uncertain"
    if typing.get_origin(annotation) in (frozenset, set, tuple, list):
        return "words"
    return {bool: "bool", int: "int", float: "float"}.get(annotation, "text")


def columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) column names, from the `Firm` model's fields."""
    fields = Firm.model_fields
    required = tuple(n for n, f in fields.items() if f.is_required())
    optional = tuple(n for n, f in fields.items() if not f.is_required())
    return required, optional


KINDS: dict[str, str] = {name: _kind(name, info) for name, info in Firm.model_fields.items()}
REQUIRED, OPTIONAL = columns()
COLUMNS: tuple[str, ...] = REQUIRED + OPTIONAL  # every column the tool reads


def read_firms(path: Path) -> tuple[Firm, ...]:
    """Parse and validate a firm table (CSV or .xlsx). Row numbers count the header as row 1."""
    raw = read_bytes(path, setting(MAX_INPUT_ENV, MAX_BYTES))
    if raw.startswith(_XLS_MAGIC) or path.suffix.lower() == ".xls":
        raise TimelineError(
            path,
            "",
            "is an old Excel .xls workbook",
            "save it as Excel Workbook (.xlsx) or as CSV UTF-8 (comma delimited)",
        )
    if raw.startswith(_XLSX_MAGIC) or path.suffix.lower() == ".xlsx":
        table = Table(path, decimal_comma=False)
        rows = xlsx_rows(path, raw)
    elif raw.startswith(b"PAR1") or path.suffix.lower() == ".parquet":
        from timeline.io.generate import parquet_rows  # pyarrow only for Parquet tables

        table, rows = Table(path, decimal_comma=False), parquet_rows(path, raw)
    else:
        text = decode_text(path, raw, bom=True)
        header = text.split("\n", 1)[0]
        table = Table(path, decimal_comma=";" in header and "," not in header)
        rows = csv_rows(table, text, ";" if table.decimal_comma else ",")
    firms = _read_rows(table, rows)
    if table.problems:
        raise TimelineError.several(table.problems, MAX_PROBLEMS)
    return firms


def _header(table: Table, row: int, cells: list[str]) -> list[str] | None:
    """The column names, or None after recording every defect of the header."""
    names = [cell.strip() for cell in cells]
    listing = ",".join(COLUMNS)
    before = len(table.problems)
    for index, name in enumerate(names, start=1):
        bad = unsafe_char(name)
        if bad is not None:
            table.problem(
                row,
                None,
                f"the name of column {index} holds the control character {describe(bad)}",
                "remove it: terminal escapes and direction overrides are not allowed",
            )
    if len(table.problems) > before:
        return None  # the names are not what they seem: check nothing else
    for index, name in enumerate(names, start=1):
        if not name:
            table.problem(
                row,
                None,
                f"column {index} has no name",
                f"name it, or remove the empty column; the columns are {listing}",
            )
    for name in dict.fromkeys(names):
        where = [str(i) for i, n in enumerate(names, start=1) if n == name]
        if name and len(where) > 1:
            table.problem(
                row,
                None,
                f"column {name!r} is given {len(where)} times (columns {', '.join(where)})",
                "keep one of them",
            )
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        table.problem(
            row,
            None,
            f"missing column(s) {', '.join(missing)}",
            f"add them; the columns are {listing}",
        )
    unknown = [n for n in names if n and n not in COLUMNS and not n.startswith(EXTRA_PREFIX)]
    if unknown:
        table.problem(
            row,
            None,
            f"unknown column(s) {', '.join(unknown)}",
            f"remove or rename them (a column of your own must start with {EXTRA_PREFIX}); "
            f"the columns are {listing}",
        )
    return names if len(table.problems) == before else None


def _read_rows(table: Table, rows: Iterator[tuple[int, list[str]]]) -> tuple[Firm, ...]:
    header_row, names = 0, None
    for number, cells in rows:
        if any(cell.strip() for cell in cells):
            header_row, names = number, _header(table, number, cells)
            break
    if header_row == 0 and not table.problems:
        table.problem(None, None, "no header row", f"start with the columns {','.join(COLUMNS)}")
    if names is None:
        return ()
    limit = setting(MAX_FIRMS_ENV, MAX_FIRMS)
    firms: list[tuple[int, Firm]] = []
    ids: dict[str, int] = {}
    count = 0
    for row, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        count += 1
        if count > limit:
            table.problem(
                row,
                None,
                f"more than {limit:,} firms",
                "split the table (or raise TIMELINE_MAX_FIRMS)",
            )
            break
        if len(cells) != len(names):
            last = table.spans.get(row)
            table.problem(
                row,
                None,
                f"{len(cells)} cells for {len(names)} columns"
                + (f" (one quoted cell runs from row {row} to row {last})" if last else ""),
                "close every quote where its cell ends"
                if last
                else "quote cells that contain the delimiter and give every column a cell",
            )
            continue
        record = dict(zip(names, (cell.strip() for cell in cells), strict=True))
        firm_id = record.get("id", "")
        if firm_id in ids:
            table.problem(
                row,
                "id",
                f"duplicate firm id {firm_id!r} (first on row {ids[firm_id]})",
                "give each firm its own id",
            )
            continue
        if firm_id:
            ids[firm_id] = row
        firm = _firm(table, row, record)
        if firm is not None:
            firms.append((row, firm))
    if not firms and not table.problems:
        table.problem(header_row + 1, None, "no firms in the table", "add at least one row")
    _check_links(table, firms, ids)
    return tuple(firm for _, firm in firms)


def _firm(table: Table, row: int, record: dict[str, str]) -> Firm | None:
    """One validated firm, or None after recording each defect of its row."""
    before = len(table.problems)
    data: dict[str, object] = {}
    for column, cell in record.items():
        if column not in KINDS or column.startswith(EXTRA_PREFIX):
            continue
        bad = unsafe_char(cell)
        if bad is not None:
            table.problem(
                row,
                column,
                f"cell holds the control character {describe(bad)}",
                "remove it: terminal escapes and direction overrides are not allowed",
            )
        elif cell:
            value = _cell(table, row, column, cell)
            if value is not None:
                data[column] = value
    if len(table.problems) > before:
        return None
    try:
        return Firm.model_validate(data)
    except ValidationError as err:
        firm_id = record.get("id") or "?"
        for error in err.errors():
            loc, problem, fix = explain(error)
            column = str(loc[0]) if loc else None
            table.problem(row, column, f"{problem} (firm {firm_id})", fix)
        return None


def _cell(table: Table, row: int, column: str, cell: str) -> object:
    """A cell converted to its field's type, or None after recording why it cannot be."""
    kind = KINDS[column]
    if kind == "words":
        return cell.split()
    if kind == "links":
        return _links(table, row, cell)
    if kind in ("int", "float"):
        value = table.number(cell)
        if value is None:
            example = "14" if kind == "int" else "0.5"
            table.problem(row, column, f"{cell!r} is not a number", table.number_fix(example))
            return None
        if kind == "int":
            if not value.is_integer():
                table.problem(
                    row, column, f"{cell!r} is not a whole number", "use a whole number such as 14"
                )
                return None
            return int(value)
        return value
    if kind == "bool":
        lowered = cell.lower()
        if lowered not in ("true", "false"):
            table.problem(row, column, f"{cell!r} is not true or false", "use true or false")
            return None
        return lowered == "true"
    if kind == "uncertain":  # a number (in the table's decimal notation) or a distribution
        number = table.number(cell)
        return cell if number is None else number
    return cell


_ITEM = re.compile(r"(?:[^\s(]|\([^)]*\))+")  # space-separated, not inside parentheses
_PART = re.compile(r"(?:[^:(]|\([^)]*\))+")  # colon-separated, not inside parentheses


def _links(table: Table, row: int, cell: str) -> list[SupplierLink] | None:
    """`firm_id:buffer_days[:share]` items, space-separated; None after recording the cell's
    first defect. `buffer_days` and `share` may be a distribution in the cell notation, e.g.
    `us-motor:triangular(5 10 20):0.5` or `us-motor:10:beta(5 5)`."""
    links: list[SupplierLink] = []
    seen: set[str] = set()
    for item in _ITEM.findall(cell):
        parts = _PART.findall(item)
        numbers: list[float | str | None] = [table.number(part) for part in parts[1:]]
        for k, part in enumerate(parts[1:3]):
            if numbers[k] is None and looks_like_distribution(part):
                numbers[k] = part  # a distribution of buffer days or share, checked by the link
        if len(parts) not in (2, 3) or any(n is None for n in numbers):
            example = "us-motor:10 or us-motor:10:0,5" if table.decimal_comma else "us-motor:10"
            table.problem(
                row,
                "suppliers",
                f"{item!r} is not firm_id:buffer_days[:share]",
                f"write suppliers as space-separated firm_id:days pairs, e.g. {example} "
                "(share, optional, is the part of this input from that supplier, 0-1)",
            )
            return None
        if parts[0] in seen:
            table.problem(
                row,
                "suppliers",
                f"supplier {parts[0]!r} is listed twice",
                "list each supplier once",
            )
            return None
        seen.add(parts[0])
        fields: dict[str, object] = {"firm": parts[0], "buffer_days": numbers[0]}
        if len(numbers) == 2:
            fields["share"] = numbers[1]
        try:
            links.append(SupplierLink.model_validate(fields))
        except ValidationError as err:
            _, problem, fix = explain(err.errors()[0])
            table.problem(row, "suppliers", f"{item!r}: {problem}", fix)
            return None
    return links


def _check_links(table: Table, firms: list[tuple[int, Firm]], ids: dict[str, int]) -> None:
    """Every supplier is a firm of the table, and supplier links form no cycle."""
    graph: dict[str, list[str]] = {}
    for row, firm in firms:
        for link in firm.suppliers:
            if link.firm not in ids:
                table.problem(
                    row,
                    "suppliers",
                    f"unknown supplier {link.firm!r} of firm {firm.id!r}",
                    "use the id of a firm in this table, or remove it",
                )
        graph[firm.id] = [link.firm for link in firm.suppliers if link.firm in ids]
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        table.problem(
            None,
            "suppliers",
            f"suppliers form a cycle ({' -> '.join(err.args[1])})",
            "remove one of these supplier links",
        )
