"""`python -m infra.stack` runs the tracker: observations written to the local stack's table
become people in its tracks table, through the stream poller it supervises, and the sweep's
local timer counts the people before a quiet spell."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
from boto3.dynamodb.types import TypeDeserializer

from adserver.rollups import Cell, cells_of, hour_of
from adserver.tracks import Track
from infra.stack import start_in_background, stop_background
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation
from tests.infra.test_stack_dashboard import iso, report
from tests.infra.test_stream_poller import face

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("tracker-stack")
    process, outputs = start_in_background(run_dir, extra_args=("--workers", "1"))
    yield outputs
    stop_background(process)


def write_person(outputs, camera, start_ms, frames):
    """One person seen in ``frames`` frames at 2 fps, then an empty frame 10 s later."""
    table = outputs.resource("dynamodb").Table(outputs.document["observations_table"])
    store = ObservationStore(table)
    times = [start_ms + 500 * i for i in range(frames)] + [start_ms + 10_000 + 500 * frames]
    for index, at_ms in enumerate(times):
        faces = [face(looking=True)] if index < frames else []
        frame = FrameKey("demo-store", camera, at_ms)
        store.put(ok_observation(frame, faces, processed_at_ms=at_ms + 100, model_version="m"))


def tracks(outputs, camera_key, timeout_s=30.0):
    dynamodb = outputs.client("dynamodb")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = dynamodb.query(
            TableName=outputs.document["tracks_table"],
            KeyConditionExpression="camera_key = :c AND sort_key < :open",
            ExpressionAttributeValues={":c": {"S": camera_key}, ":open": {"S": "~"}},
            ConsistentRead=True,
        )["Items"]
        if items:
            read = TypeDeserializer().deserialize
            return [Track.from_dict({k: read(v) for k, v in item.items()}) for item in items]
        time.sleep(0.2)
    raise AssertionError(f"no track of {camera_key} within {timeout_s} s")


def test_observations_become_people_through_the_supervised_stream_poller(stack):
    outputs = stack
    # GIVEN the stack runs a poller on the observations table's stream
    pids = json.loads(outputs.pids_file.read_text())
    assert "stream-TrackerFunction" in pids
    # WHEN a person is seen in four frames and then the camera sees no one
    now_ms = time.time_ns() // 1_000_000
    write_person(outputs, "demo-cam-1", now_ms, frames=4)
    # THEN the tracker wrote one person who looked throughout (four frames of 0.5 s)
    [person] = tracks(outputs, "demo-store/demo-cam-1")
    assert (person.seen, person.gender, person.looking_s) == (4, "male", 2.0)
    # AND counted once in the store's hourly rollup, as a watcher
    rollup = outputs.client("dynamodb").get_item(
        TableName=outputs.document["rollups_table"],
        Key={"store": {"S": "demo-store"}, "hour": {"S": f"{hour_of(now_ms):013d}"}},
    )["Item"]
    cell = Cell(cells_of({"cells": rollup["cells"]["S"]})[("demo-cam-1", "young_adult/male")])
    assert (cell.people, cell.watchers) == (1, 1)


def test_a_killed_stream_poller_is_replaced_and_nothing_is_counted_twice(stack):
    outputs = stack
    # GIVEN the poller is killed
    before = json.loads(outputs.pids_file.read_text())["stream-TrackerFunction"]
    os.kill(before, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while json.loads(outputs.pids_file.read_text())["stream-TrackerFunction"] == before:
        assert time.monotonic() < deadline, "the poller was not replaced"
        time.sleep(0.2)
    # WHEN another person passes another camera of the store
    write_person(outputs, "demo-cam-2", time.time_ns() // 1_000_000, frames=3)
    # THEN the new poller tracks them, and the first camera still has its one person
    [person] = tracks(outputs, "demo-store/demo-cam-2", timeout_s=60)
    assert person.seen == 3
    assert len(tracks(outputs, "demo-store/demo-cam-1")) == 1


def three_people_frames(start_ms):
    """Three people standing side by side for 8 s at 2 frames/s: 16 observations' times and
    faces."""
    people = [{**face(looking=True), "box": [x, 300, 40, 48]} for x in (200, 600, 1000)]
    return [(start_ms + 500 * i, people) for i in range(16)]


def people_reported(outputs, since_ms, at_least, timeout_s):
    """The store report's people from ``since_ms`` on, once it holds ``at_least`` (or the
    last answer at the deadline)."""
    query = {"from": iso(since_ms - 3_600_000), "to": iso(since_ms + 3_600_000)}
    answer = report(
        outputs, query, until=lambda r: r["totals"]["people"] >= at_least, timeout_s=timeout_s
    )
    return int(answer["totals"]["people"])


@pytest.mark.parametrize("delivery", ["in order", "all at once"])
def test_three_people_are_counted_within_90_s_of_the_camera_going_quiet(stack, delivery):
    outputs = stack
    table = outputs.resource("dynamodb").Table(outputs.document["observations_table"])
    store = ObservationStore(table)
    camera = "demo-cam-3" if delivery == "in order" else "demo-cam-4"
    start_ms = time.time_ns() // 1_000_000
    before = people_reported(outputs, start_ms, 0, timeout_s=0)
    frames = three_people_frames(start_ms)
    if delivery == "all at once":
        # GIVEN a burst uploaded after the last frame was taken, processed in no order
        time.sleep(8)
        frames = random.Random(25).sample(frames, len(frames))
    for at_ms, faces in frames:
        if delivery == "in order":
            # GIVEN each frame written as it is taken, 2 frames/s
            time.sleep(max(0.0, (at_ms - time.time_ns() // 1_000_000) / 1000))
        frame = FrameKey("demo-store", camera, at_ms)
        store.put(ok_observation(frame, faces, processed_at_ms=at_ms + 100, model_version="m"))
    # WHEN the camera goes quiet
    quiet_at = time.monotonic()
    # THEN within 90 s the store's report counts the three
    assert people_reported(outputs, start_ms, before + 3, timeout_s=90) == before + 3
    print(f"{delivery}: counted {time.monotonic() - quiet_at:.1f} s after the camera went quiet")
    assert len(tracks(outputs, f"demo-store/{camera}")) == 3
