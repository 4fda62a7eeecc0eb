"""ObservationStore on DynamoDB: idempotent writes, TTL, bounded pages newest last."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lambdas.frame_keys import FrameKey
from lambdas.observations import (
    InMemoryObservationStore,
    Observation,
    ObservationStore,
    ok_observation,
    rejected_observation,
)
from tests.fakes import FakeFace


def observation_at(ms: int, camera: str = "demo-cam-1", faces: int = 1) -> Observation:
    frame = FrameKey("demo-store", camera, ms)
    return ok_observation(
        frame, [FakeFace().to_dict()] * faces, processed_at_ms=ms + 400, model_version="m1"
    )


@pytest.fixture(params=["dynamodb", "memory"])
def store(request):
    if request.param == "memory":
        return InMemoryObservationStore()
    return ObservationStore(request.getfixturevalue("observations_table"), retention_days=7)


def test_an_observation_reads_back_as_written(store):
    # GIVEN an observation with a face
    written = observation_at(1_700_000_000_000)
    # WHEN it is stored and queried
    assert store.put(written) is True
    [read] = store.query("demo-store", "demo-cam-1", since_ms=0)
    # THEN every field survives the round trip with plain JSON types
    assert read == written
    assert read.to_dict()["faces"][0] == {
        "box": [10, 20, 64, 64],
        "score": 0.93,
        "age": 29.4,
        "age_band": "young_adult",
        "gender": "female",
        "gender_confidence": 0.91,
    }
    assert isinstance(read.faces[0]["score"], float)


def test_a_second_put_for_the_same_frame_is_refused(store):
    # GIVEN a stored observation
    store.put(observation_at(1_700_000_000_000, faces=1))
    # WHEN another observation of the same frame arrives
    again = store.put(observation_at(1_700_000_000_000, faces=3))
    # THEN it is refused and the first stands
    assert again is False
    [kept] = store.query("demo-store", "demo-cam-1", since_ms=0)
    assert len(kept.faces) == 1


def test_query_returns_a_bounded_page_after_since_newest_last(store):
    # GIVEN five observations of one camera and one of another
    for ms in (5000, 1000, 3000, 2000, 4000):
        store.put(observation_at(1_700_000_000_000 + ms))
    store.put(observation_at(1_700_000_002_500, camera="other-cam"))
    # WHEN asked for at most three after the first
    page = store.query("demo-store", "demo-cam-1", since_ms=1_700_000_001_000, limit=3)
    # THEN they come oldest first, newest last, only from that camera
    assert [o.captured_at_ms - 1_700_000_000_000 for o in page] == [2000, 3000, 4000]
    assert {o.camera for o in page} == {"demo-cam-1"}


def test_exists_tells_whether_a_frame_was_observed(store):
    frame = FrameKey("demo-store", "demo-cam-1", 1_700_000_000_000)
    assert store.exists(frame) is False
    store.put(rejected_observation(frame, "empty file", processed_at_ms=1, model_version="m1"))
    assert store.exists(frame) is True


def test_dynamodb_items_carry_the_key_and_a_ttl(observations_table):
    # GIVEN a store keeping observations for 7 days
    store = ObservationStore(observations_table, retention_days=7)
    # WHEN an observation processed at t is written
    store.put(observation_at(1_700_000_000_000))
    [item] = observations_table.scan()["Items"]
    # THEN it is keyed by camera and capture time and expires 7 days after processing
    assert item["camera_key"] == "demo-store/demo-cam-1"
    assert item["captured_at_ms"] == Decimal(1_700_000_000_000)
    assert item["expires_at"] == Decimal(1_700_000_000 + 7 * 86_400)


def test_a_face_record_missing_a_field_is_refused():
    frame = FrameKey("demo-store", "demo-cam-1", 1)
    with pytest.raises(ValueError, match="lacks gender"):
        ok_observation(
            frame,
            [
                {
                    "box": [1, 2, 3, 4],
                    "score": 0.9,
                    "age": 30,
                    "age_band": "adult",
                    "gender_confidence": 0.8,
                }
            ],
            processed_at_ms=2,
            model_version="m1",
        )


def test_the_observed_frame_key_names_the_object_that_holds_a_camera_and_time(store):
    # GIVEN a .png frame observed for a camera and time
    png = FrameKey("demo-store", "demo-cam-1", 1_700_000_000_000, "png")
    store.put(ok_observation(png, [], processed_at_ms=1, model_version="m1"))
    # WHEN a .jpg of the same camera and time asks THEN it learns the .png holds the id
    jpg = FrameKey("demo-store", "demo-cam-1", 1_700_000_000_000, "jpg")
    assert store.observed_frame_key(jpg) == png.key
    assert store.exists(jpg)
    assert store.observed_frame_key(FrameKey("demo-store", "demo-cam-1", 1)) is None
