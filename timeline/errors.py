"""The one exception a user ever sees: bad input, explained in one line."""

from __future__ import annotations


class TimelineError(Exception):
    """A problem the user can fix. `str()` is one line: file, place, problem, fix."""

    exit_code = 2

    def __init__(self, file: object, where: str, problem: str, fix: str) -> None:
        self.file = str(file)
        self.where = where
        self.problem = problem
        self.fix = fix
        place = f"{self.file}: {where}" if where else self.file
        message = f"{place}: {problem}; fix: {fix}"
        super().__init__(" ".join(message.split()))


class ScheduleError(Exception):
    """An event that cannot be dated. The loader turns it into a `TimelineError`."""

    def __init__(self, event_id: str, problem: str, fix: str) -> None:
        self.event_id = event_id
        self.problem = problem
        self.fix = fix
        super().__init__(f"event {event_id!r}: {problem}; fix: {fix}")
