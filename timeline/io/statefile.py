"""The state file: each plant's stocks, licences and output rate on a start day (CSV, or the
first sheet of an Excel .xlsx workbook with the same columns).

Columns: `firm_id`, `output_rate` (0-1), `re_days_of_cover` (blank: the plant buys no rare
earths), `buffers` (space-separated `supplier_id:days`), `licence_direct` and `licence_other`
(`none`, `held`, `held until YYYY-MM-DD`, or `pending since YYYY-MM-DD`). Plants not listed
keep the state the run gives them on that day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

from timeline.engine.start import HELD, NONE, PENDING, FirmStart, LicenceStart
from timeline.errors import TimelineError
from timeline.io.yamlio import read_text
from timeline.model.scenario import Scenario

MAX_XLSX_BYTES = 10 * 1024 * 1024  # as a firm table; $TIMELINE_MAX_INPUT_BYTES overrides
COLUMNS = (
    "firm_id",
    "output_rate",
    "re_days_of_cover",
    "buffers",
    "licence_direct",
    "licence_other",
)


def _licence_text(lic: LicenceStart, start: dt.date) -> str:
    day = lambda d: (start + dt.timedelta(days=d)).isoformat()  # noqa: E731
    if lic.status == PENDING:
        return f"pending since {day(lic.since)}"
    if lic.status == HELD:
        return "held" if lic.until is None else f"held until {day(lic.until)}"
    return NONE


def state_csv(starts: list[FirmStart], scenario: Scenario) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for s in starts:
        writer.writerow(
            [
                s.firm_id,
                f"{s.output_rate:g}",
                "" if s.re_days_of_cover is None else f"{s.re_days_of_cover:g}",
                " ".join(f"{k}:{v:g}" for k, v in s.buffers.items()),
                _licence_text(s.direct, scenario.start),
                _licence_text(s.other, scenario.start),
            ]
        )
    return out.getvalue().encode("utf-8")


def _parse_licence(text: str, start: dt.date, where: tuple[Path, str]) -> LicenceStart:
    words = text.split()
    try:
        if not words or words == ["none"]:
            return LicenceStart()
        if words == ["held"]:
            return LicenceStart(HELD)
        if words[:2] == ["held", "until"] and len(words) == 3:
            return LicenceStart(HELD, until=(dt.date.fromisoformat(words[2]) - start).days)
        if words[:2] == ["pending", "since"] and len(words) == 3:
            return LicenceStart(PENDING, since=(dt.date.fromisoformat(words[2]) - start).days)
    except ValueError:
        pass
    raise TimelineError(
        where[0],
        where[1],
        f"{text!r} is not a licence state",
        "write none, held, held until 2026-03-31, or pending since 2025-10-01",
    )


def _state_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of a state file: CSV, or the first sheet of an .xlsx workbook."""
    if path.suffix.lower() == ".xlsx":
        from timeline.io.guard import read_bytes, setting
        from timeline.io.tablerows import xlsx_rows
        from timeline.io.yamlio import MAX_INPUT_ENV

        yield from xlsx_rows(path, read_bytes(path, setting(MAX_INPUT_ENV, MAX_XLSX_BYTES)))
        return
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as err:
        raise TimelineError(path, f"row {reader.line_num}", f"bad CSV ({err})", "fix it") from None


def read_state(path: Path, scenario: Scenario, start_day: dt.date) -> list[FirmStart]:
    """Parse and check a state file (CSV or .xlsx) against the scenario's firms."""
    path = Path(path)
    sheet = path.suffix.lower() == ".xlsx"
    rows = _state_rows(path)
    try:
        header = [h.strip() for h in next(rows)[1]]
    except StopIteration:
        raise TimelineError(path, "row 1", "no header", "start with " + ",".join(COLUMNS)) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing or len(set(header)) != len(header):
        raise TimelineError(
            path, "row 1", f"columns must be {','.join(COLUMNS)}", "fix the header row"
        )
    firms = {f.id: f for f in scenario.firms}
    out: list[FirmStart] = []
    seen: set[str] = set()
    for row, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        if sheet:  # a sheet's row ends at its last filled cell
            cells = cells + [""] * (len(header) - len(cells))
        if len(cells) != len(header):
            raise TimelineError(path, f"row {row}", "wrong number of cells", "one per column")
        rec = dict(zip(header, (c.strip() for c in cells), strict=True))
        firm_id = rec["firm_id"]
        if firm_id not in firms or firm_id in seen:
            what = "unknown" if firm_id not in firms else "repeated"
            raise TimelineError(
                path,
                f"row {row}, column firm_id",
                f"{what} firm {firm_id!r}",
                "use each id of the firm table once",
            )
        seen.add(firm_id)
        out.append(_row(rec, path, row, firms[firm_id], scenario, start_day))
    return out


def _number(text: str, path: Path, where: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise TimelineError(
            path, where, f"{text!r} is not a number in {low:g}..{high:g}", "give a number in range"
        )
    return value


def _row(rec, path, row, firm, scenario, start_day) -> FirmStart:
    rate = _number(rec["output_rate"] or "1", path, f"row {row}, column output_rate", 0, 1)
    cover = None
    if rec["re_days_of_cover"]:
        cover = _number(
            rec["re_days_of_cover"], path, f"row {row}, column re_days_of_cover", 0, 3660
        )
    buffers: dict[str, float] = {}
    links = {link.firm for link in firm.suppliers}
    for item in rec["buffers"].split():
        supplier, _, days = item.partition(":")
        if supplier not in links or supplier in buffers:
            raise TimelineError(
                path,
                f"row {row}, column buffers",
                f"{supplier!r} is not a supplier of {firm.id!r} (or is listed twice)",
                "list each supplier of the firm table once, as supplier_id:days",
            )
        buffers[supplier] = _number(days, path, f"row {row}, column buffers", 0, 3660)
    where = (path, f"row {row}, column licence_direct")
    direct = _parse_licence(rec["licence_direct"], scenario.start, where)
    other = _parse_licence(
        rec["licence_other"], scenario.start, (path, f"row {row}, column licence_other")
    )
    for lic in (direct, other):
        if (
            lic.status == PENDING
            and lic.since is not None
            and lic.since > (start_day - scenario.start).days
        ):
            raise TimelineError(
                path,
                f"row {row}",
                "a licence pending since after the start day",
                "give a filing date on or before --from",
            )
    return FirmStart(firm.id, rate, cover, buffers, direct, other)
