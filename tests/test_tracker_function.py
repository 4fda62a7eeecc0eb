"""The tracker function: stream batches in, people out, open tracks carried between batches."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace

import boto3
import pytest

from adserver.reports import build_report
from adserver.rollups import DynamoRollups, InMemoryRollups
from adserver.tracks import TrackSettings
from infra.local_lambda import LocalLambdaContext
from infra.provision import provision
from infra.template import load_template, translate
from lambdas.observations import Observation
from lambdas.tracker import handler
from lambdas.tracker.store import (
    OPEN_TRACKS_KEY,
    DynamoTrackStore,
    InMemoryTrackStore,
    StateChanged,
)
from lambdas.tracker.tracking import TrackerDependencies, sweep, track_observations
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


class Clock:
    """The tracker's wall clock, moved by the test (seconds)."""

    def __init__(self, now_s=BASE_MS / 1000):
        self.now_s = now_s

    def __call__(self):
        return self.now_s


def deps(store, clock=None):
    return TrackerDependencies(store=store, settings=TrackSettings(), clock=clock or Clock())


def delivered(store, batches, clock):
    """Each (arrival seconds, observations) batch through the stream, at its arrival time."""
    for arrived_s, batch in batches:
        clock.now_s = arrived_s
        track_observations(batch, deps(store, clock))


def in_order(frames, latency_s=1.0):
    """Each frame alone, arriving ``latency_s`` after its capture."""
    return [(f.captured_at_ms / 1000 + latency_s, [f]) for f in frames]


def counted_store():
    return InMemoryTrackStore(rollups=InMemoryRollups())


def report_of(store):
    records = store.rollups.hours("store-1", 0, BASE_MS + 86_400_000)
    return build_report("store-1", BASE_MS - 3_600_000, BASE_MS + 3_600_000, records)


def three_people(frames=16, start_ms=BASE_MS):
    """Three people standing side by side for ``frames`` frames at 2 frames/s."""
    return [
        observation(start_ms + 500 * i, [face(200), face(600, gender="male"), face(1000)])
        for i in range(frames)
    ]


def test_batches_split_anywhere_give_the_same_people_as_one_batch():
    frames = [*stander(6), observation(BASE_MS + 10000, [])]
    whole, split, clock = InMemoryTrackStore(), InMemoryTrackStore(), Clock()
    delivered(whole, [(BASE_MS / 1000 + 11, frames)], clock)
    delivered(split, [(BASE_MS / 1000 + 3, frames[:2]), (BASE_MS / 1000 + 11, frames[2:])], clock)
    for store in (whole, split):
        clock.now_s = BASE_MS / 1000 + 60
        sweep(deps(store, clock))
    assert len(whole.records) == 1
    assert whole.records == split.records


def test_a_retried_batch_adds_no_one_twice():
    store, clock = InMemoryTrackStore(), Clock(BASE_MS / 1000 + 11)
    frames = [*stander(4), observation(BASE_MS + 3000, [])]
    first = track_observations(frames, deps(store, clock))
    clock.now_s += 30
    swept = sweep(deps(store, clock))
    again = track_observations(frames, deps(store, clock))
    assert first.people == [] and len(swept.people) == 1 and again.people == []
    # THEN the repeated frames are too late to link: the camera has settled past them
    assert again.late == len(frames)
    assert len(store.records) == 1


def test_rejected_frames_are_skipped_and_cameras_are_tracked_apart():
    store, clock = InMemoryTrackStore(), Clock(BASE_MS / 1000 + 30)
    frames = (
        stander(4, camera="cam-1")
        + stander(4, camera="cam-2")
        + [observation(BASE_MS + 700, [], status="rejected")]
        + [observation(BASE_MS + 10_000, [], camera=c) for c in ("cam-1", "cam-2")]
    )
    outcome = track_observations(frames, deps(store, clock))
    assert (outcome.cameras, outcome.skipped) == (2, 1)
    clock.now_s += 30
    swept = sweep(deps(store, clock))
    assert outcome.frames + swept.frames == 10
    people = outcome.people + swept.people
    assert sorted(t.camera for t in people) == ["store-1/cam-1", "store-1/cam-2"]


# --- counted by the clock, in capture order -------------------------------------------------


def test_people_before_a_quiet_spell_are_counted_by_the_sweep():
    # GIVEN three people in front of one camera for 8 s at 2 frames/s, each frame delivered
    # a second after it was captured, and then the camera sends nothing
    store, clock = counted_store(), Clock()
    delivered(store, in_order(three_people()), clock)
    assert report_of(store)["totals"]["people"] == 0
    # WHEN the sweep runs by the clock a minute after the last frame
    clock.now_s = BASE_MS / 1000 + 8 + 60
    outcome = sweep(deps(store, clock))
    # THEN the report counts the three
    assert len(outcome.people) == 3
    assert report_of(store)["totals"]["people"] == 3
    # AND a later sweep counts no one again, and leaves no camera to sweep
    clock.now_s += 60
    assert sweep(deps(store, clock)).people == []
    assert store.cameras_to_sweep() == []
    assert report_of(store)["totals"]["people"] == 3


def test_frames_delivered_all_at_once_give_the_same_report_as_in_order():
    # GIVEN the same three people's frames, once one by one and once all in one burst
    # uploaded after the last was captured, in a scrambled order over three stream batches
    frames = three_people()
    ordered, burst = counted_store(), counted_store()
    clock = Clock()
    delivered(ordered, in_order(frames), clock)
    scrambled = random.Random(3).sample(frames, len(frames))
    arrive_s = BASE_MS / 1000 + 9
    batches = [(arrive_s + n, scrambled[n * 6 : n * 6 + 6]) for n in range(3)]
    delivered(burst, batches, clock)
    # WHEN the sweep runs a minute later for both
    for store in (ordered, burst):
        clock.now_s = BASE_MS / 1000 + 70
        sweep(deps(store, clock))
    # THEN both reports are the same: three people, none lost to the order of arrival
    assert report_of(burst)["totals"]["people"] == 3
    assert report_of(burst) == report_of(ordered)
    assert burst.records == ordered.records


def test_twenty_shuffled_frames_give_the_people_dwell_and_watchers_of_ordered_ones():
    # GIVEN 20 frames of three people (one walking across, two standing, one looking away)
    frames = [
        observation(
            BASE_MS + 500 * i,
            [
                face(100 + 30 * i, looking=False),
                face(700, gender="male"),
                face(1100, looking=i >= 10),
            ],
        )
        for i in range(20)
    ]
    ordered, shuffled, permuted, clock = counted_store(), counted_store(), counted_store(), Clock()
    delivered(ordered, in_order(frames), clock)
    # WHEN the same frames arrive shuffled, each up to 4 s late (parallel processing)
    rng = random.Random(25)
    arrivals = sorted((f.captured_at_ms / 1000 + rng.uniform(0.3, 4.0), [f]) for f in frames)
    delivered(shuffled, [(at, batch) for at, batch in arrivals], clock)
    # AND once in any order at all, after the last was taken, in stream batches of three half
    # a second apart (a burst processed in parallel)
    anyhow = rng.sample(frames, len(frames))
    after_s = BASE_MS / 1000 + 10
    batches = [(after_s + n / 2, anyhow[3 * n : 3 * n + 3]) for n in range(7)]
    delivered(permuted, batches, clock)
    for store in (ordered, shuffled, permuted):
        clock.now_s = BASE_MS / 1000 + 80
        sweep(deps(store, clock))
    # THEN the same people, with the same dwell and looking time, and the same watchers
    people = sorted(ordered.records.values(), key=lambda t: t.sort_key)
    assert len(people) == 3
    for store in (shuffled, permuted):
        assert sorted(store.records.values(), key=lambda t: t.sort_key) == people
        assert report_of(store) == report_of(ordered)
    assert report_of(ordered)["totals"]["watchers"] == 2


def test_a_frame_later_than_the_sweep_horizon_starts_a_new_track_an_earlier_one_is_late():
    # GIVEN one person swept away by the clock
    store, clock = counted_store(), Clock()
    delivered(store, in_order(stander(6)), clock)
    clock.now_s = BASE_MS / 1000 + 60
    [person] = sweep(deps(store, clock)).people
    horizon = store.open_tracks("store-1/cam-1")["horizon_ms"]
    assert horizon > person.ended_at_ms + 3000
    # WHEN a straggler captured before the sweep's horizon arrives
    clock.now_s += 1
    late = track_observations([observation(horizon - 500, [face(400)])], deps(store, clock))
    # THEN it is counted as late and linked nowhere
    assert (late.late, late.frames) == (1, 0)
    # WHEN the person comes back a second later
    back_ms = round(clock.now_s * 1000) + 1000
    delivered(store, in_order(stander(4, start_ms=back_ms)), clock)
    clock.now_s += 60
    [again] = sweep(deps(store, clock)).people
    # THEN that is a second track, and the report counts two passes
    assert again.started_at_ms == back_ms > horizon
    assert report_of(store)["totals"]["people"] == 2


class SavesAfter:
    """A store through which ``interloper`` runs just before the first save gets there:
    the stream and the sweep settling one camera at the same moment."""

    def __init__(self, inner, interloper):
        self.inner, self.interloper = inner, interloper

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def save_open_tracks(self, *args, **kwargs):
        interloper, self.interloper = self.interloper, None
        if interloper is not None:
            interloper()
        return self.inner.save_open_tracks(*args, **kwargs)


def race_sweep_and_stream(store, sweep_first_saves):
    """One person, then at one moment the sweep and a stream batch (an empty frame) that both
    end their track; ``sweep_first_saves``: which of them reaches the store first."""
    clock = Clock()
    delivered(store, in_order([*stander(6), observation(BASE_MS + 20_000, [])]), clock)
    clock.now_s = BASE_MS / 1000 + 40
    batch = [observation(BASE_MS + 30_000, [])]

    def stream():
        assert len(track_observations(batch, deps(store, clock)).people) == 1

    def swept():
        assert len(sweep(deps(store, clock)).people) == 1

    racing = SavesAfter(store, swept if sweep_first_saves else stream)
    if sweep_first_saves:
        outcome = track_observations(batch, deps(racing, clock))
    else:
        outcome = sweep(deps(racing, clock))
    assert racing.interloper is None, "the other one never ran"
    return outcome


@pytest.mark.parametrize("sweep_first_saves", [True, False])
def test_the_sweep_and_the_stream_racing_count_one_person_once(sweep_first_saves):
    # GIVEN a person whose track both the sweep and a stream batch end at the same moment
    store = counted_store()
    outcome = race_sweep_and_stream(store, sweep_first_saves)
    # THEN the loser of the race started again from the winner's state
    assert outcome.people == []
    # AND the person is one track and one person in the report
    assert len(store.records) == 1
    assert report_of(store)["totals"]["people"] == 1


# --- the tracks table ----------------------------------------------------------------------


def table_from_template(logical_id):
    """A table with the keys and indexes template.yaml gives ``logical_id``."""
    spec = load_template()["Resources"][logical_id]["Properties"]
    table = boto3.resource("dynamodb", region_name=REGION).create_table(
        TableName=f"{logical_id.lower()}-{uuid.uuid4().hex[:12]}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        **{k: spec[k] for k in ("GlobalSecondaryIndexes",) if k in spec},
    )
    table.wait_until_exists()
    return table


@pytest.fixture
def tracks_table(aws):
    return table_from_template("TracksTable")


@pytest.fixture
def rollups_table(aws):
    return table_from_template("RollupsTable")


def test_the_table_keeps_people_and_open_tracks_apart(tracks_table):
    store, clock = DynamoTrackStore(tracks_table), Clock()
    # GIVEN a person who left and one still in view, settled by the sweep
    delivered(store, in_order([*stander(4), observation(BASE_MS + 10000, [face(800)])]), clock)
    clock.now_s = BASE_MS / 1000 + 21
    assert store.cameras_to_sweep() == ["store-1/cam-1"]
    sweep(deps(store, clock))
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
    store, clock = DynamoTrackStore(tracks_table, retention_days=30), Clock()
    delivered(store, in_order([*stander(3), observation(BASE_MS + 10000, [])]), clock)
    clock.now_s = BASE_MS / 1000 + 60
    sweep(deps(store, clock))
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


def test_a_camera_left_by_everyone_is_no_longer_swept(tracks_table):
    # GIVEN a camera whose one person the sweep has counted
    store, clock = DynamoTrackStore(tracks_table), Clock()
    delivered(store, in_order(stander(3)), clock)
    clock.now_s = BASE_MS / 1000 + 60
    assert len(sweep(deps(store, clock)).people) == 1
    # THEN the sweep's index no longer lists it, and its state is kept with its horizon
    assert store.cameras_to_sweep() == []
    state, version = store.open_state("store-1/cam-1")
    assert state["open"] == [] and state["horizon_ms"] > BASE_MS + 1000
    assert version == 4


def test_saving_over_a_version_someone_else_replaced_is_refused(tracks_table):
    # GIVEN a camera's state saved twice
    store = DynamoTrackStore(tracks_table)
    store.save_open_tracks("store-1/cam-1", {"open": []}, 1, 0, due=True)
    store.save_open_tracks("store-1/cam-1", {"open": [], "last_at_ms": 5}, 1, 1, due=True)
    # WHEN a writer that read the first version saves
    # THEN it is told, and the state is the second writer's
    with pytest.raises(StateChanged):
        store.save_open_tracks("store-1/cam-1", {"open": []}, 1, 1, due=False)
    with pytest.raises(StateChanged):
        store.save_open_tracks("store-1/cam-2", {"open": []}, 1, 3, due=False)
    assert store.open_state("store-1/cam-1") == ({"open": [], "last_at_ms": 5}, 2)


@pytest.mark.parametrize("sweep_first_saves", [True, False])
def test_the_sweep_and_the_stream_racing_on_the_table_count_one_person_once(
    tracks_table, rollups_table, sweep_first_saves
):
    # GIVEN the tracks and rollups tables, and a person both end at the same moment
    rollups = DynamoRollups(rollups_table)
    store = DynamoTrackStore(tracks_table, rollups=rollups)
    race_sweep_and_stream(store, sweep_first_saves)
    # THEN one track, and one person in the store's rollup
    assert len(store.tracks("store-1/cam-1", 0, BASE_MS + 86_400_000)) == 1
    records = rollups.hours("store-1", 0, BASE_MS + 86_400_000)
    report = build_report("store-1", BASE_MS - 3_600_000, BASE_MS + 3_600_000, records)
    assert report["totals"]["people"] == 1


# --- the handler ---------------------------------------------------------------------------


@pytest.fixture
def tracker_handler(tracks_table, monkeypatch):
    monkeypatch.setenv("TRACKS_TABLE", tracks_table.name)
    handler.get_settings.cache_clear()
    clear_dependencies = handler.get_dependencies.cache_clear  # a test may stub the getter
    clear_dependencies()
    yield handler
    handler.get_settings.cache_clear()
    clear_dependencies()


def test_stream_inserts_become_a_track_when_the_sweep_finds_her_gone(
    tracker_handler, tracks_table, monkeypatch
):
    clock = Clock(BASE_MS / 1000 + 2)
    warm = tracker_handler.get_dependencies()
    monkeypatch.setattr(tracker_handler, "get_dependencies", lambda: replace(warm, clock=clock))
    # GIVEN the stream's batch: four frames of one person (looking in the last three) and a
    # TTL deletion
    event = load_event("dynamodb_stream_observations")
    context = LocalLambdaContext("tracker", timeout_s=30)
    # WHEN the function gets it THEN the frames are held back and no one has left yet
    reply = tracker_handler.lambda_handler(event, context)
    assert (reply["cameras"], reply["frames"], reply["people"]) == (1, 0, 0)
    # WHEN EventBridge's scheduled sweep comes a minute later
    clock.now_s += 60
    reply = tracker_handler.lambda_handler(load_event("eventbridge_scheduled_sweep"), context)
    # THEN she is one person: seen four times over 2 s, looking for 1.5 s, a watcher
    assert (reply["frames"], reply["people"], reply["late"]) == (4, 1, 0)
    [person] = DynamoTrackStore(tracks_table).tracks("store-1/cam-1", 0, BASE_MS + 60_000)
    assert (person.seen, person.dwell_s, person.looking_s) == (4, 2.0, 1.5)
    assert person.is_watcher(TrackSettings())


def test_only_the_scheduled_event_is_a_sweep():
    assert handler.is_sweep(load_event("eventbridge_scheduled_sweep"))
    assert not handler.is_sweep(load_event("dynamodb_stream_observations"))


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
    # AND it finds the cameras to sweep through the tracks table's sparse index only
    assert targets[str({"Fn::Sub": "${TracksTable.Arn}/index/Sweep"})] == {"dynamodb:Query"}


def test_the_tracker_is_swept_every_minute(resources):
    rule = resources["TrackerFunctionSweep"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["TrackerFunction", "Arn"]}


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
    # AND the sweep's schedule is a timer for the local runtime
    [schedule] = stack.schedules
    assert (schedule.function, schedule.expression) == ("TrackerFunction", "rate(1 minute)")
