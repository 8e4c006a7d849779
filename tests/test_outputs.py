"""The tables and CSV files of one run of one branch (`timeline.run.run_branch`).

Each table is checked against its column list, against the CSV written from it, and against
figures computed here straight from the run's change points (`RunResult.rates`), not through
the code that builds the tables.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from conftest import event, firm, key_events, make_scenario

from timeline.results import tables
from timeline.run import BranchRun, run_branch

D = dt.date.fromisoformat
BRANCHES = ("history", "concede", "deescalate", "decouple")
FILES = ("events.csv", "timeline.csv", "firms.csv", "stoppages.csv", "flows.csv")
EVENT_COLUMNS = ["date", "seq", "event_id", "kind", "actor", "subject", "title", "detail", "source"]
STOPPAGE_COLUMNS = [
    "firm_id",
    "start_date",
    "full_output_date",
    "days",
    "days_stopped",
    "min_output_rate",
    "output_lost_usd",
    "value_added_lost_usd",
    "made_up_usd",
    "cause",
]
FIRM_COLUMNS = [
    "firm_id",
    "name",
    "sector",
    "country",
    "group",
    "end_use",
    "first_cut_date",
    "first_stop_date",
    "first_curtailed_date",
    "days_stopped",
    "days_curtailed",
    "output_lost_usd",
    "value_added_lost_usd",
    "made_up_usd",
    "first_stop_since_branch_date",
    "days_stopped_since_branch",
    "value_added_lost_since_branch_usd",
    "time_to_survive_days",
    "time_to_recover_days",
    "risk_exposure_index",
]
TIMELINE_TAIL = [
    "firms_stopped",
    "firms_curtailed",
    "firms_at_risk",
    "output_lost_usd",
    "value_added_lost_usd",
    "cumulative_value_added_lost_usd",
]
FLOW_COLUMNS = ["month", "destination", "flow_index"]
EPS = 1e-9


@pytest.fixture(scope="module")
def runs(default_scenario) -> dict[str, BranchRun]:
    return {branch: run_branch(default_scenario, branch, 0) for branch in BRANCHES}


@pytest.fixture(scope="module")
def files(runs) -> dict[str, dict[str, bytes]]:
    return {branch: run.files() for branch, run in runs.items()}


def header(content: bytes) -> list[str]:
    return content.decode("utf-8").split("\r\n", 1)[0].split(",")


def read_text(content: bytes) -> pd.DataFrame:
    """A CSV file as text cells, blanks as ''."""
    return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)


def daily_rates(run: BranchRun) -> np.ndarray:
    """(firms, days): each firm's output rate at the end of each day, from `result.rates` by a
    plain loop (a firm runs at 1 until its first change; of several changes a day the last
    holds)."""
    result = run.result
    out = np.ones((len(result.firm_ids), result.days))
    for day, firm_index, rate, _cause in result.rates:
        out[firm_index, day:] = rate
    return out


def value_added_share(scenario, firm) -> float:
    if firm.value_added_share is not None:
        return firm.value_added_share
    return scenario.parameters.value_added(firm.sector)


# --- files and columns ------------------------------------------------------------------------


def test_files_are_the_five_csvs(files):
    """`files()` gives exactly the five CSV files, as bytes with CRLF line ends."""
    for branch_files in files.values():
        assert sorted(branch_files) == sorted(FILES)
        for content in branch_files.values():
            assert isinstance(content, bytes)
            assert content.endswith(b"\r\n")


def test_column_lists_are_the_published_ones():
    """The column lists in `timeline.results.tables` are the ones this file checks against."""
    assert tables.EVENT_COLUMNS == EVENT_COLUMNS
    assert tables.STOPPAGE_COLUMNS == STOPPAGE_COLUMNS
    assert tables.FIRM_COLUMNS == FIRM_COLUMNS


@pytest.mark.parametrize("branch", BRANCHES)
def test_every_table_has_its_columns(runs, files, default_scenario, branch):
    """Frames and CSV headers: events, stoppages, firms and flows have exactly their columns;
    the timeline is date, branch, the policy state's columns, then the six daily figures."""
    policy = list(default_scenario.initial_policy.flat())
    expected = {
        "events": EVENT_COLUMNS,
        "timeline": ["date", "branch", *policy, *TIMELINE_TAIL],
        "firms": FIRM_COLUMNS,
        "stoppages": STOPPAGE_COLUMNS,
        "flows": FLOW_COLUMNS,
    }
    for name, frame in runs[branch].tables().items():
        assert list(frame.columns) == expected[name], name
        assert header(files[branch][f"{name}.csv"]) == expected[name], name


# --- frames and files agree -----------------------------------------------------------------


def as_text(column: pd.Series) -> list[str]:
    """The text a CSV cell should hold for each value (dates ISO, missing blank)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return [d.strftime("%Y-%m-%d") if not pd.isna(d) else "" for d in column]
    if pd.api.types.is_bool_dtype(column):
        return [str(bool(v)) for v in column]
    if pd.api.types.is_integer_dtype(column):
        return ["" if pd.isna(v) else str(int(v)) for v in column]
    return [str(v) for v in column]


@pytest.mark.parametrize("branch", BRANCHES)
def test_frames_match_written_csv(runs, files, branch):
    """Every cell of every CSV holds its frame's value: dates as ISO text (blank for NaT),
    integers and booleans as written, floats that read back to the same number, text as is."""
    for name, frame in runs[branch].tables().items():
        table = read_text(files[branch][f"{name}.csv"])
        assert len(table) == len(frame), name
        assert len(frame) > 0, name
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_float_dtype(values):
                back = table[column].replace("", "nan").astype(float).to_numpy()
                assert np.array_equal(back, values.to_numpy(float), equal_nan=True), (name, column)
            else:
                assert list(table[column]) == as_text(values), (name, column)


def test_firms_table_has_every_firm(runs, default_scenario):
    """firms.csv has one row per firm of the scenario, in the scenario's order."""
    for run in runs.values():
        assert list(run.firms["firm_id"]) == [f.id for f in default_scenario.firms]


@pytest.mark.parametrize("branch", BRANCHES)
def test_timeline_one_row_per_day(runs, default_scenario, branch):
    """The timeline has one row per day from the start to the end, inclusive."""
    timeline = runs[branch].timeline
    days = pd.date_range(default_scenario.start, default_scenario.end, freq="D")
    assert list(timeline["date"]) == list(days)
    assert set(timeline["branch"]) == {branch}


@pytest.mark.parametrize("branch", BRANCHES)
def test_events_sorted_by_date_and_seq(runs, branch):
    """events.csv is in (date, seq) order, seq numbers the trace records 0, 1, 2, ..."""
    events = runs[branch].events
    keys = list(zip(events["date"], events["seq"], strict=True))
    assert keys == sorted(keys)
    assert list(events["seq"]) == list(range(len(runs[branch].result.records)))


@pytest.mark.parametrize("branch", BRANCHES)
def test_event_rows_kind_and_actor_follow_the_record(runs, default_scenario, branch):
    """A row about a firm is a plant's own record (`firm-*`: kind firm, actor the plant's
    country) or a record of its licences and supply (every other id: kind licence, actor CN,
    China's licence office); policy rows have no subject."""
    events = runs[branch].events
    country = {f.id: f.country for f in default_scenario.firms}
    about_firm = events[events["subject"] != ""]
    assert len(about_firm) > 0
    plant = about_firm["event_id"].str.startswith("firm-")
    assert plant.any() and (~plant).any()
    wrong = about_firm[plant & (about_firm["kind"] != "firm")]
    assert wrong.empty, wrong[["date", "event_id", "kind"]].to_string()
    assert (about_firm.loc[plant, "actor"] == about_firm.loc[plant, "subject"].map(country)).all()
    licence = about_firm[~plant]
    wrong = licence[(licence["kind"] != "licence") | (licence["actor"] != "CN")]
    assert wrong.empty, (
        wrong[["date", "event_id", "kind", "actor"]].drop_duplicates("event_id").to_string()
    )
    policy = events[events["subject"] == ""]
    assert set(policy["event_id"]) <= {e.id for e in default_scenario.events} | {
        e.id for b in default_scenario.branches for e in b.add
    }


# --- reproducibility ----------------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_same_seed_same_bytes(default_scenario, files, branch):
    """The same scenario, branch, seed and replicate give byte-identical files."""
    again = run_branch(default_scenario, branch, 0, replicate=0).files()
    assert again == files[branch]


@pytest.mark.parametrize(("seed", "replicate"), [(1, 0), (0, 1), (7, 3)])
def test_other_seed_or_replicate_differs(default_scenario, files, seed, replicate):
    """Another seed, or another replicate of the same seed, draws other review times and
    decisions on decouple, so its event log and trace differ."""
    other = run_branch(default_scenario, "decouple", seed, replicate=replicate)
    assert other.files()["events.csv"] != files["decouple"]["events.csv"]
    assert (other.result.seed, other.result.replicate) == (seed, replicate)


# --- figures computed here from the change points --------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_firms_stopped_and_curtailed_per_day_from_rates(runs, branch):
    """firms_stopped on each day is the number of firms at rate 0 that day, and
    firms_curtailed those between 0 and 1, both counted here from `result.rates`."""
    run = runs[branch]
    rates = daily_rates(run)
    stopped = (rates <= EPS).sum(axis=0)
    curtailed = ((rates > EPS) & (rates < 1 - EPS)).sum(axis=0)
    assert stopped.max() > 0
    assert list(run.timeline["firms_stopped"]) == stopped.tolist()
    assert list(run.timeline["firms_curtailed"]) == curtailed.tolist()


@pytest.mark.parametrize("branch", BRANCHES)
def test_firms_at_risk_per_day_from_intervals(runs, branch):
    """firms_at_risk on a day is the number of at-risk intervals [start, end) covering it."""
    run = runs[branch]
    count = np.zeros(run.result.days, dtype=int)
    for _firm, start, end in run.result.at_risk:
        count[start:end] += 1
    assert list(run.timeline["firms_at_risk"]) == count.tolist()


@pytest.mark.parametrize("branch", BRANCHES)
def test_cumulative_value_added_is_running_sum(runs, branch):
    """cumulative_value_added_lost_usd is the running sum of value_added_lost_usd."""
    timeline = runs[branch].timeline
    assert timeline["value_added_lost_usd"].sum() > 0
    assert list(timeline["cumulative_value_added_lost_usd"]) == list(
        timeline["value_added_lost_usd"].cumsum()
    )


@pytest.mark.parametrize("branch", BRANCHES)
def test_daily_losses_from_rates(runs, default_scenario, branch):
    """Each day's output and value added lost are sum over firms of (1 - rate) x the firm's
    daily output (x its value-added share), rounded to the dollar."""
    run = runs[branch]
    firms = default_scenario.firms
    output = np.array([f.daily_output_usd for f in firms])
    share = np.array([value_added_share(default_scenario, f) for f in firms])
    shortfall = 1.0 - daily_rates(run)
    lost = (shortfall * output[:, None]).sum(axis=0)
    added = (shortfall * (output * share)[:, None]).sum(axis=0)
    assert np.abs(run.timeline["output_lost_usd"].to_numpy() - lost).max() <= 1
    assert np.abs(run.timeline["value_added_lost_usd"].to_numpy() - added).max() <= 1


@pytest.mark.parametrize("branch", BRANCHES)
def test_value_added_lost_agrees_across_tables(runs, branch):
    """Value added (and output) lost in total is the same in timeline.csv, firms.csv and
    stoppages.csv, to the dollar rounding of each row; per firm, firms.csv is the sum of the
    firm's stoppages."""
    run = runs[branch]
    for column in ("value_added_lost_usd", "output_lost_usd"):
        by_day = int(run.timeline[column].sum())
        by_firm = int(run.firms[column].sum())
        by_episode = int(run.stoppages[column].sum())
        assert by_day > 0
        slack = (len(run.timeline) + len(run.firms) + len(run.stoppages)) / 2
        assert abs(by_day - by_firm) <= slack, column
        assert abs(by_day - by_episode) <= slack, column
        per_firm = run.stoppages.groupby("firm_id")[column].agg(["sum", "size"])
        firms = run.firms.set_index("firm_id")[column]
        gap = (firms.reindex(per_firm.index) - per_firm["sum"]).abs()
        assert (gap <= per_firm["size"]).all(), column
        assert (firms.drop(per_firm.index) == 0).all(), column
    total = int(run.timeline["cumulative_value_added_lost_usd"].iloc[-1])
    assert total == int(run.timeline["value_added_lost_usd"].sum())


@pytest.mark.parametrize("branch", BRANCHES)
def test_days_stopped_and_curtailed_agree(runs, branch):
    """A firm's days_stopped is the sum of its stoppages' days_stopped and equals the days at
    rate 0 counted from `result.rates`; an episode's days are its stopped plus curtailed days."""
    run = runs[branch]
    rates = daily_rates(run)
    firms = run.firms.set_index("firm_id")
    ids = list(run.result.firm_ids)
    assert list(firms["days_stopped"]) == (rates <= EPS).sum(axis=1).tolist()
    assert list(firms["days_curtailed"]) == ((rates > EPS) & (rates < 1 - EPS)).sum(axis=1).tolist()
    per_firm = run.stoppages.groupby("firm_id")[["days_stopped", "days"]].sum()
    assert (firms.loc[per_firm.index, "days_stopped"] == per_firm["days_stopped"]).all()
    both = firms.loc[per_firm.index, ["days_stopped", "days_curtailed"]].sum(axis=1)
    assert (both == per_firm["days"]).all()
    for _, e in run.stoppages.iterrows():
        f = ids.index(e["firm_id"])
        start = (e["start_date"] - pd.Timestamp(run.result.start)).days
        end = start + e["days"]
        assert (rates[f, start:end] < 1 - EPS).all()
        assert rates[f, start:end].min() == pytest.approx(e["min_output_rate"], abs=1e-3)
        if pd.isna(e["full_output_date"]):
            assert end == run.result.days
        else:
            assert (e["full_output_date"] - e["start_date"]).days == e["days"]
            assert rates[f, end] >= 1 - EPS


@pytest.mark.parametrize("branch", BRANCHES)
def test_first_stop_dates_from_rates(runs, branch):
    """first_stop_date is the first day at rate 0 (NaT if never), from `result.rates`."""
    run = runs[branch]
    rates = daily_rates(run)
    start = pd.Timestamp(run.result.start)
    for f, date in enumerate(run.firms["first_stop_date"]):
        days = np.flatnonzero(rates[f] <= EPS)
        if len(days):
            assert date == start + pd.Timedelta(days=int(days[0]))
        else:
            assert pd.isna(date)


# --- --until ---------------------------------------------------------------------------------


@pytest.mark.parametrize("until", ["2025-04-01", "2025-10-30", "2026-01-15"])
def test_until_shortens_timeline(default_scenario, until):
    """`until` ends the timeline, events and stoppages on that date."""
    run = run_branch(default_scenario, "decouple", 0, until=D(until))
    days = (D(until) - default_scenario.start).days + 1
    assert len(run.timeline) == days
    assert run.timeline["date"].iloc[-1] == pd.Timestamp(until)
    assert (run.events["date"] <= pd.Timestamp(until)).all()
    assert (run.stoppages["start_date"] <= pd.Timestamp(until)).all()


@pytest.mark.parametrize("until", ["2025-10-30", "2026-01-15"])
def test_until_keeps_the_shared_prefix(default_scenario, runs, until):
    """A run cut short agrees with the full run up to its last day: the same timeline rows
    and the same event log up to that date."""
    short = run_branch(default_scenario, "decouple", 0, until=D(until))
    full = runs["decouple"]
    assert len(short.timeline) < len(full.timeline)
    pd.testing.assert_frame_equal(short.timeline, full.timeline.iloc[: len(short.timeline)])
    shared = full.events[full.events["date"] <= pd.Timestamp(until)].reset_index(drop=True)
    assert len(shared) < len(full.events)
    pd.testing.assert_frame_equal(short.events, shared)


# --- text that a spreadsheet would run --------------------------------------------------------


def test_formula_like_text_is_neutralised():
    """Text cells starting with = + - @ get a leading ' in the CSV (the frame keeps the text
    as it is); ordinary text is untouched."""
    scenario = make_scenario(
        [firm("f", name='=HYPERLINK("http://example.com")')],
        events=[*key_events(), event("e", "2025-06-01", title="-2+3", outcome="@SUM(1)")],
    )
    run = run_branch(scenario, "base", 0)
    files = run.files()
    events = read_text(files["events.csv"]).set_index("event_id")
    assert events.loc["e", "title"] == "'-2+3"
    assert events.loc["e", "detail"] == "'@SUM(1)"
    assert events.loc["kl-talks", "title"] == "kl-talks"
    firms = read_text(files["firms.csv"]).set_index("firm_id")
    assert firms.loc["f", "name"] == '\'=HYPERLINK("http://example.com")'
    assert run.firms.loc[0, "name"] == '=HYPERLINK("http://example.com")'
    assert set(run.events.loc[run.events["event_id"] == "e", "title"]) == {"-2+3"}


def test_one_run_after_an_ensemble_in_the_same_folder_replaces_its_tables(tmp_path):
    """An ensemble's compare.csv (another header) is ours and replaced by one run's; its
    paired.csv, which one run does not write, goes; a user's paired.csv stays."""
    from typer.testing import CliRunner

    from timeline.cli import app

    out = tmp_path / "out"
    base = ["simulate", "--branch", "all", "--no-report", "--jobs", "1", "--out", str(out)]
    assert CliRunner().invoke(app, [*base, "--runs", "2"]).exit_code == 0
    assert (out / "paired.csv").exists()
    result = CliRunner().invoke(app, [*base, "--runs", "1"])
    assert result.exit_code == 0, result.output
    assert not (out / "paired.csv").exists()
    assert (out / "compare.csv").read_text().startswith("branch,first_stop_date,")
    (out / "paired.csv").write_text("branch,mine\n")
    assert CliRunner().invoke(app, [*base, "--runs", "1"]).exit_code == 0
    assert (out / "paired.csv").read_text() == "branch,mine\n"
