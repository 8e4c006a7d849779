"""What the engine does to firms: stops, restarts, licences, on tiny and on the default scenario.

Tiny scenarios start on 2025-04-01 (day 0) with a weekends-only calendar; unless a test says
otherwise, a control on Dy takes effect on Thu 2025-05-01 (day 30) with a review of 10 working
days, so decisions fall on Thu 2025-05-15 (day 44).
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import approval, event, firm, key_events, make_scenario

from timeline.engine.world import RunResult, simulate

D = dt.date.fromisoformat
BRANCHES = ("history", "concede", "deescalate", "decouple")
CUT_DAY = 30  # 2025-05-01
DECISION_DAY = 44  # 2025-05-15, 10 working days later
CONTROL = event(
    "dy-control",
    "2025-05-01",
    effects={"licensed_elements": ["Dy"], "review_working_days": 10},
)
UNEXPOSED = ("de-eesm-drive-unit", "us-induction-motor")
LICENCE_CAUSES = ("licence pending", "awaiting licensed shipments", "rare-earth supply cut")


def run(firms, events=None, seed=0, **policy) -> RunResult:
    """Run the only branch of a tiny scenario: the key events, the Dy control, `events`."""
    scenario = make_scenario(firms, events=[*key_events(), CONTROL, *(events or [])], **policy)
    return simulate(scenario, "base", seed)


def episodes(result: RunResult, firm_id: str):
    return [e for e in result.episodes if e.firm_id == firm_id]


def log(result: RunResult, event_id: str, subject: str):
    return [r for r in result.log if r.event_id == event_id and r.subject == subject]


@pytest.fixture(scope="module")
def default_runs(default_scenario) -> dict[str, RunResult]:
    return {branch: simulate(default_scenario, branch, 0) for branch in BRANCHES}


# --- branches compared ----------------------------------------------------------------------


def _since(result: RunResult, point: dt.date) -> tuple[set[str], int, int | None]:
    """Firms stopping on or after `point`, output lost from `point` on, first such stop day."""
    day = (point - result.start).days
    output = {f.id: f.daily_output_usd for f in result.scenario.firms}
    new = [e for e in result.episodes if e.stop_day >= day]
    lost = 0
    for e in result.episodes:
        end = result.days if e.restart_day is None else e.restart_day
        lost += max(0, end - max(e.stop_day, day)) * output[e.firm_id]
    return {e.firm_id for e in new}, lost, min((e.stop_day for e in new), default=None)


def test_decouple_stops_more_firms_than_deescalate(default_runs, default_scenario):
    """From the branch point on, decoupling stops more firms than de-escalation (seed 0)."""
    point = default_scenario.branch_point
    decouple, _, _ = _since(default_runs["decouple"], point)
    deescalate, _, _ = _since(default_runs["deescalate"], point)
    assert len(decouple) > len(deescalate)


def test_decouple_loses_more_output_than_deescalate(default_runs, default_scenario):
    """From the branch point on, decoupling loses more output than de-escalation (seed 0)."""
    point = default_scenario.branch_point
    _, decouple, _ = _since(default_runs["decouple"], point)
    _, deescalate, _ = _since(default_runs["deescalate"], point)
    assert decouple > deescalate


def test_decouple_first_stop_no_later_than_deescalate(default_runs, default_scenario):
    """Decoupling's first stoppage after the branch point is no later than de-escalation's."""
    point = default_scenario.branch_point
    _, _, decouple = _since(default_runs["decouple"], point)
    _, _, deescalate = _since(default_runs["deescalate"], point)
    assert decouple is not None
    assert deescalate is None or decouple <= deescalate


# --- exposure -------------------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
@pytest.mark.parametrize("firm_id", UNEXPOSED)
def test_unexposed_default_firm_never_stops(default_runs, branch, firm_id):
    """A default firm without Chinese exposure or exposed supplier never stops or is cut."""
    result = default_runs[branch]
    assert episodes(result, firm_id) == []
    assert firm_id not in result.first_cut


def test_unexposed_tiny_firm_never_stops():
    """Under a total, never-approved control an unexposed firm runs on; an exposed one stops."""
    result = run(
        [
            firm("clean", suppliers=[{"firm": "clean-supplier", "buffer_days": 5}]),
            firm("clean-supplier", elements=["Nd"], china_share=0.0, china_content_share=0.0),
            firm("exposed", elements=["Dy"], china_share=1.0),
        ],
        licensed_elements=["Nd", "Dy"],
        extraterritorial=True,
        extraterritorial_threshold_pct=0.0,
        approval=approval(civil=0.0, defence=0.0),
    )
    for firm_id in ("clean", "clean-supplier"):
        assert episodes(result, firm_id) == []
        assert firm_id not in result.first_cut
        assert [r for r in result.log if r.subject == firm_id] == []
    assert episodes(result, "exposed")


# --- stop timing ----------------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_stop_not_before_cut_plus_cover(default_runs, branch):
    """No stop comes before first cut-off plus inventory days (licence) or buffer (supplier)."""
    result = default_runs[branch]
    firms = {f.id: f for f in result.scenario.firms}
    assert result.episodes
    for episode in result.episodes:
        f = firms[episode.firm_id]
        cut = result.first_cut[f.id]
        if episode.cause.startswith("supplier "):
            supplier = episode.cause.split()[1]
            cover = {link.firm: link.buffer_days for link in f.suppliers}[supplier]
        else:
            assert episode.cause.startswith(LICENCE_CAUSES), episode.cause
            cover = f.inventory_days
        assert episode.stop_day >= cut + cover, (branch, episode, cut, cover)


@pytest.mark.parametrize(
    ("china_share", "inventory", "days_to_stop"),
    [
        (1.0, 30, 30),
        (0.7, 20, 29),  # 20 / 0.7 = 28.6 -> 29
        (0.7, 21, 30),  # 21 / 0.7 = 30 exactly
        (0.5, 10, 20),
        (0.3, 6, 20),
    ],
)
def test_partial_dependence_drains_at_china_share(china_share, inventory, days_to_stop):
    """A firm with china_share s drains s days of cover a day: stop = cut + ceil(inventory/s)."""
    result = run(
        [firm("p", elements=["Dy"], china_share=china_share, inventory_days=inventory)],
        approval=approval(civil=0.0),
    )
    assert result.first_cut["p"] == CUT_DAY
    [episode] = episodes(result, "p")
    assert episode.stop_day == CUT_DAY + days_to_stop


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
        [episode] = episodes(result, "x")
        assert episode.stop_day == CUT_DAY + 30
    else:
        assert episodes(result, "x") == []
        assert "x" not in result.first_cut


def test_extraterritorial_rule_cuts_the_non_chinese_share():
    """Once the rule reaches a firm, its non-Chinese share is cut too and it drains at 1/day."""
    # Dy licensed from day 0: the 50% bought from China drains 0.5/day, 60 days -> day 120.
    # Rule from day 30: 60 - 0.5 * 30 = 45 days left at 1/day -> stop on day 75.
    rule = event("rule", "2025-05-01", effects={"extraterritorial": True})
    half = firm("h", elements=["Dy"], china_share=0.5, china_content_share=0.5, inventory_days=60)
    without = simulate(
        make_scenario([half], licensed_elements=["Dy"], approval=approval(civil=0.0)),
        "base",
        0,
    )
    with_rule = simulate(
        make_scenario(
            [half],
            events=[*key_events(), rule],
            licensed_elements=["Dy"],
            approval=approval(civil=0.0),
        ),
        "base",
        0,
    )
    assert [e.stop_day for e in episodes(without, "h")] == [120]
    assert [e.stop_day for e in episodes(with_rule, "h")] == [75]


# --- suppliers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("buffer", "lag"), [(0, 0), (7, 7), (12.5, 13), (20, 20)])
def test_supplier_stop_stops_customer_after_buffer(buffer, lag):
    """A customer stops when its buffer of a stopped supplier's parts runs out."""
    result = run(
        [
            firm("s", elements=["Dy"], china_share=1.0, inventory_days=5),
            firm("c", suppliers=[{"firm": "s", "buffer_days": buffer}]),
        ],
        approval=approval(civil=0.0),
    )
    [supplier] = episodes(result, "s")
    [customer] = episodes(result, "c")
    assert supplier.stop_day == CUT_DAY + 5
    assert customer.stop_day == supplier.stop_day + lag
    assert customer.cause == "supplier s stopped"


def test_customer_restarts_after_all_inputs_plus_ramp():
    """A customer restarts only when every input flows again, then after its ramp days."""
    result = run(
        [
            firm("s1", elements=["Dy"], china_share=1.0, inventory_days=5, lead_time_days=10),
            firm("s2", elements=["Dy"], china_share=1.0, inventory_days=5, lead_time_days=20),
            firm(
                "c",
                suppliers=[{"firm": "s1", "buffer_days": 2}, {"firm": "s2", "buffer_days": 2}],
                ramp_days=4,
            ),
        ],
    )
    [s1] = episodes(result, "s1")
    [s2] = episodes(result, "s2")
    [c] = episodes(result, "c")
    assert s1.restart_day < s2.restart_day
    assert c.restart_day == max(s1.restart_day, s2.restart_day) + 4
    # by hand: approved day 44; s2 supplied 44 + 20 = 64, restarts 64 + 3 = 67; c 67 + 4 = 71
    assert (s2.restart_day, c.restart_day) == (67, 71)


# --- licences -------------------------------------------------------------------------------


@pytest.mark.parametrize("lead", [0, 10, 35])
def test_approval_restores_supply_after_lead_time(lead):
    """An approved licence restores supply after the lead time; the firm restarts after ramp."""
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, inventory_days=5, lead_time_days=lead)]
    )
    [approved] = log(result, "licence-approved", "f")
    [restored] = log(result, "supply-restored", "f")
    assert approved.day == DECISION_DAY
    assert restored.day == approved.day + lead
    [episode] = episodes(result, "f")
    assert episode.restart_day == restored.day + 3  # ramp_days of the firm() default


def test_lifting_control_restores_supply_after_lead_time():
    """Lifting the control restores supply after the lead time, without any approval."""
    lift = event("lift", "2025-05-06", effects={"licensed_elements": []})  # day 35
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, lead_time_days=10)],
        events=[lift],
        approval=approval(civil=0.0),
    )
    [restored] = log(result, "supply-restored", "f")
    assert restored.day == 35 + 10
    assert log(result, "licence-approved", "f") == []
    assert log(result, "licence-denied", "f") == []  # the pending review is withdrawn


def test_denial_leads_to_new_application():
    """After each denial the firm applies again the same day while the control stands."""
    result = run([firm("f", elements=["Dy"], china_share=1.0)], approval=approval(civil=0.0))
    records = [r for r in result.log if r.subject == "f"]
    denials = [i for i, r in enumerate(records) if r.event_id == "licence-denied"]
    assert len(denials) >= 2
    for i in denials:
        follow = records[i + 1]
        assert follow.event_id == "licence-applied"
        assert follow.day == records[i].day
    applied = log(result, "licence-applied", "f")
    assert len(applied) == len(denials) + 1
    assert log(result, "licence-approved", "f") == []


def test_defence_denied_when_defence_approval_zero():
    """With defence approval 0 and civil 1, the defence firm is denied and the civil approved."""
    result = run(
        [
            firm("civil-plant", elements=["Dy"], china_share=1.0),
            firm("defence-plant", elements=["Dy"], china_share=1.0, end_use="defence"),
        ],
        approval=approval(civil=1.0, defence=0.0),
    )
    assert [r.day for r in log(result, "licence-approved", "civil-plant")] == [DECISION_DAY]
    assert log(result, "licence-approved", "defence-plant") == []
    assert log(result, "licence-denied", "defence-plant")[0].day == DECISION_DAY
    assert episodes(result, "defence-plant")[0].restart_day is None


def test_defence_denied_under_october_rules(default_runs):
    """In decouple, defence firms' licences are denied after the Oct 9 rules, never approved."""
    result = default_runs["decouple"]
    october = (D("2025-10-09") - result.start).days
    defence = {f.id: f for f in result.scenario.firms if f.end_use == "defence"}
    decisions = [
        r
        for r in result.log
        if r.subject in defence
        and r.day > october
        and r.event_id in ("licence-approved", "licence-denied")
    ]
    denied = {r.subject for r in decisions if r.event_id == "licence-denied"}
    assert {"fr-defence-electronics", "us-smco-magnet-maker"} <= denied
    assert all(r.event_id == "licence-denied" for r in decisions)
    # a non-US plant (EU defence approval 0.05 before Oct 9) is denied with probability 0
    eu = [r for r in decisions if r.subject == "fr-defence-electronics"]
    assert eu and all(r.detail.endswith("approval probability 0") for r in eu)


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
    decisions = [
        (r.day, r.event_id)
        for r in result.log
        if r.subject == "f" and r.event_id in ("licence-approved", "licence-denied")
    ]
    assert decisions[0] == (DECISION_DAY, "licence-approved")


@pytest.mark.parametrize(
    ("shorten_on", "review", "decided"),
    [
        ("2025-05-02", 5, 37),  # filed Thu May 1 + 5 working days = Thu May 8
        ("2025-05-06", 2, 35),  # May 1 + 2 = Mon May 5 has passed: decided that day, May 6
        ("2025-05-02", 10, DECISION_DAY),  # not shorter: the decision stays
    ],
)
def test_shorter_review_brings_decision_forward(shorten_on, review, decided):
    """A shorter review time moves a pending decision to filing day + new review, not before."""
    shorten = event("shorten", shorten_on, effects={"review_working_days": review})
    result = run([firm("f", elements=["Dy"], china_share=1.0)], events=[shorten])
    [approved] = log(result, "licence-approved", "f")
    assert approved.day == decided


def test_an_approval_covers_only_the_elements_applied_for():
    """An element controlled while an application is pending needs its own licence."""
    tb = event("tb-control", "2025-05-06", effects={"licensed_elements_add": ["Tb"]})
    result = run(
        [firm("m", elements=["Dy", "Tb"], china_share=1.0, inventory_days=200)], events=[tb]
    )
    applied = log(result, "licence-applied", "m")
    approved = log(result, "licence-approved", "m")
    assert applied[0].detail.startswith("Dy;"), applied[0].detail
    assert [r.day for r in approved[:1]] == [DECISION_DAY]
    assert applied[1].day == DECISION_DAY and applied[1].detail.startswith("Tb;")
    restored = log(result, "supply-restored", "m")
    assert len(approved) == 2 and restored[0].day == approved[1].day + 10  # lead time
