"""The end-to-end demo: start the local stack, play a camera into it, and show each
observation and the display's next ad as they happen.

    python -m infra.demo                      # sample photographs composed into frames
    python -m infra.demo --frames DIR         # your own JPEG/PNG files
    python -m infra.demo --video FILE         # one frame every half second of a video
    python -m infra.demo --keep               # into the running `make stack`, left there

It ends with the links of the dashboard and the players, tokens filled in. Its own stack
stops when it ends; with --keep it plays into the stack `make stack` runs, so what it made
stays in the dashboard for as long as that stack runs.
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

from adserver.index_page import local_links
from infra.camera_frames import CameraFrame, composed_frames, folder_frames, video_frames
from infra.outputs import DEFAULT_OUTPUTS, StackOutputs
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
    """One line for an observation: each face's age band, gender, estimated age and how sure
    the model is of the gender (50 %: a guess, 100 %: certain)."""
    if observation["status"] != "ok":
        return f"rejected: {observation['error']}"
    faces = observation["faces"]
    if not faces:
        return "ok, no faces"
    people = ", ".join(
        f"{f['age_band'].replace('_', ' ')} {f['gender']} ~{f['age']:.0f}y"
        f" ({f['gender_confidence']:.0%} sure of the gender)"
        for f in faces
    )
    return f"ok, {plural(len(faces), 'face')}: {people}"


def plural(count: int, noun: str) -> str:
    """'1 face', '2 faces'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_ad(ad: dict[str, Any]) -> str:
    audience = ad["audience"]
    return (
        f"{ad['ad_id']} for {ad['duration_s']} s"
        f" (audience {audience['bucket']}, {plural(audience['faces'], 'face')}"
        f" in {audience['window_s']} s)"
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
    if args.keep:
        outputs = StackOutputs.read(args.outputs)
        print(f"Playing into the running stack ({args.outputs}); it keeps what the demo makes.")
        return demo(args, outputs, started, kept=True)
    print("Starting the local stack: moto (S3, SNS, SQS, DynamoDB) from template.yaml,")
    print("the inference worker and the ad server ...", flush=True)
    stack, outputs = start_in_background(DEMO_DIR, STACK_START_TIMEOUT_S)
    try:
        print(f"Stack ready in {time.monotonic() - started:.1f} s.")
        return demo(args, outputs, started, kept=False)
    finally:
        stop_background(stack)


def demo(args: argparse.Namespace, outputs: StackOutputs, started: float, kept: bool) -> int:
    """Play the camera into the stack of ``outputs``, then say where to look."""
    print(f"Camera {STORE}/{CAMERA} starts. Each face: age band, gender, estimated age, and how")
    print("sure the model is of the gender (50 % is a guess, 100 % is certain).", flush=True)
    api = Api(outputs)
    sent, seen = play(demo_frames(args), outputs, api, args.fps)
    listing = outputs.client("s3").list_objects_v2(Bucket=outputs.frames_bucket, Prefix="frames/")
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
    print(f"; {plural(listing.get('KeyCount', 0), 'frame')} left in the bucket.")
    print(f"{OTHER_DISPLAY} (another store) sees audience {other['audience']['bucket']}.")
    print(f"Done in {time.monotonic() - started:.1f} s. Logs: {outputs.document['logs_dir']}")
    print()
    print(next_steps(outputs, kept))
    return 0 if len(seen) == len(sent) else 1


def next_steps(outputs: StackOutputs, kept: bool) -> str:
    """Where to look next: the dashboard and the players, with their tokens."""
    links = local_links(outputs.document, base=outputs.adserver_url)
    lines = [f"{text}:\n  {link}" for text, link in links]
    if kept:
        lines.append("They work for as long as the stack runs (Ctrl-C in its terminal stops it).")
    else:
        lines.append(
            "This demo's own stack stops now, and these links with it. To keep what a demo"
            " makes: `make stack` in one terminal, then `.venv/bin/python -m infra.demo --keep`"
            " in another, and open the links it prints."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.demo", description=__doc__.splitlines()[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--frames", type=Path, help="a folder of JPEG/PNG frames to play")
    source.add_argument("--video", type=Path, help="a video file to sample frames from")
    parser.add_argument("--count", type=int, default=12, help="frames to play (samples, video)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames uploaded per second")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="play into the running stack (make stack) instead of starting one, and leave"
        " what the demo made there for the dashboard",
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        default=DEFAULT_OUTPUTS,
        help="with --keep: the running stack's outputs (default: %(default)s)",
    )
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
