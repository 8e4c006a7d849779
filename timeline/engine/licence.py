"""A firm's rare-earth supply under China's licensing regime.

Two channels: `direct` (the share bought from China) and `extraterritorial` (the rest, reached
only when the extraterritorial rule is active and the firm's Chinese content is at or above the
threshold). A channel is blocked while some element it needs is licensed and not covered by an
approved licence. When a channel becomes blocked the firm applies; the review ends after the
regime's working days on China's calendar; the outcome is drawn from the firm's own random
stream with the approval probability in force on the decision day. An approval (or the lifting
of a control) restores the channel after the shipping lead time; a denial leads to a new
application at once. When the regime shortens its review time, pending applications are
decided by the shorter deadline (counted from the day they were filed), never before today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from timeline.model.policy import PolicyState, destination_of

if TYPE_CHECKING:
    from timeline.engine.firm import FirmProcess
    from timeline.engine.world import World


@dataclass
class Channel:
    name: str
    share: float
    controlled: frozenset[str] = frozenset()
    covered: frozenset[str] = frozenset()
    requested: frozenset[str] = frozenset()
    flowing: bool = True
    application: int | None = None
    applied_on: dt.date | None = None
    decision: dt.date | None = None
    token: int = 0

    @property
    def missing(self) -> frozenset[str]:
        return self.controlled - self.covered


class RareEarthSupply:
    """The licensing state of one firm's rare-earth input, feeding its `re` stock."""

    def __init__(self, world: World, owner: FirmProcess) -> None:
        self.world = world
        self.owner = owner
        firm = owner.firm
        self.destination = destination_of(firm.country)
        self.channels = [
            Channel("direct", firm.china_share),
            Channel("extraterritorial", 1.0 - firm.china_share),
        ]
        self._applications = 0

    def controlled(self, channel: Channel, policy: PolicyState) -> frozenset[str]:
        firm = self.owner.firm
        used = firm.elements & policy.licensed_elements
        if channel.share <= 0 or not used:
            return frozenset()
        if channel.name == "direct":
            return used
        content_pct = firm.china_content_share * 100
        reached = (
            policy.extraterritorial
            and firm.china_content_share > 0
            and content_pct >= policy.extraterritorial_threshold_pct
        )
        return used if reached else frozenset()

    def on_policy(self, policy: PolicyState) -> None:
        """React to a change of the licensing regime."""
        for channel in self.channels:
            was_blocked = bool(channel.missing)
            channel.controlled = self.controlled(channel, policy)
            if channel.missing and not was_blocked:
                channel.flowing = False
                channel.token += 1
                self._record(
                    "supply-cut",
                    "CN",
                    f"{channel.name} supply cut",
                    f"licence needed for {' '.join(sorted(channel.missing))}",
                )
            elif was_blocked and not channel.missing:
                channel.application = None
                self._release(channel, "controls lifted")
            if channel.missing and channel.application is None:
                self._apply(channel)
        self._feed()

    def on_review_shortened(self, policy: PolicyState) -> None:
        """Bring forward the decision of pending applications to the new, shorter deadline."""
        world = self.world
        today = world.scale.to_date(world.env.now)
        for channel in self.channels:
            if channel.application is None:
                continue
            review = policy.review_working_days
            sooner = max(world.calendar.add_working_days(channel.applied_on, review), today)
            if sooner < channel.decision:
                self._record(
                    "licence-review-shortened",
                    "CN",
                    f"licence review shortened ({channel.name})",
                    f"review now {review} working days; decision due {sooner.isoformat()} "
                    f"instead of {channel.decision.isoformat()}",
                )
                self._schedule(channel, sooner)

    def _apply(self, channel: Channel, again: bool = False) -> None:
        """File an application. A new one after a denial takes at least one working day, so
        a regime with no review time and no approval cannot loop within a day."""
        world = self.world
        today = world.scale.to_date(world.env.now)
        review = max(world.policy.review_working_days, 1 if again else 0)
        decision = world.calendar.add_working_days(today, review)
        channel.applied_on = today
        channel.requested = channel.missing
        self._record(
            "licence-applied",
            "CN",
            f"licence applied for ({channel.name} supply)",
            f"{' '.join(sorted(channel.missing))}; review {review} working days, "
            f"decision due {decision.isoformat()}",
        )
        self._schedule(channel, decision)

    def _schedule(self, channel: Channel, decision: dt.date) -> None:
        """(Re)schedule the decision; an earlier schedule of this channel becomes void."""
        self._applications += 1
        channel.application = self._applications
        channel.decision = decision
        self.world.env.process(self._review(channel, channel.application, decision))

    def _review(self, channel: Channel, application: int, decision):
        world = self.world
        yield world.env.timeout(world.scale.to_day(decision) - world.env.now)
        if channel.application != application:
            return  # void: the control was lifted, or the decision was brought forward
        channel.application = None
        firm = self.owner.firm
        p = world.policy.approval_probability(self.destination, firm.end_use)
        draw = world.rng(firm.id).random()
        terms = f"{self.destination} {firm.end_use}, approval probability {p:g}"
        if draw < p:
            channel.covered = channel.covered | channel.requested
            self._record("licence-approved", "CN", f"licence approved ({channel.name})", terms)
            if channel.missing:  # elements controlled after filing need their own licence
                self._apply(channel, again=True)
            else:
                self._release(channel, "licence approved")
        else:
            self._record("licence-denied", "CN", f"licence denied ({channel.name})", terms)
            if channel.missing:
                self._apply(channel, again=True)

    def _release(self, channel: Channel, why: str) -> None:
        channel.token += 1
        self.world.env.process(self._arrive(channel, channel.token, why))

    def _arrive(self, channel: Channel, token: int, why: str):
        lead = self.owner.firm.lead_time_days
        yield self.world.env.timeout(lead)
        if channel.token != token or channel.missing:
            return
        channel.flowing = True
        self._record(
            "supply-restored",
            "CN",
            f"{channel.name} supply restored",
            f"{why}; shipments arrive after {lead} days' lead time",
        )
        self._feed()

    def _feed(self) -> None:
        available = sum(c.share for c in self.channels if c.flowing)
        blocked = sorted({e for c in self.channels for e in c.missing})
        cause = (
            f"licence pending: {' '.join(blocked)}" if blocked else "awaiting licensed shipments"
        )
        self.owner.set_available("re", min(1.0, available), cause)

    def _record(self, event_id: str, actor: str, title: str, detail: str) -> None:
        self.world.record(event_id, "licence", actor, self.owner.firm.id, title, detail)
