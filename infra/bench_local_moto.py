"""A month in the local stack's moto: its memory, and how long an impression takes.

    python -m infra.bench_local_moto [--frames 10000] [--impressions 10000]
                                     [--whole-table-transactions]

Starts moto as the local stack does (``python -m infra.local_moto``, its own process) and
makes the tables from template.yaml. Then, over one month of simulated time and in time
order, it writes ``--frames`` observations of two cameras (a closed track every tenth
frame, written with its rollup in one transaction, as the tracker does) and plays
``--impressions`` ads on ten displays through the ad server's routes in this process
(``next-ad`` for the ticket, then the impression: ticket, impression, play log and rollup
in one transaction). It prints the impression's p50/p95 wall time, next-ad's, and moto's
resident memory (now and at its peak, from /proc), and exits non-zero when the peak is
over ``--rss-budget-mb`` or p95 over ``--p95-budget-ms``. ``--whole-table-transactions``
runs moto's own TransactWriteItems (a deep copy of each table a transaction touches) to
compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import DynamoImpressionStore
from adserver.local_server import http_api_event, response_parts
from adserver.registry import Display, DynamoDBRegistry, Principal
from adserver.rollups import DynamoRollups
from adserver.settings import AdServerSettings
from adserver.tracks import Track
from infra.bench_next_ad import percentile
from infra.local_lambda import LocalLambdaContext
from infra.template import load_template
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation
from lambdas.tracker.store import DynamoTrackStore

REGION = "us-east-1"
STORE = "bench-store"
CAMERAS = ("bench-cam-1", "bench-cam-2")
DISPLAYS = tuple(f"bench-display-{index}" for index in range(10))
MONTH_MS = 30 * 24 * 3600 * 1000
START_MS = 1_780_272_000_000  # 2026-06-01 00:00 UTC
TABLES = {  # template.yaml's logical id -> the name this benchmark gives it
    "ObservationsTable": "observations",
    "RegistryTable": "registry",
    "ImpressionsTable": "impressions",
    "TracksTable": "tracks",
    "RollupsTable": "rollups",
}
FACE = {
    "box": [100, 80, 120, 120],
    "score": 0.95,
    "age": 34.0,
    "age_band": "adult",
    "gender": "female",
    "gender_confidence": 0.9,
    "yaw": 3.0,
    "looking": True,
}


@contextmanager
def local_moto(whole_table_transactions: bool) -> Iterator[tuple[str, int]]:
    """moto as the stack runs it: (endpoint, process id)."""
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "moto.ready"
        command = [sys.executable, "-m", "infra.local_moto", "--port", "0"]
        command += ["--ready-file", str(ready)]
        if whole_table_transactions:
            command.append("--whole-table-transactions")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("error: moto did not start")
                time.sleep(0.1)
            yield json.loads(ready.read_text())["endpoint_url"], process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def resident_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB: its resident memory now and at its peak."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    now_kb, peak_kb = (int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM"))
    return now_kb / 1024, peak_kb / 1024


def create_tables(dynamodb: Any) -> dict[str, Any]:
    """The tables as template.yaml declares them (keys, indexes and streams)."""
    resources = load_template()["Resources"]
    tables = {}
    for logical_id, name in TABLES.items():
        properties = resources[logical_id]["Properties"]
        arguments = {
            key: properties[key]
            for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")
            if key in properties
        }
        if "StreamSpecification" in properties:
            arguments["StreamSpecification"] = {
                "StreamEnabled": True,
                **properties["StreamSpecification"],
            }
        tables[logical_id] = dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST", **arguments
        )
    return tables


class FrameWriter:
    """``frames`` observations over the month, a closed track every tenth, written as time
    passes (``until``), so next-ad sees the frames of its last seconds, never later ones."""

    def __init__(self, tables: dict[str, Any], frames: int) -> None:
        self._observations = ObservationStore(tables["ObservationsTable"])
        self._tracks = DynamoTrackStore(
            tables["TracksTable"], rollups=DynamoRollups(tables["RollupsTable"])
        )
        self._frames = frames
        self._step_ms = MONTH_MS // max(1, frames)
        self.written = 0
        self.seconds = 0.0

    def until(self, now_ms: int) -> None:
        """Write every frame captured up to ``now_ms`` not written yet."""
        started = time.perf_counter()
        while self.written < self._frames:
            captured = START_MS + self.written * self._step_ms
            if captured > now_ms:
                break
            self._write(self.written, captured)
            self.written += 1
        self.seconds += time.perf_counter() - started

    def _write(self, index: int, captured: int) -> None:
        camera = CAMERAS[index % len(CAMERAS)]
        frame = FrameKey(STORE, camera, captured)
        faces = [FACE] * (1 + index % 3)
        self._observations.put(
            ok_observation(frame, faces, processed_at_ms=captured, model_version="b")
        )
        if index % 10 == 9:
            track = Track(
                camera=f"{STORE}/{camera}",
                started_at_ms=captured - 8000,
                ended_at_ms=captured,
                age_band="adult",
                gender="female",
                vote_confidence=0.9,
                seen=16,
                dwell_s=8.0,
                looking_s=2.5,
            )
            self._tracks.put_tracks(f"{STORE}/{camera}", [track])


def ad_server(tables: dict[str, Any], clock: list[int]) -> Any:
    """The ad server's resolver wired as adserver/handler.py wires it, to these tables."""
    registry = DynamoDBRegistry(tables["RegistryTable"])
    for display in DISPLAYS:
        registry.add_display(Display(display, STORE, tuple(f"{STORE}/{c}" for c in CAMERAS)))
        registry.add_token(f"token-{display}", Principal("display", display, STORE))
    rollups = DynamoRollups(tables["RollupsTable"])
    names = {"OBSERVATIONS_TABLE": "observations", "REGISTRY_TABLE": "registry"}
    settings = AdServerSettings.from_environ({**names, "FRAMES_BUCKET": "frames"})
    deps = AdServerDependencies(
        settings=settings,
        observations=ObservationStore(tables["ObservationsTable"]),
        registry=registry,
        clock_ms=lambda: clock[0],
        catalog=seed_catalog,
        impressions=DynamoImpressionStore(tables["ImpressionsTable"], rollups=rollups),
        rollups=rollups,
        presence=DynamoTrackStore(tables["TracksTable"]),
    )
    return create_app(deps)


def play_month(
    app: Any,
    clock: list[int],
    impressions: int,
    frames: FrameWriter,
    moto_pid: int | None = None,
) -> tuple[list[float], list[float]]:
    """``impressions`` plays over the month, displays in turn: (next-ad ms, impression ms);
    a line of progress every 1,000 (with moto's resident memory, given its process id)."""
    context: Any = LocalLambdaContext("adserver", 30)
    step_ms = MONTH_MS // max(1, impressions)
    polls: list[float] = []
    posts: list[float] = []
    for index in range(impressions):
        display = DISPLAYS[index % len(DISPLAYS)]
        headers = {"Authorization": f"Bearer token-{display}"}
        clock[0] = START_MS + index * step_ms
        frames.until(clock[0])
        started = time.perf_counter()
        event = http_api_event("GET", f"/v1/displays/{display}/next-ad", headers)
        status, _, body = response_parts(app.resolve(event, context))
        polls.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"error: next-ad answered {status}: {body[:200]!r}")
        answer = json.loads(body)
        play = {
            "ticket": answer["ticket"],
            "ad_id": answer["ad_id"],
            "started_at_ms": clock[0],
            "duration_s": answer["duration_s"],
        }
        clock[0] += int(answer["duration_s"] * 1000)
        headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        event = http_api_event(
            "POST", f"/v1/displays/{display}/impressions", headers, json.dumps(play).encode()
        )
        status, _, body = response_parts(app.resolve(event, context))
        posts.append((time.perf_counter() - started) * 1000)
        if status != 201:
            raise SystemExit(f"error: impression answered {status}: {body[:200]!r}")
        if (index + 1) % 1000 == 0:
            memory = f"; moto RSS {resident_mb(moto_pid)[0]:.0f} MB" if moto_pid else ""
            print(
                f"  {index + 1:,} plays: impression p95 {percentile(posts, 0.95):.1f} ms{memory}",
                flush=True,
            )
    return polls, posts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.bench_local_moto", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--impressions", type=int, default=10_000)
    parser.add_argument("--rss-budget-mb", type=float, default=1536.0)
    parser.add_argument("--p95-budget-ms", type=float, default=200.0)
    parser.add_argument(
        "--whole-table-transactions",
        action="store_true",
        help="moto's own TransactWriteItems (copies whole tables), to compare",
    )
    args = parser.parse_args(argv)
    with local_moto(args.whole_table_transactions) as (endpoint, pid):
        dynamodb = boto3.resource(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        tables = create_tables(dynamodb)
        frames = FrameWriter(tables, args.frames)
        clock = [START_MS]
        started = time.perf_counter()
        polls, posts = play_month(ad_server(tables, clock), clock, args.impressions, frames, pid)
        frames.until(START_MS + MONTH_MS)
        played_s = time.perf_counter() - started - frames.seconds
        rss_mb, peak_mb = resident_mb(pid)
    print(
        f"{frames.written:,} frames' observations ({frames.written // 10:,} tracks) "
        f"written in {frames.seconds:.0f} s"
    )
    p95 = percentile(posts, 0.95)
    print(f"{args.impressions:,} plays on {len(DISPLAYS)} displays in {played_s:.0f} s")
    for label, values in (("impression", posts), ("next-ad", polls)):
        print(
            f"{label:<11} p50 {statistics.median(values):7.1f} ms   "
            f"p95 {percentile(values, 0.95):7.1f} ms   max {max(values):7.1f} ms"
        )
    print(f"moto resident memory: {rss_mb:.0f} MB now, {peak_mb:.0f} MB at its peak")
    within = peak_mb <= args.rss_budget_mb and p95 <= args.p95_budget_ms
    summary = {
        "frames": args.frames,
        "impressions": args.impressions,
        "whole_table_transactions": args.whole_table_transactions,
        "impression_p50_ms": round(statistics.median(posts), 1),
        "impression_p95_ms": round(p95, 1),
        "next_ad_p95_ms": round(percentile(polls, 0.95), 1),
        "moto_rss_mb": round(rss_mb),
        "moto_peak_rss_mb": round(peak_mb),
    }
    print(json.dumps(summary), "within" if within else "OVER")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
