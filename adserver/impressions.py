"""Proof of play: what a display showed, when and for how long.

The player posts one impression after each creative it showed. The record is
validated against the catalog and stored per store, sorted by start time, so the
store report reads a range of hours with one query.

A display's frequency caps need only that display's latest plays, and ``next-ad``
asks for them on every poll; reading them out of the store's whole history made
each poll slower as proof of play grew. So each display also has one play log
item holding its newest plays (at most ``PLAY_LOG_LIMIT``, none older than
``PLAY_LOG_HORIZON_MS``), kept up to date as impressions arrive: a poll costs one
GetItem however many impressions the store holds.

Given the hourly rollups (``adserver.rollups``), a store adds each new impression to them
in the same write (a DynamoDB transaction), so reports read impressions from the rollups
and a re-sent impression is not counted twice.

A display reports a play with the ticket its ``next-ad`` answer carried
(``adserver.tickets``): ``record_play`` takes the ad and bucket from the ticket, bounds the
play by the creative's length and the decision's time, and the store records it only if
the ticket is unused and the play overlaps none of the display's logged plays, in one
transaction with the ticket, the play log and the rollups.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Annotated, Any, Protocol

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adserver.catalog import Catalog
from adserver.rollups import (
    DynamoRollups,
    InMemoryRollups,
    RollupIncrement,
    WritesRefused,
    counted_put,
    failed_conditions,
    impression_increment,
)
from adserver.selection import Play
from adserver.tickets import (
    CLOCK_SKEW_MS,
    DURATION_TOLERANCE_S,
    OVERLAP_TOLERANCE_MS,
    TICKET_ID,
    TICKET_PREFIX,
    PlayTicket,
    request_digest,
)
from lambdas.dynamodb_pages import all_items

# A player that was offline may report late, but not from another month.
MAX_REPORT_DELAY_MS = 7 * 24 * 3600 * 1000
MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000
RETENTION_S = 90 * 24 * 3600
END_OF_KEYS_MS = 10**13  # year 2286; keeps the 13-digit sort keys in order
# Frequency caps look back at most this far; longer caps are clipped to it.
PLAY_LOG_HORIZON_MS = 24 * 3600 * 1000
# A display's play log keeps at most this many plays (2.2 hours of 8-second creatives), so
# the item stays a few tens of KB; a cap whose window holds more plays counts only these.
PLAY_LOG_LIMIT = 1000
# The play log's sort key; impression sort keys start with a digit, so a store's time-range
# query never meets a play log.
PLAY_LOG_PREFIX = "plays#"
# How many issued tickets a DynamoDB store remembers, to skip writing them again.
ISSUED_REMEMBERED = 4096


class ImpressionRejected(ValueError):
    """An impression we will not record; ``reason`` goes back to the player with ``status``
    (400: the request is wrong; 409: it conflicts with what is recorded)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TicketAlreadyUsed(RuntimeError):
    """Another request recorded a play with this ticket first (a store's ``redeem``)."""


class ImpressionRequest(BaseModel):
    """The body of ``POST /v1/displays/{id}/impressions``."""

    # Strict: numbers are JSON numbers, not strings of digits; NaN and infinity are refused.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    ticket: Annotated[
        str,
        Field(
            pattern=TICKET_ID.pattern,
            description="The ticket of the next-ad answer this play showed; used once.",
        ),
    ]
    ad_id: Annotated[
        str, Field(min_length=1, max_length=64, description="The creative played: the ticket's.")
    ]
    started_at_ms: Annotated[int, Field(ge=0, description="When it started (epoch ms).")]
    duration_s: Annotated[
        float,
        Field(ge=0, le=3600, description="How long it played; at most the creative's length."),
    ]
    # Players before tickets sent the bucket; it is accepted and ignored (the ticket's counts).
    bucket: Annotated[
        str | None,
        Field(max_length=64, description="Ignored: the bucket is the one the ticket was for."),
    ] = None


@dataclass(frozen=True)
class Impression:
    """One play of one creative on one display."""

    store: str
    display: str
    ad_id: str
    campaign_id: str | None
    bucket: str
    started_at_ms: int
    duration_s: float
    recorded_at_ms: int
    # Who was in front of the display while it played (adserver.play_audience); counts only.
    audience_people: int = 0
    audience_watchers: int = 0
    # The play ticket it was reported with (None: written without one, e.g. a backfill).
    ticket: str | None = None

    @property
    def ended_at_ms(self) -> int:
        return self.started_at_ms + round(self.duration_s * 1000)

    def play(self) -> Play:
        """The play as the display's play log keeps it."""
        return Play(self.ad_id, self.started_at_ms, round(self.duration_s * 1000))

    @property
    def sort_key(self) -> str:
        # Zero-padded so string order is time order; display and ad make it unique,
        # so a player re-sending the same impression overwrites instead of double counting.
        return f"{self.started_at_ms:013d}#{self.display}#{self.ad_id}"

    def rollup_increment(self) -> RollupIncrement:
        return impression_increment(
            self.store,
            self.display,
            self.ad_id,
            self.bucket,
            self.started_at_ms,
            self.duration_s,
            self.audience_people,
            self.audience_watchers,
        )


def parsed_request(body: Mapping[str, Any] | None) -> ImpressionRequest:
    """The request body, validated; ImpressionRejected names the first bad field."""
    try:
        return ImpressionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = ".".join(str(part) for part in first["loc"]) or "body"
        raise ImpressionRejected(f"{field_name}: {first['msg']}") from None


def impression_from_ticket(
    request: ImpressionRequest, ticket: PlayTicket, catalog: Catalog, now_ms: int
) -> Impression:
    """The play ``request`` reports with ``ticket``, bounded by what the server decided:
    its ad and bucket, after its decision, no longer than the creative (then counted as
    the creative's length), ended by now. ImpressionRejected says why not."""
    if request.ad_id != ticket.ad_id:
        raise ImpressionRejected(f"ad_id: the ticket is for {ticket.ad_id!r}")
    creative = catalog.creative(ticket.ad_id)
    if creative is None:
        raise ImpressionRejected(f"ad_id: unknown creative {ticket.ad_id!r}")
    if request.duration_s > creative.duration_s + DURATION_TOLERANCE_S:
        raise ImpressionRejected(
            f"duration_s: longer than the creative ({creative.duration_s:g} s)"
        )
    if request.started_at_ms < ticket.issued_at_ms - CLOCK_SKEW_MS:
        raise ImpressionRejected("started_at_ms: before the ticket's decision")
    duration_s = min(request.duration_s, creative.duration_s)
    if request.started_at_ms + duration_s * 1000 > now_ms + CLOCK_SKEW_MS:
        raise ImpressionRejected("started_at_ms: in the future (the play has not ended)")
    campaign = catalog.campaign_of(ticket.ad_id)
    return Impression(
        store=ticket.store,
        display=ticket.display,
        ad_id=ticket.ad_id,
        campaign_id=campaign.id if campaign else None,
        bucket=ticket.bucket,
        started_at_ms=request.started_at_ms,
        duration_s=duration_s,
        recorded_at_ms=now_ms,
        ticket=ticket.id,
    )


# The people and watchers present during [started_ms, ended_ms] (adserver.play_audience).
AudienceCounter = Callable[[int, int], tuple[int, int]]


def record_play(
    body: Mapping[str, Any] | None,
    store: str,
    display: str,
    catalog: Catalog,
    impressions: ImpressionStore,
    now_ms: int,
    audience: AudienceCounter | None = None,
) -> str:
    """Record the play a display reports with its ticket; the answer as JSON text.

    A replay of the same request with a used ticket gets the same answer and changes
    nothing; another request with a used ticket is refused (409), as is a play that
    overlaps one of the display's plays. The bucket is the ticket's, never the body's.
    """
    request = parsed_request(body)
    digest = request_digest(request.model_dump(exclude={"bucket"}))
    ticket = impressions.ticket(store, display, request.ticket)
    if ticket is not None and ticket.used:
        return _replayed(ticket, digest)
    if ticket is None or now_ms > ticket.expires_at_ms():
        raise ImpressionRejected("ticket: unknown, expired or not this display's")
    impression = impression_from_ticket(request, ticket, catalog, now_ms)
    if audience is not None:
        people, watchers = audience(impression.started_at_ms, impression.ended_at_ms)
        impression = replace(impression, audience_people=people, audience_watchers=watchers)
    answer = json.dumps(asdict(impression))
    try:
        impressions.redeem(ticket.redeemed(digest, answer), impression)
    except TicketAlreadyUsed:  # a request with the same ticket got there first
        current = impressions.ticket(store, display, request.ticket)
        if current is None:
            raise ImpressionRejected("ticket: unknown, expired or not this display's") from None
        return _replayed(current, digest)
    return answer


def _replayed(ticket: PlayTicket, digest: str) -> str:
    if ticket.request_digest != digest or ticket.answer is None:
        raise ImpressionRejected("ticket: already used for another play", status=409)
    return ticket.answer


def check_room(log: Sequence[Play], play: Play, now_ms: int) -> None:
    """Refuse (409) a play the display's log cannot take: one overlapping a logged play by
    more than ``OVERLAP_TOLERANCE_MS``, or one older than the log can check it against."""
    if play.started_at_ms < now_ms - PLAY_LOG_HORIZON_MS:
        raise ImpressionRejected("started_at_ms: older than 24 hours", status=409)
    if len(log) >= PLAY_LOG_LIMIT and play.started_at_ms < log[0].started_at_ms:
        raise ImpressionRejected(
            "started_at_ms: older than the display's latest plays it could be checked against",
            status=409,
        )
    for other in log:
        overlap_ms = min(play.ended_at_ms, other.ended_at_ms) - max(
            play.started_at_ms, other.started_at_ms
        )
        if overlap_ms > OVERLAP_TOLERANCE_MS:
            raise ImpressionRejected(
                f"started_at_ms: overlaps this display's play of {other.ad_id} "
                f"started at {other.started_at_ms}",
                status=409,
            )


@dataclass(frozen=True)
class PlayLog:
    """A display's recent plays, oldest first, and the log's version (it changes with each
    recorded play, and so does the ticket next-ad hands out)."""

    plays: list[Play] = field(default_factory=list)
    version: int = 0


def updated_play_log(log: Iterable[Play], new: Iterable[Play], now_ms: int) -> list[Play]:
    """A display's play log with ``new`` plays added: oldest first, no repeats, none older
    than ``PLAY_LOG_HORIZON_MS`` before ``now_ms``, at most ``PLAY_LOG_LIMIT`` (the newest)."""
    oldest_ms = now_ms - PLAY_LOG_HORIZON_MS
    kept = {
        (play.started_at_ms, play.ad_id): play
        for play in (*log, *new)
        if play.started_at_ms >= oldest_ms
    }
    return [kept[key] for key in sorted(kept)][-PLAY_LOG_LIMIT:]


class ImpressionStore(Protocol):
    """Where impressions live; DynamoDB in the cloud, a dict in tests."""

    def put(self, impression: Impression) -> None: ...

    def put_many(self, impressions: Iterable[Impression]) -> None:
        """Record a backlog (a player back online, a benchmark's history) in one go."""
        ...

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        """Impressions started in [from_ms, to_ms), oldest first."""
        ...

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        """One display's plays since ``since_ms`` from its play log, oldest first."""
        ...

    def play_log(self, store: str, display: str) -> PlayLog:
        """One display's play log as next-ad reads it (plays of the last day, version)."""
        ...

    def issue_ticket(self, ticket: PlayTicket) -> None:
        """Keep ``ticket`` unless a ticket with its id is kept already (the first issue's
        decision time stands)."""
        ...

    def ticket(self, store: str, display: str, ticket_id: str) -> PlayTicket | None:
        """The display's ticket of that id, used or not; None if it has none."""
        ...

    def redeem(self, ticket: PlayTicket, impression: Impression) -> None:
        """Record ``impression`` and mark ``ticket`` (as ``PlayTicket.redeemed`` made it)
        used, both or neither: TicketAlreadyUsed if it was used meanwhile, ImpressionRejected
        (409) if the play overlaps the display's logged plays (``check_room``)."""
        ...


class InMemoryImpressionStore:
    """An ImpressionStore for tests and the local demo."""

    def __init__(self, rollups: InMemoryRollups | None = None) -> None:
        self._rows: dict[tuple[str, str], Impression] = {}
        self._play_logs: dict[tuple[str, str], PlayLog] = {}
        self._tickets: dict[tuple[str, str], PlayTicket] = {}
        self._lock = threading.Lock()
        self.rollups = rollups

    def put(self, impression: Impression) -> None:
        with self._lock:
            self._put(impression)

    def _put(self, impression: Impression) -> None:
        display = (impression.store, impression.display)
        key = (impression.store, impression.sort_key)
        if self.rollups is not None and key not in self._rows:
            self.rollups.add(impression.rollup_increment())
        self._rows[key] = impression
        log = self._play_logs.get(display, PlayLog())
        plays = updated_play_log(log.plays, [impression.play()], impression.recorded_at_ms)
        self._play_logs[display] = PlayLog(plays, log.version + 1)

    def play_log(self, store: str, display: str) -> PlayLog:
        with self._lock:
            return self._play_logs.get((store, display), PlayLog())

    def issue_ticket(self, ticket: PlayTicket) -> None:
        with self._lock:
            self._tickets.setdefault((ticket.store, ticket.sort_key), ticket)

    def ticket(self, store: str, display: str, ticket_id: str) -> PlayTicket | None:
        with self._lock:
            return self._tickets.get((store, f"{TICKET_PREFIX}{display}#{ticket_id}"))

    def redeem(self, ticket: PlayTicket, impression: Impression) -> None:
        with self._lock:
            kept = self._tickets.get((ticket.store, ticket.sort_key))
            if kept is None or kept.used:
                raise TicketAlreadyUsed(ticket.id)
            log = self._play_logs.get((impression.store, impression.display), PlayLog())
            check_room(log.plays, impression.play(), impression.recorded_at_ms)
            if (impression.store, impression.sort_key) in self._rows:
                raise ImpressionRejected("started_at_ms: this play is recorded already", 409)
            self._tickets[(ticket.store, ticket.sort_key)] = ticket
            self._put(impression)

    def put_many(self, impressions: Iterable[Impression]) -> None:
        for impression in impressions:
            self.put(impression)

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        with self._lock:
            rows = [i for (s, _), i in self._rows.items() if s == store]
        return sorted(
            (i for i in rows if from_ms <= i.started_at_ms < to_ms), key=lambda i: i.sort_key
        )

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        log = self.play_log(store, display)
        return [play for play in log.plays if play.started_at_ms >= since_ms]


class PlayLogContention(RuntimeError):
    """A display's play log changed under us on every attempt; the caller may retry."""


class DynamoImpressionStore:
    """Impressions in a DynamoDB table: partition key ``store``, sort key ``sort_key``.

    Impressions have sort key "{started_at_ms:013d}#{display}#{ad_id}"; each display's play
    log has "plays#{display}", its plays as one JSON string of [started_at_ms, ad_id,
    duration_ms] triples (one attribute, not a list of a thousand, which is cheap to read
    and write) and a version that makes concurrent updates of one log safe (optimistic
    locking); play tickets have "ticket#{display}#{id}" (``adserver.tickets``).
    """

    def __init__(self, table: Any, attempts: int = 5, rollups: DynamoRollups | None = None) -> None:
        self._table = table
        self._attempts = attempts
        self._rollups = rollups
        # Tickets this container kept already: a player polling without If-None-Match gets
        # the same ticket each second, which needs no write after the first.
        self._issued: OrderedDict[str, None] = OrderedDict()

    def put(self, impression: Impression) -> None:
        self._write(impression)
        self._add_to_play_log(impression.store, impression.display, [impression])

    def _write(self, impression: Impression) -> None:
        """The impression, with its rollup increment if it is new; a re-sent one overwrites
        itself (its rollup already counts it)."""
        item = _item_of(impression)
        if self._rollups is None or not self._rollups.put_counted(
            self._table, item, impression.rollup_increment()
        ):
            self._table.put_item(Item=item)

    def put_many(self, impressions: Iterable[Impression]) -> None:
        """Record a backlog at once: batched writes and one play log update per display
        (with rollups, each impression is written as ``put`` writes it)."""
        backlog = list(impressions)
        if self._rollups is not None:
            for impression in backlog:  # one transaction each: a batch cannot count exactly once
                self._write(impression)
        else:
            with self._table.batch_writer(overwrite_by_pkeys=["store", "sort_key"]) as batch:
                for impression in backlog:
                    batch.put_item(Item=_item_of(impression))
        by_display: dict[tuple[str, str], list[Impression]] = defaultdict(list)
        for impression in backlog:
            by_display[(impression.store, impression.display)].append(impression)
        for (store, display), recorded in by_display.items():
            self._add_to_play_log(store, display, recorded)

    def _add_to_play_log(self, store: str, display: str, recorded: list[Impression]) -> None:
        new = [i.play() for i in recorded]
        now_ms = max(i.recorded_at_ms for i in recorded)
        for _ in range(self._attempts):
            item = self._play_log_item(store, display)
            log = _plays_of(item)
            updated = updated_play_log(log, new, now_ms)
            if updated == log:  # a re-sent impression, or one older than the log keeps
                return
            try:
                self._table.put_item(**_play_log_write(store, display, item, updated, now_ms))
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise PlayLogContention(f"play log of {store}/{display} kept changing; not updated")

    def _play_log_item(self, store: str, display: str) -> dict[str, Any] | None:
        key = {"store": store, "sort_key": f"{PLAY_LOG_PREFIX}{display}"}
        item: dict[str, Any] | None = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item

    def play_log(self, store: str, display: str) -> PlayLog:
        key = {"store": store, "sort_key": f"{PLAY_LOG_PREFIX}{display}"}
        item = self._table.get_item(Key=key).get("Item")
        return PlayLog(_plays_of(item), int(item["version"]) if item else 0)

    def issue_ticket(self, ticket: PlayTicket) -> None:
        seen = f"{ticket.store}#{ticket.sort_key}"
        if seen in self._issued:
            return
        try:
            self._table.put_item(
                Item=ticket.to_item(), ConditionExpression=Attr("sort_key").not_exists()
            )
        except ClientError as error:  # issued by an earlier poll: its decision time stands
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        self._issued[seen] = None
        if len(self._issued) > ISSUED_REMEMBERED:
            self._issued.popitem(last=False)

    def ticket(self, store: str, display: str, ticket_id: str) -> PlayTicket | None:
        key = {"store": store, "sort_key": f"{TICKET_PREFIX}{display}#{ticket_id}"}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return PlayTicket.from_item(item) if item else None

    def redeem(self, ticket: PlayTicket, impression: Impression) -> None:
        """One transaction: the ticket marked used (if it was not), the impression (if new),
        the display's play log (if unchanged since read) and, given rollups, their count."""
        store, display = impression.store, impression.display
        table_name = self._table.name
        used = {
            "TableName": table_name,
            "Item": ticket.to_item(),
            "ConditionExpression": "attribute_exists(sort_key) AND attribute_not_exists(#used)",
            "ExpressionAttributeNames": {"#used": "request_digest"},
        }
        for _ in range(self._attempts):
            item = self._play_log_item(store, display)
            log = _plays_of(item)
            check_room(log, impression.play(), impression.recorded_at_ms)
            updated = updated_play_log(log, [impression.play()], impression.recorded_at_ms)
            play_log = {
                "TableName": table_name,
                **_play_log_write(store, display, item, updated, impression.recorded_at_ms),
            }
            try:
                recorded = self._write_redeemed(impression, [{"Put": used}, {"Put": play_log}])
            except WritesRefused as refused:
                if refused.also[0]:
                    raise TicketAlreadyUsed(ticket.id) from None
                continue  # the play log changed under us: check the play again
            if not recorded:
                raise ImpressionRejected("started_at_ms: this play is recorded already", 409)
            return
        raise PlayLogContention(f"play log of {store}/{display} kept changing; not recorded")

    def _write_redeemed(self, impression: Impression, also: list[dict[str, Any]]) -> bool:
        item = _item_of(impression)
        if self._rollups is not None:
            return self._rollups.put_counted(
                self._table, item, impression.rollup_increment(), also=also
            )
        writes = [counted_put(self._table, item), *also]
        try:
            self._table.meta.client.transact_write_items(TransactItems=writes)
            return True
        except ClientError as error:
            failed = failed_conditions(error, len(writes))
            if failed is None:
                raise
            if any(failed[1:]):
                raise WritesRefused(failed[0], failed[1:]) from None
            return False

    def for_store(self, store: str, from_ms: int, to_ms: int) -> list[Impression]:
        # Sort keys hold 13 digits, so string order is time order only below END_OF_KEYS_MS.
        from_ms, to_ms = max(from_ms, 0), min(to_ms, END_OF_KEYS_MS)
        if from_ms >= to_ms:
            return []
        condition = Key("store").eq(store) & Key("sort_key").between(
            f"{from_ms:013d}", f"{to_ms - 1:013d}#\uffff"
        )
        items = all_items(self._table.query, KeyConditionExpression=condition)
        return [_impression_from_item(item) for item in items]

    def recent_plays(self, store: str, display: str, since_ms: int) -> list[Play]:
        key = {"store": store, "sort_key": f"{PLAY_LOG_PREFIX}{display}"}
        log = _plays_of(self._table.get_item(Key=key).get("Item"))
        return [play for play in log if play.started_at_ms >= since_ms]


def _item_of(impression: Impression) -> dict[str, Any]:
    item = {key: value for key, value in asdict(impression).items() if value is not None}
    item["duration_s"] = Decimal(str(impression.duration_s))
    item["sort_key"] = impression.sort_key
    item["expires_at"] = impression.recorded_at_ms // 1000 + RETENTION_S
    return item


def _plays_of(play_log: Mapping[str, Any] | None) -> list[Play]:
    if play_log is None:
        return []
    # [started_at_ms, ad_id, duration_ms]; logs written before durations have pairs.
    return [
        Play(str(entry[1]), int(entry[0]), int(entry[2]) if len(entry) > 2 else 0)
        for entry in json.loads(play_log["plays"])
    ]


def _play_log_write(
    store: str, display: str, item: Mapping[str, Any] | None, plays: list[Play], now_ms: int
) -> dict[str, Any]:
    """A PutItem of a display's play log, on condition that it is still ``item``."""
    version = int(item["version"]) if item else 0
    write: dict[str, Any] = {
        "Item": {
            "store": store,
            "sort_key": f"{PLAY_LOG_PREFIX}{display}",
            "plays": json.dumps([[p.started_at_ms, p.ad_id, p.duration_ms] for p in plays]),
            "version": version + 1,
            "expires_at": now_ms // 1000 + RETENTION_S,
        },
        "ExpressionAttributeNames": {"#version": "version"},
    }
    if item:
        write["ConditionExpression"] = "#version = :version"
        write["ExpressionAttributeValues"] = {":version": version}
    else:
        write["ConditionExpression"] = "attribute_not_exists(#version)"
    return write


def _impression_from_item(item: Mapping[str, Any]) -> Impression:
    return Impression(
        store=str(item["store"]),
        display=str(item["display"]),
        ad_id=str(item["ad_id"]),
        campaign_id=str(item["campaign_id"]) if "campaign_id" in item else None,
        bucket=str(item["bucket"]),
        started_at_ms=int(item["started_at_ms"]),
        duration_s=float(item["duration_s"]),
        recorded_at_ms=int(item["recorded_at_ms"]),
        audience_people=int(item.get("audience_people", 0)),
        audience_watchers=int(item.get("audience_watchers", 0)),
    )


def create_impressions_table(dynamodb: Any, name: str) -> Any:
    """Create the table as template.yaml declares it (for moto and the local stack)."""
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "store", "KeyType": "HASH"},
            {"AttributeName": "sort_key", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "store", "AttributeType": "S"},
            {"AttributeName": "sort_key", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
