"""Ad selection: the audience, the catalog and the display's recent plays -> the next ad.

A campaign is eligible when it targets the audience bucket, its schedule is
open in the store's time zone and the display has not reached its frequency
cap. Creatives aimed at children are dropped unless the store turned them on.
Among what is left the choice is weighted and random, with the random source
injected so a caller can make it repeatable. When nothing is eligible, or
nobody is in front of the display, the default creative plays. Every decision
carries a reason an operator can read.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adserver.audience import Audience
from adserver.catalog import NO_AUDIENCE, Campaign, Catalog, Creative, StoreSettings


@dataclass(frozen=True)
class Play:
    """One past play of a creative on this display (from its impressions)."""

    ad_id: str
    started_at_ms: int
    duration_ms: int = 0  # 0 for plays logged before durations were (no overlap check)

    @property
    def ended_at_ms(self) -> int:
        return self.started_at_ms + self.duration_ms


@dataclass(frozen=True)
class Decision:
    """What a display shows next, and why."""

    creative: Creative
    campaign_id: str | None  # None for the default creative
    audience: Audience
    reason: str


def _plays_within(campaign: Campaign, plays: Sequence[Play], now_ms: int) -> int:
    if campaign.frequency_cap is None:
        return 0
    since_ms = now_ms - campaign.frequency_cap.per_minutes * 60_000
    ids = {creative.id for creative in campaign.creatives}
    return sum(1 for play in plays if play.ad_id in ids and play.started_at_ms >= since_ms)


def next_ad(
    audience: Audience,
    catalog: Catalog,
    store: StoreSettings,
    now: datetime,
    plays: Sequence[Play],
    rng: random.Random,
) -> Decision:
    """Choose the next creative for one display.

    ``now`` must be timezone-aware; ``plays`` are this display's recent plays.
    """
    default = catalog.default_creative
    if audience.bucket == NO_AUDIENCE:
        return Decision(default, None, audience, "default: nobody in front of the display")

    now_ms = int(now.timestamp() * 1000)
    targeted = [c for c in catalog.campaigns if audience.bucket in c.target.buckets()]
    skipped = {"out of schedule": 0, "frequency cap reached": 0, "aimed at children": 0}
    choices: list[tuple[Campaign, Creative, float]] = []
    for campaign in targeted:
        if not campaign.schedule.is_open(now, store.time_zone):
            skipped["out of schedule"] += 1
            continue
        cap = campaign.frequency_cap
        if cap is not None and _plays_within(campaign, plays, now_ms) >= cap.max_plays:
            skipped["frequency cap reached"] += 1
            continue
        creatives = [
            c for c in campaign.creatives if store.children_content or not c.audience_children
        ]
        if not creatives:
            skipped["aimed at children"] += 1
            continue
        # The campaign weight is its share; its creatives split that share by their own weights.
        creative_total = sum(c.weight for c in creatives)
        choices += [(campaign, c, campaign.weight * c.weight / creative_total) for c in creatives]

    if not choices:
        why = ", ".join(f"{count} {what}" for what, count in skipped.items() if count)
        detail = f" ({why})" if why else ""
        reason = f"default: no eligible campaign for {audience.bucket}{detail}"
        return Decision(default, None, audience, reason)

    campaign, creative, _ = rng.choices(choices, weights=[w for _, _, w in choices])[0]
    campaigns = len({c.id for c, _, _ in choices})
    reason = (
        f"targeted {audience.bucket}: campaign {campaign.id}, "
        f"weighted pick among {campaigns} eligible campaign{'s' if campaigns > 1 else ''}"
    )
    return Decision(creative, campaign.id, audience, reason)
