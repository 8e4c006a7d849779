"""The mechanisms of the engine (issue 7), each on a tiny scenario with its outcome worked out
by hand from the rules, plus the paired random numbers across branches and replicates.

Tiny scenarios start on Tue 2025-04-01 (day 0) with a weekends-only calendar. Unless a test
says otherwise a control on Dy takes effect on Thu 2025-05-01 (day 30) with a review of 10
working days, so first decisions fall on Thu 2025-05-15 (day 44); firms have a lead time of 10
days, 30 days of cover and a ramp of 3 days (conftest's `firm` defaults). The rules used below:
goods shipped before a cut arrive for the lead time; an input's stock changes at
(inflow - rate) a day; the output rate is the lowest over inputs of 1 (stock left) or the share
arriving (stock empty); a stopped plant restarts once every input flows fully or holds
`restart_threshold_days` (3 by default) of cover, after its ramp.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import (
    approval,
    day_of,
    event,
    firm,
    firm_rates,
    firm_records,
    horizon,
    key_events,
    make_scenario,
    run_world,
    whole_days,
    with_parameters,
    working_days_after,
    working_days_before,
)

from timeline.engine.trace import Kind
from timeline.engine.world import simulate
from timeline.results import tables

D = dt.date.fromisoformat
START = D("2025-04-01")
CUT = day_of("2025-05-01")  # 30
DECISION = day_of("2025-05-15")  # 44: 10 working days after Thu May 1
LEAD, COVER, RAMP = 10, 30.0, 3  # conftest.firm defaults
CONTROL = event(
    "dy-control",
    "2025-05-01",
    effects={"licensed_elements": ["Dy"], "review_working_days": 10},
)


def scenario_with(firms, events=(), **policy):
    """A tiny scenario: the key events, the Dy control on day 30, then `events`."""
    return make_scenario(firms, events=[*key_events(), CONTROL, *events], **policy)


def run(firms, events=(), seed=0, **policy):
    return simulate(scenario_with(firms, events, **policy), "base", seed)


def level(state, firm_index: int, position: int) -> float:
    """An input's stock at the snapshot's day (the snapshot holds it as of its last update)."""
    plant = state.plants[firm_index]
    plant.advance(state.day)  # a copy: the snapshot is plain data
    return plant.inputs[position].level


# --- output rate --------------------------------------------------------------------------


def test_rate_is_set_by_the_scarcest_input():
    """A plant whose rare earths are cut by 40% runs at 0.6 once that stock is gone, although
    its other input flows fully."""
    inventory = 10.0
    result = run(
        [
            firm("parts"),
            firm(
                "x",
                elements=["Dy"],
                china_share=0.4,
                inventory_days=inventory,
                suppliers=[{"firm": "parts", "buffer_days": 5.0}],
            ),
        ],
        approval=approval(civil=0.0),
    )
    dry = CUT + LEAD  # goods in transit until then
    empty = dry + whole_days(inventory / 0.4)  # drains at 0.6 - 1 a day
    assert firm_rates(result, "x") == [(empty, 0.6, "re")]
    assert firm_rates(result, "parts") == []


def test_two_short_inputs_the_lower_share_arriving_sets_the_rate():
    """With parts at 0.75 and rare earths at 0.5, the plant runs at 0.75 while it has rare
    earths left and at 0.5 once they are gone (the lower of the two)."""
    buffer, inventory = 5.0, 20.0
    result = run(
        [
            firm("s", elements=["Dy"], china_share=1.0, inventory_days=0.0),
            firm(
                "x",
                elements=["Dy"],
                china_share=0.5,
                inventory_days=inventory,
                suppliers=[{"firm": "s", "buffer_days": buffer, "share": 0.25}],
            ),
        ],
        approval=approval(civil=0.0),
    )
    dry = CUT + LEAD  # both run dry the same day: s stops at once (no stock)
    assert firm_rates(result, "s") == [(dry, 0.0, "re")]
    parts_empty = dry + whole_days(buffer / (1 - 0.75))
    left = inventory - (parts_empty - dry) * (1 - 0.5)  # rare earths drained at 0.5 - 1
    re_empty = parts_empty + whole_days(left / (0.75 - 0.5))  # then at 0.5 - 0.75
    assert firm_rates(result, "x") == [(parts_empty, 0.75, "s"), (re_empty, 0.5, "re")]


def test_a_stopped_suppliers_cut_is_weighted_by_its_link_share():
    """A supplier stopped: a customer buying 30% of the part from it receives 0.7 of it, and
    runs at 0.7 once its buffer is gone; one buying all of it stops."""
    buffer = 6.0
    scenario = scenario_with(
        [
            firm("s", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm("c", suppliers=[{"firm": "s", "buffer_days": buffer, "share": 0.3}]),
            firm("sole", suppliers=[{"firm": "s", "buffer_days": buffer}]),
        ],
        approval=approval(civil=0.0),
    )
    stop = CUT + LEAD + 5
    world = run_world(scenario)
    world.run(until=stop + 1)
    state = world.snapshot()
    assert state.plants[0].rate == 0.0
    assert state.plants[1].inputs[0].avail == pytest.approx(0.7)
    assert state.plants[2].inputs[0].avail == pytest.approx(0.0)
    world.run(until=horizon(scenario))
    result = world.finish()
    assert firm_rates(result, "s") == [(stop, 0.0, "re")]
    assert firm_rates(result, "c") == [(stop + whole_days(buffer / 0.3), 0.7, "s")]
    assert firm_rates(result, "sole") == [(stop + whole_days(buffer), 0.0, "s")]


# --- restart ------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [3, 6])
def test_restart_waits_for_the_threshold_cover_then_the_ramp(threshold):
    """A stopped plant whose rare earths come back at half flow restarts only once it holds
    restart_threshold_days of cover, then after its ramp; later it runs at 0.5."""
    # Dy licensed on day 30 with the extraterritorial rule in force: both the Chinese half and
    # the other half are cut (approval 0). The rule is lifted on day 60: the other half arrives
    # again after the lead time, on day 70, at 0.5 of normal supply.
    inventory, ramp = 10.0, 4
    lift = event("lift", "2025-05-31", effects={"extraterritorial": False})
    scenario = scenario_with(
        [
            firm(
                "f",
                elements=["Dy"],
                china_share=0.5,
                china_content_share=1.0,
                inventory_days=inventory,
                ramp_days=ramp,
            )
        ],
        [lift],
        approval=approval(civil=0.0),
        extraterritorial=True,
        extraterritorial_threshold_pct=0.1,
    )
    result = simulate(with_parameters(scenario, restart_threshold_days=threshold), "base", 0)
    stop = CUT + LEAD + whole_days(inventory)
    back = day_of("2025-05-31") + LEAD
    restart = back + whole_days(threshold / 0.5) + ramp  # stock grows 0.5 a day while stopped
    stock = min(inventory, 0.5 * (restart - back))  # a stock never exceeds its cap
    curtail = restart + whole_days(stock / (1 - 0.5))
    assert firm_rates(result, "f") == [(stop, 0.0, "re"), (restart, 1.0, ""), (curtail, 0.5, "re")]
    [restarted] = firm_records(result, "f", Kind.RESTARTED)
    assert (restarted.day, restarted.a) == (restart, restart - stop)  # a: days stopped


def test_a_customer_restarts_only_when_every_input_is_back_plus_its_ramp():
    """A customer of two stopped suppliers stays stopped while either is down and restarts
    its ramp after the later one is back."""
    result = run(
        [
            firm("s1", elements=["Dy"], china_share=1.0, inventory_days=5.0, lead_time_days=10),
            firm("s2", elements=["Dy"], china_share=1.0, inventory_days=5.0, lead_time_days=0),
            firm(
                "c",
                suppliers=[{"firm": "s1", "buffer_days": 0.0}, {"firm": "s2", "buffer_days": 0.0}],
                ramp_days=4,
            ),
        ]
    )
    # s2: dry on day 30 (no transit), stops 35, approved 44, supplied 44 + 0, restarts + 3.
    # s1: dry on day 40, stops 45, approved 44, supplied 44 + 10 = 54, restarts 57.
    s1_restart = DECISION + 10 + RAMP
    s2_restart = DECISION + 0 + RAMP
    assert firm_rates(result, "s1") == [(CUT + 10 + 5, 0.0, "re"), (s1_restart, 1.0, "")]
    assert firm_rates(result, "s2") == [(CUT + 5, 0.0, "re"), (s2_restart, 1.0, "")]
    c = firm_rates(result, "c")
    assert [(day, rate) for day, rate, _ in c] == [
        (CUT + 5, 0.0),
        (max(s1_restart, s2_restart) + 4, 1.0),
    ]


# --- goods in transit -----------------------------------------------------------------------


@pytest.mark.parametrize(("lead", "pipeline"), [(0, 0), (7, 0), (25, 0), (7, 5)])
def test_goods_in_transit_keep_the_stock_full_until_cut_plus_lead(lead, pipeline):
    """After a cut on day d with lead time L (and exports declared before the cut leaving for
    export_pipeline_days P) the stock is still full on day d + P + L and drains one day of cover
    a day from then; the plant stops on d + P + L + cover."""
    inventory = 20.0
    scenario = scenario_with(
        [
            firm(
                "f", elements=["Dy"], china_share=1.0, inventory_days=inventory, lead_time_days=lead
            )
        ],
        approval=approval(civil=0.0),
    )
    scenario = with_parameters(scenario, export_pipeline_days=pipeline)
    dry = CUT + pipeline + lead
    world = run_world(scenario)
    levels = {}
    for day in (CUT, dry, dry + 5):
        if day > world.now:
            world.run(until=day)
        levels[day] = level(world.snapshot(), 0, 0)
    assert levels == {CUT: inventory, dry: inventory, dry + 5: inventory - 5}
    world.run(until=horizon(scenario))
    result = world.finish()
    [cut] = firm_records(result, "f", Kind.SUPPLY_CUT)
    [dried] = firm_records(result, "f", Kind.SUPPLY_DRY)
    assert (cut.day, cut.b, dried.day) == (CUT, dry, dry)
    assert result.first_cut == {0: dry}
    assert firm_rates(result, "f") == [(dry + whole_days(inventory), 0.0, "re")]


# --- licences -------------------------------------------------------------------------------


def test_a_general_licence_covers_only_the_firms_it_names():
    """Under a general licence for US civil automotive buyers, a US car plant is never cut; a
    US wind plant and a German car plant are cut and stop; a US car plant's defence line is
    cut too."""
    licence = {"id": "gl-us-auto", "destinations": ["US"], "sectors": ["automotive"]}
    result = run(
        [
            firm("us-car", elements=["Dy"], china_share=1.0),
            firm("us-wind", sector="wind-test", elements=["Dy"], china_share=1.0),
            firm("de-car", country="DE", elements=["Dy"], china_share=1.0),
            firm("us-car-mixed", elements=["Dy"], china_share=1.0, defence_share=0.5),
        ],
        approval=approval(civil=0.0, defence=0.0),
        general_licences=[licence],
    )
    assert firm_records(result, "us-car") == []
    assert firm_rates(result, "us-car") == []
    assert 0 not in result.first_cut
    stop = CUT + LEAD + whole_days(COVER)
    for cut in ("us-wind", "de-car"):
        assert [r.day for r in firm_records(result, cut, Kind.SUPPLY_CUT)] == [CUT]
        assert firm_rates(result, cut) == [(stop, 0.0, "re")]
    [defence_cut] = firm_records(result, "us-car-mixed", Kind.SUPPLY_CUT)
    assert defence_cut.channel == 1  # direct defence
    half = CUT + LEAD + whole_days(COVER / 0.5)
    assert firm_rates(result, "us-car-mixed") == [(half, 0.5, "re")]


def test_a_general_licence_granted_later_voids_the_pending_review():
    """A general licence granted while a firm's application is pending releases its channel at
    once: no decision follows, and goods arrive again after the lead time."""
    licence = {"id": "gl-us", "destinations": ["US"]}
    grant = event("grant", "2025-05-06", effects={"general_licences_add": [licence]})
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, inventory_days=0.0, lead_time_days=2)],
        [grant],
        approval=approval(civil=0.0),
    )
    granted = day_of("2025-05-06")
    kinds = [(r.day, Kind(r.kind)) for r in firm_records(result, "f") if r.kind < Kind.STOPPED]
    assert kinds == [
        (CUT, Kind.SUPPLY_CUT),
        (CUT, Kind.APPLIED),
        (CUT + 2, Kind.SUPPLY_DRY),
        (granted, Kind.GENERAL_LICENCE),
        (granted + 2, Kind.RESTORED),
    ]
    assert firm_rates(result, "f") == [(CUT + 2, 0.0, "re"), (granted + 2 + RAMP, 1.0, "")]


def test_an_approved_licence_lapses_after_licence_valid_days():
    """With licence_valid_days V, a licence approved on day 44 lapses on 44 + V: the channel is
    cut again (goods in transit for the lead time) and a new application is filed that day."""
    valid = 20
    scenario = with_parameters(
        scenario_with([firm("f", elements=["Dy"], china_share=1.0)]), licence_valid_days=valid
    )
    result = simulate(scenario, "base", 0)
    lapse = DECISION + valid
    second = day_of(working_days_after(START + dt.timedelta(days=lapse), 10).isoformat())
    trace = [(r.day, Kind(r.kind), r.a) for r in firm_records(result, "f") if r.day <= second]
    assert trace == [
        (CUT, Kind.SUPPLY_CUT, trace[0][2]),
        (CUT, Kind.APPLIED, 1),
        (CUT + LEAD, Kind.SUPPLY_DRY, 0),
        (DECISION, Kind.APPROVED, 1),
        (DECISION + LEAD, Kind.RESTORED, LEAD),
        (lapse, Kind.LAPSED, 0),
        (lapse, Kind.SUPPLY_CUT, trace[0][2]),
        (lapse, Kind.APPLIED, 2),
        (lapse + LEAD, Kind.SUPPLY_DRY, 0),
        (second, Kind.APPROVED, 2),
    ]
    [lapsed] = firm_records(result, "f", Kind.LAPSED)[:1]
    assert lapsed.channel == 0
    # 30 days of cover outlast the first gaps (goods dry from day 40 to 54, and again)
    assert [day for day, _, _ in firm_rates(result, "f") if day <= second] == []


def test_a_renewal_filed_ahead_and_approved_leaves_no_gap():
    """With renew_ahead_working_days R, the firm applies for its next licence R working days
    before its licence lapses; approved (10 working days) before the lapse, the channel is
    never cut again and the new licence runs from its own approval."""
    valid, ahead = 40, 15
    scenario = with_parameters(
        scenario_with([firm("f", elements=["Dy"], china_share=1.0)]),
        licence_valid_days=valid,
        renew_ahead_working_days=ahead,
    )
    result = simulate(scenario, "base", 0)
    lapse = DECISION + valid
    renew = day_of(working_days_before(START + dt.timedelta(days=lapse), ahead).isoformat())
    decided = day_of(working_days_after(START + dt.timedelta(days=renew), 10).isoformat())
    assert renew < decided < lapse
    trace = [(r.day, Kind(r.kind), r.a) for r in firm_records(result, "f") if r.day <= lapse]
    assert trace[3:] == [
        (DECISION, Kind.APPROVED, 1),
        (DECISION + LEAD, Kind.RESTORED, LEAD),
        (renew, Kind.APPLIED, 2),
        (decided, Kind.APPROVED, 2),
    ]
    assert not firm_records(result, "f", Kind.LAPSED)[:1] or (
        firm_records(result, "f", Kind.LAPSED)[0].day >= decided + valid
    )


def test_a_renewal_denied_lets_the_licence_lapse_and_cuts_the_channel():
    """A renewal decided as a denial (approval 0 from day 60) is re-reviewed; the licence
    lapses meanwhile and the channel is cut on the lapse day, with no second application."""
    valid, ahead = 40, 15
    tighten = event("tighten", "2025-05-30", effects={"approval": {"US": {"civil": 0.0}}})
    scenario = with_parameters(
        scenario_with([firm("f", elements=["Dy"], china_share=1.0)], [tighten]),
        licence_valid_days=valid,
        renew_ahead_working_days=ahead,
    )
    result = simulate(scenario, "base", 0)
    lapse = DECISION + valid
    kinds = [(r.day, Kind(r.kind)) for r in firm_records(result, "f") if DECISION < r.day <= lapse]
    assert (lapse, Kind.LAPSED) in kinds
    assert (lapse, Kind.SUPPLY_CUT) in kinds
    assert [k for _, k in kinds].count(Kind.DENIED) == 1
    assert [k for _, k in kinds].count(Kind.APPLIED) == 1  # the renewal; the rest re-reviews
    assert Kind.REREVIEW in [k for _, k in kinds]


def test_licence_validity_is_drawn_per_approval_around_its_median():
    """With licence_valid_spread > 1 each approval's licence runs its own drawn number of
    days (keyed: the same run twice gives the same lengths), spread around the median."""
    scenario = with_parameters(
        scenario_with([firm(f"f{i}", elements=["Dy"], china_share=1.0) for i in range(40)]),
        licence_valid_days=30,
        licence_valid_spread=2.0,
    )

    def lengths(result):
        out = []
        for i in range(40):
            approved = firm_records(result, f"f{i}", Kind.APPROVED)
            lapsed = firm_records(result, f"f{i}", Kind.LAPSED)
            out.append(lapsed[0].day - approved[0].day)
        return out

    first = lengths(simulate(scenario, "base", 0))
    assert first == lengths(simulate(scenario, "base", 0))
    assert len(set(first)) > 5
    assert min(first) < 30 < max(first)
    assert 20 <= sorted(first)[20] <= 40  # the median near 30


def test_a_general_licence_with_a_share_reaches_a_keyed_part_of_its_group():
    """share 0.5: about half of 60 US buyers are covered, the same ones in every branch run
    with this seed, others under another seed; share 1 covers all, share 0 none."""

    def covered(share, seed=0):
        licence = {"id": "gl-half", "destinations": ["US"], "share": share}
        result = run(
            [firm(f"f{i}", elements=["Dy"], china_share=1.0) for i in range(60)],
            seed=seed,
            approval=approval(civil=0.0),
            general_licences=[licence],
        )
        return {i for i in range(60) if not firm_records(result, f"f{i}", Kind.SUPPLY_CUT)}

    half = covered(0.5)
    assert 18 <= len(half) <= 42
    assert covered(0.5) == half
    assert covered(0.5, seed=1) != half
    assert covered(1.0) == set(range(60))
    assert covered(0.0) == set()


def test_a_denial_is_followed_by_a_rereview_on_chinas_working_days():
    """Denied on day 44 (approval 0), the firm's re-review takes rereview_working_days of
    China's working days (a holiday skipped); approval set to 1 in between makes the second
    decision, the re-review's, an approval."""
    holiday = D("2025-05-20")
    control = event(
        "dy-control",
        "2025-05-01",
        effects={
            "licensed_elements": ["Dy"],
            "review_working_days": 10,
            "rereview_working_days": 7,
        },
    )
    ease = event("ease", "2025-05-19", effects={"approval": {"US": {"civil": 1.0}}})
    scenario = make_scenario(
        [firm("f", elements=["Dy"], china_share=1.0)],
        events=[*key_events(), control, ease],
        approval=approval(civil=0.0),
    )
    scenario = scenario.with_overrides(
        {"calendar": {"name": "with a holiday", "source": "test", "holidays": [holiday]}}
    )
    result = simulate(scenario, "base", 0)
    first = day_of(working_days_after(D("2025-05-01"), 10, frozenset({holiday})).isoformat())
    second = day_of(working_days_after(D("2025-05-15"), 7, frozenset({holiday})).isoformat())
    assert first == DECISION  # the holiday comes after the first review
    records = firm_records(result, "f", Kind.APPLIED, Kind.REREVIEW, Kind.APPROVED, Kind.DENIED)
    summary = [(Kind(r.kind), r.day, r.a) for r in records]
    assert summary == [
        (Kind.APPLIED, CUT, 1),
        (Kind.DENIED, first, 1),
        (Kind.REREVIEW, first, 2),
        (Kind.APPROVED, second, 2),
    ]
    rereview = records[2]
    assert (rereview.b, rereview.x) == (second, 7.0)  # decision day, working days of review
    assert records[3].x == 1.0  # the probability in force on the decision day


def test_defence_share_keeps_the_civil_line():
    """A firm with defence_share 0.3, defence approval 0 and civil approval 1 stops, restarts on
    its civil supply, and ends at rate 0.7, not 0."""
    inventory = 5.0
    result = run(
        [firm("f", elements=["Dy"], china_share=1.0, inventory_days=inventory, defence_share=0.3)],
        approval=approval(civil=1.0, defence=0.0),
    )
    decisions = {
        (r.channel, Kind(r.kind))
        for r in firm_records(result, "f", Kind.APPROVED, Kind.DENIED)
        if r.day == DECISION
    }
    assert decisions == {(0, Kind.APPROVED), (1, Kind.DENIED)}  # direct civil, direct defence
    stop = CUT + LEAD + whole_days(inventory)
    back = DECISION + LEAD  # the civil line arrives again at 0.7
    restart = back + whole_days(3 / 0.7) + RAMP
    stock = min(inventory, 0.7 * (restart - back))
    curtail = restart + whole_days(stock / 0.3)
    assert firm_rates(result, "f") == [(stop, 0.0, "re"), (restart, 1.0, ""), (curtail, 0.7, "re")]


def test_flows_record_the_chinese_supply_the_buyer_receives():
    """Once its civil line is licensed and shipping again (defence_share 0.3, defence denied),
    a buyer of Chinese rare earths receives 0.7 of its normal direct supply each day, whether
    stopped and refilling its stock, at full rate, or curtailed to 0.7: flows record 0.7."""
    # RunResult.flows: "the share of normal direct Chinese supply each buyer receives,
    # restocking included"; README: "the share of normal direct Chinese supply that may ship".
    result = run(
        [
            firm(
                "f",
                elements=["Dy"],
                china_share=1.0,
                inventory_days=5.0,
                defence_share=0.3,
                re_tonnes_per_year=100.0,
            )
        ],
        approval=approval(civil=1.0, defence=0.0),
    )
    rates = firm_rates(result, "f")
    assert [rate for _, rate, _ in rates] == [0.0, 1.0, 0.7]  # stops, restarts, curtailed
    world_flow = {}
    for day, _firm, share in result.flows:
        world_flow[day] = share
    in_force = [None] * result.days
    current = None
    for day in range(result.days):
        current = world_flow.get(day, current)
        in_force[day] = current
    received = 1.0 - 0.3  # the civil line of the direct channel
    days_after = range(DECISION + LEAD, result.days)  # the civil line arrives again
    wrong = {day: in_force[day] for day in days_after if in_force[day] != pytest.approx(received)}
    assert not wrong, (
        f"flows differ from {received} on {len(wrong)} days, e.g. {min(wrong.items())}"
    )


# --- value ----------------------------------------------------------------------------------


def test_value_added_is_counted_once_along_a_chain():
    """A supplier and its customers stopped: the value added lost is the sum over firms of days
    lost x daily output x that firm's value-added share, below the gross output lost."""
    scenario = scenario_with(
        [
            firm("s", sector="electronics-x", elements=["Dy"], china_share=1.0, inventory_days=5.0),
            firm(
                "c",
                value_added_share=0.2,
                daily_output_usd=3_000_000.0,
                suppliers=[{"firm": "s", "buffer_days": 3.0}],
            ),
            firm(
                "a",
                sector="wind-test",
                daily_output_usd=7_000_000.0,
                suppliers=[{"firm": "c", "buffer_days": 2.0}],
            ),
        ],
        approval=approval(civil=0.0),
    )
    scenario = scenario.with_overrides(
        {
            "parameters.value_added_share": {
                "default": {"value": 0.5, "assumption": "test"},
                "electronics": {"value": 0.25, "assumption": "test"},
            }
        }
    )
    result = simulate(scenario, "base", 0)
    days = horizon(scenario)
    stop_s = CUT + LEAD + 5
    lost_days = {"s": days - stop_s, "c": days - (stop_s + 3), "a": days - (stop_s + 5)}
    output = {"s": 1_000_000.0, "c": 3_000_000.0, "a": 7_000_000.0}
    share = {"s": 0.25, "c": 0.2, "a": 0.5}  # sector prefix, firm's own field, default
    gross = sum(lost_days[f] * output[f] for f in output)
    added = sum(lost_days[f] * output[f] * share[f] for f in output)
    firms = tables.firms_frame(result, scenario).set_index("firm_id")
    for f in output:
        expected = lost_days[f] * output[f] * share[f]
        assert firms.loc[f, "value_added_lost_usd"] == pytest.approx(expected, abs=1)
    timeline = tables.timeline_frame(result, scenario)
    summary = tables.summary(result, scenario, timeline)
    assert summary["value_added_lost_usd"] == pytest.approx(added, abs=days)
    assert timeline["cumulative_value_added_lost_usd"].iloc[-1] == pytest.approx(added, abs=days)
    assert summary["output_lost_usd"] == pytest.approx(gross, abs=days)
    assert summary["value_added_lost_usd"] < summary["output_lost_usd"]


# --- paired random numbers ------------------------------------------------------------------


def _uncertain_scenario(branches=None, events=()):
    """Six firms with uncertain decisions (approval 0.5, review spread 2) and one firm, `far`,
    with no Chinese content: the extraterritorial rule cannot reach it."""
    firms = [
        firm(f"m{i}", elements=["Dy", "Tb"], china_share=0.6, china_content_share=0.5)
        for i in range(5)
    ]
    firms.append(firm("far", elements=["Dy"], china_share=0.7, defence_share=0.4))
    control = event(
        "control",
        "2025-05-01",
        effects={
            "licensed_elements": ["Dy", "Tb"],
            "review_working_days": 20,
            "review_spread": 2.0,
        },
    )
    return make_scenario(
        firms,
        events=[*key_events(), control, *events],
        branches=branches,
        approval=approval(civil=0.5, defence=0.5),
        rereview_working_days=15,
    )


LICENSING = (Kind.APPLIED, Kind.REREVIEW, Kind.REVIEW_MOVED, Kind.APPROVED, Kind.DENIED)


def _licensing(result, firm_id):
    return [tuple(r) for r in firm_records(result, firm_id, *LICENSING)]


def test_a_branch_that_cannot_reach_a_firm_leaves_its_draws_and_decisions_unchanged():
    """A branch that brings in the extraterritorial rule and another that only changes a tariff
    leave the decisions of a firm without Chinese content exactly as in the base branch."""
    rule = event(
        "rule",
        "2025-11-03",
        effects={"extraterritorial": True, "extraterritorial_threshold_pct": 0.1},
    )
    tariff = event("tariff", "2025-11-03", kind="tariff", effects={"us_tariff_on_cn_pct": 130})
    base = {"id": "base", "title": "base", "summary": "no change", "source": "test"}
    branches = [
        base,
        {**base, "id": "rule", "add": [rule]},
        {**base, "id": "tariff", "add": [tariff]},
    ]
    scenario = _uncertain_scenario(branches)
    runs = {b: simulate(scenario, b, 3) for b in ("base", "rule", "tariff")}
    assert _licensing(runs["base"], "far")  # it has decisions to compare
    assert _licensing(runs["rule"], "far") == _licensing(runs["base"], "far")
    assert _licensing(runs["tariff"], "far") == _licensing(runs["base"], "far")
    assert firm_rates(runs["rule"], "far") == firm_rates(runs["base"], "far")
    # the rule does reach the firms with Chinese content; the tariff reaches nobody
    assert any(
        _licensing(runs["rule"], f"m{i}") != _licensing(runs["base"], f"m{i}") for i in range(5)
    )
    assert [r for r in runs["tariff"].records if r.kind != Kind.POLICY] == [
        r for r in runs["base"].records if r.kind != Kind.POLICY
    ]
    assert runs["tariff"].rates == runs["base"].rates


def test_same_seed_and_replicate_give_an_identical_run():
    """The same scenario (rebuilt from its data), branch, seed and replicate give an identical
    RunResult: trace, rates, flows, risk intervals, cuts and drawn parameters."""
    scenario = _uncertain_scenario()
    again = type(scenario).model_validate(scenario.model_dump())
    first = simulate(scenario, "base", 11, replicate=2)
    second = simulate(again, "base", 11, replicate=2)
    assert first.records and first.rates
    assert first == second


def test_another_replicate_draws_other_decisions():
    """With uncertain review times and decisions, replicates 1-3 of a seed each differ from
    replicate 0 in their trace; their drawn review times are not all equal."""
    scenario = _uncertain_scenario()
    runs = [simulate(scenario, "base", 11, replicate=r) for r in range(4)]
    reviews = [
        [r.x for r in run.records if r.kind in (Kind.APPLIED, Kind.REREVIEW)] for run in runs
    ]
    for other in runs[1:]:
        assert other.records != runs[0].records
    assert len({tuple(r) for r in reviews}) == len(runs)
    assert runs[0].replicate == 0 and runs[3].replicate == 3
