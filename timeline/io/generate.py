"""Synthetic firm networks of any size, sampled from a scenario's archetypes; Parquet firm tables.

`generate_firms(archetypes, n, seed)` draws `n` firms. Each is a copy of one archetype (a firm of
the scenario's table) with its own id, `<archetype id>-<index>` (e.g. `us-ev-assembly-000123`),
and supplier links to firms generated *before* it whose archetype is the one the archetype's own
link points to. So:

- links only point backwards: the network has no cycle;
- the first firms are the archetypes themselves in supplier-first order (every archetype is
  present once n reaches their number), the rest are drawn uniformly among the archetypes;
- a supplier is drawn uniformly among the earlier firms of its archetype; with probability
  `second_source` a link is split between two such firms (shares w and 1 - w of the link's
  share, w uniform in 0.3-0.7): the sum of each archetype link's shares is kept, so
  `china_share` + the shares of links to `magnets` firms stays at most 1;
- the same (archetypes, n, seed, second_source) always gives the same firms: every random number
  comes from `numpy.random.default_rng(SeedSequence(seed))`, drawn in fixed-size blocks.

`write_firms_csv` writes the same format as `events/firms.csv` (read back by
`timeline.io.firmsio.read_firms`), `write_firms_parquet` a typed Parquet table (numbers as
numbers, elements and suppliers as the same text cells as in the CSV). `read_firms_parquet`
reads one back with every check of the CSV reader (it feeds the cells to the same row reader).
Tables above `$TIMELINE_MAX_FIRMS` rows (100,000 by default) or `$TIMELINE_MAX_INPUT_BYTES`
are refused by the readers; a larger network goes through the Python API: `with_firms(scenario,
firms)` returns the scenario with these firms, validated again like any `Scenario`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from timeline.errors import TimelineError
from timeline.io.firmsio import KINDS, MAX_BYTES, MAX_FIRMS, MAX_FIRMS_ENV, MAX_PROBLEMS
from timeline.io.guard import read_bytes, setting
from timeline.io.tablerows import Table
from timeline.io.yamlio import MAX_INPUT_ENV
from timeline.model.scenario import Firm, Scenario, SupplierLink
from timeline.model.uncertain import format_cell, is_uncertain

SECOND_SOURCE = 0.25  # default chance that a link is split between two suppliers
BLOCK = 4096  # firms per block of random numbers (fixed: part of what a seed means)
_DRAWS = 4  # uniforms per link: first supplier, split or not, split weight, second supplier
_PARQUET_MAGIC = b"PAR1"

# The column order of events/firms.csv: the model's fields, the long `source` text last.
CSV_COLUMNS: tuple[str, ...] = tuple(n for n in Firm.model_fields if n != "source") + ("source",)


def _supplier_first(archetypes: Sequence[Firm]) -> list[int]:
    """Archetype positions with every supplier before its customers, else in table order."""
    index = {firm.id: i for i, firm in enumerate(archetypes)}
    if len(index) != len(archetypes):
        raise TimelineError("archetypes", "", "duplicate firm ids", "give each firm its own id")
    needs: list[set[int]] = []
    for firm in archetypes:
        unknown = [link.firm for link in firm.suppliers if link.firm not in index]
        if unknown:
            raise TimelineError(
                "archetypes",
                firm.id,
                f"unknown supplier {unknown[0]!r}",
                "use a firm table whose suppliers are all in it",
            )
        needs.append({index[link.firm] for link in firm.suppliers})
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(archetypes):
        ready = [i for i in range(len(archetypes)) if i not in done and needs[i] <= done]
        if not ready:
            raise TimelineError(
                "archetypes", "suppliers", "suppliers form a cycle", "remove a supplier link"
            )
        order.extend(ready)
        done.update(ready)
    return order


def generate_firms(
    archetypes: Sequence[Firm],
    n: int,
    seed: int = 0,
    second_source: float = SECOND_SOURCE,
) -> tuple[Firm, ...]:
    """`n` firms copied from `archetypes`, linked backwards to earlier firms (see the module)."""
    archetypes = tuple(archetypes)
    if n < 1:
        raise TimelineError("--n", "", f"{n} firms", "give a number of firms of 1 or more")
    if not archetypes:
        raise TimelineError("archetypes", "", "no archetypes", "give at least one firm")
    if not 0.0 <= second_source <= 1.0:
        raise TimelineError(
            "second_source", "", f"{second_source} is not a share", "give a value from 0 to 1"
        )
    order = _supplier_first(archetypes)
    index = {firm.id: i for i, firm in enumerate(archetypes)}
    plan = [[(index[link.firm], link) for link in firm.suppliers] for firm in archetypes]
    width = max(6, len(str(n - 1)))
    longest = max(len(firm.id) for firm in archetypes)
    if longest + 1 + width > 80:
        raise TimelineError(
            "archetypes", "id", f"ids of {longest} characters", "use ids of at most 70 characters"
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    head = min(n, len(archetypes))
    kinds = np.empty(n, dtype=np.int64)
    kinds[:head] = order[:head]
    if n > head:
        kinds[head:] = rng.integers(0, len(archetypes), size=n - head)
    links_max = max(1, max(len(p) for p in plan))
    members: list[list[str]] = [[] for _ in archetypes]  # ids generated so far, per archetype
    firms: list[Firm] = []
    draws = np.empty((0, links_max, _DRAWS))
    for i, kind in enumerate(kinds.tolist()):
        if i % BLOCK == 0:
            draws = rng.random((BLOCK, links_max, _DRAWS))
        archetype = archetypes[kind]
        firm_id = f"{archetype.id}-{i:0{width}d}"
        links: list[SupplierLink] = []
        row = draws[i % BLOCK]
        for k, (source, link) in enumerate(plan[kind]):
            pool = members[source]
            if not pool:  # cannot happen in supplier-first order; kept for safety
                continue
            u_pick, u_split, u_weight, u_second = row[k].tolist()
            first = int(u_pick * len(pool))
            if u_split < second_source and len(pool) >= 2 and not is_uncertain(link.share):
                second = int(u_second * (len(pool) - 1))
                second += second >= first
                part = round(link.share * (0.3 + 0.4 * u_weight), 6)
                links.append(link.model_copy(update={"firm": pool[first], "share": part}))
                rest = link.share - part
                links.append(link.model_copy(update={"firm": pool[second], "share": rest}))
            else:
                links.append(link.model_copy(update={"firm": pool[first]}))
        firms.append(
            archetype.model_copy(
                update={
                    "id": firm_id,
                    "suppliers": tuple(links),
                    "source": f"generated (seed {seed}) from archetype {archetype.id}",
                }
            )
        )
        members[kind].append(firm_id)
    return tuple(firms)


def with_firms(scenario: Scenario, firms: Sequence[Firm]) -> Scenario:
    """`scenario` with `firms` as its firm table, validated again (ids, suppliers, cycles,
    shares): the way to run a network larger than the readers' `$TIMELINE_MAX_FIRMS`."""
    data = {name: getattr(scenario, name) for name in Scenario.model_fields}
    data.update(firms=tuple(firms), file_hashes={})
    return Scenario.build(data)


# --- writing ----------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A number as text that reads back to the same float (90, 0.6, 4800000, 1e+20)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _cells(firm: Firm) -> list[str]:
    out = []
    for name in CSV_COLUMNS:
        value = getattr(firm, name)
        kind = KINDS[name]
        if value is None:
            out.append("")
        elif kind == "links":
            out.append(" ".join(_link_text(link) for link in value))
        elif kind == "words":
            out.append(" ".join(sorted(value)))
        elif kind == "bool":
            out.append("true" if value else "false")
        elif kind in ("int", "float"):
            out.append(_number(value))
        elif isinstance(value, str):
            out.append(value)
        else:  # a number or a distribution in a column that takes either
            out.append(format_cell(value))
    return out


def _link_text(link: SupplierLink) -> str:
    text = f"{link.firm}:{format_cell(link.buffer_days)}"
    if is_uncertain(link.share):
        return f"{text}:{format_cell(link.share)}"
    return text if link.share == 1.0 else f"{text}:{_number(link.share)}"


def firms_csv(firms: Sequence[Firm]) -> bytes:
    """The firm table as CSV bytes, in the format of events/firms.csv."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_cells(firm) for firm in firms)
    return buffer.getvalue().encode("utf-8")


def firms_parquet(firms: Sequence[Firm]) -> bytes:
    """The firm table as Parquet bytes: numbers typed, text cells as in the CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    rows = [_cells(firm) for firm in firms]
    arrays = []
    for position, name in enumerate(CSV_COLUMNS):
        kind = KINDS[name]
        values = [getattr(firm, name) for firm in firms]
        if kind in types:
            arrays.append(pa.array(values, type=types[kind]))
        elif all(_plain_number(v) for v in values):  # a column that may hold distributions
            arrays.append(pa.array(values, type=pa.float64()))
        else:
            arrays.append(pa.array([row[position] for row in rows], pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(CSV_COLUMNS))
    table = table.replace_schema_metadata({"tool": "timeline", "kind": "firms"})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _plain_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_bytes(path: Path, content: bytes) -> None:
    """Write `content` to `path` atomically (a temporary file in the same folder, renamed)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as err:
        raise TimelineError(
            path, "", f"cannot be written ({err.strerror})", "check the folder"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise TimelineError(
            path, "", f"cannot be written ({err.strerror})", "check the path and free space"
        ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_firms(firms: Sequence[Firm], path: Path, fmt: str | None = None) -> str:
    """Write the table as CSV or Parquet (by `fmt`, else by the suffix); the format used."""
    fmt = fmt or ("parquet" if Path(path).suffix.lower() == ".parquet" else "csv")
    if fmt not in ("csv", "parquet"):
        raise TimelineError("--format", "", f"unknown format {fmt!r}", "use csv or parquet")
    write_bytes(Path(path), firms_parquet(firms) if fmt == "parquet" else firms_csv(firms))
    return fmt


# --- reading Parquet --------------------------------------------------------------------------


def parquet_rows(path: Path, raw: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) of a Parquet table, the header as row 1, as the CSV reader
    numbers them; at most `$TIMELINE_MAX_FIRMS` + 1 data rows (the reader reports the excess)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not raw.startswith(_PARQUET_MAGIC):
        raise _not_parquet(path, "it does not start as a Parquet file")
    try:
        table = pq.read_table(pa.BufferReader(raw))
    except Exception as err:  # pyarrow raises several kinds on a damaged file
        raise _not_parquet(path, type(err).__name__) from None
    limit = setting(MAX_FIRMS_ENV, MAX_FIRMS)
    if table.num_rows > limit:
        table = table.slice(0, limit + 1)
    yield 1, [str(name) for name in table.column_names]
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for number, values in enumerate(zip(*columns, strict=True), start=2):
        yield number, [_parquet_text(value) for value in values]


def _parquet_text(value: object) -> str:
    """A Parquet value as the text of a table cell (a list of words joined by spaces)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(_parquet_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _number(value) if math.isfinite(value) else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _not_parquet(path: Path, why: str) -> TimelineError:
    return TimelineError(
        path,
        "",
        f"cannot be read as a Parquet table ({why})",
        "write it again (e.g. pandas DataFrame.to_parquet), or save the table as CSV",
    )


def read_firms_parquet(path: Path) -> tuple[Firm, ...]:
    """Parse and validate a Parquet firm table, with every check of the CSV reader."""
    from timeline.io.firmsio import _read_rows  # the CSV reader's row checks, shared

    path = Path(path)
    raw = read_bytes(path, setting(MAX_INPUT_ENV, MAX_BYTES))
    table = Table(path, decimal_comma=False)
    firms = _read_rows(table, parquet_rows(path, raw))
    if table.problems:
        raise TimelineError.several(table.problems, MAX_PROBLEMS)
    return firms
