"""The tracker function: stream batches in, people out, open tracks carried between batches."""

from __future__ import annotations

import copy
import uuid
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from adserver.tracks import TrackSettings
from infra.local_lambda import LocalLambdaContext
from infra.provision import provision
from infra.template import load_template, translate
from lambdas.observations import Observation
from lambdas.tracker import handler
from lambdas.tracker.store import OPEN_TRACKS_KEY, DynamoTrackStore, InMemoryTrackStore
from lambdas.tracker.tracking import TrackerDependencies, track_observations
from tests.aws_events import load_event
from tests.conftest import REGION

BASE_MS = 1_763_900_000_000


def observation(at_ms, faces, camera="cam-1", status="ok"):
    return Observation(
        store="store-1",
        camera=camera,
        frame_key=f"frames/store-1/{camera}/{at_ms}.jpg",
        captured_at_ms=at_ms,
        processed_at_ms=at_ms + 500,
        status=status,
        error=None if status == "ok" else "not a JPEG/PNG",
        faces=tuple(faces),
        model_version="m1",
    )


def face(x, looking=True, gender="female"):
    return {
        "box": [x, 300, 40, 48],
        "score": 0.9,
        "age": 30.0,
        "age_band": "young_adult",
        "gender": gender,
        "gender_confidence": 0.9,
        "yaw": 0.0,
        "looking": looking,
    }


def stander(frames, start_ms=BASE_MS, camera="cam-1"):
    return [observation(start_ms + 500 * i, [face(400)], camera) for i in range(frames)]


def deps(store):
    return TrackerDependencies(store=store, settings=TrackSettings(), clock=lambda: 1_763_900_000)


# --- the domain function -------------------------------------------------------------------


def test_batches_split_anywhere_give_the_same_people_as_one_batch():
    frames = [*stander(6), observation(BASE_MS + 10000, [])]
    whole, split = InMemoryTrackStore(), InMemoryTrackStore()
    track_observations(frames, deps(whole))
    for batch in (frames[:2], frames[2:5], frames[5:]):
        track_observations(batch, deps(split))
    assert len(whole.records) == 1
    assert whole.records == split.records


def test_a_retried_batch_adds_no_one_twice():
    store = InMemoryTrackStore()
    frames = [*stander(4), observation(BASE_MS + 10000, [])]
    first = track_observations(frames, deps(store))
    again = track_observations(frames, deps(store))
    assert len(first.people) == 1 and again.people == []
    assert again.skipped == len(frames)
    assert len(store.records) == 1


def test_rejected_frames_are_skipped_and_cameras_are_tracked_apart():
    store = InMemoryTrackStore()
    frames = (
        stander(4, camera="cam-1")
        + stander(4, camera="cam-2")
        + [observation(BASE_MS + 700, [], status="rejected")]
        + [observation(BASE_MS + 10_000, [], camera=c) for c in ("cam-1", "cam-2")]
    )
    outcome = track_observations(frames, deps(store))
    assert (outcome.cameras, outcome.frames, outcome.skipped) == (2, 10, 1)
    assert sorted(t.camera for t in outcome.people) == ["store-1/cam-1", "store-1/cam-2"]


# --- the tracks table ----------------------------------------------------------------------


@pytest.fixture
def tracks_table(aws):
    """The tracks table with the key schema template.yaml gives it."""
    spec = load_template()["Resources"]["TracksTable"]["Properties"]
    table = boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=f"tracks-{uuid.uuid4().hex[:12]}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
    )
    table.wait_until_exists()
    return table


def test_the_table_keeps_people_and_open_tracks_apart(tracks_table):
    store = DynamoTrackStore(tracks_table)
    # GIVEN a person who left and one still in view
    track_observations([*stander(4), observation(BASE_MS + 10000, [face(800)])], deps(store))
    # THEN the person who left is a track, in the table's start order
    [person] = store.tracks("store-1/cam-1", BASE_MS - 1, BASE_MS + 60_000)
    assert (person.started_at_ms, person.seen, person.gender) == (BASE_MS, 4, "female")
    assert person.dwell_s == pytest.approx(2.0) and person.looking_s == pytest.approx(2.0)
    # AND the one in view is in the open state, which no track query returns
    state = store.open_tracks("store-1/cam-1")
    assert [t["seen"] for t in state["open"]] == [1]
    item = tracks_table.get_item(Key={"camera_key": "store-1/cam-1", "sort_key": OPEN_TRACKS_KEY})
    assert item["Item"]["expires_at"] > 1_763_900_000
    assert store.open_tracks("store-1/other-camera") == {}


def test_a_track_item_holds_only_durations_votes_and_times(tracks_table):
    store = DynamoTrackStore(tracks_table, retention_days=30)
    track_observations([*stander(3), observation(BASE_MS + 10000, [])], deps(store))
    items = [i for i in tracks_table.scan()["Items"] if i["sort_key"] != OPEN_TRACKS_KEY]
    [item] = items
    assert set(item) == {
        "camera_key",
        "sort_key",
        "expires_at",
        "camera",
        "started_at_ms",
        "ended_at_ms",
        "age_band",
        "gender",
        "vote_confidence",
        "seen",
        "dwell_s",
        "looking_s",
        "first_face",
    }
    assert item["expires_at"] == (BASE_MS + 1000) // 1000 + 30 * 86_400


# --- the handler ---------------------------------------------------------------------------


@pytest.fixture
def tracker_handler(tracks_table, monkeypatch):
    monkeypatch.setenv("TRACKS_TABLE", tracks_table.name)
    handler.get_settings.cache_clear()
    handler.get_dependencies.cache_clear()
    yield handler
    handler.get_settings.cache_clear()
    handler.get_dependencies.cache_clear()


def later_frame_event(at_ms):
    """The fixture's first INSERT, moved to ``at_ms`` with no faces."""
    event = load_event("dynamodb_stream_observations")
    record = copy.deepcopy(event["Records"][0])
    serializer = TypeSerializer()
    record["dynamodb"]["NewImage"]["captured_at_ms"] = serializer.serialize(Decimal(at_ms))
    record["dynamodb"]["NewImage"]["faces"] = serializer.serialize([])
    record["dynamodb"]["Keys"]["captured_at_ms"] = {"N": str(at_ms)}
    return {"Records": [record]}


def test_stream_inserts_become_a_track_when_the_person_has_gone(tracker_handler, tracks_table):
    # GIVEN the stream's batch: four frames of one person (looking in the last three) and a
    # TTL deletion
    event = load_event("dynamodb_stream_observations")
    context = LocalLambdaContext("tracker", timeout_s=30)
    # WHEN the function gets it THEN four frames are linked and no one has left yet
    assert tracker_handler.lambda_handler(event, context) == {
        "cameras": 1,
        "frames": 4,
        "people": 0,
    }
    # WHEN a frame without her arrives ten seconds later
    reply = tracker_handler.lambda_handler(later_frame_event(BASE_MS + 10_000), context)
    # THEN she is one person: seen four times over 2 s, looking for 1.5 s, a watcher
    assert reply["people"] == 1
    [person] = DynamoTrackStore(tracks_table).tracks("store-1/cam-1", 0, BASE_MS + 60_000)
    assert (person.seen, person.dwell_s, person.looking_s) == (4, 2.0, 1.5)
    assert person.is_watcher(TrackSettings())


def test_updates_and_ttl_deletions_are_not_observations():
    event = load_event("dynamodb_stream_observations")
    assert len(handler.new_observations(event)) == 4
    removals = {"Records": [r for r in event["Records"] if r["eventName"] == "REMOVE"]}
    assert handler.new_observations(removals) == []


# --- the template --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resources():
    return translate(load_template(), {"Stage": "local"})["Resources"]


def test_the_observation_stream_feeds_the_tracker_in_order(resources):
    table = resources["ObservationsTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    trigger = resources["TrackerFunctionObservationStream"]["Properties"]
    assert trigger["EventSourceArn"] == {"Fn::GetAtt": ["ObservationsTable", "StreamArn"]}
    assert trigger["ParallelizationFactor"] == 1
    assert trigger["BisectBatchOnFunctionError"] is True
    function = resources["TrackerFunction"]["Properties"]
    assert function["Handler"] == "lambdas.tracker.handler.lambda_handler"
    assert function["Environment"]["Variables"]["TRACKS_TABLE"] == {"Ref": "TracksTable"}


def test_the_tracker_reads_only_the_stream_and_writes_only_tracks(resources):
    role = resources["TrackerFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    targets = {
        str(statement["Resource"]): set(statement["Action"]) for statement in role["Statement"]
    }
    assert targets[str({"Fn::GetAtt": ["ObservationsTable", "StreamArn"]})] == {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    }
    assert targets[str({"Fn::GetAtt": ["TracksTable", "Arn"]})] == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
    }
    assert str({"Fn::GetAtt": ["ObservationsTable", "Arn"]}) not in targets


def test_the_local_stack_builds_the_stream_and_hands_its_trigger_to_the_stream_poller(aws):
    # GIVEN the template provisioned on moto
    stack = provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name=REGION),
        stack_name=f"tracks-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
    )
    # THEN the observations table has its stream
    observations = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=stack.outputs["ObservationsTableName"]
    )["Table"]
    assert observations["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    # AND the tracker's trigger is a stream source for the local runtime, not an SQS poller
    assert "TrackerFunction" not in {source.function for source in stack.event_sources}
    [stream] = stack.stream_sources
    assert stream.function == "TrackerFunction"
    assert stream.stream_arn == observations["LatestStreamArn"]
    assert (stream.batch_size, stream.starting_position) == (100, "LATEST")
    assert not any("DynamoDB stream" in note for note in stack.notes)
