"""The next-ad answer for one display: its cameras' audience, its plays, the catalog.

This is the domain function behind ``GET /v1/displays/{id}/next-ad``; the route only
checks the token and turns the answer into a response. The random pick is seeded
with the display, the audience bucket and the display's last play, so a player
polling every second gets the same answer (and a 304) until something changes.
The answer carries the play ticket of its decision (``adserver.tickets``), which the
route keeps before it sends a 200.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adserver.audience import DEFAULT_WINDOW_S, audience_from
from adserver.catalog import Catalog
from adserver.impressions import PLAY_LOG_HORIZON_MS, ImpressionStore
from adserver.selection import next_ad
from adserver.tickets import PlayTicket, ticket_id

# Frequency caps look back at most this far (what a display's play log keeps).
PLAY_HISTORY_MS = PLAY_LOG_HORIZON_MS


@dataclass(frozen=True)
class NextAdAnswer:
    body: dict[str, Any]
    etag: str
    ticket: PlayTicket  # to keep before the body (which names it) is sent


def etag_of(body: dict[str, Any]) -> str:
    """A strong ETag over the JSON body, stable across key order."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f'"{digest[:32]}"'


def decide_next_ad(
    display: str,
    store: str,
    observations: Iterable[Mapping[str, Any]],
    impressions: ImpressionStore,
    catalog: Catalog,
    now_ms: int,
    window_s: float = DEFAULT_WINDOW_S,
) -> NextAdAnswer:
    """Choose what ``display`` in ``store`` shows next.

    ``observations`` are the records of the display's cameras; those outside the
    window are ignored, so the caller may pass a little more than the window.
    """
    audience = audience_from(observations, now_ms, window_s)
    log = impressions.play_log(store, display)
    plays = [play for play in log.plays if play.started_at_ms >= now_ms - PLAY_HISTORY_MS]
    last_play_ms = max((play.started_at_ms for play in plays), default=0)
    rng = random.Random(f"{display}|{audience.bucket}|{last_play_ms}|{len(plays)}")
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    decision = next_ad(audience, catalog, catalog.store(store), now, plays, rng)
    ad_id = decision.creative.id
    ticket = PlayTicket(
        id=ticket_id(display, log.version, ad_id, audience.bucket, now_ms),
        store=store,
        display=display,
        ad_id=ad_id,
        bucket=audience.bucket,
        issued_at_ms=now_ms,
    )
    body = {
        "ad_id": ad_id,
        "creative_url": decision.creative.url,
        "duration_s": decision.creative.duration_s,
        "audience": audience.to_dict(),
        "reason": decision.reason,
        "ticket": ticket.id,
    }
    return NextAdAnswer(body=body, etag=etag_of(body), ticket=ticket)
