"""What the engine does to firms: cuts, licences, stops and restarts, on tiny scenarios worked out
by hand, and the checks that make sense on the default scenario.

Tiny scenarios start on Tue 2025-04-01 (day 0) with a weekends-only calendar; unless a test says
otherwise, a control on Dy takes effect on Thu 2025-05-01 (day 30) with a review of 10 working
days, so decisions fall on Thu 2025-05-15 (day 44). conftest's `firm` has a lead time of 10
days, 30 days of cover and a ramp of 3 days.
"""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from conftest import (
    approval,
    daily_rates,
    day_of,
    event,
    firm,
    firm_rates,
    firm_records,
    key_events,
    make_scenario,
    whole_days,
    with_parameters,
    working_days_after,
)

from timeline.engine.trace import Kind
from timeline.engine.world import RunResult, simulate
from timeline.model.policy import destination_of
from timeline.results import tables

D = dt.date.fromisoformat
BRANCHES = ("history", "concede", "deescalate", "decouple")
CUT_DAY = day_of("2025-05-01")  # 30
DECISION_DAY = day_of("2025-05-15")  # 44, 10 working days later
LEAD, COVER, RAMP = 10, 30.0, 3
CONTROL = event(
    "dy-control",
    "2025-05-01",
    effects={"licensed_elements": ["Dy"], "review_working_days": 10},
)
UNEXPOSED = ("de-eesm-drive-unit", "us-induction-motor")
DECISIONS = (Kind.APPROVED, Kind.DENIED)


def run(firms, events=None, seed=0, **policy) -> RunResult:
    """Run the only branch of a tiny scenario: the key events, the Dy control, `events`."""
    scenario = make_scenario(firms, events=[*key_events(), CONTROL, *(events or [])], **policy)
    return simulate(scenario, "base", seed)


def kinds(result: RunResult, firm_id: str, *wanted: Kind) -> list[tuple[int, Kind]]:
    return [(r.day, Kind(r.kind)) for r in firm_records(result, firm_id, *wanted)]


# --- exposure -------------------------------------------------------------------------------


def test_unexposed_tiny_firm_never_stops():
    """Under a total, never-approved control an unexposed firm runs on; an exposed one stops."""
    result = run(
        [
            firm("clean", suppliers=[{"firm": "clean-supplier", "buffer_days": 5.0}]),
            firm("clean-supplier", elements=["Nd"], china_share=0.0, china_content_share=0.0),
            firm("exposed", elements=["Dy"], china_share=1.0),
        ],
        licensed_elements=["Nd", "Dy"],
        extraterritorial=True,
        extraterritorial_threshold_pct=0.0,
        approval=approval(civil=0.0, defence=0.0),
    )
    for index, firm_id in enumerate(("clean", "clean-supplier")):
        assert firm_rates(result, firm_id) == []
        assert index not in result.first_cut
        assert firm_records(result, firm_id) == []
    assert firm_rates(result, "exposed") == [(LEAD + whole_days(COVER), 0.0, "re")]


# --- stop timing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("china_share", "inventory"),
    [(1.0, 30.0), (0.75, 21.0), (0.5, 10.0), (0.25, 6.0), (0.3, 6.0)],
)
def test_a_partial_cut_drains_cover_at_the_chinese_share(china_share, inventory):
    """A firm buying a share s from China loses s of its supply after the goods in transit:
    its cover drains s a day, then it runs at 1 - s (a full stop only when s is 1)."""
    result = run(
        [firm("p", elements=["Dy"], china_share=china_share, inventory_days=inventory)],
        approval=approval(civil=0.0),
    )
    assert result.first_cut == {0: CUT_DAY + LEAD}
    empty = CUT_DAY + LEAD + whole_days(inventory / china_share)
    assert firm_rates(result, "p") == [(empty, round(1 - china_share, 9), "re")]
    stopped = firm_records(result, "p", Kind.STOPPED)
    assert len(stopped) == (1 if china_share == 1.0 else 0)


# --- extraterritorial rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "threshold_pct", "content", "stops"),
    [
        (True, 50.0, 0.5, True),  # content 50% == threshold: reached
        (True, 50.0, 0.49, False),  # below the threshold
        (True, 0.1, 0.001, True),  # 0.1% == the real rule's 0.1%
        (True, 0.1, 0.9, True),
        (False, 0.1, 0.9, False),  # rule not active
        (True, 0.0, 0.0, False),  # no Chinese content at all
    ],
)
def test_extraterritorial_reach(active, threshold_pct, content, stops):
    """The rule reaches a non-Chinese supply only when active and content*100 >= threshold."""
    rule = event(
        "rule",
        "2025-05-01",
        order=1,
        effects={"extraterritorial": active, "extraterritorial_threshold_pct": threshold_pct},
    )
    result = run(
        [firm("x", elements=["Dy"], china_share=0.0, china_content_share=content)],
        events=[rule],
        approval=approval(civil=0.0),
    )
    if stops:
        assert firm_rates(result, "x") == [(CUT_DAY + LEAD + whole_days(COVER), 0.0, "re")]
        assert [r.channel for r in firm_records(result, "x", Kind.SUPPLY_CUT)] == [2]  # other
    else:
        assert firm_rates(result, "x") == []
        assert firm_records(result, "x") == []


def test_extraterritorial_rule_cuts_the_non_chinese_share():
    """Once the rule reaches a firm, its non-Chinese share is cut too and it drains 1 a day."""
    # Dy licensed from day 0: the half bought from China runs dry on day 10 and drains 0.5 a
    # day from 60 days: 0.5 from day 10 + 120. With the rule from day 30 the other half runs
    # dry on day 40 with 60 - 0.5 * 30 = 45 days left: a stop on day 85.
    rule = event("rule", "2025-05-01", effects={"extraterritorial": True})
    half = firm("h", elements=["Dy"], china_share=0.5, china_content_share=0.5, inventory_days=60.0)
    policy = {"licensed_elements": ["Dy"], "approval": approval(civil=0.0)}
    without = simulate(make_scenario([half], **policy), "base", 0)
    with_rule = simulate(make_scenario([half], events=[*key_events(), rule], **policy), "base", 0)
    assert firm_rates(without, "h") == [(LEAD + 120, 0.5, "re")]
    assert firm_rates(with_rule, "h") == [(CUT_DAY + LEAD + 45, 0.0, "re")]


# --- suppliers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("buffer", "lag"), [(0.0, 0), (7.0, 7), (12.5, 13), (20.0, 20)])
def test_supplier_stop_stops_customer_after_buffer(buffer, lag):
    """A customer stops on the first whole day its buffer of a stopped supplier's part is gone."""
    result = run(
        [
            firm("s", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm("c", suppliers=[{"firm": "s", "buffer_days": buffer}]),
        ],
        approval=approval(civil=0.0),
    )
    stop = CUT_DAY + LEAD + 5
    assert firm_rates(result, "s") == [(stop, 0.0, "re")]
    assert firm_rates(result, "c") == [(stop + lag, 0.0, "s")]
    [stopped] = firm_records(result, "c", Kind.STOPPED)
    assert stopped.a == 0  # the cause: firm index of s


def test_a_magnet_supplier_feeds_the_rare_earth_input_at_its_output_rate():
    """A buyer of rare earths taking 60% of its magnets from a magnet maker in the table loses
    that 60% of its rare-earth supply when the maker stops (no Chinese share of its own)."""
    result = run(
        [
            firm("maker", sector="magnets-x", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm(
                "buyer",
                elements=["Dy"],
                china_share=0.0,
                inventory_days=4.0,
                suppliers=[{"firm": "maker", "buffer_days": 8.0, "share": 0.6}],
            ),
        ],
        approval=approval(civil=0.0),
    )
    stop = CUT_DAY + LEAD + 5
    assert firm_rates(result, "maker") == [(stop, 0.0, "re")]
    # the rare-earth stock is the larger of inventory and magnet buffer: 8 days at 0.6 a day
    assert firm_rates(result, "buyer") == [(stop + whole_days(8.0 / 0.6), 0.4, "re")]
    fall = stop + whole_days(8.0 / 0.6)
    assert kinds(result, "buyer") == [(fall, Kind.CURTAILED)]  # no cut or licence of its own


# --- licences -------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", [0, 10, 20])
def test_approval_restores_supply_after_lead_time(lead):
    """An approval restores supply a lead time later and the firm restarts after its ramp; an
    approval before the goods in transit run out leaves no gap at all."""
    inventory = 5.0
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, inventory_days=inventory, lead_time_days=lead)]
    )
    dry = CUT_DAY + lead
    assert kinds(result, "f", Kind.APPROVED) == [(DECISION_DAY, Kind.APPROVED)]
    if dry <= DECISION_DAY:
        back = DECISION_DAY + lead
        assert kinds(result, "f", Kind.SUPPLY_DRY, Kind.RESTORED) == [
            (dry, Kind.SUPPLY_DRY),
            (back, Kind.RESTORED),
        ]
        stop = dry + whole_days(inventory)
        assert firm_rates(result, "f") == [(stop, 0.0, "re"), (back + RAMP, 1.0, "")]
        assert result.recovered == {0: back + RAMP}
    else:
        assert kinds(result, "f", Kind.SUPPLY_DRY, Kind.RESTORED) == []
        assert firm_rates(result, "f") == []


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_air_freight_brings_goods_back_sooner(share):
    """With air_freight_share 1 goods resume after air_freight_days (3), with 0 by sea."""
    scenario = make_scenario(
        [firm("f", elements=["Dy"], china_share=1.0, inventory_days=0.0, lead_time_days=10)],
        events=[*key_events(), CONTROL],
    )
    result = simulate(with_parameters(scenario, air_freight_share=share), "base", 0)
    [restored] = firm_records(result, "f", Kind.RESTORED)
    lead = 3 if share == 1.0 else 10
    assert (restored.day, restored.a) == (DECISION_DAY + lead, lead)


@pytest.mark.parametrize("lead", [3, 10])
def test_lifting_control_voids_the_review_and_restores_supply(lead):
    """Lifting the control withdraws the pending review (no decision) and restores supply a lead
    time later, or at once if goods in transit had not run out."""
    lift = event("lift", "2025-05-06", effects={"licensed_elements": []})
    lifted = day_of("2025-05-06")
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, lead_time_days=lead)],
        events=[lift],
        approval=approval(civil=0.0),
    )
    assert firm_records(result, "f", *DECISIONS) == []
    trace = kinds(result, "f", Kind.SUPPLY_DRY, Kind.CONTROLS_LIFTED, Kind.RESTORED)
    if CUT_DAY + lead < lifted:
        assert trace == [
            (CUT_DAY + lead, Kind.SUPPLY_DRY),
            (lifted, Kind.CONTROLS_LIFTED),
            (lifted + lead, Kind.RESTORED),
        ]
    else:
        assert trace == [(lifted, Kind.CONTROLS_LIFTED)]
    assert firm_rates(result, "f") == []  # 30 days of cover outlast the gap


def test_denial_leads_to_a_rereview_the_same_day():
    """After each denial the firm's application goes to re-review the same day while the
    control stands; application numbers count up and none is approved."""
    result = run([firm("f", elements=["Dy"], china_share=1.0)], approval=approval(civil=0.0))
    records = firm_records(result, "f", Kind.APPLIED, Kind.REREVIEW, *DECISIONS)
    assert records[0].kind == Kind.APPLIED
    denials = [i for i, r in enumerate(records) if r.kind == Kind.DENIED]
    assert len(denials) >= 2
    for i in denials:
        follow = records[i + 1]
        assert follow.kind == Kind.REREVIEW
        assert follow.day == records[i].day
        assert follow.a == records[i].a + 1
    assert not [r for r in records if r.kind == Kind.APPROVED]


def test_defence_denied_when_defence_approval_zero():
    """With defence approval 0 and civil 1, the defence plant is denied and the civil approved."""
    result = run(
        [
            firm("civil-plant", elements=["Dy"], china_share=1.0),
            firm("defence-plant", elements=["Dy"], china_share=1.0, end_use="defence"),
        ],
        approval=approval(civil=1.0, defence=0.0),
    )
    assert kinds(result, "civil-plant", *DECISIONS) == [(DECISION_DAY, Kind.APPROVED)]
    decisions = kinds(result, "defence-plant", *DECISIONS)
    assert decisions[0] == (DECISION_DAY, Kind.DENIED)
    assert {k for _, k in decisions} == {Kind.DENIED}
    assert [r.channel for r in firm_records(result, "defence-plant", Kind.APPLIED)] == [1]
    assert firm_rates(result, "defence-plant") == [(CUT_DAY + LEAD + 30, 0.0, "re")]


@pytest.mark.parametrize("between", [False, True])
def test_decision_uses_probability_of_decision_day(between):
    """A decision uses the approval in force after that day's events, whatever came between."""
    # applied on day 30, decided on day 44 (2025-05-15), the day approval rises from 0 to 1;
    # `between` adds an unrelated event on day 35, which must not change the outcome.
    ease = event("ease", "2025-05-15", effects={"approval": {"US": {"civil": 1.0}}})
    talks = [event("talks", "2025-05-06", kind="talks")] if between else []
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0)],
        events=[*talks, ease],
        approval=approval(civil=0.0),
    )
    [decision] = firm_records(result, "f", *DECISIONS)
    assert (decision.day, decision.kind, decision.x) == (DECISION_DAY, Kind.APPROVED, 1.0)


@pytest.mark.parametrize(
    ("shorten_on", "review", "decided"),
    [
        ("2025-05-02", 5, day_of("2025-05-08")),  # filed Thu May 1 + 5 working days
        ("2025-05-06", 2, day_of("2025-05-06")),  # May 1 + 2 = Mon May 5 has passed: that day
        ("2025-05-02", 10, DECISION_DAY),  # not shorter: the decision stays
    ],
)
def test_shorter_review_brings_decision_forward(shorten_on, review, decided):
    """A shorter review time moves a pending decision to filing day + new review, not before
    the day of the change."""
    shorten = event("shorten", shorten_on, effects={"review_working_days": review})
    result = run([firm("f", elements=["Dy"], china_share=1.0)], events=[shorten])
    assert kinds(result, "f", Kind.APPROVED) == [(decided, Kind.APPROVED)]
    moved = firm_records(result, "f", Kind.REVIEW_MOVED)
    if decided == DECISION_DAY:
        assert moved == []
    else:
        [move] = moved
        assert (move.day, move.b, move.x) == (day_of(shorten_on), decided, float(DECISION_DAY))


def test_an_approval_covers_only_the_elements_applied_for():
    """An element controlled while an application is pending needs its own licence: supply
    comes back only after the second approval, a lead time later."""
    tb = event("tb-control", "2025-05-06", effects={"licensed_elements_add": ["Tb"]})
    result = run(
        [firm("m", elements=["Dy", "Tb"], china_share=1.0, inventory_days=200.0)], events=[tb]
    )
    [cut] = firm_records(result, "m", Kind.SUPPLY_CUT)
    applications = firm_records(result, "m", Kind.APPLIED, Kind.REREVIEW)
    approved = firm_records(result, "m", Kind.APPROVED)
    assert cut.day == CUT_DAY
    assert [r.day for r in applications] == [CUT_DAY, DECISION_DAY]
    assert [r.day for r in approved] == [DECISION_DAY, applications[1].b]
    assert applications[1].b > DECISION_DAY
    [restored] = firm_records(result, "m", Kind.RESTORED)
    assert restored.day == approved[1].day + LEAD


@pytest.mark.parametrize(("median", "spread"), [(20, 1.0), (20, 2.0)])
def test_review_times_follow_the_regimes_lognormal(median, spread):
    """Review working days have the regime's median and a 90th percentile of median x spread
    (spread 1: every review takes the median); each decision falls that many working days
    after filing."""
    control = event(
        "control",
        "2025-05-01",
        effects={
            "licensed_elements": ["Dy"],
            "review_working_days": median,
            "review_spread": spread,
        },
    )
    firms = [firm(f"f{i}", elements=["Dy"], china_share=1.0) for i in range(400)]
    result = simulate(make_scenario(firms, events=[*key_events(), control]), "base", 0)
    applied = [r for r in result.records if r.kind == Kind.APPLIED]
    assert len(applied) == len(firms)
    days = sorted(r.x for r in applied)
    for r in applied:
        expected = working_days_after(D("2025-05-01"), int(r.x))
        assert r.b == day_of(expected.isoformat())
    if spread == 1.0:
        assert set(days) == {float(median)}
    else:
        assert statistics.median(days) == pytest.approx(median, abs=2)
        p90 = days[int(0.9 * len(days))]
        assert median * spread * 0.85 <= p90 <= median * spread * 1.15
        assert days[0] < median * 0.6  # a real spread below the median too


def test_a_pace_change_redates_each_review_with_its_own_draw():
    """When the median review halves, each pending review is re-dated to about half its drawn
    working days (same random number, new pace), never before the day of the change."""
    control = event(
        "control",
        "2025-05-01",
        effects={"licensed_elements": ["Dy"], "review_working_days": 40, "review_spread": 2.0},
    )
    faster = event("faster", "2025-05-05", effects={"review_working_days": 20})
    firms = [firm(f"f{i}", elements=["Dy"], china_share=1.0) for i in range(60)]
    result = simulate(make_scenario(firms, events=[*key_events(), control, faster]), "base", 0)
    changed = day_of("2025-05-05")
    applied = {r.firm: r for r in result.records if r.kind == Kind.APPLIED}
    moved = [r for r in result.records if r.kind == Kind.REVIEW_MOVED]
    assert len(moved) >= len(firms) // 2
    for r in moved:
        before = applied[r.firm]
        assert r.x == before.b  # the old decision day
        # round(20 q) is within 0.75 of round(40 q) / 2 for any quantile q
        halves = [n for n in range(int(before.x) + 1) if abs(n - before.x / 2) <= 0.75]
        allowed = {
            max(changed, day_of(working_days_after(D("2025-05-01"), n).isoformat())) for n in halves
        }
        assert r.b in allowed, (before.x, r.b, allowed)
        [decision] = [d for d in result.records if d.kind in DECISIONS and d.firm == r.firm]
        assert decision.day == r.b


# --- the default scenario ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_runs(default_scenario) -> dict[tuple[str, int], RunResult]:
    runs = {(b, 0): simulate(default_scenario, b, 0) for b in BRANCHES}
    for b in ("deescalate", "decouple"):
        runs[(b, 1)] = simulate(default_scenario, b, 0, replicate=1)
    return runs


def value_added_since(result: RunResult, scenario, day: int) -> float:
    """Value added lost from `day` on, from the daily rates (a plain loop)."""
    share = {
        f.id: f.value_added_share
        if f.value_added_share is not None
        else scenario.parameters.value_added(f.sector)
        for f in scenario.firms
    }
    total = 0.0
    for f, row in zip(scenario.firms, daily_rates(result), strict=True):
        total += sum(1.0 - r for r in row[day:]) * f.daily_output_usd * share[f.id]
    return total


@pytest.mark.parametrize("replicate", [0, 1])
def test_decouple_loses_at_least_as_much_value_added_as_deescalate(
    default_runs, default_scenario, replicate
):
    """From the branch point on, decoupling loses at least as much value added as de-escalation
    in the same replicate, and more than nothing."""
    point = (default_scenario.branch_point - default_scenario.start).days
    lost = {}
    for branch in ("decouple", "deescalate"):
        result = default_runs[(branch, replicate)]
        lost[branch] = value_added_since(result, default_scenario, point)
        summary = tables.summary(result, default_scenario)
        assert summary["value_added_lost_since_branch_usd"] == pytest.approx(
            lost[branch], abs=result.days
        )
    assert lost["decouple"] >= lost["deescalate"]
    assert lost["decouple"] > 0


@pytest.mark.parametrize("branch", BRANCHES)
@pytest.mark.parametrize("firm_id", UNEXPOSED)
def test_unexposed_default_firm_never_stops(default_runs, branch, firm_id):
    """A default firm without Chinese exposure or an exposed supplier is never cut or slowed."""
    result = default_runs[(branch, 0)]
    assert firm_rates(result, firm_id) == []
    assert result.firm_ids.index(firm_id) not in result.first_cut
    assert firm_records(result, firm_id) == []


@pytest.mark.parametrize("branch", BRANCHES)
def test_no_output_falls_before_first_cut_plus_transit_and_cover(
    default_runs, default_scenario, branch
):
    """Goods run dry exactly the export pipeline plus a lead time after each cut; a firm's first
    cut is the first day its supply dries up or a supplier slows; its output first falls no
    earlier than that plus the cover of the input that runs out."""
    result = default_runs[(branch, 0)]
    firms = default_scenario.firms
    index = {f.id: i for i, f in enumerate(firms)}
    # the replicate's calibrated parameter set: exports declared before a cut still leave
    pipeline = int(default_scenario.variant(0).parameters.export_pipeline_days.value)
    cut_dry: dict[tuple[int, int], int] = {}
    first_dry: dict[int, int] = {}
    for r in result.records:
        if r.kind == Kind.SUPPLY_CUT:
            cut_dry[(r.firm, r.channel)] = r.b
            assert r.b == r.day + pipeline + result.params[r.firm].lead
        elif r.kind == Kind.SUPPLY_DRY:
            assert cut_dry.pop((r.firm, r.channel)) == r.day
            first_dry.setdefault(r.firm, r.day)
    first_low: dict[int, tuple[int, int]] = {}
    for day, f, rate, cause in result.rates:
        if rate < 1 and f not in first_low:
            first_low[f] = (day, cause)
    assert first_low  # the default scenario does slow firms down
    for f, (day, cause) in first_low.items():
        firm_, params = firms[f], result.params[f]
        candidates = [first_dry[f]] if f in first_dry else []
        candidates += [
            first_low[index[x.firm]][0] for x in firm_.suppliers if index[x.firm] in first_low
        ]
        assert result.first_cut[f] == min(candidates), firm_.id
        buffers = {x.firm: b for x, b in zip(firm_.suppliers, params.buffers, strict=True)}
        if cause < 0:
            magnets = [
                b for s, b in buffers.items() if firms[index[s]].sector.startswith("magnets")
            ]
            cover = max([params.inventory, *magnets])
        else:
            cover = buffers[firms[cause].id]
        assert day >= result.first_cut[f] + cover, firm_.id


def test_branches_agree_before_the_branch_point(default_runs, default_scenario):
    """Every branch has the same trace, rates and flows as history before the branch point."""
    point = (default_scenario.branch_point - default_scenario.start).days
    history = default_runs[("history", 0)]

    def before(result):
        return (
            [r for r in result.records if r.day < point],
            [x for x in result.rates if x[0] < point],
            [x for x in result.flows if x[0] < point],
        )

    assert before(history)[0]
    for branch in BRANCHES[1:]:
        assert before(default_runs[(branch, 0)]) == before(history), branch


@pytest.mark.parametrize("branch", BRANCHES)
def test_each_decision_uses_the_probability_in_force(default_runs, default_scenario, branch):
    """Each licence decision carries the approval probability of the policy in force after
    that day's events, for the firm's destination and the channel's end use."""
    result = default_runs[(branch, 0)]
    decisions = [r for r in result.records if r.kind in DECISIONS]
    assert decisions
    for r in decisions:
        policy = [state for day, state in result.policy_changes if day <= r.day][-1]
        use = "defence" if r.channel in (1, 3) else "civil"
        dest = destination_of(default_scenario.firms[r.firm].country)
        assert r.x == policy.approval_probability(dest, use)
        assert (r.kind == Kind.APPROVED) <= (r.x > 0)
        assert (r.kind == Kind.DENIED) <= (r.x < 1)


def test_defence_lines_denied_under_october_rules(default_runs, default_scenario):
    """In decouple, every decision on a defence line after the Oct 9 rules is a denial at
    approval probability 0, and there are some."""
    result = default_runs[("decouple", 0)]
    october = (D("2025-10-09") - default_scenario.start).days
    defence = [
        r for r in result.records if r.kind in DECISIONS and r.channel in (1, 3) and r.day > october
    ]
    assert len({r.firm for r in defence}) >= 2
    assert all(r.kind == Kind.DENIED and r.x == 0.0 for r in defence)


def test_a_chinese_share_given_as_a_distribution_is_drawn_per_run():
    """china_share uniform(0.2 0.6): each replicate's partial cut drains the cover at its own
    drawn share s, then the plant runs at 1 - s; the rates vary between replicates and stay
    within 0.4 to 0.8."""
    scenario = make_scenario(
        [firm("p", elements=["Dy"], china_share="uniform(0.2 0.6)", inventory_days=10.0)],
        events=[*key_events(), CONTROL],
        approval=approval(civil=0.0),
    )
    rates = []
    for replicate in range(8):
        result = simulate(scenario, "base", 0, replicate=replicate)
        [(day, rate, cause)] = firm_rates(result, "p")
        share = 1 - rate
        assert 0.2 <= share <= 0.6 and cause == "re"
        assert day == CUT_DAY + LEAD + whole_days(10.0 / share)
        rates.append(rate)
    assert len(set(rates)) == 8


def test_a_chinese_share_whose_range_with_magnet_suppliers_exceeds_one_is_refused():
    from timeline.errors import TimelineError

    with pytest.raises(TimelineError, match=r"china_share uniform\(0.5 0.9\) plus the shares"):
        make_scenario(
            [
                firm("m", sector="magnets-test"),
                firm(
                    "p",
                    elements=["Dy"],
                    china_share="uniform(0.5 0.9)",
                    suppliers=[{"firm": "m", "buffer_days": 5.0, "share": 0.2}],
                ),
            ],
            events=[*key_events(), CONTROL],
        )
