"""The end-to-end demo: start the local stack, play a camera into it, and show each
observation and the display's next ad as they happen.

    python -m infra.demo                      # sample photographs composed into frames
    python -m infra.demo --frames DIR         # your own JPEG/PNG files
    python -m infra.demo --video FILE         # one frame every half second of a video
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.camera_frames import CameraFrame, composed_frames, folder_frames, video_frames
from infra.outputs import StackOutputs
from infra.stack import StackError, start_in_background, stop_background
from infra.template import REPO_ROOT

DEMO_DIR = REPO_ROOT / ".local" / "demo"
STORE, CAMERA, DISPLAY, OTHER_DISPLAY = (
    "demo-store",
    "demo-cam-1",
    "demo-display-1",
    "north-display-1",
)
STACK_START_TIMEOUT_S = 150.0
SETTLE_TIMEOUT_S = 30.0


@dataclass
class Sent:
    index: int
    label: str
    captured_at_ms: int
    sent_s: float


class Api:
    """The ad server's HTTP API with the local stack's tokens."""

    def __init__(self, outputs: StackOutputs) -> None:
        self.base = outputs.adserver_url
        self.operator = outputs.operator_token
        self.displays = {d: outputs.display(d)["token"] for d in outputs.document["displays"]}

    def get(self, path: str, token: str) -> Any:
        request = urllib.request.Request(
            self.base + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def observations(self, since_ms: int) -> list[dict[str, Any]]:
        path = f"/v1/stores/{STORE}/cameras/{CAMERA}/observations?since_ms={since_ms}"
        return list(self.get(path, self.operator)["observations"])

    def next_ad(self, display_id: str) -> dict[str, Any]:
        return dict(self.get(f"/v1/displays/{display_id}/next-ad", self.displays[display_id]))


def describe_faces(observation: dict[str, Any]) -> str:
    if observation["status"] != "ok":
        return f"rejected: {observation['error']}"
    faces = observation["faces"]
    if not faces:
        return "ok, no faces"
    people = ", ".join(
        f"{f['age_band']} {f['gender']} ~{f['age']:.0f}y ({f['gender_confidence']:.2f})"
        for f in faces
    )
    return f"ok, {len(faces)} face(s): {people}"


def describe_ad(ad: dict[str, Any]) -> str:
    audience = ad["audience"]
    return (
        f"{ad['ad_id']} for {ad['duration_s']} s"
        f" (audience {audience['bucket']}, {audience['faces']} faces in {audience['window_s']} s)"
    )


def play(
    frames: Iterator[CameraFrame], outputs: StackOutputs, api: Api, fps: float
) -> tuple[list[Sent], dict[int, float]]:
    """Upload each frame, printing observations and next ads as they arrive."""
    s3 = outputs.client("s3")
    sent: dict[int, Sent] = {}
    seen: dict[int, float] = {}  # captured_at_ms -> seconds from upload to observation
    since_ms = time.time_ns() // 1_000_000 - 1
    last_ms = 0

    def show_new() -> None:
        nonlocal since_ms
        for observation in api.observations(since_ms):
            since_ms = max(since_ms, observation["captured_at_ms"])
            frame = sent.get(observation["captured_at_ms"])
            if frame is None or frame.captured_at_ms in seen:
                continue
            seen[frame.captured_at_ms] = time.monotonic() - frame.sent_s
            print(
                f"  [{seen[frame.captured_at_ms]:5.2f} s] frame {frame.index:2d} ({frame.label}): "
                f"{describe_faces(observation)}"
            )
            print(f"             next ad on {DISPLAY}: {describe_ad(api.next_ad(DISPLAY))}")

    interval_s = 1.0 / fps
    for index, frame in enumerate(frames, start=1):
        captured_ms = max(time.time_ns() // 1_000_000, last_ms + 1)
        last_ms = captured_ms
        key = f"frames/{STORE}/{CAMERA}/{captured_ms}.jpg"
        sent[captured_ms] = Sent(index, frame.label, captured_ms, time.monotonic())
        s3.put_object(Bucket=outputs.frames_bucket, Key=key, Body=frame.jpeg)
        next_upload = sent[captured_ms].sent_s + interval_s
        while time.monotonic() < next_upload:
            show_new()
            time.sleep(0.1)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while len(seen) < len(sent) and time.monotonic() < deadline:
        show_new()
        time.sleep(0.1)
    return list(sent.values()), seen


def demo_frames(args: argparse.Namespace) -> Iterator[CameraFrame]:
    if args.frames is not None:
        yield from folder_frames(args.frames)
    elif args.video is not None:
        yield from video_frames(args.video, limit=args.count)
    else:
        yield from composed_frames(args.count)
        # One broken upload, to show that it becomes a rejected observation, not a crash.
        good = next(composed_frames(1)).jpeg
        yield CameraFrame(good[: len(good) // 3], "a truncated upload")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print("Starting the local stack: moto (S3, SNS, SQS, DynamoDB) from template.yaml,")
    print("the inference worker and the ad server ...", flush=True)
    stack, outputs = start_in_background(DEMO_DIR, STACK_START_TIMEOUT_S)
    try:
        print(f"Stack ready in {time.monotonic() - started:.1f} s. Camera {STORE}/{CAMERA} starts.")
        api = Api(outputs)
        sent, seen = play(demo_frames(args), outputs, api, args.fps)
        listing = outputs.client("s3").list_objects_v2(
            Bucket=outputs.frames_bucket, Prefix="frames/"
        )
        other = api.next_ad(OTHER_DISPLAY)
        print()
        print(f"{len(seen)}/{len(sent)} frames observed", end="")
        if seen:
            latencies = list(seen.values())
            print(
                f"; upload -> observation median {statistics.median(latencies):.2f} s,"
                f" max {max(latencies):.2f} s",
                end="",
            )
        print(f"; {listing.get('KeyCount', 0)} frames left in the bucket.")
        print(f"{OTHER_DISPLAY} (another store) sees audience {other['audience']['bucket']}.")
        print(f"Done in {time.monotonic() - started:.1f} s. Logs: {outputs.document['logs_dir']}")
        return 0 if len(seen) == len(sent) else 1
    finally:
        stop_background(stack)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--frames", type=Path, help="a folder of JPEG/PNG frames to play")
    source.add_argument("--video", type=Path, help="a video file to sample frames from")
    parser.add_argument("--count", type=int, default=12, help="frames to play (samples, video)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames uploaded per second")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (StackError, FileNotFoundError, urllib.error.URLError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
