"""The ad catalog: campaigns, creatives, schedules and store settings.

The catalog is one JSON document that an operator edits and uploads to S3; the
ad server re-reads it every few seconds, so a change needs no deploy. Every
load is validated and a bad document is refused as a whole, with one line per
problem naming the field (``campaigns[2].schedule.hours[0]: ...``).

Check a document before uploading it:

    python -m adserver.catalog check adserver/seed_catalog.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from model.bands import BAND_NAMES, GENDERS

SEED_CATALOG_PATH = Path(__file__).with_name("seed_catalog.json")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NO_AUDIENCE = "none"
# What an id in the catalog may be: ASCII letters and digits, then also '.', '_' and '-'.
SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Characters no creative URL needs (it is written into the player's markup as an src):
# whitespace and controls, quotes, angle brackets, and the backslash, which browsers read as '/'.
UNSAFE_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`]")


def bucket_name(band: str, gender: str) -> str:
    """The audience bucket of one band x gender cell, e.g. ``senior/female``."""
    return f"{band}/{gender}"


ALL_BUCKETS: tuple[str, ...] = tuple(bucket_name(b, g) for b in BAND_NAMES for g in GENDERS)


class CatalogError(ValueError):
    """A catalog document we refuse to use; ``problems`` has one line per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid catalog: " + "; ".join(problems))
        self.problems = problems


def _subset_of(allowed: tuple[str, ...]) -> AfterValidator:
    """A validator for a non-empty list drawn from ``allowed`` (days, bands, genders)."""

    def check(values: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [value for value in values if value not in allowed]
        if unknown or not values:
            raise ValueError(f"must be a non-empty list from {list(allowed)}, got {unknown}")
        return values

    return AfterValidator(check)


def _creative_url(url: str) -> str:
    """An http(s) URL or a path on the ad server; anything else (``javascript:``, ``data:``,
    ``//other-host``) is refused, because the player puts it in an ``src``."""
    if UNSAFE_URL_CHARACTERS.search(url):
        raise ValueError("must not contain spaces, control characters, quotes, <, > or \\")
    parts = urlsplit(url)
    if parts.scheme:
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL or a relative path, got {url[:40]!r}")
    elif url.startswith("//"):  # scheme-relative: another host, whatever the page's scheme
        raise ValueError(f"must be an http(s) URL or a relative path, got {url[:40]!r}")
    return url


# Ids of creatives, campaigns and stores: they end up in URLs, reports and pages.
SafeId = Annotated[str, Field(pattern=SAFE_ID)]
CreativeUrl = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_creative_url)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Creative(_Frozen):
    """One piece of content a display can show."""

    id: SafeId
    url: CreativeUrl
    kind: Literal["image", "video"] = "image"
    duration_s: Annotated[float, Field(gt=0, le=600)]
    weight: Annotated[float, Field(gt=0)] = 1.0
    # Content aimed at children plays only in stores that switched it on.
    audience_children: bool = False


class Schedule(_Frozen):
    """When a campaign may run: weekdays and an hour range in a time zone.

    ``hours`` is [start, end) in local hours; start > end wraps past midnight.
    Without ``time_zone`` the schedule is read in the store's own time zone.
    """

    days: Annotated[tuple[str, ...], _subset_of(WEEKDAYS)] = WEEKDAYS
    hours: tuple[Annotated[int, Field(ge=0, le=24)], Annotated[int, Field(ge=0, le=24)]] = (0, 24)
    time_zone: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            _zone_info(zone)
        return zone

    def is_open(self, now: datetime, store_time_zone: str) -> bool:
        """Whether ``now`` (timezone-aware) falls inside this schedule."""
        local = now.astimezone(ZoneInfo(self.time_zone or store_time_zone))
        if WEEKDAYS[local.weekday()] not in self.days:
            return False
        start, end = self.hours
        if start <= end:
            return start <= local.hour < end
        return local.hour >= start or local.hour < end


class FrequencyCap(_Frozen):
    """At most ``max_plays`` plays of a campaign on one display per ``per_minutes``."""

    max_plays: Annotated[int, Field(ge=1)]
    per_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)]


class Target(_Frozen):
    """The audience a campaign is aimed at: every band x gender in the lists."""

    bands: Annotated[tuple[str, ...], _subset_of(BAND_NAMES)]
    genders: Annotated[tuple[str, ...], _subset_of(GENDERS)] = GENDERS

    def buckets(self) -> frozenset[str]:
        return frozenset(bucket_name(b, g) for b in self.bands for g in self.genders)


class Campaign(_Frozen):
    """Creatives aimed at an audience, with a weight, a schedule and a frequency cap."""

    id: SafeId
    target: Target
    weight: Annotated[float, Field(gt=0)] = 1.0
    schedule: Schedule = Schedule()
    frequency_cap: FrequencyCap | None = None
    creatives: Annotated[tuple[Creative, ...], Field(min_length=1)]


class StoreSettings(_Frozen):
    """Per-store switches; stores not listed get the defaults."""

    time_zone: str = "UTC"
    children_content: bool = False

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        _zone_info(zone)
        return zone


class Catalog(_Frozen):
    """The whole document: campaigns, the default creative and store settings."""

    version: Literal[1] = 1
    default_creative: Creative
    campaigns: tuple[Campaign, ...] = ()
    stores: dict[SafeId, StoreSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: set[str] = set()
        for creative in self.all_creatives():
            if creative.id in seen:
                raise ValueError(f"creative id {creative.id!r} is used more than once")
            seen.add(creative.id)
        campaign_ids = [campaign.id for campaign in self.campaigns]
        duplicates = sorted({cid for cid in campaign_ids if campaign_ids.count(cid) > 1})
        if duplicates:
            raise ValueError(f"campaign ids used more than once: {duplicates}")
        if self.default_creative.audience_children:
            raise ValueError("default_creative must not be aimed at children")
        return self

    def all_creatives(self) -> list[Creative]:
        return [self.default_creative, *(c for camp in self.campaigns for c in camp.creatives)]

    def creative(self, creative_id: str) -> Creative | None:
        return next((c for c in self.all_creatives() if c.id == creative_id), None)

    def campaign_of(self, creative_id: str) -> Campaign | None:
        """The campaign a creative belongs to; None for the default creative."""
        return next(
            (camp for camp in self.campaigns if any(c.id == creative_id for c in camp.creatives)),
            None,
        )

    def store(self, store_id: str) -> StoreSettings:
        return self.stores.get(store_id, StoreSettings())


def _zone_info(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        hint = "use an IANA name such as Europe/Paris"
        raise ValueError(f"unknown time zone {zone!r} ({hint})") from None


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(document)"


def parse_catalog(document: Any) -> Catalog:
    """Validate a decoded JSON document; raise CatalogError naming each bad field."""
    try:
        return Catalog.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{_field_path(error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise CatalogError(problems) from None


def load_catalog(text: str | bytes) -> Catalog:
    """Parse and validate a JSON catalog document."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogError([f"(document): not valid JSON: {exc}"]) from None
    return parse_catalog(document)


@cache
def seed_catalog() -> Catalog:
    """The catalog shipped for the demo stores (read once; catalogs are immutable)."""
    return load_catalog(SEED_CATALOG_PATH.read_bytes())


class S3CatalogSource:
    """The catalog as a JSON object in S3, re-read at most every ``max_age_s`` seconds.

    A document that fails validation is refused and the last good catalog stays
    in use, so an operator's typo never takes the displays down. Until a document
    is uploaded at all, ``fallback`` (the seed catalog, say) is served if given.
    """

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        key: str,
        max_age_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        fallback: Catalog | None = None,
    ) -> None:
        self._s3 = s3_client
        self._fallback = fallback
        self._bucket = bucket
        self._key = key
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._etag: str | None = None
        self._loaded_at = float("-inf")
        self.last_error: CatalogError | None = None

    def get(self) -> Catalog:
        """The current catalog; raises CatalogError if no good version was ever read."""
        with self._lock:
            if self._catalog is None or self._clock() - self._loaded_at >= self._max_age_s:
                self._refresh()
            if self._catalog is None:
                raise self.last_error or CatalogError(["(document): catalog not loaded"])
            return self._catalog

    def _refresh(self) -> None:
        self._loaded_at = self._clock()
        where = f"s3://{self._bucket}/{self._key}"
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=self._key)
            if self._catalog is not None and head["ETag"] == self._etag:
                return
            body = self._s3.get_object(Bucket=self._bucket, Key=self._key)
            document, etag = body["Body"].read(), body["ETag"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            self.last_error = CatalogError([f"(document): cannot read {where}: {code}"])
            if self._catalog is None and code in ("404", "NoSuchKey", "NoSuchBucket"):
                self._catalog = self._fallback
            return
        try:
            self._catalog = load_catalog(document)
            self._etag = etag
            self.last_error = None
        except CatalogError as error:
            self.last_error = CatalogError([f"{where}: {p}" for p in error.problems])

    def put(self, catalog: Catalog) -> None:
        """Upload a catalog (already validated by construction)."""
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self._key,
            Body=catalog.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )


def main(argv: list[str] | None = None) -> int:
    """``check FILE``: validate a catalog document and print one line per problem."""
    parser = argparse.ArgumentParser(
        prog="python -m adserver.catalog",
        description="Validate an ad catalog document before uploading it (python -m infra.admin"
        " catalog upload FILE uploads it). Exit status: 0 valid, 1 invalid, 2 unreadable.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="validate FILE; one line per problem")
    check.add_argument("file", type=Path, metavar="FILE", help="catalog JSON")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.file.read_bytes())
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except CatalogError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    print(
        f"ok: {len(catalog.campaigns)} campaigns, {len(catalog.all_creatives())} creatives, "
        f"{len(catalog.stores)} stores"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
