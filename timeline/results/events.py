"""Render a run's typed trace as the prose rows of events.csv (only when a table is written)."""

from __future__ import annotations

from timeline.engine.licence import CHANNELS, ELEMENT_BITS
from timeline.engine.trace import Kind, Record
from timeline.engine.world import RunResult
from timeline.model.policy import destination_of
from timeline.model.scenario import Scenario

EVENT_COLUMNS = ["date", "seq", "event_id", "kind", "actor", "subject", "title", "detail", "source"]
_NAMES = {bit: symbol for symbol, bit in ELEMENT_BITS.items()}
RECORD_IDS = {
    Kind.SUPPLY_CUT: "supply-cut",
    Kind.SUPPLY_DRY: "supply-dry",
    Kind.APPLIED: "licence-applied",
    Kind.REREVIEW: "licence-rereview",
    Kind.REVIEW_MOVED: "licence-review-moved",
    Kind.APPROVED: "licence-approved",
    Kind.DENIED: "licence-denied",
    Kind.GENERAL_LICENCE: "general-licence",
    Kind.CONTROLS_LIFTED: "controls-lifted",
    Kind.RESTORED: "supply-restored",
    Kind.STOPPED: "firm-stopped",
    Kind.CURTAILED: "firm-curtailed",
    Kind.RESTARTED: "firm-restarted",
    Kind.FULL_OUTPUT: "firm-full-output",
    Kind.LAPSED: "licence-lapsed",
}


_FIRM_KINDS = frozenset({Kind.STOPPED, Kind.CURTAILED, Kind.RESTARTED, Kind.FULL_OUTPUT})


def elements(mask: int) -> str:
    return " ".join(sorted(symbol for bit, symbol in _NAMES.items() if mask & bit))


def _channel(index: int) -> str:
    route, use = CHANNELS[index]
    return f"{route} {use}"


def rows(result: RunResult, scenario: Scenario) -> list[tuple]:
    """(day, seq, event_id, kind, actor, subject, title, detail, source), in record order."""
    firms = scenario.firms
    out: list[tuple] = []
    state = result.policy_changes[0][1]
    for seq, r in enumerate(result.records):
        if r.kind == Kind.POLICY:
            item = result.schedule[r.a]
            event = item.event
            after = state.apply(event.effects)
            old, new = state.flat(), after.flat()
            changes = [f"{k} {old[k]} -> {new[k]}" for k in new if old[k] != new[k]]
            state = after
            slip = round(event.slip_days)
            slipped = f"slipped {slip} days past its stated date" if slip else ""
            parts = [event.outcome.strip(), ", ".join(changes), slipped]
            detail = "; ".join(p for p in parts if p)
            out.append(
                (
                    r.day,
                    seq,
                    event.id,
                    event.kind,
                    event.actor,
                    "",
                    event.title,
                    detail,
                    event.source,
                )
            )
            continue
        firm = firms[r.firm]
        title, detail = _describe(r, result, scenario)
        kind = "firm" if r.kind in _FIRM_KINDS else "licence"
        actor = firm.country if kind == "firm" else "CN"
        out.append((r.day, seq, RECORD_IDS[Kind(r.kind)], kind, actor, firm.id, title, detail, ""))
    return out


def cause_text(cause: int, scenario: Scenario) -> str:
    if cause < 0:
        return "rare-earth supply short"
    return f"supplier {scenario.firms[cause].id} short"


def _describe(r: Record, result: RunResult, scenario: Scenario) -> tuple[str, str]:
    firm = scenario.firms[r.firm]
    date = result.date
    kind = Kind(r.kind)
    if kind in (Kind.STOPPED, Kind.CURTAILED, Kind.RESTARTED, Kind.FULL_OUTPUT):
        if kind == Kind.STOPPED:
            return f"{firm.name} stops", cause_text(r.a, scenario)
        if kind == Kind.CURTAILED:
            return (
                f"{firm.name} runs at {r.x:.0%}",
                f"{cause_text(r.a, scenario)}; output limited to what arrives",
            )
        if kind == Kind.RESTARTED:
            return (
                f"{firm.name} restarts",
                f"at {r.x:.0%} of output after {firm.ramp_days} days' ramp-up; stopped {r.a} days",
            )
        return f"{firm.name} back to full output", "every input flows or holds stock"
    channel = _channel(r.channel)
    dest = destination_of(firm.country)
    if kind == Kind.SUPPLY_CUT:
        return (
            f"{channel} supply needs a licence",
            f"licence needed for {elements(r.a)}; goods in transit arrive until "
            f"{date(r.b).isoformat()}",
        )
    if kind == Kind.SUPPLY_DRY:
        return f"{channel} supply cut", "goods in transit have arrived; nothing more ships"
    if kind in (Kind.APPLIED, Kind.REREVIEW):
        what = "re-review after a denial" if kind == Kind.REREVIEW else "licence applied for"
        return (
            f"{what} ({channel})",
            f"application {r.a}; review {r.x:.0f} working days, decision due "
            f"{date(r.b).isoformat()}",
        )
    if kind == Kind.REVIEW_MOVED:
        return (
            f"licence review re-dated ({channel})",
            f"application {r.a}: decision due {date(r.b).isoformat()} instead of "
            f"{date(int(r.x)).isoformat()} (the office's pace changed)",
        )
    if kind in (Kind.APPROVED, Kind.DENIED):
        verb = "approved" if kind == Kind.APPROVED else "denied"
        return (
            f"licence {verb} ({channel})",
            f"application {r.a}; {dest} {CHANNELS[r.channel][1]}, approval probability {r.x:g}",
        )
    if kind == Kind.GENERAL_LICENCE:
        return f"general licence covers {channel} supply", "no review needed while it lasts"
    if kind == Kind.LAPSED:
        return f"licence lapsed ({channel})", "a new licence is needed; a new application follows"
    if kind == Kind.CONTROLS_LIFTED:
        return f"licence no longer needed ({channel})", "the control was lifted"
    return f"{channel} supply restored", f"licensed shipments arrive after {r.a} days"
