"""The ad server API: observations for operators, next ad for displays, tokens enforced."""

from __future__ import annotations

import json

import pytest

from adserver.api import AdServerDependencies, create_app
from adserver.local_server import http_api_event
from adserver.registry import Display, InMemoryRegistry, Principal
from adserver.settings import AdServerSettings
from infra.local_lambda import LocalLambdaContext
from lambdas.frame_keys import FrameKey
from lambdas.observations import InMemoryObservationStore, ok_observation, rejected_observation
from tests.fakes import FakeFace

NOW_MS = 1_700_000_100_000
OPERATOR, DISPLAY_1, DISPLAY_2, CAMERA_1 = "op-token", "d1-token", "d2-token", "cam-token"


@pytest.fixture
def observations() -> InMemoryObservationStore:
    return InMemoryObservationStore()


@pytest.fixture
def registry() -> InMemoryRegistry:
    registry = InMemoryRegistry()
    registry.add_token(OPERATOR, Principal("operator", "ops"))
    registry.add_token(DISPLAY_1, Principal("display", "demo-display-1", "demo-store"))
    registry.add_token(DISPLAY_2, Principal("display", "north-display-1", "north-store"))
    registry.add_token(CAMERA_1, Principal("camera", "demo-store/demo-cam-1", "demo-store"))
    registry.add_display(Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)))
    registry.add_display(Display("north-display-1", "north-store", ("north-store/north-cam-1",)))
    return registry


@pytest.fixture
def app(observations, registry):
    settings = AdServerSettings(
        OBSERVATIONS_TABLE="obs",
        REGISTRY_TABLE="reg",
        FRAMES_BUCKET="frames",
        OBSERVATIONS_PAGE_LIMIT=3,
    )
    deps = AdServerDependencies(
        settings=settings, observations=observations, registry=registry, clock_ms=lambda: NOW_MS
    )
    return create_app(deps)


def call(app, path: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = app.resolve(http_api_event("GET", path, headers), LocalLambdaContext("t", 10))
    return response["statusCode"], json.loads(response["body"])


def seen(store, camera, ms, *faces: FakeFace):
    return ok_observation(
        FrameKey(store, camera, ms),
        [f.to_dict() for f in faces],
        processed_at_ms=ms + 300,
        model_version="m1",
    )


OBSERVATIONS = "/v1/stores/demo-store/cameras/demo-cam-1/observations"


def test_an_operator_reads_a_cameras_observations_newest_last(app, observations):
    # GIVEN two observations of a camera
    observations.put(seen("demo-store", "demo-cam-1", NOW_MS - 2000, FakeFace()))
    observations.put(seen("demo-store", "demo-cam-1", NOW_MS - 4000))
    # WHEN the operator asks for them
    status, body = call(app, f"{OBSERVATIONS}?since_ms=0", OPERATOR)
    # THEN both come back as contract records, oldest first
    assert status == 200
    assert [o["captured_at_ms"] for o in body["observations"]] == [NOW_MS - 4000, NOW_MS - 2000]
    assert body["observations"][1]["faces"][0]["age_band"] == "young_adult"


def test_the_page_is_bounded_and_since_ms_pages_on(app, observations):
    # GIVEN five observations and a page limit of three
    for i in range(5):
        observations.put(seen("demo-store", "demo-cam-1", NOW_MS - 4000 + i * 1000))
    # WHEN reading page one, then from its last record
    _, first = call(app, f"{OBSERVATIONS}?since_ms=0", OPERATOR)
    last = first["observations"][-1]["captured_at_ms"]
    _, second = call(app, f"{OBSERVATIONS}?since_ms={last}", OPERATOR)
    # THEN the pages are 3 and 2 long, without overlap
    assert len(first["observations"]) == 3
    assert [o["captured_at_ms"] for o in second["observations"]] == [NOW_MS - 1000, NOW_MS]


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("not-a-token", 401), (DISPLAY_1, 403), (CAMERA_1, 403)],
)
def test_observations_need_the_operator_token(app, token, status):
    assert call(app, OBSERVATIONS, token)[0] == status


@pytest.mark.parametrize("query", ["since_ms=yesterday", "since_ms=-5", "limit=0", "limit=4"])
def test_bad_query_values_are_refused_with_a_reason(app, query):
    status, body = call(app, f"{OBSERVATIONS}?{query}", OPERATOR)
    assert status == 400
    assert query.split("=")[0] in body["message"]


def test_next_ad_names_the_dominant_recent_audience(app, observations):
    # GIVEN in the last 10 s two young adult women and a senior man, and older faces before
    observations.put(seen("demo-store", "demo-cam-1", NOW_MS - 3000, FakeFace(), FakeFace()))
    observations.put(
        seen(
            "demo-store",
            "demo-cam-1",
            NOW_MS - 1000,
            FakeFace(gender="male", age_band="senior", age=70),
        )
    )
    observations.put(
        seen(
            "demo-store",
            "demo-cam-1",
            NOW_MS - 60_000,
            *[FakeFace(gender="male", age_band="child", age=8)] * 5,
        )
    )
    # WHEN the display asks for its next ad
    status, ad = call(app, "/v1/displays/demo-display-1/next-ad", DISPLAY_1)
    # THEN the audience is the young adult women, counted over the window only
    # ("faces" is the most seen in one frame: the same people appear in many frames)
    assert status == 200
    assert ad["audience"] == {"bucket": "young_adult/female", "faces": 2, "window_s": 10}
    assert ad["ad_id"] == "young-adult-female"
    assert ad["creative_url"] == "/static/creatives/young-adult-female.svg"
    assert ad["duration_s"] > 0 and "young_adult/female" in ad["reason"]


def test_next_ad_without_faces_says_none(app, observations):
    # GIVEN only a rejected frame recently
    frame = FrameKey("demo-store", "demo-cam-1", NOW_MS - 1000)
    observations.put(
        rejected_observation(frame, "empty file", processed_at_ms=NOW_MS, model_version="m1")
    )
    # WHEN the display asks
    _, ad = call(app, "/v1/displays/demo-display-1/next-ad", DISPLAY_1)
    # THEN there is no audience
    assert ad["audience"] == {"bucket": "none", "faces": 0, "window_s": 10}


def test_a_display_sees_only_its_own_stores_cameras(app, observations):
    # GIVEN faces in front of the north store's camera only
    observations.put(seen("north-store", "north-cam-1", NOW_MS - 1000, FakeFace()))
    # WHEN each display asks
    _, demo = call(app, "/v1/displays/demo-display-1/next-ad", DISPLAY_1)
    _, north = call(app, "/v1/displays/north-display-1/next-ad", DISPLAY_2)
    # THEN only the north display counts them
    assert (demo["audience"]["faces"], north["audience"]["faces"]) == (0, 1)


def test_a_display_token_cannot_ask_for_another_display(app):
    assert call(app, "/v1/displays/north-display-1/next-ad", DISPLAY_1)[0] == 403


def test_an_unknown_display_is_not_found(app):
    assert call(app, "/v1/displays/nowhere/next-ad", OPERATOR)[0] == 404
