"""Read an output folder back from disk: typed tables and each branch's run.json.

The reports are built from files only (never from the engine), so `timeline report OUT_DIR`
can rebuild them from any complete output folder. Every file but `run.json` may be missing;
a missing table is `None` and the report leaves out what needs it.

`read_table` undoes what the writer did to each cell: the leading `'` that neutralised a
formula-like text cell is removed (only before `=`, `+`, `-`, `@`, tab or CR, the exact inverse
of `timeline.io.output.neutralise`), ISO dates become datetimes (blank -> NaT), known text
columns stay text (ids such as `007` keep their zeros), `True`/`False` columns become booleans,
and other columns become integers or floats where every value is a number.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from timeline.errors import TimelineError

#: Tables of a branch folder, by file name without `.csv` (`state.csv` is an input file for
#: `--from`, not a result: it is left out). `buffers.csv` is read here too, for folders written
#: before `timeline buffer` wrote it at the top.
BRANCH_TABLES = (
    "bands",
    "stopped_share",
    "firm_risk",
    "runs",
    "flows_bands",
    "buffers",
    "timeline",
    "firms",
    "stoppages",
    "flows",
    "events",
)
#: Tables at the top of the output folder (`buffers.csv` has a `branch` column).
TOP_TABLES = ("compare", "paired", "buffers", "sensitivity")

TEXT_COLUMNS = frozenset(
    {
        "firm_id",
        "name",
        "sector",
        "country",
        "group",
        "branch",
        "title",
        "metric",
        "versus",
        "event_id",
        "kind",
        "actor",
        "subject",
        "detail",
        "source",
        "cause",
        "end_use",
        "parameter",
        "low_label",
        "high_label",
        "note",
        "destination",
        "re_licensed_elements",
        "re_general_licences",
    }
)
_DATE_COLUMN = re.compile(r"^(date|month|.*_date|first_stop(_since_branch)?_q\d+)$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_INTEGER = re.compile(r"^[+-]?\d+$")


def is_date_column(name: str) -> bool:
    return bool(_DATE_COLUMN.match(name))


def _unquote(value: str) -> str:
    if value.startswith("'") and value[1:2] and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _typed(name: str, cells: list[str]) -> pd.Series:
    """One column of raw text cells -> its proper dtype."""
    blank = [not cell.strip() for cell in cells]
    if is_date_column(name):
        values = [None if b else cell for cell, b in zip(cells, blank, strict=True)]
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", errors="coerce")
    text = pd.Series(cells, dtype=object)
    filled = [cell for cell, b in zip(cells, blank, strict=True) if not b]
    if name in TEXT_COLUMNS or not filled:
        return text
    if all(cell in ("True", "False") for cell in filled):
        flags = pd.Series([None if b else c == "True" for c, b in zip(cells, blank, strict=True)])
        return flags.astype("boolean") if any(blank) else flags.astype(bool)
    try:
        numbers = np.array([np.nan if b else c for c, b in zip(cells, blank, strict=True)], float)
    except ValueError:
        return text
    if all(_INTEGER.match(cell) for cell in filled):
        if any(blank):
            return pd.Series(numbers).astype("Int64")
        return pd.Series([int(cell) for cell in cells], dtype="int64")
    return pd.Series(numbers, dtype="float64")


def parse_table(data: bytes, name: str = "table") -> pd.DataFrame:
    """Parse the bytes of one of timeline's CSV files into a typed frame."""
    text = data.decode("utf-8-sig")
    raw = pd.read_csv(
        io.StringIO(text),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=True,
    )
    columns = {}
    for column in raw.columns:
        cells = [_unquote(str(cell)) for cell in raw[column].tolist()]
        columns[str(column)] = _typed(str(column), cells)
    return pd.DataFrame(columns, columns=[str(c) for c in raw.columns])


def read_table(path: Path) -> pd.DataFrame:
    """Read one CSV file of an output folder with proper dtypes (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TimelineError(
            path, "", f"cannot be read ({err.strerror})", "rerun timeline simulate"
        ) from None
    try:
        return parse_table(data, path.stem)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        problem = " ".join(str(err).split())[:120]
        raise TimelineError(
            path, "", f"is not a timeline CSV file ({problem})", "rerun timeline simulate"
        ) from None


@dataclass
class Branch:
    """One branch folder: its run.json and whichever tables it holds."""

    id: str
    folder: Path
    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.meta.get("branch_title") or self.id)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def runs(self) -> int:
        try:
            return int(self.meta.get("runs") or 1)
        except (TypeError, ValueError):
            return 1


@dataclass
class Outputs:
    """An output folder read back: branches in report order and the top-level tables."""

    folder: Path
    branches: list[Branch]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def first(self) -> Branch:
        return self.branches[0]

    @property
    def meta(self) -> dict[str, Any]:
        """The first branch's run.json: scenario-wide facts (dates, parameters, software)."""
        return self.first.meta

    def buffers(self, branch: Branch) -> pd.DataFrame | None:
        """A branch's rows of buffers.csv: the top file's rows of that branch (as `timeline
        buffer` writes it), else a buffers.csv inside the branch folder."""
        top = self.table("buffers")
        if top is not None and {"branch", "firm_id"} <= set(top.columns):
            rows = top[top["branch"].astype(str) == branch.id]
            if not rows.empty:
                return rows.reset_index(drop=True)
        own = branch.table("buffers")
        if own is not None and "firm_id" in own.columns and not own.empty:
            return own
        return None


def read_run(path: Path) -> dict[str, Any] | None:
    """A run.json written by timeline, or None (missing, unreadable, or someone else's)."""
    try:
        return parse_run(path.read_bytes())
    except OSError:
        return None


def parse_run(data: bytes) -> dict[str, Any] | None:
    """The bytes of a run.json written by timeline, parsed; None if they are not one."""
    try:
        meta = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("tool") != "timeline":
        return None
    return meta


def _ordered(out_dir: Path, found: dict[str, Branch], tables: dict[str, pd.DataFrame]) -> Outputs:
    """Branch order: compare.csv's rows, then any other branch folders by name."""
    if not found:
        raise TimelineError(
            out_dir,
            "",
            "holds no branch folder written by timeline (no run.json)",
            "give the --out folder of timeline simulate, or run it first",
        )
    order: list[str] = []
    compare = tables.get("compare")
    if compare is not None and "branch" in compare:
        order = [b for b in compare["branch"].astype(str) if b in found]
    order += [b for b in found if b not in order]
    return Outputs(out_dir, [found[b] for b in order], tables)


def load(out_dir: Path) -> Outputs:
    """Read every branch folder (a subfolder with timeline's run.json) and the top tables.

    Branch order: compare.csv's rows, then any other branch folders by name. A folder with no
    branch at all is a `TimelineError`.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise TimelineError(
            out_dir, "", "is not a folder", "give the --out folder of timeline simulate"
        )
    tables: dict[str, pd.DataFrame] = {}
    for name in TOP_TABLES:
        path = out_dir / f"{name}.csv"
        if path.is_file():
            tables[name] = read_table(path)
    found: dict[str, Branch] = {}
    for folder in sorted(out_dir.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        meta = read_run(folder / "run.json")
        if meta is None:
            continue
        branch = Branch(str(meta.get("branch") or folder.name), folder, meta)
        for name in BRANCH_TABLES:
            path = folder / f"{name}.csv"
            if path.is_file():
                branch.tables[name] = read_table(path)
        found[branch.id] = branch
    return _ordered(out_dir, found, tables)


def from_files(
    out_dir: Path, folders: dict[str, dict[str, bytes]], top: dict[str, bytes]
) -> Outputs:
    """The outputs of one run before they are written: branch folder -> {file -> bytes} and
    the top-level files, as `timeline simulate` is about to write them into `out_dir`. The
    same tables, in the same order, as `load` would read back from those files alone."""
    out_dir = Path(out_dir)
    tables = {
        name: parse_table(top[f"{name}.csv"], name) for name in TOP_TABLES if f"{name}.csv" in top
    }
    found: dict[str, Branch] = {}
    for folder in sorted(folders):
        files = folders[folder]
        meta = parse_run(files["run.json"]) if "run.json" in files else None
        if meta is None:
            continue
        branch = Branch(str(meta.get("branch") or folder), out_dir / folder, meta)
        for name in BRANCH_TABLES:
            if f"{name}.csv" in files:
                branch.tables[name] = parse_table(files[f"{name}.csv"], name)
        found[branch.id] = branch
    return _ordered(out_dir, found, tables)
