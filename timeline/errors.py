"""The one exception a user ever sees: bad input, explained in one line (one per defect)."""

from __future__ import annotations

from collections.abc import Sequence


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
        self.lines: tuple[str, ...] = (str(self),)

    @classmethod
    def several(cls, errors: Sequence[TimelineError], cap: int = 20) -> TimelineError:
        """One error listing `errors`, one line each: the first `cap`, then "and N more"."""
        first = errors[0]
        combined = cls(first.file, first.where, first.problem, first.fix)
        lines = [str(err) for err in errors[:cap]]
        if len(errors) > cap:
            lines.append(f"{first.file}: and {len(errors) - cap} more problem(s) like these")
        combined.lines = tuple(lines)
        combined.args = ("\n".join(lines),)
        return combined


class ScheduleError(Exception):
    """An event that cannot be dated. The loader turns it into a `TimelineError`."""

    def __init__(self, event_id: str, problem: str, fix: str) -> None:
        self.event_id = event_id
        self.problem = problem
        self.fix = fix
        super().__init__(f"event {event_id!r}: {problem}; fix: {fix}")


_FIXES: dict[str, str] = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling (see the README, 'File formats')",
    "date_from_datetime_parsing": "use a real ISO date such as 2025-10-30",
    "date_parsing": "use a real ISO date such as 2025-10-30",
    "date_type": "use an ISO date such as 2025-10-30",
    "float_parsing": "use a number such as 0.5",
    "float_type": "use a number such as 0.5",
    "int_parsing": "use a whole number such as 14",
    "int_type": "use a whole number such as 14",
    "int_from_float": "use a whole number such as 14",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "string_type": "use text",
    "string_pattern_mismatch": "ids are lowercase letters, digits and dashes (kl-talks); "
    "countries are ISO codes (US); actors are letters joined by + (US+CN)",
    "greater_than_equal": "use a value within the allowed range",
    "less_than_equal": "use a value within the allowed range",
    "literal_error": "use one of the values listed",
    "list_type": "use a list, e.g. [Dy, Tb]",
    "dict_type": "use a mapping of key: value lines",
    "model_type": "use a mapping of key: value lines",
    "frozen_set_type": "use a list, e.g. [Dy, Tb]",
    "string_too_short": "give a non-empty text",
    "finite_number": "use a finite number such as 0.5",
    "too_short": "give at least one",
}


def explain(error: dict) -> tuple[tuple[object, ...], str, str]:
    """One pydantic error -> (location, problem, fix), worded for a planner."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        problem, _, fix = message.partition("; ")
        return loc, problem, fix or "correct the value"
    value = error.get("input")
    if kind not in ("missing", "extra_forbidden") and not isinstance(value, dict | list):
        message = f"{message} (got {value!r})"
    return loc, message, _FIXES.get(kind, "correct the value")


def dotted(loc: tuple[object, ...]) -> str:
    """('events', 3, 'date') -> 'events[3].date'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
