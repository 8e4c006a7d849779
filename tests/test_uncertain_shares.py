"""The firm table's remaining shares as distributions (issue 6): china_content_share,
defence_share and a supplier link's share, each drawn once per firm and run from its own keyed
number (the same in every branch), checked over its whole range when the table is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import approval, event, firm, firm_rates, key_events, make_scenario
from pydantic import ValidationError

from timeline.engine.params import draw_params
from timeline.engine.streams import Streams
from timeline.engine.trace import Kind
from timeline.engine.world import simulate
from timeline.ensemble.runner import run_ensemble
from timeline.errors import TimelineError
from timeline.io.firmsio import read_firms
from timeline.io.loader import default_scenario_path, load_scenario

CONTROL = event("dy-control", "2025-05-01", effects={"licensed_elements": ["Dy"]})
RULE = event(
    "rule",
    "2025-05-01",
    order=1,
    effects={"extraterritorial": True, "extraterritorial_threshold_pct": 10.0},
)


def _scenario(firms, events=(), **policy):
    return make_scenario(firms, events=[*key_events(), CONTROL, *events], **policy)


def _index(scenario, firm_id: str) -> int:
    return [f.id for f in scenario.firms].index(firm_id)


def test_a_content_share_distribution_decides_per_run_whether_the_rule_reaches_a_firm():
    """content uniform(0 0.2) against a 10% threshold: the non-Chinese supply is cut in the
    runs whose drawn share is 0.1 or more, and only in those."""
    scenario = _scenario(
        [firm("x", elements=["Dy"], china_share=0.0, china_content_share="uniform(0 0.2)")],
        events=[RULE],
        approval=approval(civil=0.0),
    )
    reached = []
    for replicate in range(16):
        content = draw_params(scenario, Streams(0, replicate))[0].content
        assert 0 <= content <= 0.2
        result = simulate(scenario, "base", 0, replicate=replicate)
        cut = [r for r in result.records if r.kind == Kind.SUPPLY_CUT]
        assert bool(cut) == (content * 100 >= 10.0)
        reached.append(bool(cut))
    assert 0 < sum(reached) < 16


def test_a_defence_share_distribution_sets_the_line_that_keeps_running():
    """Civil licences denied, defence ones approved: once the cover is gone the plant runs at
    its drawn defence share, which differs between runs."""
    scenario = _scenario(
        [
            firm(
                "d", elements=["Dy"], china_share=1.0, inventory_days=5.0, defence_share="beta(2 2)"
            )
        ],
        approval=approval(civil=0.0, defence=1.0),
    )
    finals = []
    for replicate in range(8):
        drawn = draw_params(scenario, Streams(0, replicate))[0].defence
        assert 0 < drawn < 1
        rates = firm_rates(simulate(scenario, "base", 0, replicate=replicate), "d")
        assert rates[-1][1] == round(drawn, 9)
        finals.append(rates[-1][1])
    assert len(set(finals)) == 8


def test_a_link_share_distribution_is_the_part_a_stopped_supplier_cuts():
    """The supplier stops; the customer then runs at 1 minus its drawn share of that part."""
    scenario = _scenario(
        [
            firm("s", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm("c", suppliers=[{"firm": "s", "buffer_days": 3.0, "share": "uniform(0.2 0.8)"}]),
        ],
        approval=approval(civil=0.0),
    )
    rates = []
    for replicate in range(8):
        [share] = draw_params(scenario, Streams(0, replicate))[1].shares
        assert 0.2 <= share <= 0.8
        [(_, rate, cause)] = firm_rates(simulate(scenario, "base", 0, replicate=replicate), "c")
        assert (rate, cause) == (round(1 - share, 9), "s")
        rates.append(rate)
    assert len(set(rates)) == 8


def test_share_draws_are_keyed_repeatable_and_leave_other_firms_alone():
    plain = [
        firm("s", elements=["Dy"], china_share=1.0),
        firm("c", china_content_share=0.3, suppliers=[{"firm": "s", "buffer_days": 3.0}]),
    ]
    uncertain = [
        plain[0],
        firm(
            "c",
            china_content_share="triangular(0.1 0.3 0.6)",
            defence_share="uniform(0 0.5)",
            suppliers=[{"firm": "s", "buffer_days": 3.0, "share": "beta(5 5 0.1 1)"}],
        ),
    ]
    a, b = _scenario(plain), _scenario(uncertain)
    for replicate in range(5):
        before, after = draw_params(a, Streams(0, replicate)), draw_params(b, Streams(0, replicate))
        assert before[0] == after[0]  # the other firm's numbers are untouched
        assert (before[1].content, before[1].defence, before[1].shares) == (0.3, 0.0, (1.0,))
        assert after[1] == draw_params(b, Streams(0, replicate))[1]
    drawn = {draw_params(b, Streams(0, r))[1] for r in range(10)}
    assert len({p.content for p in drawn}) == 10
    assert len({p.defence for p in drawn}) == 10
    assert len({p.shares for p in drawn}) == 10
    assert draw_params(b, Streams(1, 0))[1] != draw_params(b, Streams(0, 0))[1]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"china_content_share": "uniform(0.5 1.5)"}, "can reach 1.5, above the maximum 1"),
        ({"defence_share": "lognormal(0.2 0.5)"}, "has no upper limit"),
        (
            {"suppliers": [{"firm": "s", "buffer_days": 3.0, "share": "uniform(0 0.5)"}]},
            "can reach 0, not above 0",
        ),
    ],
)
def test_a_share_range_outside_0_to_1_is_refused(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        _scenario([firm("s"), firm("c", **fields)])


def _magnet_buyer(share: str):
    """A magnet maker and a buyer taking 0.6 from China and `share` from the magnet maker."""
    return _scenario(
        [
            firm("m", sector="magnets-test"),
            firm(
                "p",
                elements=["Dy"],
                china_share=0.6,
                suppliers=[{"firm": "m", "buffer_days": 5.0, "share": share}],
            ),
        ]
    )


def test_a_magnet_link_share_whose_range_with_china_exceeds_one_is_refused():
    with pytest.raises(TimelineError, match=r"magnet suppliers \(uniform\(0.1 0.5\), at most 0.5"):
        _magnet_buyer("uniform(0.1 0.5)")
    _magnet_buyer("uniform(0.1 0.4)")  # at most 0.4 with 0.6 from China: accepted


# --- in the firm table ----------------------------------------------------------------------


def _table(tmp_path: Path) -> Path:
    """The built-in firm table with de-magnet-maker's content and defence shares and one
    customer's link share uncertain."""
    text = (default_scenario_path().parent / "firms.csv").read_text()
    firms = {f.id: f for f in read_firms(default_scenario_path().parent / "firms.csv")}
    old = "civil,,40,21,,0.1,,960,"
    assert text.count(old) == 1
    text = text.replace(
        ",0.85,0.5,70,650000," + old,
        ",0.85,triangular(0.3 0.5 0.7),70,650000,civil,,40,21,,beta(2 18),,960,",
    )
    buyer = next(f for f in firms.values() if len(f.suppliers) == 1 and f.suppliers[0].share == 1)
    link = buyer.suppliers[0]
    cell = f"{link.firm}:{link.buffer_days:g}"
    row = next(line for line in text.splitlines() if line.startswith(f"{buyer.id},"))
    assert row.count(cell) == 1
    text = text.replace(row, row.replace(cell, f"{cell}:uniform(0.5 1)"))
    table = tmp_path / "firms.csv"
    table.write_text(text)
    return table


def test_the_firm_table_reads_the_shares_as_distributions(tmp_path):
    firms = {f.id: f for f in read_firms(_table(tmp_path))}
    magnets = firms["de-magnet-maker"]
    assert magnets.china_content_share.describe() == "triangular(0.3, 0.5, 0.7)"
    assert magnets.defence_share.describe() == "beta(2, 18)"
    shares = [link.share for f in firms.values() for link in f.suppliers]
    assert [s.describe() for s in shares if not isinstance(s, float)] == ["uniform(0.5, 1)"]


def test_a_bad_share_cell_names_row_column_and_fix(tmp_path):
    table = _table(tmp_path)
    table.write_text(table.read_text().replace("beta(2 18)", "uniform(0.5 1.5)"))
    with pytest.raises(TimelineError) as caught:
        read_firms(table)
    message = str(caught.value)
    assert "column defence_share" in message and "can reach 1.5" in message
    assert "firm de-magnet-maker" in message and "fix:" in message


def test_ensembles_with_uncertain_shares_are_paired_and_do_not_depend_on_jobs(tmp_path):
    scenario = load_scenario(None, firms=_table(tmp_path))
    point = (scenario.branch_point - scenario.start).days

    def trunk(branch: str, replicate: int) -> list:
        result = simulate(scenario, branch, 0, replicate=replicate)
        return [r for r in result.records if r.day < point]

    assert trunk("history", 1) == trunk("decouple", 1)
    one = run_ensemble(scenario, ["decouple"], 4, seed=3, jobs=1)
    two = run_ensemble(scenario, ["decouple"], 4, seed=3, jobs=2)
    assert one.runs_frame("decouple").equals(two.runs_frame("decouple"))
    assert one.bands("decouple").equals(two.bands("decouple"))
