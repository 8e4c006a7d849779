"""Working-day arithmetic on the shipped China calendar (`events/calendar-cn.yaml`).

`add_working_days(start, n)` gives the day on which `n` working days after `start` have passed;
the start day itself never counts.
"""

from __future__ import annotations

import datetime as dt

import pytest

D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def calendar(default_scenario):
    return default_scenario.calendar


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2025-09-30", 1, "2025-10-09"),  # Tue before the holiday -> Thu after it
        ("2025-09-30", 2, "2025-10-10"),
        ("2025-10-01", 1, "2025-10-09"),  # filed on a holiday: the next working day
        ("2025-09-26", 1, "2025-09-28"),  # Fri -> Sun 28 Sep, a make-up working day
        ("2025-09-26", 2, "2025-09-29"),
        ("2025-10-10", 1, "2025-10-11"),  # Fri -> Sat 11 Oct, a make-up working day
        ("2025-10-11", 1, "2025-10-13"),  # Sun 12 Oct is an ordinary weekend day
    ],
)
def test_golden_week_2025(calendar, start, n, expected):
    """Oct 1-8 2025 are skipped and the make-up days Sun Sep 28 and Sat Oct 11 count."""
    assert calendar.add_working_days(D(start), n) == D(expected)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-02-13", 1, "2026-02-14"),  # Fri -> Sat 14 Feb, a make-up working day
        ("2026-02-14", 1, "2026-02-24"),  # Feb 15-23 off -> Tue 24 Feb
        ("2026-02-27", 1, "2026-02-28"),  # Fri -> Sat 28 Feb, a make-up working day
        ("2026-02-13", 6, "2026-02-28"),  # 14, 24, 25, 26, 27, 28
    ],
)
def test_spring_festival_2026(calendar, start, n, expected):
    """Feb 15-23 2026 are skipped and the make-up Saturdays Feb 14 and Feb 28 count."""
    assert calendar.add_working_days(D(start), n) == D(expected)


def test_45_working_days_from_announcement_18(calendar):
    """45 working days after 2025-04-04 (Announcement No. 18) end on 2025-06-11."""
    # By hand, counting from the day after Fri Apr 4 (Apr 4-6 is Qingming, off anyway):
    #   Apr  7-11  5   (5)     Apr 14-18  5  (10)     Apr 21-25  5  (15)
    #   Sun Apr 27 make-up day   1  (16)              Apr 28-30  3  (19)
    #   May 1-5 Labour Day off;  May  6-9   4  (23)   May 12-16  5  (28)
    #   May 19-23  5  (33)       May 26-30  5  (38)
    #   May 31-Jun 2 Dragon Boat off; Jun 3-6  4 (42);  Jun 9, 10, 11  3  (45)
    assert calendar.add_working_days(D("2025-04-04"), 45) == D("2025-06-11")


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2025-11-07", 1, "2025-11-10"),  # Fri -> Mon
        ("2025-11-07", 5, "2025-11-14"),  # a whole week
        ("2025-11-08", 1, "2025-11-10"),  # Sat -> Mon
        ("2025-11-03", 10, "2025-11-17"),  # two weeks
    ],
)
def test_weekends_skipped(calendar, start, n, expected):
    """An ordinary Saturday and Sunday are not working days."""
    assert calendar.add_working_days(D(start), n) == D(expected)


@pytest.mark.parametrize("start", ["2025-10-03", "2025-11-08", "2025-11-10", "2026-02-14"])
def test_zero_days_is_start(calendar, start):
    """Zero working days after any day, working or not, is that day."""
    assert calendar.add_working_days(D(start), 0) == D(start)
