"""A month's store report from the rollups, timed: ``python -m adserver.bench_report``.

A store with 4 displays, each watched by its own camera, open 08:00-22:00 every day of a
31-day month: each camera sees 40-120 people an hour (every audience bucket, dwell and
looking times drawn per person) and each display plays 450 eight-second creatives an hour
(12 ads, counted under the display and under the ad, as the impressions store does).
The people become rollup increments exactly as the tracker makes them (one per track), the
plays as the impressions store makes them; the month's hours are written to the rollups
table (from template.yaml) on moto in this process. Then the report of the whole month is
asked of the ad server's route (operator token, rollups read, report built, JSON written)
``--runs`` times; printed: the hours and bytes read, the totals against what was generated,
and the median and slowest answer against the 1 s target (exit 1 if the median misses it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from moto import mock_aws

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import ALL_BUCKETS, seed_catalog
from adserver.registry import Display, InMemoryRegistry, Principal
from adserver.rollups import (
    AD_PLACE_PREFIX,
    ALL_BUCKETS_KEY,
    HOUR_MS,
    IMPRESSIONS,
    PLAY_PEOPLE,
    PLAY_S,
    DynamoRollups,
    RollupIncrement,
    track_increment,
)
from adserver.settings import AdServerSettings
from adserver.tracks import Track
from infra.provision import provision
from infra.template import load_template, translate
from lambdas.observations import InMemoryObservationStore

STORE = "bench-store"
DISPLAYS = 4
OPEN_HOURS = range(8, 22)
PLAYS_PER_HOUR = 450
ADS = 12  # creatives in rotation
MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 31
TARGET_S = 1.0
OPERATOR_TOKEN = "bench-operator"


def month_of_traffic(rng: random.Random) -> tuple[list[RollupIncrement], int, int, int]:
    """The month's increments, and how many people, watchers and plays they hold."""
    increments: list[RollupIncrement] = []
    people = watchers = plays = 0
    start_ms = int(MONTH_START.timestamp() * 1000)
    for day in range(DAYS):
        for hour in OPEN_HOURS:
            hour_ms = start_ms + (day * 24 + hour) * HOUR_MS
            for display in range(1, DISPLAYS + 1):
                for _ in range(rng.randint(40, 120)):
                    dwell_s = round(rng.lognormvariate(1.6, 0.9), 2)
                    looking_s = round(dwell_s * rng.random(), 2) if rng.random() < 0.4 else 0.0
                    band, gender = rng.choice(ALL_BUCKETS).split("/")
                    arrived_ms = hour_ms + rng.randrange(HOUR_MS)
                    track = Track(
                        f"{STORE}/cam-{display}",
                        arrived_ms,
                        arrived_ms + int(dwell_s * 1000),
                        band,
                        gender,
                        0.9,
                        max(2, int(dwell_s * 2)),
                        dwell_s,
                        looking_s,
                    )
                    increments.append(track_increment(track, watcher_looking_s=1.0))
                    people += 1
                    watchers += looking_s >= 1.0
                # Plays as the impressions store adds them (under the display and under the
                # ad, with the people present), summed per ad and bucket for speed.
                display_cells: dict[tuple[str, str], dict[int, float]] = defaultdict(
                    lambda: defaultdict(float)
                )
                ad_cells = len(ALL_BUCKETS) * ADS
                for cell, count in _split(rng, PLAYS_PER_HOUR, ad_cells):
                    bucket, ad = ALL_BUCKETS[cell % len(ALL_BUCKETS)], cell // len(ALL_BUCKETS)
                    present = rng.randint(0, 3 * count)
                    counts = {IMPRESSIONS: count, PLAY_S: 8.0 * count, PLAY_PEOPLE: present}
                    for key in (
                        (f"display-{display}", bucket),
                        (f"{AD_PLACE_PREFIX}ad-{ad}", ALL_BUCKETS_KEY),
                    ):
                        for index, amount in counts.items():
                            display_cells[key][index] += amount
                cells = {key: dict(counts) for key, counts in display_cells.items()}
                increments.append(RollupIncrement(STORE, hour_ms, cells))
                plays += PLAYS_PER_HOUR
    return increments, people, watchers, plays


def _split(rng: random.Random, total: int, parts: int) -> list[tuple[int, int]]:
    counts = [0] * parts
    for _ in range(total):
        counts[rng.randrange(parts)] += 1
    return [(index, count) for index, count in enumerate(counts) if count]


def report_event(from_iso: str, to_iso: str) -> dict[str, Any]:
    """An HTTP API (payload 2.0) request for the store's report."""
    path = f"/v1/stores/{STORE}/report"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": f"from={from_iso}&to={to_iso}",
        "queryStringParameters": {"from": from_iso, "to": to_iso},
        "headers": {"authorization": f"Bearer {OPERATOR_TOKEN}"},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adserver.bench_report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="report requests to time")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    with mock_aws():
        stack = provision(
            translate(load_template(), {"Stage": "local"}),
            boto3.session.Session(region_name="us-east-1"),
            stack_name="bench-report",
            parameters={"Stage": "local"},
        )
        table = boto3.resource("dynamodb", region_name="us-east-1").Table(
            stack.outputs["RollupsTableName"]
        )
        rollups = DynamoRollups(table)
        increments, people, watchers, plays = month_of_traffic(random.Random(args.seed))
        rollups.put_hours(increments)
        app = create_app(dependencies(rollups))
        start, end = MONTH_START, MONTH_START.replace(month=MONTH_START.month + 1)
        month_ms = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
        event = report_event(_iso(start), _iso(end))
        timings, answer = [], {}
        for _ in range(max(1, args.runs)):
            started = time.perf_counter()
            response = app.resolve(event, LambdaContext())
            timings.append(time.perf_counter() - started)
            if response["statusCode"] != 200:
                print(f"bench_report: the report failed: {response['body'][:300]}", file=sys.stderr)
                return 1
            answer = json.loads(response["body"])
        hours_read = len(rollups.hours(STORE, *month_ms))
    totals = answer["totals"]
    median_s = statistics.median(timings)
    print(
        f"store with {DISPLAYS} displays, {DAYS} days open {OPEN_HOURS.start}-{OPEN_HOURS.stop} h:"
        f" {hours_read} rollup hours read, {len(json.dumps(answer)) / 1e6:.1f} MB of JSON\n"
        f"totals: people {totals['people']} (generated {people}), watchers {totals['watchers']}"
        f" ({watchers}), impressions {totals['impressions']} ({plays})\n"
        f"report of the month: median {median_s:.3f} s, slowest {max(timings):.3f} s over"
        f" {len(timings)} runs (target <= {TARGET_S:.0f} s)"
    )
    exact = (totals["people"], totals["watchers"], totals["impressions"]) == (
        people,
        watchers,
        plays,
    )
    return 0 if exact and median_s <= TARGET_S else 1


def dependencies(rollups: DynamoRollups) -> AdServerDependencies:
    registry = InMemoryRegistry()
    registry.add_token(OPERATOR_TOKEN, Principal("operator", "bench"))
    for display in range(1, DISPLAYS + 1):
        registry.add_display(Display(f"display-{display}", STORE, (f"{STORE}/cam-{display}",)))
    settings = AdServerSettings.model_validate(
        {"OBSERVATIONS_TABLE": "obs", "REGISTRY_TABLE": "reg", "FRAMES_BUCKET": "frames"}
    )
    return AdServerDependencies(
        settings=settings,
        observations=InMemoryObservationStore(),
        registry=registry,
        catalog=seed_catalog,
        rollups=rollups,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


if __name__ == "__main__":
    sys.exit(main())
