"""The local stand-in for the tracker's stream trigger, on moto's DynamoDB streams."""

from __future__ import annotations

import uuid
from dataclasses import replace

import boto3
import pytest
from botocore.config import Config

from infra.local_lambda import LocalLambdaContext
from infra.provision import provision
from infra.stream_poller import StreamSource, StreamSourceConfig
from infra.template import load_template, translate
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation
from lambdas.tracker import handler as tracker_handler
from lambdas.tracker.store import DynamoTrackStore
from tests.aws_events import load_event
from tests.conftest import REGION

BASE_MS = 1_763_900_000_000


@pytest.fixture
def stack(aws, monkeypatch):
    """The template's tables on moto, and the tracker function configured for them."""
    stack = provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name=REGION),
        stack_name=f"stream-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
    )
    monkeypatch.setenv("TRACKS_TABLE", stack.outputs["TracksTableName"])
    clear_dependencies = tracker_handler.get_dependencies.cache_clear  # a test may stub it
    tracker_handler.get_settings.cache_clear()
    clear_dependencies()
    yield stack
    tracker_handler.get_settings.cache_clear()
    clear_dependencies()


def write_frames(stack, faces_per_frame, start_ms=BASE_MS):
    table = boto3.resource("dynamodb", region_name=REGION).Table(
        stack.outputs["ObservationsTableName"]
    )
    store = ObservationStore(table)
    for index, faces in enumerate(faces_per_frame):
        at_ms = start_ms + 500 * index
        frame = FrameKey("store-1", "cam-1", at_ms)
        store.put(ok_observation(frame, faces, processed_at_ms=at_ms + 300, model_version="m1"))


def face(looking):
    return {
        "box": [400, 300, 40, 48],
        "score": 0.9,
        "age": 30.0,
        "age_band": "young_adult",
        "gender": "male",
        "gender_confidence": 0.8,
        "yaw": 2.0 if looking else 60.0,
        "looking": looking,
    }


def source(stack, handler):
    # moto 5.2 answers streams on the regional endpoint, not on botocore's per-account one.
    streams = boto3.client(
        "dynamodbstreams",
        region_name=REGION,
        config=Config(account_id_endpoint_mode="disabled"),
    )
    arn = stack.resources["ObservationsTable"].attributes["StreamArn"]
    poller = StreamSource(streams, handler, StreamSourceConfig(arn, "tracker", batch_size=100))
    poller.start()
    return poller


def test_observations_written_to_the_table_become_people(stack, monkeypatch):
    # GIVEN the tracker's clock a second after the frames below were taken
    clock = [BASE_MS / 1000 + 11]
    warm = tracker_handler.get_dependencies()
    with_clock = replace(warm, clock=lambda: clock[0])
    monkeypatch.setattr(tracker_handler, "get_dependencies", lambda: with_clock)
    # AND the poller started on the stream, and a person seen in five frames, then gone
    poller = source(stack, tracker_handler.lambda_handler)
    write_frames(stack, [[face(looking=i >= 2)] for i in range(5)])
    write_frames(stack, [[]], start_ms=BASE_MS + 10_000)
    # WHEN it polls THEN every new observation is handed to the tracker function
    assert poller.poll_once() == 6
    assert poller.poll_once() == 0
    # AND the sweep settles the camera a minute later
    clock[0] += 60
    context = LocalLambdaContext("tracker", timeout_s=30)
    tracker_handler.lambda_handler(load_event("eventbridge_scheduled_sweep"), context)
    # AND the person is in the tracks table
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.outputs["TracksTableName"])
    [person] = DynamoTrackStore(table).tracks("store-1/cam-1", 0, BASE_MS + 60_000)
    assert (person.seen, person.gender, person.looking_s) == (5, "male", 1.5)


def test_a_failed_batch_is_handed_over_again(stack):
    calls = []

    def flaky(event, context):
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("first try fails")

    poller = source(stack, flaky)
    write_frames(stack, [[face(looking=True)]] * 3)
    assert poller.poll_once() == 0
    assert poller.poll_once() == 3
    assert calls == [3, 3]
