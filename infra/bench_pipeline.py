"""Upload frames with 1 to 3 faces to a running local stack and time each until its
observation can be read.

    python -m infra.bench_pipeline [--frames 50] [--fps 4]

Prints p50/p95/max latency from the start of each upload to the moment its observation is
in the table, how many observations carried the expected number of faces, and how many
objects are left under frames/. Exits non-zero if an observation is missing or p95 is over
--p95-budget-s.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.camera_frames import CameraFrame, composed_frames
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs

STORE, CAMERA = "demo-store", "demo-cam-1"


@dataclass
class Upload:
    key: str
    captured_at_ms: int
    expected_faces: int
    started_s: float
    observed_s: float | None = None
    faces: int | None = None
    status: str | None = None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 50 values is the 48th smallest)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def run(
    outputs: StackOutputs, frames: Iterable[CameraFrame], fps: float, timeout_s: float
) -> list[Upload]:
    """Upload ``frames`` at ``fps`` (0: all at once) and wait up to ``timeout_s`` after the
    last upload for every observation."""
    s3 = outputs.client("s3")
    table = outputs.client("dynamodb")  # low-level: one Query per poll, no resource layer
    table_name = str(outputs.document["observations_table"])
    camera_key = f"{STORE}/{CAMERA}"
    uploads: dict[int, Upload] = {}
    pending: dict[int, Upload] = {}
    last_ms = 0
    interval_s = 1.0 / fps if fps > 0 else 0.0
    next_upload = time.monotonic()

    def poll() -> None:
        if not pending:
            return
        # Only from the oldest frame still waiting: a long run's table would outgrow a page.
        query: dict[str, Any] = {
            "TableName": table_name,
            "KeyConditionExpression": "camera_key = :k AND captured_at_ms >= :since",
            "ExpressionAttributeValues": {
                ":k": {"S": camera_key},
                ":since": {"N": str(min(pending))},
            },
            "ProjectionExpression": "captured_at_ms, faces, #s",
            "ExpressionAttributeNames": {"#s": "status"},
        }
        while True:
            response = table.query(**query)
            now = time.monotonic()
            for item in response.get("Items", []):
                upload = pending.pop(int(item["captured_at_ms"]["N"]), None)
                if upload is not None:
                    upload.observed_s = now
                    upload.faces = len(item["faces"]["L"])
                    upload.status = item["status"]["S"]
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    for frame in frames:
        while time.monotonic() < next_upload:
            poll()
            time.sleep(min(0.05, max(0.0, next_upload - time.monotonic())))
        captured_ms = max(time.time_ns() // 1_000_000, last_ms + 1)
        last_ms = captured_ms
        key = f"frames/{STORE}/{CAMERA}/{captured_ms}.jpg"
        upload = Upload(key, captured_ms, frame.expected_faces or 0, time.monotonic())
        uploads[captured_ms] = pending[captured_ms] = upload
        s3.put_object(Bucket=outputs.frames_bucket, Key=key, Body=frame.jpeg)
        next_upload = upload.started_s + interval_s
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pending:
        poll()
        time.sleep(0.05)
    return list(uploads.values())


def latencies_s(uploads: list[Upload]) -> list[float]:
    """Seconds from the start of each observed frame's upload to its observation."""
    return [u.observed_s - u.started_s for u in uploads if u.observed_s is not None]


def frames_left(outputs: StackOutputs) -> int:
    listing = outputs.client("s3").list_objects_v2(Bucket=outputs.frames_bucket, Prefix="frames/")
    return int(listing.get("KeyCount", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.bench_pipeline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--outputs", type=Path, default=DEFAULT_OUTPUTS)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--fps", type=float, default=4.0, help="upload rate; 0 uploads at once")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument("--p95-budget-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    try:
        outputs = StackOutputs.read(args.outputs)
    except FileNotFoundError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1

    uploads = run(outputs, composed_frames(args.frames), args.fps, args.timeout_s)
    time.sleep(0.5)  # the delete follows the observation write by a few milliseconds
    observed = [u for u in uploads if u.observed_s is not None]
    latencies = latencies_s(uploads)
    right_faces = sum(1 for u in observed if u.faces == u.expected_faces)
    rejected = sum(1 for u in observed if u.status != "ok")
    left = frames_left(outputs)
    print(f"frames uploaded        {len(uploads)} at {args.fps:g} fps")
    print(f"observations           {len(observed)} ({rejected} rejected)")
    print(f"right number of faces  {right_faces}/{len(observed)}")
    if latencies:
        print(
            f"upload -> observation  p50 {statistics.median(latencies):.3f} s"
            f"  p95 {percentile(latencies, 0.95):.3f} s  max {max(latencies):.3f} s"
        )
    print(f"objects left under frames/  {left}")
    ok = (
        len(observed) == len(uploads)
        and bool(latencies)
        and percentile(latencies, 0.95) <= args.p95_budget_s
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
