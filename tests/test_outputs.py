"""The tables and CSV files of one branch run (`timeline.run.run_branch`)."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest
from conftest import event, firm, key_events, make_scenario

from timeline.run import BranchRun, run_branch

D = dt.date.fromisoformat
BRANCHES = ("history", "concede", "deescalate", "decouple")
FILES = ("events.csv", "timeline.csv", "firms.csv", "stoppages.csv")
EVENT_COLUMNS = ["date", "seq", "event_id", "kind", "actor", "subject", "title", "detail", "source"]
STOPPAGE_COLUMNS = ["firm_id", "stop_date", "restart_date", "days", "output_lost_usd", "cause"]
FIRM_COLUMNS = [
    "firm_id",
    "name",
    "sector",
    "country",
    "first_stop_date",
    "days_stopped",
    "output_lost_usd",
    "time_to_survive_days",
    "time_to_recover_days",
]
TIMELINE_HEAD = ["date", "branch"]
TIMELINE_TAIL = ["firms_stopped", "firms_at_risk", "output_lost_usd", "cumulative_output_lost_usd"]


@pytest.fixture(scope="module")
def runs(default_scenario) -> dict[str, BranchRun]:
    return {branch: run_branch(default_scenario, branch, 0) for branch in BRANCHES}


@pytest.fixture(scope="module")
def files(runs) -> dict[str, dict[str, bytes]]:
    return {branch: run.files() for branch, run in runs.items()}


def header(content: bytes) -> list[str]:
    return content.decode("utf-8").splitlines()[0].split(",")


def read(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content), keep_default_na=False)


def test_files_are_the_four_csvs(files):
    """`files()` gives exactly the four CSV files, as bytes."""
    for branch_files in files.values():
        assert sorted(branch_files) == sorted(FILES)
        assert all(isinstance(content, bytes) for content in branch_files.values())


@pytest.mark.parametrize("branch", BRANCHES)
def test_events_columns(files, branch):
    """events.csv has exactly the columns date, seq, event_id, ..., source."""
    assert header(files[branch]["events.csv"]) == EVENT_COLUMNS


@pytest.mark.parametrize("branch", BRANCHES)
def test_stoppages_columns(files, branch):
    """stoppages.csv has exactly the columns firm_id, stop_date, ..., cause."""
    assert header(files[branch]["stoppages.csv"]) == STOPPAGE_COLUMNS


@pytest.mark.parametrize("branch", BRANCHES)
def test_firms_columns(files, branch):
    """firms.csv has the firm's identity and its stop and survival figures, firm_id first."""
    columns = header(files[branch]["firms.csv"])
    assert columns[0] == "firm_id"
    assert [c for c in columns if c in FIRM_COLUMNS] == FIRM_COLUMNS


@pytest.mark.parametrize("branch", BRANCHES)
def test_timeline_columns(files, branch):
    """timeline.csv starts with date, branch and ends with the stoppage and loss columns."""
    columns = header(files[branch]["timeline.csv"])
    assert columns[:2] == TIMELINE_HEAD
    assert columns[-4:] == TIMELINE_TAIL
    assert len(columns) == len(set(columns))


@pytest.mark.parametrize("branch", BRANCHES)
def test_frames_match_files(runs, files, branch):
    """Each CSV file holds its frame: same columns and same number of rows."""
    run = runs[branch]
    for name, frame in [
        ("events.csv", run.events),
        ("timeline.csv", run.timeline),
        ("firms.csv", run.firms),
        ("stoppages.csv", run.stoppages),
    ]:
        table = read(files[branch][name])
        assert list(table.columns) == list(frame.columns), name
        assert len(table) == len(frame), name


def test_firms_table_has_every_firm(runs, default_scenario):
    """firms.csv has one row per firm of the scenario, in the scenario's order."""
    for run in runs.values():
        assert list(run.firms["firm_id"]) == [f.id for f in default_scenario.firms]


@pytest.mark.parametrize("branch", BRANCHES)
def test_timeline_one_row_per_day(runs, default_scenario, branch):
    """The timeline has one row per day from the start to the end, inclusive."""
    timeline = runs[branch].timeline
    days = pd.date_range(default_scenario.start, default_scenario.end, freq="D")
    assert list(timeline["date"]) == list(days.strftime("%Y-%m-%d"))
    assert set(timeline["branch"]) == {branch}


@pytest.mark.parametrize("branch", BRANCHES)
def test_events_sorted_by_date_and_seq(runs, branch):
    """events.csv is in (date, seq) order and seq numbers every record once."""
    events = runs[branch].events
    keys = list(zip(events["date"], events["seq"], strict=True))
    assert keys == sorted(keys)
    assert sorted(events["seq"]) == list(range(len(events)))


@pytest.mark.parametrize("branch", BRANCHES)
def test_same_seed_same_bytes(default_scenario, files, branch):
    """The same scenario, branch and seed give byte-identical files."""
    again = run_branch(default_scenario, branch, 0).files()
    assert again == files[branch]


def test_other_seed_differs(default_scenario, files):
    """On decouple, seed 1 draws other licence outcomes than seed 0, so the log differs."""
    other = run_branch(default_scenario, "decouple", 1).files()
    assert other["events.csv"] != files["decouple"]["events.csv"]


def _open_per_day(run: BranchRun) -> list[int]:
    """Per day of the timeline, the stoppages with stop_date <= day < restart_date (or open)."""
    days = run.timeline["date"].to_numpy()[:, None]
    stop = run.stoppages["stop_date"].to_numpy()[None, :]
    restart = run.stoppages["restart_date"].replace("", "9999-12-31").to_numpy()[None, :]
    return ((stop <= days) & (days < restart)).sum(axis=1).tolist()


@pytest.mark.parametrize("branch", BRANCHES)
def test_firms_stopped_counts_open_episodes(runs, branch):
    """firms_stopped on a day is the number of stoppages open that day (restart day excluded)."""
    run = runs[branch]
    assert list(run.timeline["firms_stopped"]) == _open_per_day(run)


@pytest.mark.parametrize("branch", BRANCHES)
def test_cumulative_output_lost_is_running_sum(runs, branch):
    """cumulative_output_lost_usd is the running sum of output_lost_usd."""
    timeline = runs[branch].timeline
    assert list(timeline["cumulative_output_lost_usd"]) == list(
        timeline["output_lost_usd"].cumsum()
    )


@pytest.mark.parametrize("branch", BRANCHES)
def test_output_lost_agrees_across_tables(runs, branch):
    """Total output lost is the same in timeline.csv, firms.csv and stoppages.csv."""
    run = runs[branch]
    total = int(run.timeline["cumulative_output_lost_usd"].iloc[-1])
    assert total > 0
    assert total == int(run.firms["output_lost_usd"].sum())
    assert total == int(run.stoppages["output_lost_usd"].sum())


@pytest.mark.parametrize("branch", BRANCHES)
def test_days_stopped_agree(runs, branch):
    """A firm's days_stopped is the sum of its stoppages' days."""
    run = runs[branch]
    per_firm = run.stoppages.groupby("firm_id")["days"].sum()
    days = run.firms.set_index("firm_id")["days_stopped"]
    assert (days.reindex(per_firm.index) == per_firm).all()
    assert (days.drop(per_firm.index) == 0).all()


@pytest.mark.parametrize("until", ["2025-04-01", "2025-10-30", "2026-01-15"])
def test_until_shortens_timeline(default_scenario, until):
    """`until` ends the timeline, events and stoppages on that date."""
    run = run_branch(default_scenario, "decouple", 0, until=D(until))
    days = (D(until) - default_scenario.start).days + 1
    assert len(run.timeline) == days
    assert run.timeline["date"].iloc[-1] == until
    assert (run.events["date"] <= until).all()
    assert (run.stoppages["stop_date"] <= until).all()


def test_until_keeps_the_shared_prefix(default_scenario, runs):
    """A run cut short agrees with the full run's timeline up to its last day."""
    short = run_branch(default_scenario, "decouple", 0, until=D("2025-10-30")).timeline
    full = runs["decouple"].timeline.iloc[: len(short)]
    pd.testing.assert_frame_equal(short, full)


def test_formula_like_text_is_neutralised():
    """Text cells starting with = + - @ get a leading ' so spreadsheets do not run them."""
    scenario = make_scenario(
        [firm("f", name='=HYPERLINK("http://example.com")')],
        events=[*key_events(), event("e", "2025-06-01", title="-2+3", outcome="@SUM(1)")],
    )
    files = run_branch(scenario, "base", 0).files()
    events = read(files["events.csv"]).set_index("event_id")
    assert events.loc["e", "title"] == "'-2+3"
    assert events.loc["e", "detail"] == "'@SUM(1)"
    assert events.loc["kl-talks", "title"] == "kl-talks"
    firms = read(files["firms.csv"]).set_index("firm_id")
    assert firms.loc["f", "name"] == '\'=HYPERLINK("http://example.com")'
