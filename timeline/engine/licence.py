"""China's licence office and each firm's rare-earth supply under it.

A firm's rare-earth input has up to four channels: `direct` (its purchases from China) and
`other` (the rest, which the extraterritorial rule reaches when active and the firm's Chinese
content is at or above the threshold), each split into a civil and a defence line by the firm's
defence share. A channel is blocked while an element it needs is licensed and neither covered
by an approved licence nor by a general licence.

The office works like a server with drawn service times. A blocked channel applies; the review
takes China's working days drawn from the regime's lognormal (median `review_working_days`,
90th percentile `review_working_days * review_spread`) by the quantile of the application's own
keyed uniform number; the decision approves with the probability for the destination and end
use; a denial is followed by a re-review (median `rereview_working_days`). When the regime's pace
changes, every pending application is re-dated at the new pace with its same number (never
before today). Why not a queue with a capacity: the 2025 record gives review times and shares
approved, not the office's staffing; a drawn review time reproduces both with two parameters.

Goods already shipped when a channel is blocked still arrive, for the firm's lead time. After an
approval (or a lifted control, or a general licence) goods arrive after a lead time drawn per
restoration: by air with the scenario's air-freight share, else by sea (the firm's lead time).
Magnets bought from a magnet maker in the table are part of the `other` share and flow at that
maker's output rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TYPE_CHECKING, Protocol

from timeline.engine.streams import Streams
from timeline.engine.trace import Kind, Recorder
from timeline.model.policy import RARE_EARTHS, PolicyState, destination_of
from timeline.model.scenario import Firm

if TYPE_CHECKING:
    from timeline.engine.params import FirmParams

_NORMAL = NormalDist()  # the standard normal
_Z90 = _NORMAL.inv_cdf(0.9)
ELEMENT_BITS = {symbol: 1 << i for i, symbol in enumerate(sorted(RARE_EARTHS))}
# in this order (the direct channels first): `Supply.avail` and `Supply.china_flow` rely on it
CHANNELS = (("direct", "civil"), ("direct", "defence"), ("other", "civil"), ("other", "defence"))


def element_mask(elements: frozenset[str]) -> int:
    return sum(ELEMENT_BITS[e] for e in elements)


def review_days(median: float, spread: float, u: float) -> int:
    """Working days of a review: the u-quantile of a lognormal with this median and p90."""
    if median <= 0:
        return 0
    if spread <= 1.0:
        return round(median)
    sigma = math.log(spread) / _Z90
    return max(0, round(median * math.exp(sigma * _NORMAL.inv_cdf(u))))


class Office(Protocol):
    """What a supply needs of the world."""

    now: int
    policy: PolicyState
    streams: Streams
    record: Recorder
    air_share: float
    air_days: int
    pipeline: int
    valid_days: int
    valid_spread: float
    renew_ahead: int

    def working_days_after(self, day: int, n: int) -> int: ...
    def working_days_before(self, day: int, n: int) -> int: ...
    def at(self, day: int, kind: int, supply: Supply, channel: int) -> None: ...
    def feed(self, supply: Supply) -> None: ...
    def filed(self, supply: Supply, channel: Channel) -> int: ...
    def approved(self, filing: int) -> None: ...


@dataclass(slots=True)
class Channel:
    """The licensing state of one channel. Every pending timer is a field."""

    index: int
    route: str
    end_use: str
    controlled: frozenset[str] = frozenset()
    covered: frozenset[str] = frozenset()
    requested: frozenset[str] = frozenset()
    general: bool = False
    flowing: bool = True
    applications: int = 0
    pending: bool = False
    rereview: bool = False
    applied_day: int = 0
    due_day: int | None = None
    dry_day: int | None = None
    arrive_day: int | None = None
    restores: int = 0
    lead_days: int = 0
    ships_until: int | None = None  # export declarations made before a cut still leave
    filing: int = -1  # index of the current filing in the run's filings
    valid_until: int | None = None  # an approved licence lapses on this day
    renew_day: int | None = None  # the firm applies for the next licence on this day

    @property
    def missing(self) -> frozenset[str]:
        return frozenset() if self.general else self.controlled - self.covered

    @property
    def blocked(self) -> bool:
        """Whether an element is `missing` (without building the set)."""
        return not self.general and not self.controlled <= self.covered


@dataclass(slots=True)
class Supply:
    """The rare-earth supply of one firm: channels, and its magnet suppliers' rates."""

    firm_index: int
    firm: Firm
    destination: str
    china: float
    rest: float
    defence: float
    lead: int
    magnets: dict[int, tuple[float, float]] = field(default_factory=dict)
    # magnet supplier firm index -> (share of the firm's magnets, that supplier's output rate)
    channels: list[Channel] = field(default_factory=list)
    content: float = 0.0  # china_content_share of this run (the extraterritorial rule's test)

    @classmethod
    def of(cls, index: int, firm: Firm, magnets: dict[int, float], fp: FirmParams) -> Supply:
        """A firm's supply with its numbers of this run (`fp`: its drawn shares and lead)."""
        supply = cls(
            index,
            firm,
            destination_of(firm.country),
            fp.china,
            max(0.0, 1.0 - fp.china - sum(magnets.values())),
            fp.defence,
            fp.lead,
            {k: (share, 1.0) for k, share in magnets.items()},
            content=fp.content,
        )
        supply.channels = [Channel(i, route, use) for i, (route, use) in enumerate(CHANNELS)]
        return supply

    def share(self, channel: Channel) -> float:
        line = self.defence if channel.end_use == "defence" else 1.0 - self.defence
        if channel.route == "direct":
            return line * self.china
        return line * (self.rest + sum(s for s, _ in self.magnets.values()))

    def avail(self) -> float:
        """The share of normal rare-earth supply arriving now: each flowing channel's share,
        summed in channel order (`CHANNELS`: direct civil, direct defence, other civil, other
        defence)."""
        magnets = 0.0
        for share, rate in self.magnets.values():
            magnets += share * rate
        other = self.rest + magnets
        defence, china = self.defence, self.china
        civil = 1.0 - defence
        direct_civil, direct_defence, other_civil, other_defence = self.channels
        total = 0.0
        if direct_civil.flowing:
            total += civil * china
        if direct_defence.flowing:
            total += defence * china
        if other_civil.flowing:
            total += civil * other
        if other_defence.flowing:
            total += defence * other
        return min(1.0, total)

    def china_flow(self) -> float:
        """The share of normal direct Chinese purchases that may ship now (licensed or not
        controlled): what China's customs count as exports, for flows.csv."""
        china = self.china
        if china <= 0:
            return 0.0
        total = 0.0  # the sum of share(c) over the direct channels that ship (0 and 1)
        channels = self.channels
        for i in (0, 1):
            c = channels[i]
            if c.ships_until is not None or c.general or c.controlled <= c.covered:
                total += (self.defence if c.end_use == "defence" else 1.0 - self.defence) * china
        return total / china

    # --- the regime changes -------------------------------------------------------------------
    def controlled(self, channel: Channel, policy: PolicyState) -> frozenset[str]:
        return self._controlled(channel, policy, self.firm.elements & policy.licensed_elements)

    def _controlled(
        self, channel: Channel, policy: PolicyState, used: frozenset[str]
    ) -> frozenset[str]:
        """`controlled`, with the licensed elements the firm uses given."""
        if not used or self.share(channel) <= 0:
            return frozenset()
        if channel.route == "direct":
            return used
        reached = (
            policy.extraterritorial
            and self.content > 0
            and self.content * 100 >= policy.extraterritorial_threshold_pct
        )
        return used if reached else frozenset()

    def on_policy(self, office: Office) -> None:
        """React to a change of what is licensed or covered."""
        policy = office.policy
        used = self.firm.elements & policy.licensed_elements
        for channel in self.channels:
            was = channel.blocked
            channel.controlled = self._controlled(channel, policy, used)
            if not channel.controlled:  # nothing to license: no renewal either
                channel.renew_day = None
                if channel.pending and not was:
                    channel.pending = False
                    channel.due_day = None
            was_general = channel.general
            channel.general = bool(channel.controlled and policy.general_licences) and any(
                g.covers(self.destination, self.firm.sector, self.firm.id, channel.end_use)
                and (
                    g.share >= 1.0
                    or office.streams.uniform("general", g.id, self.firm.id) < g.share
                )
                for g in policy.general_licences
            )
            blocked = channel.blocked  # neither a cut nor a release below changes it
            if blocked and not was:
                self._cut(office, channel)
            elif was and not blocked:
                channel.pending = False
                channel.due_day = None
                why = (
                    Kind.GENERAL_LICENCE
                    if channel.general and not was_general
                    else (Kind.CONTROLS_LIFTED)
                )
                office.record(office.now, why, self.firm_index, channel.index)
                self._release(office, channel)
            if blocked and not channel.pending:
                self._apply(office, channel)
        office.feed(self)

    def on_pace(self, office: Office) -> None:
        """Re-date pending applications at the regime's new pace (never before today)."""
        for channel in self.channels:
            if not channel.pending or channel.due_day is None:
                continue
            due = max(office.now, self._due(office, channel))
            if due != channel.due_day:
                office.record(
                    office.now,
                    Kind.REVIEW_MOVED,
                    self.firm_index,
                    channel.index,
                    a=channel.applications,
                    b=due,
                    x=float(channel.due_day),
                )
                channel.due_day = due
                office.at(due, DECIDE, self, channel.index)

    # --- applications -------------------------------------------------------------------------
    def _due(self, office: Office, channel: Channel) -> int:
        return self._review(office, channel)[0]

    def _review(self, office: Office, channel: Channel) -> tuple[int, int]:
        """The decision day of the channel's application and its working days of review."""
        policy = office.policy
        median = policy.rereview_working_days if channel.rereview else policy.review_working_days
        u = office.streams.uniform("review", self.firm.id, channel.index, channel.applications)
        days = review_days(median, policy.review_spread, u)
        if channel.rereview:
            days = max(days, 1)  # no same-day loop when review is 0 and approval 0
        return office.working_days_after(channel.applied_day, days), days

    def file(self, office: Office, channel: Channel, since: int | None = None) -> None:
        """File an application now, or take one filed on day `since` as pending (its decision
        falls when its drawn review time from that day is over, never before today)."""
        self._apply(office, channel)
        if since is not None:
            channel.applied_day = since
            due = max(office.now, self._due(office, channel))
            if due != channel.due_day:
                channel.due_day = due
                office.at(due, DECIDE, self, channel.index)

    def _apply(self, office: Office, channel: Channel, rereview: bool = False) -> None:
        channel.applications += 1
        channel.pending = True
        channel.rereview = rereview
        channel.applied_day = office.now
        channel.requested = channel.missing or channel.controlled  # none missing: a renewal
        if not rereview and channel.route == "direct":
            channel.filing = office.filed(self, channel)
        channel.due_day, days = self._review(office, channel)
        office.record(
            office.now,
            Kind.REREVIEW if rereview else Kind.APPLIED,
            self.firm_index,
            channel.index,
            a=channel.applications,
            b=channel.due_day,
            x=float(days),
        )
        office.at(channel.due_day, DECIDE, self, channel.index)

    def decide(self, office: Office, channel: Channel) -> None:
        if not channel.pending or channel.due_day != office.now:
            return  # void: lifted, covered, or re-dated
        channel.pending = False
        channel.due_day = None
        p = office.policy.approval_probability(self.destination, channel.end_use)
        u = office.streams.uniform("approve", self.firm.id, channel.index, channel.applications)
        if u < p:
            channel.covered = channel.covered | channel.requested
            if channel.filing >= 0:
                office.approved(channel.filing)
                channel.filing = -1
            if office.valid_days > 0:
                self.hold(office, channel, office.now + self._valid_days(office, channel))
            office.record(
                office.now,
                Kind.APPROVED,
                self.firm_index,
                channel.index,
                channel.applications,
                x=p,
            )
            if channel.blocked:  # elements controlled after filing need their own licence
                self._apply(office, channel, rereview=True)
            else:
                self._release(office, channel)
        else:
            office.record(
                office.now,
                Kind.DENIED,
                self.firm_index,
                channel.index,
                channel.applications,
                x=p,
            )
            self._apply(office, channel, rereview=True)
        office.feed(self)

    # --- goods --------------------------------------------------------------------------------
    def _cut(self, office: Office, channel: Channel) -> None:
        channel.arrive_day = None
        if channel.flowing and channel.dry_day is None:
            pipeline = office.pipeline
            if pipeline > 0:
                channel.ships_until = office.now + pipeline
                office.at(channel.ships_until, SHIPPED, self, channel.index)
            channel.dry_day = office.now + pipeline + self.lead
            office.record(
                office.now,
                Kind.SUPPLY_CUT,
                self.firm_index,
                channel.index,
                a=element_mask(channel.missing),
                b=channel.dry_day,
            )
            office.at(channel.dry_day, DRY, self, channel.index)

    def _valid_days(self, office: Office, channel: Channel) -> int:
        """How long the licence just approved runs: licences are per cargo, so their
        lengths vary; the u-quantile of a lognormal (median `valid_days`, p90 x spread)."""
        u = office.streams.uniform("valid", self.firm.id, channel.index, channel.applications)
        return max(1, review_days(office.valid_days, office.valid_spread, u))

    def hold(self, office: Office, channel: Channel, until: int) -> None:
        """The channel holds a licence that lapses on day `until`; with renewals ahead, the
        firm applies for the next one `renew_ahead` working days before."""
        channel.valid_until = until
        office.at(until, EXPIRE, self, channel.index)
        channel.renew_day = None
        if office.renew_ahead > 0:
            start = office.working_days_before(until, office.renew_ahead)
            channel.renew_day = max(office.now + 1, start)
            if channel.renew_day < until:
                office.at(channel.renew_day, RENEW, self, channel.index)
            else:
                channel.renew_day = None

    def renew(self, office: Office, channel: Channel) -> None:
        """Apply for the next licence while the current one still runs."""
        if channel.renew_day != office.now:
            return
        channel.renew_day = None
        if channel.pending or channel.valid_until is None or not channel.controlled:
            return
        self._apply(office, channel)

    def expire(self, office: Office, channel: Channel) -> None:
        """An approved licence lapses: the elements need a new licence (a new application)."""
        if channel.valid_until != office.now:
            return
        channel.valid_until = None
        channel.renew_day = None
        was = channel.blocked
        channel.covered = frozenset()
        if channel.blocked and not was:
            office.record(office.now, Kind.LAPSED, self.firm_index, channel.index)
            self._cut(office, channel)
            if not channel.pending:
                self._apply(office, channel)
        office.feed(self)

    def shipped(self, office: Office, channel: Channel) -> None:
        """The last export declared before the cut has left China."""
        if channel.ships_until != office.now:
            return
        channel.ships_until = None
        office.feed(self)

    def dry(self, office: Office, channel: Channel) -> None:
        if channel.dry_day != office.now:
            return
        channel.dry_day = None
        channel.flowing = False
        office.record(office.now, Kind.SUPPLY_DRY, self.firm_index, channel.index)
        office.feed(self)

    def _release(self, office: Office, channel: Channel) -> None:
        channel.ships_until = None
        if channel.flowing:  # goods still in transit: they keep coming
            channel.dry_day = None
            return
        channel.restores += 1
        u = office.streams.uniform("lead", self.firm.id, channel.index, channel.restores)
        lead = min(self.lead, office.air_days) if u < office.air_share else self.lead
        channel.lead_days = lead
        channel.arrive_day = office.now + lead
        office.at(channel.arrive_day, ARRIVE, self, channel.index)

    def arrive(self, office: Office, channel: Channel) -> None:
        if channel.arrive_day != office.now or channel.blocked:
            return
        channel.arrive_day = None
        channel.flowing = True
        office.record(
            office.now,
            Kind.RESTORED,
            self.firm_index,
            channel.index,
            a=channel.lead_days,
        )
        office.feed(self)


DECIDE, DRY, ARRIVE, SHIPPED, EXPIRE, RENEW = 1, 2, 3, 4, 5, 6
