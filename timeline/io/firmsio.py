"""Read a firm table (CSV) into validated `Firm` records, one clear error per defect."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import ValidationError

from timeline.errors import TimelineError, explain
from timeline.io.yamlio import read_text
from timeline.model.scenario import Firm, SupplierLink

COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "sector",
    "country",
    "elements",
    "china_share",
    "china_content_share",
    "inventory_days",
    "daily_output_usd",
    "end_use",
    "suppliers",
    "lead_time_days",
    "ramp_days",
    "source",
)
MAX_BYTES = 10 * 1024 * 1024
MAX_FIRMS = 100_000


def _suppliers(cell: str, path: Path, row: int) -> list[SupplierLink]:
    links = []
    for item in cell.split():
        firm, _, rest = item.partition(":")
        days, _, share = rest.partition(":")
        try:
            fields = {"firm": firm, "buffer_days": float(days)}
            if share:
                fields["share"] = float(share)
            links.append(SupplierLink(**fields))
        except (ValueError, ValidationError):
            raise TimelineError(
                path,
                f"row {row}, column suppliers",
                f"{item!r} is not firm_id:buffer_days[:share]",
                "write suppliers as space-separated firm_id:days or firm_id:days:share, "
                "e.g. us-motor:10 or jp-magnets:21:0.3",
            ) from None
    return links


def read_firms(path: Path) -> tuple[Firm, ...]:
    """Parse and validate a firm table. Row numbers in errors count the header as row 1."""
    text = read_text(path, MAX_BYTES)
    lines = text.splitlines()
    header = lines[0] if lines else ""
    if "," not in header and ";" in header:
        raise TimelineError(
            path,
            "row 1",
            "columns are separated by ';' (an Excel export?)",
            "save as comma-separated CSV (CSV UTF-8, comma delimiter)",
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        names = [name.strip() for name in next(reader)]
        missing = [c for c in COLUMNS if c not in names]
        unknown = [c for c in names if c not in COLUMNS]
        if missing:
            raise TimelineError(
                path,
                "row 1",
                f"missing column(s) {', '.join(missing)}",
                f"add them; the columns are {','.join(COLUMNS)}",
            )
        if unknown:
            raise TimelineError(
                path,
                "row 1",
                f"unknown column(s) {', '.join(unknown)}",
                f"remove or rename them; the columns are {','.join(COLUMNS)}",
            )
        firms: list[Firm] = []
        seen: dict[str, int] = {}
        for cells in reader:
            row = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                raise TimelineError(
                    path,
                    f"row {row}",
                    f"{len(cells)} cells for {len(names)} columns",
                    "quote cells that contain commas and give every column a cell",
                )
            if len(firms) >= MAX_FIRMS:
                raise TimelineError(
                    path, f"row {row}", f"more than {MAX_FIRMS} firms", "split the table"
                )
            record = dict(zip(names, (cell.strip() for cell in cells), strict=True))
            firm = _firm(record, path, row)
            if firm.id in seen:
                raise TimelineError(
                    path,
                    f"row {row}, column id",
                    f"duplicate firm id {firm.id!r} (first on row {seen[firm.id]})",
                    "give each firm its own id",
                )
            seen[firm.id] = row
            firms.append(firm)
    except csv.Error as err:
        raise TimelineError(
            path, f"row {reader.line_num}", f"bad CSV ({err})", "fix quoting"
        ) from None
    if not firms:
        raise TimelineError(path, "row 2", "no firms in the table", "add at least one row")
    return tuple(firms)


def _firm(record: dict[str, str], path: Path, row: int) -> Firm:
    data: dict[str, object] = {k: v for k, v in record.items() if v != ""}
    data["elements"] = record["elements"].split()
    data["suppliers"] = _suppliers(record["suppliers"], path, row)
    try:
        return Firm.model_validate(data)
    except ValidationError as err:
        loc, problem, fix = explain(err.errors()[0])
        column = str(loc[0]) if loc else ""
        where = f"row {row}" + (f", column {column}" if column else "")
        firm_id = record.get("id") or "?"
        raise TimelineError(path, where, f"{problem} (firm {firm_id})", fix) from None
