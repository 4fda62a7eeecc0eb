"""Play tickets: what lets the server vouch for a play a screen reports.

Every ``next-ad`` answer carries a ticket, an opaque id the server stores (in the
impressions table, beside the display's plays) with the display, the ad, the audience
bucket it chose and when it decided. An impression must present an unused ticket of
its display: the ad and bucket come from the ticket, the play must start after the
decision and last no longer than the creative, and a display's plays cannot overlap. So
a display token copied out of a shop's screen buys at most what the screen could have
played itself, in the buckets the cameras saw.

A ticket's id is a digest of the decision it stands for (display, play log version, ad,
bucket, and the hour): polls that get the same decision get the same ticket, so the
answer's ETag still turns repeated polls into 304s, and each recorded play (which
changes the play log's version) makes the next answer carry a new ticket.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from typing import Any

# A ticket is redeemable this long after the decision: a player that went offline
# reports the plays it made with tickets while it was online, within a day.
TICKET_VALIDITY_MS = 24 * 3600 * 1000
# The id also changes every hour, so a ticket handed out has at least 23 hours left
# even when nothing else changed (nobody in front of the display overnight).
TICKET_EPOCH_MS = 3600 * 1000
# A player's clock may be this far from the server's (its plays' start times are its own).
CLOCK_SKEW_MS = 5 * 60 * 1000
# A play may run this much past its creative (timers fire late); it is counted as the
# creative's length.
DURATION_TOLERANCE_S = 1.0
# Two plays of one display may overlap this much (rounding, a timer's jitter), no more.
OVERLAP_TOLERANCE_MS = 1000
TICKET_ID = re.compile(r"^[0-9a-f]{32}$")
# Ticket items share the impressions table; their sort keys start with a letter, so a
# store's time-range query (13-digit keys) never meets one.
TICKET_PREFIX = "ticket#"


@dataclass(frozen=True)
class PlayTicket:
    """One decision the server made for a display, and the play reported with it (if any)."""

    id: str
    store: str
    display: str
    ad_id: str
    bucket: str
    issued_at_ms: int
    # Set once a play was recorded with it: the request's digest and the answer given.
    request_digest: str | None = None
    answer: str | None = None

    @property
    def sort_key(self) -> str:
        return f"{TICKET_PREFIX}{self.display}#{self.id}"

    @property
    def used(self) -> bool:
        return self.request_digest is not None

    def expires_at_ms(self) -> int:
        return self.issued_at_ms + TICKET_VALIDITY_MS

    def redeemed(self, request_digest: str, answer: str) -> PlayTicket:
        return replace(self, request_digest=request_digest, answer=answer)

    def to_item(self) -> dict[str, Any]:
        """The ticket as an impressions-table item (kept two days past its validity)."""
        item: dict[str, Any] = {
            "store": self.store,
            "sort_key": self.sort_key,
            "ticket": self.id,
            "display": self.display,
            "ad_id": self.ad_id,
            "bucket": self.bucket,
            "issued_at_ms": self.issued_at_ms,
            "expires_at": self.expires_at_ms() // 1000 + 2 * 86_400,
        }
        if self.request_digest is not None:
            item["request_digest"] = self.request_digest
            item["answer"] = self.answer
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PlayTicket:
        return cls(
            id=str(item["ticket"]),
            store=str(item["store"]),
            display=str(item["display"]),
            ad_id=str(item["ad_id"]),
            bucket=str(item["bucket"]),
            issued_at_ms=int(item["issued_at_ms"]),
            request_digest=str(item["request_digest"]) if "request_digest" in item else None,
            answer=str(item["answer"]) if "answer" in item else None,
        )


def ticket_id(display: str, play_log_version: int, ad_id: str, bucket: str, now_ms: int) -> str:
    """The id of the ticket for this decision: the same while nothing it depends on changes."""
    epoch = now_ms // TICKET_EPOCH_MS
    material = f"{display}|{play_log_version}|{ad_id}|{bucket}|{epoch}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def request_digest(fields: dict[str, Any]) -> str:
    """A digest of an impression request's fields, to tell a replay from a changed body."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
