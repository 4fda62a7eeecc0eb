"""The fault run: hostile input and dying parts against the local stack, every frame accounted.

    python -m infra.faults [--frames 5000] [--pause-s 60]      # or: make faults

Starts its own local stack, then uploads broken, odd and oversized images, sends poison
messages to the jobs queue, kills a worker mid-batch, pauses moto, and uploads a load of
good frames. It then waits until every frame has ended somewhere and prints, per case, what
was expected, what was observed and how many frames are accounted for: each must end as an
observation, a rejection with its reason or a dead letter with its reason, and none may stay
in the bucket. Exits non-zero if any case is not as expected.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from infra import dlq
from infra.camera_frames import composed_frames
from infra.outputs import StackOutputs
from infra.stack import StackError, start_in_background, stop_background
from infra.template import REPO_ROOT

FAULTS_DIR = REPO_ROOT / ".local" / "faults"
STORE, CAMERA = "demo-store", "demo-cam-1"
# A job held by a killed worker comes back only after the queue's visibility timeout (180 s),
# so the run waits for as long as frames keep ending, and gives up after this long without.
STALL_S = 240.0


# ---------------------------------------------------------------------- what each frame became
@dataclass(frozen=True)
class Fate:
    """Where one frame (or poison message) ended."""

    kind: str  # "ok", "rejected", "dead letter", "in bucket", "missing"
    detail: str = ""  # the reason, or the number of faces
    faces: int = 0


@dataclass
class Case:
    name: str
    expected: str  # "ok", "ok with faces", "rejected", "dead letter"
    keys: list[str] = field(default_factory=list)  # frames uploaded
    poison: list[str] = field(default_factory=list)  # message bodies sent to the jobs queue


@dataclass(frozen=True)
class Verdict:
    case: str
    expected: str
    observed: str
    accounted: int
    total: int
    passed: bool


def fate_of_frame(
    key: str,
    observations: dict[str, dict[str, Any]],
    dead_letters: dict[str, str],
    in_bucket: set[str],
) -> Fate:
    """What became of one uploaded frame. A frame still in the bucket is not done, whatever
    else happened to it: nothing may stay there."""
    if key in in_bucket:
        return Fate("in bucket")
    observation = observations.get(key)
    if observation is not None:
        if observation["status"] == "ok":
            faces = len(observation.get("faces", []))
            return Fate("ok", f"{faces} face(s)", faces)
        return Fate("rejected", str(observation.get("error") or ""))
    if key in dead_letters:
        return Fate("dead letter", dead_letters[key])
    return Fate("missing")


def is_accounted(fate: Fate) -> bool:
    """Ended as an observation, a rejection with a reason, or a dead letter with a reason."""
    if fate.kind == "ok":
        return True
    return fate.kind in ("rejected", "dead letter") and bool(fate.detail)


def meets(expected: str, fate: Fate) -> bool:
    if expected == "ok with faces":
        return fate.kind == "ok" and fate.faces > 0
    return fate.kind == expected and is_accounted(fate)


def judge(case: Case, fates: list[Fate]) -> Verdict:
    """One row of the table: how the case's frames ended against what was expected."""
    counts: dict[str, int] = {}
    for fate in fates:
        label = fate.kind if fate.kind != "rejected" else f"rejected ({fate.detail})"
        if fate.kind == "dead letter":
            label = f"dead letter ({fate.detail})"
        if fate.kind == "ok" and len(fates) == 1:
            label = f"ok, {fate.detail}"
        counts[label] = counts.get(label, 0) + 1
    observed = "; ".join(
        f"{n} {label}" if len(fates) > 1 else label for label, n in sorted(counts.items())
    )
    accounted = sum(1 for fate in fates if is_accounted(fate))
    passed = bool(fates) and all(meets(case.expected, fate) for fate in fates)
    return Verdict(case.name, case.expected, observed, accounted, len(fates), passed)


def dead_letter_reasons(letters: Iterable[dlq.DeadLetter]) -> tuple[dict[str, str], set[str]]:
    """Frame key -> why, and the bodies of dead letters that name no frame (poison)."""
    by_key: dict[str, str] = {}
    poison_bodies: set[str] = set()
    for letter in letters:
        why = letter.reason or ""
        for key in letter.frame_keys:
            by_key[key] = why
        if not letter.frame_keys:
            poison_bodies.add(letter.body)
    return by_key, poison_bodies


def format_table(verdicts: list[Verdict]) -> str:
    header = ("case", "expected", "observed", "accounted", "")
    rows = [
        (v.case, v.expected, v.observed, f"{v.accounted}/{v.total}", "ok" if v.passed else "FAIL")
        for v in verdicts
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    widths[2] = min(widths[2], 70)
    lines = []
    for row in [header, *rows]:
        cells = [row[i][: widths[i]].ljust(widths[i]) for i in range(len(row))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------------- the bad inputs
def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A valid little PNG whose header claims ``width`` x ``height`` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def bad_inputs(good_jpeg: bytes) -> list[tuple[str, str, str, bytes]]:
    """(case, expected, extension, bytes) for each odd upload."""
    upright = np.asarray(Image.open(io.BytesIO(good_jpeg)).convert("RGB"))
    sixteen_bit = (np.asarray(Image.fromarray(upright).convert("L")).astype(np.uint16)) * 257
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to display
    Image.fromarray(np.rot90(upright, k=1)).save(rotated, format="JPEG", exif=exif)
    return [
        ("truncated JPEG", "rejected", "jpg", good_jpeg[: len(good_jpeg) // 3]),
        ("zero bytes", "rejected", "jpg", b""),
        ("text file", "rejected", "jpg", b"this is not a picture\n" * 20),
        ("100000x1 PNG", "rejected", "png", _png(Image.new("L", (100_000, 1)))),
        ("huge dimension header", "rejected", "png", png_claiming(100_000, 100_000)),
        ("16-bit PNG", "ok with faces", "png", _png(Image.fromarray(sixteen_bit))),
        ("EXIF-rotated JPEG", "ok with faces", "jpg", rotated.getvalue()),
    ]


POISON = [
    ("poison: not JSON", "not a frame job {"),
    ("poison: JSON, not a frame job", json.dumps({"hello": "world"})),
]


# ---------------------------------------------------------------------- the run
class FaultRun:
    def __init__(self, outputs: StackOutputs) -> None:
        self.outputs = outputs
        self.s3 = outputs.client("s3")
        self.sqs = outputs.client("sqs")
        self._last_ms = time.time_ns() // 1_000_000
        self.first_ms = self._last_ms + 1

    def upload(self, body: bytes, extension: str = "jpg") -> str:
        self._last_ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        key = f"frames/{STORE}/{CAMERA}/{self._last_ms}.{extension}"
        self.s3.put_object(Bucket=self.outputs.frames_bucket, Key=key, Body=body)
        return key

    def pids(self) -> dict[str, int]:
        return dict(json.loads(self.outputs.pids_file.read_text()))

    def observations(self) -> dict[str, dict[str, Any]]:
        table = self.outputs.client("dynamodb")
        paginator = table.get_paginator("query")
        found: dict[str, dict[str, Any]] = {}
        for page in paginator.paginate(
            TableName=str(self.outputs.document["observations_table"]),
            KeyConditionExpression="camera_key = :k AND captured_at_ms >= :since",
            ExpressionAttributeValues={
                ":k": {"S": f"{STORE}/{CAMERA}"},
                ":since": {"N": str(self.first_ms)},
            },
        ):
            for item in page.get("Items", []):
                found[item["frame_key"]["S"]] = {
                    "status": item["status"]["S"],
                    "error": item.get("error", {}).get("S"),
                    "faces": item.get("faces", {}).get("L", []),
                }
        return found

    def in_bucket(self) -> set[str]:
        keys: set[str] = set()
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.outputs.frames_bucket, Prefix="frames/"):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def dead_letters(self) -> list[dlq.DeadLetter]:
        """Everything in the dead-letter queue, left there for the next look."""
        queues = self.queues()
        letters = dlq.read_dead_letters(queues)
        dlq.release(queues, letters)
        return letters

    def queues(self) -> dlq.Queues:
        return dlq.Queues(self.sqs, self.outputs.jobs_queue_url, self.outputs.dead_letter_queue_url)


def wait_for(condition: Callable[[], bool], timeout_s: float, every_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every_s)
    return condition()


def run(args: argparse.Namespace) -> int:
    print("Starting the local stack ...", flush=True)
    process, outputs = start_in_background(FAULTS_DIR)
    try:
        verdicts = exercise(FaultRun(outputs), args)
    finally:
        stop_background(process)
    print()
    print(format_table(verdicts))
    failed = [v.case for v in verdicts if not v.passed]
    print(f"\n{len(verdicts) - len(failed)} of {len(verdicts)} cases as expected", end="")
    print(f"; not as expected: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


def exercise(faults: FaultRun, args: argparse.Namespace) -> list[Verdict]:
    good = [frame.jpeg for frame in composed_frames(3)]
    cases: list[Case] = []

    print("Bad inputs and poison messages ...", flush=True)
    for name, expected, extension, body in bad_inputs(good[1]):
        cases.append(Case(name, expected, [faults.upload(body, extension)]))
    for name, message in POISON:
        faults.sqs.send_message(QueueUrl=faults.queues().jobs_url, MessageBody=message)
        cases.append(Case(name, "dead letter", poison=[message]))

    print("A worker killed with SIGKILL mid-batch ...", flush=True)
    killed = Case("worker killed mid-batch", "ok", [faults.upload(good[i % 3]) for i in range(20)])
    cases.append(killed)
    wait_for(lambda: bool(set(killed.keys) & set(faults.observations())), 60, 0.1)
    os.kill(faults.pids()["worker-0"], signal.SIGKILL)

    print(f"moto paused for {args.pause_s:.0f} s (SIGSTOP, then SIGCONT) ...", flush=True)
    paused = Case(f"moto paused {args.pause_s:.0f} s", "ok")
    paused.keys = [faults.upload(good[i % 3]) for i in range(10)]
    cases.append(paused)
    moto = faults.pids()["moto"]
    os.kill(moto, signal.SIGSTOP)
    try:
        time.sleep(args.pause_s)
    finally:
        os.kill(moto, signal.SIGCONT)

    print(f"A load of {args.frames} frames ...", flush=True)
    load = Case(f"load of {args.frames} frames", "ok")
    load.keys = [faults.upload(good[i % 3]) for i in range(args.frames)]
    cases.append(load)

    every_key = {key for case in cases for key in case.keys}
    poison = {body for case in cases for body in case.poison}

    def pending() -> int:
        letters = faults.dead_letters()
        by_key, poison_bodies = dead_letter_reasons(letters)
        ended = set(faults.observations()) | set(by_key)
        left = (every_key - ended) | (faults.in_bucket() & every_key)
        return len(left) + len(poison - poison_bodies)

    print(
        f"Waiting for every frame to end somewhere (giving up after {STALL_S:.0f} s"
        " in which none does) ...",
        flush=True,
    )
    started = last_progress = time.monotonic()
    left = pending()
    while left and time.monotonic() - last_progress < STALL_S:
        time.sleep(10.0)
        now_left = pending()
        if now_left < left:
            last_progress = time.monotonic()
        left = now_left
        print(f"  ... {left} not ended yet ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"  {left} not ended after {time.monotonic() - started:.0f} s", flush=True)
    time.sleep(2.0)  # a dead letter is sent just after the record it replaces

    letters = faults.dead_letters()
    by_key, poison_bodies = dead_letter_reasons(letters)
    poison_reasons = {letter.body: letter.reason or "" for letter in letters}
    observations = faults.observations()
    in_bucket = faults.in_bucket()
    verdicts = []
    for case in cases:
        fates = [fate_of_frame(key, observations, by_key, in_bucket) for key in case.keys]
        fates += [
            Fate("dead letter", poison_reasons[body]) if body in poison_bodies else Fate("missing")
            for body in case.poison
        ]
        verdicts.append(judge(case, fates))
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.faults", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--frames", type=int, default=5000, help="good frames in the load")
    parser.add_argument("--pause-s", type=float, default=60.0, help="how long moto is paused")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (StackError, FileNotFoundError) as exc:
        print(f"faults: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
