"""How long ``next-ad`` takes when a store has a long proof-of-play history.

    python -m infra.bench_next_ad [--impressions 100000] [--polls 200] [--stack]

Times ``GET /v1/displays/{id}/next-ad`` with no impressions, then seeds the store with
``--impressions`` plays spread over ten displays and the last day, and times it again:
p50/p95/max of each, and the exit status says whether p95 is within ``--p95-budget-ms``.
In this process the CPU time of each poll is printed too: on a machine busy with other
work, wall time measures the queue for a core as much as the ad server.

By default everything runs in this process: moto's DynamoDB and S3 (tables from
template.yaml), the ad server's resolver behind the local server's API Gateway adapter.
With ``--stack`` the polls go over HTTP to a running ``make stack`` and the impressions
are written to its moto server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import DynamoImpressionStore, Impression
from adserver.local_server import http_api_event, response_parts
from adserver.registry import Display, DynamoDBRegistry, Principal
from adserver.settings import AdServerSettings
from infra.local_lambda import LocalLambdaContext
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs
from infra.template import load_template
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation

STORE, DISPLAY, CAMERA = "demo-store", "demo-display-1", "demo-store/demo-cam-1"
DISPLAYS_IN_STORE = 10
DAY_MS = 24 * 3600 * 1000
REGION = "us-east-1"
# The audience the polled display sees: one senior woman, so the answer is a targeted pick.
SENIOR_WOMAN = {
    "box": [100, 80, 120, 120],
    "score": 0.95,
    "age": 71.0,
    "age_band": "senior",
    "gender": "female",
    "gender_confidence": 0.9,
}

Poll = Callable[[], int]  # one next-ad request; returns the HTTP status


def history(count: int, now_ms: int) -> Iterator[Impression]:
    """``count`` plays of the store's displays, evenly over the last day, newest last."""
    creatives = [creative.id for creative in seed_catalog().all_creatives()]
    step_ms = DAY_MS // max(1, count)
    for index in range(count):
        started = now_ms - DAY_MS + index * step_ms
        display = DISPLAY if index % DISPLAYS_IN_STORE == 0 else f"bench-display-{index % 10}"
        ad_id = creatives[index % len(creatives)]
        yield Impression(STORE, display, ad_id, None, "none", started, 8.0, started + 8000)


def timed(poll: Poll, times: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each of ``times`` polls; any answer but 200 stops it."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(times):
        started, started_cpu = time.perf_counter(), time.process_time()
        status = poll()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if status != 200:
            raise SystemExit(f"error: next-ad answered HTTP {status}")
    return wall, cpu


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 200 values is the 190th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def summary(label: str, elapsed: list[float]) -> str:
    return (
        f"{label:<28} p50 {statistics.median(elapsed):7.1f} ms   "
        f"p95 {percentile(elapsed, 0.95):7.1f} ms   max {max(elapsed):7.1f} ms"
    )


# --- in this process -------------------------------------------------------------------


def create_table(dynamodb: Any, logical_id: str, name: str) -> Any:
    """A table with the keys template.yaml declares for ``logical_id``."""
    properties = load_template()["Resources"][logical_id]["Properties"]
    arguments = {
        key: properties[key]
        for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")
        if key in properties
    }
    return dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **arguments)


@contextmanager
def in_process() -> Iterator[tuple[Poll, DynamoImpressionStore, int]]:
    """The ad server wired to moto in this process, as adserver/handler.py wires it."""
    from moto import mock_aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "testing"  # moto's; never real credentials
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        registry = DynamoDBRegistry(create_table(dynamodb, "RegistryTable", "registry"))
        observations = ObservationStore(create_table(dynamodb, "ObservationsTable", "observations"))
        impressions = DynamoImpressionStore(
            create_table(dynamodb, "ImpressionsTable", "impressions")
        )
        registry.add_display(Display(DISPLAY, STORE, (CAMERA,)))
        registry.add_token("display-token", Principal("display", DISPLAY, STORE))
        # The display's camera at 2 fps over the audience window, and the server's clock held
        # at its end: every poll sees the same audience and reads the same 20 observations.
        now_ms = int(time.time() * 1000)
        for captured in range(now_ms - 9_500, now_ms + 1, 500):
            frame = FrameKey(STORE, CAMERA.partition("/")[2], captured)
            observations.put(
                ok_observation(frame, [SENIOR_WOMAN], processed_at_ms=captured, model_version="b")
            )
        deps = AdServerDependencies(
            settings=AdServerSettings.from_environ(
                {
                    "OBSERVATIONS_TABLE": "observations",
                    "REGISTRY_TABLE": "registry",
                    "FRAMES_BUCKET": "frames",
                }
            ),
            observations=observations,
            registry=registry,
            clock_ms=lambda: now_ms,
            catalog=seed_catalog,
            impressions=impressions,
        )
        app = create_app(deps)
        headers = {"Authorization": "Bearer display-token"}

        def poll() -> int:
            event = http_api_event("GET", f"/v1/displays/{DISPLAY}/next-ad", headers)
            context: Any = LocalLambdaContext("adserver", 10)  # what the runtime passes
            return response_parts(app.resolve(event, context))[0]

        yield poll, impressions, now_ms


# --- against a running stack -----------------------------------------------------------


@contextmanager
def on_stack(outputs_path: Path) -> Iterator[tuple[Poll, DynamoImpressionStore, int]]:
    """Polls over HTTP to ``make stack``'s ad server; impressions into its moto tables."""
    outputs = StackOutputs.read(outputs_path)
    display = outputs.display(DISPLAY)
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=outputs.endpoint_url,
        region_name=str(outputs.document["region"]),
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    # template.yaml names the table "${AWS::StackName}-impressions".
    table = dynamodb.Table(f"{outputs.document['stack_name']}-impressions")
    url = f"{outputs.adserver_url}/v1/displays/{DISPLAY}/next-ad"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {display['token']}"})

    def poll() -> int:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)

    yield poll, DynamoImpressionStore(table), int(time.time() * 1000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.bench_next_ad", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--impressions", type=int, default=100_000)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--p95-budget-ms", type=float, default=50.0)
    parser.add_argument("--stack", action="store_true", help="against a running make stack")
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS, help="with --stack")
    args = parser.parse_args(argv)
    where = on_stack(args.outputs) if args.stack else in_process()
    try:
        with where as (poll, impressions, now_ms):
            poll()  # warm: catalog, imports, first connections
            empty, empty_cpu = timed(poll, args.polls)
            print(summary("next-ad, no impressions", empty), flush=True)
            if not args.stack:
                print(summary("  CPU of this process", empty_cpu), flush=True)
            started = time.perf_counter()
            impressions.put_many(history(args.impressions, now_ms))
            seeded_s = time.perf_counter() - started
            print(f"seeded {args.impressions:,} impressions in one store in {seeded_s:.0f} s")
            full, full_cpu = timed(poll, args.polls)
            print(summary(f"next-ad, {args.impressions:,} impressions", full))
            if not args.stack:
                print(summary("  CPU of this process", full_cpu))
    except FileNotFoundError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    p95 = percentile(full, 0.95)
    verdict = "within" if p95 <= args.p95_budget_ms else "OVER"
    print(json.dumps({"p95_ms": round(p95, 1), "budget_ms": args.p95_budget_ms}), verdict)
    return 0 if p95 <= args.p95_budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())
