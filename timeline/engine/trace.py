"""The typed trace of a run: one flat, numeric record per state change.

Records hold numbers only (day, kind, firm index, channel index, two integers, one float); the
prose of events.csv is rendered from them when a table is written (`timeline.results.events`).
A run that needs no event log (most runs of an ensemble) uses `NullRecorder`, which keeps
nothing; the per-run metrics come from `Outcomes` either way.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    """What a record says. `a`, `b` and `x` mean what the comment says (else 0)."""

    POLICY = 1  # a: position of the event in the branch schedule
    SUPPLY_CUT = 2  # a: bit mask of the elements that need a licence; b: day goods stop
    SUPPLY_DRY = 3  # goods in transit have run out
    APPLIED = 4  # a: application number; b: decision day; x: review working days
    REREVIEW = 5  # as APPLIED, after a denial
    REVIEW_MOVED = 6  # a: application number; b: new decision day; x: old decision day
    APPROVED = 7  # a: application number; x: approval probability
    DENIED = 8  # a: application number; x: approval probability
    GENERAL_LICENCE = 9  # the channel is covered by a general licence
    CONTROLS_LIFTED = 10  # the channel needs no licence any more
    RESTORED = 11  # a: lead time in days (goods arrive again)
    STOPPED = 12  # a: cause (-1 rare earths, else supplier firm index)
    CURTAILED = 13  # a: cause as STOPPED; x: output rate
    RESTARTED = 14  # x: output rate; a: days stopped
    FULL_OUTPUT = 15  # back to full output
    LAPSED = 16  # an approved licence has lapsed


class Record(NamedTuple):
    day: int
    kind: int
    firm: int
    channel: int
    a: int
    b: int
    x: float


class Recorder:
    """Keeps every record, in order."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def __call__(
        self,
        day: int,
        kind: Kind,
        firm: int = -1,
        channel: int = -1,
        a: int = 0,
        b: int = 0,
        x: float = 0.0,
    ) -> None:
        self.records.append(Record(day, int(kind), firm, channel, a, b, x))


class NullRecorder(Recorder):
    """Keeps nothing: for ensemble runs that only need metrics."""

    def __call__(self, *args: object, **kwargs: object) -> None:
        return None
