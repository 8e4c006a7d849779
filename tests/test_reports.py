"""Planner-ready outputs from a synthetic output folder (tests/report_fixtures.py, no engine):
charts, report.html, Excel, Parquet, typed CSV reading and the `timeline report` command."""

from __future__ import annotations

import ast
import datetime as dt
import html
import io
import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from report_fixtures import BRANCHES, EVIL_NAME, write_outputs
from typer.testing import CliRunner

from timeline.cli import app
from timeline.io.output import csv_bytes
from timeline.reports import fmt
from timeline.reports.charts import order_plants, plants, render, write_charts
from timeline.reports.export import parquet_bytes, read_table, xlsx_bytes, xlsx_for
from timeline.reports.files import load
from timeline.reports.html import build_report
from timeline.results.tables import COMPARE_COLUMNS, FIRM_COLUMNS, STOPPAGE_COLUMNS

REPORTS = Path(__file__).resolve().parent.parent / "timeline" / "reports"
CHARTS = {
    "stopped",
    "value_lost",
    "policy",
    "flows",
    *(f"stopped_share_{b}" for b in BRANCHES),
    "buffers_decouple",
    "tornado_decouple",
    "tornado_history",
}


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """A full output folder (4 branches, 40 runs) after `timeline report OUT --group watch`."""
    out = write_outputs(tmp_path_factory.mktemp("ensemble") / "out")
    result = CliRunner().invoke(app, ["report", str(out), "--group", "watch"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def page(built) -> str:
    return (built / "report.html").read_text(encoding="utf-8")


# --- formatting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "text"),
    [
        (0, "$0"),
        (950, "$950"),
        (12_345, "$12k"),
        (999_700, "$1.0m"),
        (1_234_567, "$1.2m"),
        (999_960_000, "$1.0bn"),
        (5_300_000_000, "$5.3bn"),
        (-3_000_000, "-$3.0m"),
        (float("nan"), "-"),
        (None, "-"),
    ],
)
def test_money(usd, text):
    """One money format everywhere: $1.2m, $5.3bn; never 1000 of a unit for one of the next."""
    assert fmt.money(usd) == text


def test_band():
    """`P50 (P10 to P90)`; the median alone when there is no band (one run)."""
    assert fmt.band(2e9, 1e9, 3.5e9, fmt.money) == "$2.0bn ($1.0bn to $3.5bn)"
    assert fmt.band(4, 4, 4) == "4"
    assert fmt.band(4, None, None) == "4"
    assert fmt.share(0.004) == "<1%" and fmt.share(0.5) == "50%"


# --- reading the CSV files ---------------------------------------------------------------


def test_read_table_types(tmp_path):
    """Dates parsed (blank -> NaT), ids stay text, neutralised formulas lose their quote."""
    frame = pd.DataFrame(
        {
            "firm_id": ["007", "-12"],
            "name": ["=SUM(A1)", "'quoted already"],
            "first_stop_q50": ["2025-11-18", ""],
            "p_stop": [0.5, 1.0],
            "days": [3, 4],
            "flag": [True, False],
        }
    )
    path = tmp_path / "firm_risk.csv"
    path.write_bytes(csv_bytes(frame))
    table = read_table(path)
    assert table["firm_id"].tolist() == ["007", "-12"]
    assert table["name"].tolist() == ["=SUM(A1)", "'quoted already"]
    assert pd.api.types.is_datetime64_any_dtype(table["first_stop_q50"])
    assert table["first_stop_q50"].iloc[0] == pd.Timestamp("2025-11-18")
    assert pd.isna(table["first_stop_q50"].iloc[1])
    assert table["p_stop"].dtype == "float64" and table["days"].dtype == "int64"
    assert table["flag"].dtype == bool


def test_load_orders_branches_as_compare(built):
    """Branches come in compare.csv's order; every table present is read; buffers.csv is at
    the top, its rows found by branch; state.csv (an input for --from) is left out."""
    outputs = load(built)
    assert [b.id for b in outputs.branches] == list(BRANCHES)
    assert {"compare", "paired", "buffers", "sensitivity"} <= set(outputs.tables)
    history, decouple = outputs.branches[0], outputs.branches[-1]
    assert {"flows", "flows_bands"} <= set(decouple.tables)
    assert outputs.buffers(decouple) is not None and outputs.buffers(history) is None
    assert (built / "history" / "state.csv").is_file() and "state" not in history.tables
    flows = decouple.table("flows_bands")
    assert pd.api.types.is_datetime64_any_dtype(flows["month"])
    assert flows["destination"].dtype == object


def _names(text: str) -> list[str]:
    return text.split(",")


def test_fixture_writes_the_real_contract(built, tmp_path):
    """The fixture's headers are the engine's: the single-run tables from its column lists,
    the ensemble tables as the engine writes them."""

    def header(path: str) -> list[str]:
        return (built / path).read_text(encoding="utf-8").splitlines()[0].split(",")

    assert header("decouple/firms.csv") == FIRM_COLUMNS
    assert header("decouple/stoppages.csv") == STOPPAGE_COLUMNS
    stems = ["first_stop", "peak_firms_stopped", "value_added_lost_usd", "first_stop_since_branch",
             "peak_firms_stopped_since_branch", "value_added_lost_since_branch_usd",
             "firms_ever_stopped"]  # fmt: skip
    compare = ["branch", "title", "runs", *[f"{s}_q{q}" for s in stems for q in (10, 50, 90)]]
    assert header("compare.csv") == [*compare, "p_any_stop_since_branch"]
    assert header("paired.csv") == _names("branch,versus,metric,q10,q50,q90,mean,p_worse")
    assert header("decouple/runs.csv") == _names(
        "run,seed,first_stop_date,peak_firms_stopped,value_added_lost_usd,"
        "first_stop_since_branch_date,peak_firms_stopped_since_branch,"
        "value_added_lost_since_branch_usd,firms_ever_stopped"
    )
    assert header("decouple/flows_bands.csv") == ["month", "destination", "q10", "q50", "q90"]
    assert header("decouple/flows.csv") == ["month", "destination", "flow_index"]
    assert header("buffers.csv") == _names(
        "firm_id,branch,confidence,days_of_cover_now,days_needed,multiple,p_stop_now,"
        "p_stop_at_answer,runs,tolerance"
    )
    assert header("sensitivity.csv") == _names(
        "branch,parameter,low_label,high_label,metric,baseline,value_at_low,value_at_high,"
        "effect,note"
    )
    bands = read_table(built / "decouple" / "bands.csv")
    assert set(bands["metric"]) == {
        "firms_stopped",
        "firms_at_risk",
        "value_added_lost_usd",
        "cumulative_value_added_lost_usd",
    }
    timeline = header("decouple/timeline.csv")
    assert timeline[-6:] == [
        "firms_stopped",
        "firms_curtailed",
        "firms_at_risk",
        "output_lost_usd",
        "value_added_lost_usd",
        "cumulative_value_added_lost_usd",
    ]
    one = write_outputs(tmp_path / "one", runs=1)
    assert (one / "compare.csv").read_text().splitlines()[0].split(",") == COMPARE_COLUMNS


def test_group_first_then_sectors(built):
    """Heat strips and tables: the chosen group first, then one section per sector."""
    sections = order_plants(plants(load(built).branches[0]), "watch")
    assert sections[0][0] == "group: watch"
    assert set(sections[0][1]["firm_id"]) == {"us-magnet", "us-eps", "us-oem"}
    titles = [title for title, _ in sections[1:]]
    assert titles == sorted(titles)


# --- charts ------------------------------------------------------------------------------


def test_report_command_writes_charts(built):
    """`timeline report` writes report.html and a PNG and an SVG of every chart present."""
    written = {p.name for p in (built / "charts").iterdir()}
    assert written == {f"{name}.{kind}" for name in CHARTS for kind in ("png", "svg")}
    for name in CHARTS:
        assert (built / "charts" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert b"<svg" in (built / "charts" / f"{name}.svg").read_bytes()[:2000]
    assert not any(p.name.startswith(".") for p in built.rglob("*"))  # no temporary files


def test_charts_byte_identical(built):
    """Drawing the charts again gives the same bytes as the files written before, in one
    process or in several (`timeline report` used every core), in the same order."""
    again = write_charts(built, group="watch")
    assert set(again) == {f"charts/{p.name}" for p in (built / "charts").iterdir()}
    for name, content in again.items():
        assert content == (built / name).read_bytes(), name
    forked = render(load(built), "watch", jobs=3)
    assert list(forked) == list(again) and forked == again


# --- report.html -------------------------------------------------------------------------


class _Links(HTMLParser):
    """Every URL-bearing attribute, tag and style text in a page."""

    URL_ATTRS = {"src", "href", "xlink:href", "srcset", "action", "data", "poster", "background"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in self.URL_ATTRS:
                self.urls.append(value or "")
            if name == "style" or name.startswith("on"):
                self.styles.append(f"{name}={value}")

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_report_is_self_contained(page):
    """No src/href/url( pointing off the file, no script, no external stylesheet or frame."""
    parser = _Links()
    parser.feed(page)
    assert parser.urls, "the charts should be inline images"
    for url in parser.urls:
        assert url.startswith(("data:image/png;base64,", "#")), url[:80]
    assert not parser.tags & {"script", "link", "iframe", "object", "embed", "base"}
    for style in parser.styles:
        assert "url(" not in style and "@import" not in style
        assert not style.startswith("on")  # no inline event handlers


def test_report_opens_with_each_branch_answer(built, page):
    """The answer section shows every branch's P50 (P10 to P90) from compare.csv first."""
    compare = read_table(built / "compare.csv")
    answer = page[page.index('id="answer"') : page.index('id="key-dates"')]
    assert page.index('id="answer"') < page.index('id="charts"') < page.index('id="method"')
    for row in compare.to_dict("records"):
        expected = []
        for stem, show in (
            ("value_added_lost_since_branch_usd", fmt.money),
            ("peak_firms_stopped_since_branch", fmt.count),
            ("value_added_lost_usd", fmt.money),
            ("firms_ever_stopped", fmt.count),
        ):
            q10, q50, q90 = (row[f"{stem}_q{q}"] for q in (10, 50, 90))
            expected.append(fmt.band(q50, q10, q90, show))
        expected.append(fmt.share(row["p_any_stop_since_branch"]))
        for text in expected:
            assert html.escape(text) in answer, (row["branch"], text)
    assert "Value added lost" in answer and "Value of output lost" not in answer
    # paired.csv has both directions; each pair is shown once, the worse branch first
    paired = read_table(built / "paired.csv")
    main = paired[paired["metric"] == "value_added_lost_since_branch_usd"]
    for row in main.to_dict("records"):
        shown = f"<b>{row['branch']}</b> minus {row['versus']}" in answer
        assert shown == (row["q50"] > 0), row
        if shown:
            text = fmt.band(row["q50"], row["q10"], row["q90"], fmt.signed_money)
            assert html.escape(text) in answer


def test_report_escapes_text_from_files(page):
    """A firm named `<script>...` is shown as text, never as markup; `=SUM` lost its quote."""
    assert "<script" not in page.lower()
    assert html.escape(EVIL_NAME) in page
    assert "=SUM(A1) steering systems" in page
    assert "FIRMS.md priors &lt;unaudited&gt;" in page  # a parameter's source


def test_report_method_section(page):
    """STRESS-DES reporting: parameters with their distribution and source, runs, seeds,
    software versions, what the model leaves out."""
    method = page[page.index('id="method"') :]
    for text in (
        "triangular(0.5, 1, 1.5)",
        "MOFCOM: 45 working days",
        "export_pipeline_days",
        "licence_valid_days",
        "value_added_share[automotive-oem]",
        "draw the calibrated parameter sets",
        "timeline simulate --branch all --runs 40",
        "simpy",
        "4.1.1",
        "What the model leaves out",
    ):
        assert html.escape(text) in method, text


def test_report_prints_on_a4_and_letter(page):
    """Print rules: page margins, no fixed page size, tables and figures kept whole."""
    assert "@page" in page and "@media print" in page
    assert "size: A4" not in page and "size: letter" not in page.lower()
    assert "break-inside: avoid" in page


def test_report_rebuild_is_deterministic(built, page):
    """The same folder (and charts) gives the same report, byte for byte."""
    charts = {f"charts/{p.name}": p.read_bytes() for p in (built / "charts").iterdir()}
    assert build_report(built, group="watch", charts=charts).decode("utf-8") == page


def test_one_run_where_present(tmp_path):
    """One branch, one run (no bands, no compare.csv, no buffers): what is there is shown;
    `--excel --parquet` add the workbook and Parquet files; stale charts of ours go."""
    out = write_outputs(tmp_path / "one", runs=1, branches=("decouple",))
    (out / "charts").mkdir()
    (out / "charts" / "buffers_decouple.png").write_bytes(b"from an earlier report")
    (out / "charts" / "notes.txt").write_text("the user's own file")
    result = CliRunner().invoke(app, ["report", str(out), "--excel", "--parquet"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (out / "charts").iterdir()}
    expected = {"stopped", "value_lost", "policy", "flows", "stopped_share_decouple"}
    assert names == {f"{n}.{kind}" for n in expected for kind in ("png", "svg")} | {"notes.txt"}
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "One run per branch" in page
    assert 'id="buffers"' not in page and 'id="sensitivity"' not in page
    timeline = read_table(out / "decouple" / "timeline.csv")
    answer = page[page.index('id="answer"') : page.index('id="key-dates"')]
    assert fmt.money(timeline["value_added_lost_usd"].sum()) in answer
    assert fmt.money(timeline["output_lost_usd"].sum()) in answer  # gross, as a second line
    assert "episodes of reduced output" in page
    book = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert "decouple timeline" in book.sheetnames and "summary decouple" in book.sheetnames
    parquet = pq.read_table(out / "parquet" / "decouple" / "timeline.parquet")
    assert parquet.num_rows == len(timeline)


def test_single_branch_ensemble_answer_from_runs(tmp_path):
    """No compare.csv (one branch of an ensemble): the answer comes from runs.csv."""
    out = write_outputs(tmp_path / "one", runs=40, branches=("decouple",), optional=False)
    page = build_report(out, charts={}).decode("utf-8")
    runs = read_table(out / "decouple" / "runs.csv")
    lost = runs["value_added_lost_since_branch_usd"].to_numpy(dtype=float)
    q10, q50, q90 = (np.quantile(lost, q, method="inverted_cdf") for q in (0.1, 0.5, 0.9))
    answer = page[page.index('id="answer"') : page.index('id="key-dates"')]
    assert html.escape(fmt.band(q50, q10, q90, fmt.money)) in answer
    chance = runs["first_stop_since_branch_date"].notna().mean()
    assert f"<td class=num>{fmt.share(chance)}</td>" in answer
    assert 'id="charts"' not in page
    # the answer of an ensemble never takes run.json's summary (one replayed run)
    assert "Gross output lost" not in answer


def test_one_run_all_branches_answer_from_compare(tmp_path):
    """`--runs 1 --branch all`: compare.csv has the single run's columns; the answer shows
    them (value added, and gross output lost as a second line)."""
    out = write_outputs(tmp_path / "one", runs=1)
    page = build_report(out, charts={}).decode("utf-8")
    answer = page[page.index('id="answer"') : page.index('id="key-dates"')]
    for row in read_table(out / "compare.csv").to_dict("records"):
        for column in ("value_added_lost_since_branch_usd", "value_added_lost_usd"):
            assert fmt.money(row[column]) in answer, (row["branch"], column)
        assert fmt.money(row["output_lost_usd"]) in answer
        assert fmt.count(row["firms_ever_stopped"]) in answer


def test_buffers_and_sensitivity_sections(built, page):
    """buffers.csv rows of a branch (a blank days_needed is "not found"); sensitivity rows
    formatted by their metric, a setting that breaks the scenario shown with its note."""
    buffers = page[page.index('id="buffers"') : page.index('id="sensitivity"')]
    assert "Branch decouple at 90% confidence" in buffers
    assert "not found" in buffers and "8.8x" in buffers
    assert "40 paired runs per candidate; multiple found to 5%" in buffers
    sensitivity = page[page.index('id="sensitivity"') : page.index('id="method"')]
    assert "value added lost since the branch point (P50)" in sensitivity
    assert "setting breaks the scenario" in sensitivity
    assert "$16.0bn" in sensitivity and "-$6.0bn" in sensitivity


def test_buffers_in_a_branch_folder_still_drawn(tmp_path):
    """A buffers.csv inside the branch folder (the draft layout) is read too."""
    out = write_outputs(tmp_path / "old")
    (out / "buffers.csv").rename(out / "decouple" / "buffers.csv")
    outputs = load(out)
    assert outputs.table("buffers") is None
    assert outputs.buffers(outputs.branches[-1]) is not None
    charts = write_charts(out)
    assert "charts/buffers_decouple.png" in charts
    page = build_report(out, charts=charts).decode("utf-8")
    assert 'id="buffers"' in page


def test_unknown_group_is_an_error(built):
    """A --group that no plant is in is most likely a typo: exit 2, the groups there are."""
    result = CliRunner().invoke(app, ["report", str(built), "--group", "wacth"])
    assert result.exit_code == 2
    assert "no plant is in group 'wacth'" in result.stderr and "watch" in result.stderr


def test_report_command_keeps_a_foreign_report_html_and_draws_no_charts_if_asked(tmp_path):
    """`timeline report` refuses a report.html it did not write (exit 2, nothing written);
    --force replaces it; --no-charts writes the page alone and removes our earlier charts."""
    out = write_outputs(tmp_path / "out")
    (out / "report.html").write_text("mine")
    result = CliRunner().invoke(app, ["report", str(out), "--no-charts"])
    assert result.exit_code == 2 and "report.html" in result.stderr and "--force" in result.stderr
    assert (out / "report.html").read_text() == "mine" and not (out / "charts").exists()
    result = CliRunner().invoke(app, ["report", str(out), "--force", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (out / "charts").iterdir()} >= {"stopped.png", "stopped.svg"}
    (out / "charts" / "mine.svg").write_text("<svg/>")
    result = CliRunner().invoke(app, ["report", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (out / "charts").iterdir()] == ["mine.svg"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="answer"' in page and "<img" not in page


def test_report_of_missing_folder_is_one_line_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["report", str(empty)])
    assert result.exit_code == 2 and "run.json" in result.stderr
    assert not any(empty.iterdir())


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def browse(page: Path, scratch: Path) -> tuple[str, list[str], list[str]]:
    """Open `page` in headless Chromium: (the DOM after loading, console messages, URLs the
    page requested over the network). Chromium's own background requests are told apart by
    their network isolation key: the page's are keyed by its file:// origin."""
    netlog = scratch / "netlog.json"
    command = [
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={scratch / 'profile'}",
        f"--log-net-log={netlog}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    log = json.loads(netlog.read_text(encoding="utf-8"))
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    requests = [
        event["params"]["url"]
        for event in log["events"]
        if names.get(event["type"]) == "URL_REQUEST_START_JOB"
        and "file://" in str(event.get("params", {}).get("network_isolation_key", ""))
    ]
    return done.stdout, console, requests


@needs_chromium
def test_browser_check_sees_requests_and_console_errors(tmp_path):
    """The check below can fail: a page that fetches an image and logs an error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><h1>x</h1><img src="http://127.0.0.1:9/x.png">'
        '<script>console.error("boom")</script></body></html>'
    )
    dom, console, requests = browse(bad, tmp_path)
    assert "<h1>x</h1>" in dom
    assert requests == ["http://127.0.0.1:9/x.png"]
    assert any("boom" in line for line in console)


@needs_chromium
def test_report_in_headless_chromium(built, tmp_path):
    """A real browser loads the page: no network request, no console message."""
    dom, console, requests = browse(built / "report.html", tmp_path)
    assert "<h1>" in dom and 'id="answer"' in dom and dom.count("<img ") == len(CHARTS)
    assert console == []
    assert requests == []


@needs_chromium
def test_report_of_a_default_simulate_in_headless_chromium(tmp_path):
    """The page a default `timeline simulate` writes opens in a real browser the same way."""
    out = tmp_path / "out"
    args = ["simulate", "--branch", "decouple", "--runs", "3", "--jobs", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    dom, console, requests = browse(out / "report.html", tmp_path)
    assert 'id="answer"' in dom and dom.count("<img ") == 5
    assert console == [] and requests == []


# --- Excel and Parquet -------------------------------------------------------------------


def test_workbook(built):
    """Sheets per table and summary; dates are dates, numbers numbers, `=SUM` stays text."""
    outputs = load(built)
    decouple = outputs.branches[-1]
    tables = {
        "compare": outputs.table("compare"),
        "decouple firm_risk": decouple.table("firm_risk"),
        "decouple runs": decouple.table("runs"),
    }
    data = xlsx_bytes(tables, {"decouple": decouple.meta})
    assert data == xlsx_bytes(tables, {"decouple": decouple.meta})  # deterministic
    whole = openpyxl.load_workbook(io.BytesIO(xlsx_for(outputs)), read_only=True).sheetnames
    assert {"buffers", "sensitivity", "decouple flows_bands"} <= set(whole)
    assert "history state" not in whole
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["compare", "decouple firm_risk", "decouple runs", "summary decouple"]
    sheet = book["decouple firm_risk"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    risk = decouple.table("firm_risk").iloc[0]
    assert row["first_stop_q10"].is_date
    assert row["first_stop_q10"].value.date() == risk["first_stop_q10"].date()
    assert isinstance(row["value_lost_usd_q50"].value, int)
    assert row["value_lost_usd_q50"].value == risk["value_lost_usd_q50"]
    assert isinstance(row["p_stop"].value, float)
    formula = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "us-eps")
    assert formula[1].value == "=SUM(A1) steering systems" and formula[1].data_type == "s"
    assert sheet.column_dimensions["B"].width > 20
    summary = {r[0].value: r[1] for r in book["summary decouple"].iter_rows(min_row=2)}
    assert summary["branch_point"].is_date and summary["runs"].value == 40


@pytest.mark.parametrize(
    "name", ["compare.csv", "paired.csv", "buffers.csv", "sensitivity.csv",
             "decouple/firm_risk.csv", "decouple/bands.csv", "decouple/stoppages.csv",
             "decouple/timeline.csv", "decouple/flows_bands.csv", "decouple/firms.csv"],
)  # fmt: skip
def test_parquet_round_trip(built, name):
    """Parquet holds the CSV's values with proper types: date32 dates, dictionary ids."""
    frame = read_table(built / name)
    table = pq.read_table(io.BytesIO(parquet_bytes(frame)))
    assert table.column_names == list(frame.columns)
    for column in frame.columns:
        kind = table.schema.field(column).type
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            assert kind == pa.date32(), column
        if column in ("firm_id", "branch", "metric", "destination"):
            assert pa.types.is_dictionary(kind), column
    back = table.to_pandas()
    for column in frame.columns:
        ours, theirs = frame[column], back[column]
        if pd.api.types.is_datetime64_any_dtype(ours):
            expected = [None if pd.isna(v) else v.date() for v in ours]
            assert [None if pd.isna(v) else v for v in theirs] == expected, column
        else:
            assert [None if pd.isna(v) else v for v in ours.astype(object)] == [
                None if pd.isna(v) else v for v in theirs.astype(object)
            ], column


# --- boundaries --------------------------------------------------------------------------


def test_reports_import_nothing_from_the_engine():
    """Reports read files only: no module of timeline.reports imports timeline.engine."""
    for path in REPORTS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("timeline.engine", "timeline.run")), (path, name)


def test_fixture_is_realistic(built):
    """The fixture agrees with itself: the same trunk in every branch, bands within runs."""
    bands = {b: read_table(built / b / "bands.csv") for b in BRANCHES}
    point = pd.Timestamp("2025-10-30")
    before = [f[f["date"] < point].reset_index(drop=True) for f in bands.values()]
    for frame in before[1:]:
        pd.testing.assert_frame_equal(frame, before[0])
    runs = read_table(built / "decouple" / "runs.csv")
    lost = bands["decouple"]
    final = lost[lost["metric"] == "cumulative_value_added_lost_usd"].iloc[-1]
    values = runs["value_added_lost_usd"]
    assert values.min() <= final["q50"] <= values.max()
    assert dt.date(2026, 12, 31) == final["date"].date()
    compare = read_table(built / "compare.csv").set_index("branch")
    assert compare.at["decouple", "value_added_lost_usd_q50"] in set(values)  # inverted_cdf


def test_the_page_without_charts_needs_no_matplotlib():
    """report.html without charts (`--no-charts`) imports neither matplotlib nor openpyxl
    nor pyarrow.parquet: they are imported to draw charts and to write Excel and Parquet."""
    code = (
        "import sys, timeline.reports.build, timeline.reports.html, timeline.reports\n"
        "print(sorted(m for m in ('matplotlib', 'openpyxl', 'pyarrow.parquet') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_simulate_format_writes_the_workbook_and_parquet_as_report_does(tmp_path):
    """`simulate --format csv,xlsx,parquet` writes report.xlsx and parquet/ beside the CSV
    files, the same bytes as `timeline report --excel --parquet` of that folder."""
    out = tmp_path / "out"
    args = ["simulate", "--branch", "decouple", "--runs", "3", "--jobs", "1", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-report", "--format", "csv,xlsx,parquet"])
    assert result.exit_code == 0, result.output
    assert not (out / "report.html").exists()
    book = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert "decouple timeline" in book.sheetnames
    timeline = read_table(out / "decouple" / "timeline.csv")
    parquet = pq.read_table(out / "parquet" / "decouple" / "timeline.parquet")
    assert parquet.num_rows == len(timeline)
    workbook, tables = (out / "report.xlsx").read_bytes(), (out / "parquet").rglob("*.parquet")
    parquet_bytes = {p.relative_to(out): p.read_bytes() for p in tables}
    again = CliRunner().invoke(app, ["report", str(out), "--no-charts", "--excel", "--parquet"])
    assert again.exit_code == 0, again.output
    assert (out / "report.xlsx").read_bytes() == workbook
    assert {p.relative_to(out): p.read_bytes() for p in (out / "parquet").rglob("*.parquet")} == (
        parquet_bytes
    )


def test_simulate_refuses_an_unknown_format_in_one_line(tmp_path):
    args = ["simulate", "--branch", "decouple", "--runs", "2", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--format", "csv,xls"])
    assert result.exit_code == 2
    assert "unknown format 'xls'" in result.output and "fix:" in result.output
    assert not (tmp_path / "o").exists()
