"""process_frame: one frame in, exactly one observation out, the frame deleted."""

from __future__ import annotations

import io
import time
from dataclasses import replace

import pytest
from PIL import Image

from lambdas.frame_keys import FrameKey
from lambdas.inference.events import FrameRef
from lambdas.inference.frames import FrameDependencies, process_frame
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import InMemoryObservationStore, ObservationStore
from tests.conftest import jpeg_bytes
from tests.fakes import FakeFace, FakePredictor

KEY = "frames/demo-store/demo-cam-1/1700000000000.jpg"
NOW_MS = 1_700_000_000_750


@pytest.fixture
def store() -> InMemoryObservationStore:
    return InMemoryObservationStore()


@pytest.fixture
def predictor() -> FakePredictor:
    return FakePredictor(faces=(FakeFace(), FakeFace(gender="male", age=61.0, age_band="senior")))


@pytest.fixture
def deps(s3, bucket_name, store, predictor) -> FrameDependencies:
    return FrameDependencies(
        s3=s3,
        observations=store,
        predictor=predictor,
        settings=InferenceSettings(OBSERVATIONS_TABLE="unused-here"),
        clock_ms=lambda: NOW_MS,
    )


def upload(s3, bucket: str, data: bytes, key: str = KEY) -> FrameRef:
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return FrameRef(bucket=bucket, key=key, size=len(data))


def frames_left(s3, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_good_frame_becomes_an_ok_observation_and_is_deleted(deps, s3, bucket_name, store):
    # GIVEN a JPEG frame in the bucket
    ref = upload(s3, bucket_name, jpeg_bytes(80, 60))
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN one ok observation holds both faces, with the key's store, camera and time
    assert (outcome.result, outcome.faces) == ("ok", 2)
    [observation] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert observation.status == "ok" and observation.error is None
    assert observation.captured_at_ms == 1_700_000_000_000
    assert observation.processed_at_ms == NOW_MS
    assert observation.model_version == "fake-predictor-1"
    assert [face["gender"] for face in observation.faces] == ["female", "male"]
    assert observation.faces[1]["age_band"] == "senior"
    # AND the predictor saw the decoded RGB frame, AND the frame is gone
    assert deps.predictor.seen_shapes == [(60, 80, 3)]
    assert frames_left(s3, bucket_name) == []


@pytest.mark.parametrize(
    ("data", "reason_start"),
    [
        (b"", "empty file"),
        (jpeg_bytes()[:300], "corrupt or truncated image"),
        (b"GIF89a" + b"\x00" * 64, "not a JPEG/PNG"),
        (b"\xff\xd8\xff\xe0 definitely not the rest of a JPEG", "corrupt or truncated image"),
    ],
    ids=["zero-byte", "truncated-jpeg", "gif-bytes", "corrupt-jpeg"],
)
def test_an_unreadable_frame_becomes_a_rejected_observation(
    deps, s3, bucket_name, store, predictor, data, reason_start
):
    # GIVEN an object that is not a decodable JPEG/PNG
    ref = upload(s3, bucket_name, data)
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN it is recorded as rejected with the reason, the model never runs, the frame is gone
    assert outcome.result == "rejected"
    [observation] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert observation.status == "rejected"
    assert observation.error is not None and observation.error.startswith(reason_start)
    assert observation.faces == ()
    assert predictor.seen_shapes == []
    assert frames_left(s3, bucket_name) == []


def test_an_oversized_frame_is_rejected_before_it_is_downloaded(deps, s3, bucket_name, store):
    # GIVEN an event announcing an object larger than the frame limit
    ref = FrameRef(bucket=bucket_name, key=KEY, size=deps.settings.max_frame_bytes + 1)
    s3.put_object(Bucket=bucket_name, Key=KEY, Body=b"x")
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN it is rejected for its size
    assert outcome.result == "rejected"
    assert outcome.reason is not None and outcome.reason.startswith("file over 20 MiB")


def test_a_frame_over_the_pixel_limit_is_rejected(s3, bucket_name, store, predictor):
    # GIVEN a function configured for at most 1000 pixels and a 64x48 frame
    deps = FrameDependencies(
        s3=s3,
        observations=store,
        predictor=predictor,
        settings=InferenceSettings(OBSERVATIONS_TABLE="unused-here", MAX_FRAME_PIXELS=1000),
        clock_ms=lambda: NOW_MS,
    )
    ref = upload(s3, bucket_name, jpeg_bytes(64, 48))
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN it is rejected as too large, without running the model
    assert outcome.result == "rejected"
    assert outcome.reason is not None and "megapixels" in outcome.reason
    assert predictor.seen_shapes == []


def test_a_second_delivery_of_the_same_frame_adds_nothing(deps, s3, bucket_name, store, predictor):
    # GIVEN a frame that has been processed once
    ref = upload(s3, bucket_name, jpeg_bytes())
    first = process_frame(ref, deps)
    # WHEN the same notification is delivered again
    second = process_frame(ref, deps)
    # THEN the second is a duplicate: still one observation, the model ran once
    assert (first.result, second.result) == ("ok", "duplicate")
    assert len(store.query("demo-store", "demo-cam-1", since_ms=0)) == 1
    assert len(predictor.seen_shapes) == 1


def test_a_redelivery_after_a_crash_between_write_and_delete_deletes_the_frame(
    deps, s3, bucket_name, store
):
    # GIVEN an observation already written but the frame still in the bucket
    ref = upload(s3, bucket_name, jpeg_bytes())
    process_frame(ref, deps)
    upload(s3, bucket_name, jpeg_bytes())
    # WHEN the job is delivered again
    outcome = process_frame(ref, deps)
    # THEN it is a duplicate and the frame is deleted this time
    assert outcome.result == "duplicate"
    assert frames_left(s3, bucket_name) == []


def test_a_frame_that_vanished_before_its_first_look_is_recorded_as_rejected(
    deps, bucket_name, store
):
    # GIVEN a notification for an object that is no longer in the bucket, never observed
    ref = FrameRef(bucket=bucket_name, key=KEY, size=1234)
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN one rejected observation says so
    assert outcome.result == "rejected"
    [observation] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert observation.error == "frame no longer in the bucket"


def test_a_key_outside_the_frame_scheme_is_unrecordable_and_removed(deps, s3, bucket_name, store):
    # GIVEN an object under frames/ whose key does not name store, camera and time
    ref = upload(s3, bucket_name, jpeg_bytes(), key="frames/holiday.jpg")
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN it is unrecordable with the reason (its job is dead-lettered), and removed
    assert outcome.result == "unrecordable"
    assert "not a frame key" in (outcome.reason or "")
    assert store.records == {}
    assert frames_left(s3, bucket_name) == []


def test_frames_are_kept_when_deletion_is_turned_off(s3, bucket_name, store, predictor):
    # GIVEN a function configured to leave frames to the lifecycle rule
    deps = FrameDependencies(
        s3=s3,
        observations=store,
        predictor=predictor,
        settings=InferenceSettings(
            OBSERVATIONS_TABLE="unused-here", DELETE_FRAMES_AFTER_PROCESSING="false"
        ),
        clock_ms=lambda: NOW_MS,
    )
    ref = upload(s3, bucket_name, jpeg_bytes())
    # WHEN the frame is processed
    assert process_frame(ref, deps).result == "ok"
    # THEN it is still in the bucket
    assert frames_left(s3, bucket_name) == [KEY]


def test_duplicates_are_caught_by_the_dynamodb_store_too(
    s3, bucket_name, observations_table, predictor
):
    # GIVEN the DynamoDB-backed store and a processed frame
    deps = FrameDependencies(
        s3=s3,
        observations=ObservationStore(observations_table),
        predictor=predictor,
        settings=InferenceSettings(OBSERVATIONS_TABLE=observations_table.name),
        clock_ms=lambda: NOW_MS,
    )
    ref = upload(s3, bucket_name, jpeg_bytes())
    assert process_frame(ref, deps).result == "ok"
    # WHEN it is delivered again
    outcome = process_frame(ref, deps)
    # THEN the table holds one item for the frame
    assert outcome.result == "duplicate"
    assert observations_table.scan()["Count"] == 1
    assert FrameKey.parse(KEY).camera_key == observations_table.scan()["Items"][0]["camera_key"]


@pytest.mark.parametrize("second", [KEY[:-3] + "png", KEY[:-3] + "JPG"], ids=["png", "JPG"])
def test_a_second_object_for_the_same_camera_and_time_is_unrecordable_not_silently_dropped(
    deps, s3, bucket_name, store, predictor, second
):
    # GIVEN a .jpg frame already observed, and another object with the same camera and time
    assert process_frame(upload(s3, bucket_name, jpeg_bytes()), deps).result == "ok"
    ref = upload(s3, bucket_name, jpeg_bytes(), key=second)
    # WHEN the second is processed
    outcome = process_frame(ref, deps)
    # THEN it is unrecordable, saying which object holds the id; it is removed, and the
    # first observation stands
    assert outcome.result == "unrecordable"
    assert outcome.reason == f"duplicate frame id: {KEY} holds this camera and capture time"
    assert frames_left(s3, bucket_name) == []
    [observation] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert observation.frame_key == KEY
    assert len(predictor.seen_shapes) == 1


def test_the_observation_keeps_the_objects_own_key_whatever_its_extension_case(
    deps, s3, bucket_name, store
):
    ref = upload(s3, bucket_name, jpeg_bytes(), key=KEY[:-3] + "JPG")
    assert process_frame(ref, deps).result == "ok"
    [observation] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert observation.frame_key == KEY[:-3] + "JPG"


class FakeCameras:
    def __init__(self, reason, min_face_px=None):
        self.reason = reason
        self.px = min_face_px

    def unregistered_reason(self, frame):
        return self.reason

    def min_face_px(self, frame):
        return self.px


def test_the_cameras_smallest_face_setting_reaches_the_predictor(
    deps, s3, bucket_name, store, predictor
):
    # GIVEN a registered camera set to find faces down to 64 px (it is close to its audience)
    deps = replace(deps, cameras=FakeCameras(None, min_face_px=64.0))
    # WHEN one of its frames is processed
    assert process_frame(upload(s3, bucket_name, jpeg_bytes()), deps).result == "ok"
    # THEN the predictor was asked for that profile
    assert predictor.seen_min_face_px == [64.0]


def test_a_frame_from_a_camera_not_in_the_registry_is_rejected_unread(
    deps, s3, bucket_name, store, predictor
):
    # GIVEN a registry that does not know the frame's camera
    deps = replace(deps, cameras=FakeCameras("camera 'demo-cam-1' is not registered"))
    ref = upload(s3, bucket_name, jpeg_bytes())
    # WHEN the frame is processed
    outcome = process_frame(ref, deps)
    # THEN it is rejected with the registry's reason, the model never ran, the frame is gone
    assert (outcome.result, outcome.reason) == ("rejected", "camera 'demo-cam-1' is not registered")
    assert predictor.seen_shapes == []
    assert frames_left(s3, bucket_name) == []


def test_a_frame_over_its_time_budget_is_rejected_before_the_model_runs(
    deps, s3, bucket_name, store, predictor
):
    # GIVEN a clock on which fetching and decoding takes 11 s, over the 10 s budget
    ticks = iter([0.0, 11.0])
    deps = replace(deps, timer=lambda: next(ticks))
    ref = upload(s3, bucket_name, jpeg_bytes())
    # WHEN it is processed
    outcome = process_frame(ref, deps)
    # THEN it is rejected for its time, and the model never saw it
    assert outcome.result == "rejected"
    assert outcome.reason == "frame took 11.0 s to fetch and decode, over its 10 s budget"
    assert predictor.seen_shapes == []


@pytest.mark.parametrize(("width", "height"), [(100_000, 1), (20_000, 2)])
def test_a_thin_png_no_camera_produces_costs_well_under_a_second(
    deps, s3, bucket_name, store, predictor, width, height
):
    # GIVEN a few-hundred-byte PNG of 100000x1 (the face finder would make 100000 passes)
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG")
    ref = upload(s3, bucket_name, buffer.getvalue())
    # WHEN it is processed
    started = time.perf_counter()
    outcome = process_frame(ref, deps)
    elapsed_s = time.perf_counter() - started
    # THEN it is a recorded rejection with the reason, the model never ran, in well under 1 s
    assert outcome.result == "rejected"
    assert "too small" in (outcome.reason or "")
    assert predictor.seen_shapes == []
    assert frames_left(s3, bucket_name) == []
    assert elapsed_s < 1.0
