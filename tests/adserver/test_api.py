"""The ad server's routes for issue 4: next ad, proof of play, reports, uploads, pages."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import InMemoryImpressionStore
from adserver.local_server import http_api_event, response_parts
from adserver.registry import Display, InMemoryRegistry, Principal
from adserver.rollups import InMemoryRollups
from adserver.settings import AdServerSettings
from adserver.uploads import signing_client
from infra.local_lambda import LocalLambdaContext
from lambdas.frame_keys import FrameKey
from lambdas.observations import InMemoryObservationStore, ok_observation
from tests.conftest import REGION
from tests.fakes import FakeFace

START_MS = 1_717_581_600_000  # Wednesday 2024-06-05 10:00 UTC
OPERATOR, DISPLAY_1, DISPLAY_2 = "op-token", "d1-token", "d2-token"
CAMERA_1, CAMERA_2 = "cam1-token", "cam2-token"
NEXT_AD = "/v1/displays/demo-display-1/next-ad"
IMPRESSIONS = "/v1/displays/demo-display-1/impressions"
UPLOAD_URL = "/v1/stores/demo-store/cameras/demo-cam-1/upload-url"
SENIOR_WOMAN = FakeFace(box=(100, 80, 120, 120), age=71, age_band="senior", gender="female")


class Clock:
    def __init__(self) -> None:
        self.now_ms = START_MS

    def __call__(self) -> int:
        return self.now_ms


@dataclass
class Stack:
    app: Any
    clock: Clock
    observations: InMemoryObservationStore
    impressions: InMemoryImpressionStore
    frames_bucket: str


@pytest.fixture
def stack(s3: Any, bucket_name: str) -> Stack:
    registry = InMemoryRegistry()
    registry.add_token(OPERATOR, Principal("operator", "ops"))
    registry.add_token(DISPLAY_1, Principal("display", "demo-display-1", "demo-store"))
    registry.add_token(DISPLAY_2, Principal("display", "north-display-1", "north-store"))
    registry.add_token(CAMERA_1, Principal("camera", "demo-store/demo-cam-1", "demo-store"))
    registry.add_token(CAMERA_2, Principal("camera", "north-store/north-cam-1", "north-store"))
    registry.add_display(Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)))
    registry.add_display(Display("north-display-1", "north-store", ("north-store/north-cam-1",)))
    clock = Clock()
    observations = InMemoryObservationStore()
    rollups = InMemoryRollups()
    impressions = InMemoryImpressionStore(rollups)
    settings = AdServerSettings(
        OBSERVATIONS_TABLE="obs", REGISTRY_TABLE="reg", FRAMES_BUCKET=bucket_name
    )
    deps = AdServerDependencies(
        settings=settings,
        observations=observations,
        registry=registry,
        clock_ms=clock,
        catalog=seed_catalog,
        impressions=impressions,
        rollups=rollups,
        frames_signer=signing_client(REGION),
    )
    return Stack(create_app(deps), clock, observations, impressions, bucket_name)


def call(
    stack: Stack,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    raw = b""
    if body is not None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    event = http_api_event(method, path, sent, raw)
    return response_parts(stack.app.resolve(event, LocalLambdaContext("t", 10)))


def frame_seen(stack: Stack, age_ms: int, *faces: FakeFace, camera: str = "demo-cam-1") -> None:
    store = "demo-store" if camera == "demo-cam-1" else "north-store"
    captured = stack.clock.now_ms - age_ms
    stack.observations.put(
        ok_observation(
            FrameKey(store, camera, captured),
            [face.to_dict() for face in faces],
            processed_at_ms=captured + 400,
            model_version="m1",
        )
    )


# --- next ad ---------------------------------------------------------------------------


def test_one_senior_woman_makes_the_next_ad_senior_female(stack: Stack) -> None:
    # GIVEN a frame with one senior woman, processed 400 ms after capture
    frame_seen(stack, 400, SENIOR_WOMAN)
    # WHEN the display asks for its next ad
    status, headers, body = call(stack, "GET", NEXT_AD, DISPLAY_1)
    # THEN it targets senior women, with caching headers for polling
    ad = json.loads(body)
    assert status == 200
    assert ad["ad_id"] == "senior-female"
    assert ad["creative_url"] == "/static/creatives/senior-female.svg"
    assert ad["audience"] == {"bucket": "senior/female", "faces": 1, "window_s": 10}
    assert ad["reason"].startswith("targeted senior/female")
    assert headers["ETag"].startswith('"')
    assert headers["Cache-Control"] == "private, max-age=1"


def test_default_plays_once_nobody_was_seen_for_longer_than_the_window(stack: Stack) -> None:
    # GIVEN the senior woman was seen, then the display kept polling for 10.5 s
    frame_seen(stack, 0, SENIOR_WOMAN)
    stack.clock.now_ms += 10_500
    # WHEN it asks again THEN the default creative plays
    ad = json.loads(call(stack, "GET", NEXT_AD, DISPLAY_1)[2])
    assert ad["ad_id"] == "house-welcome"
    assert ad["audience"] == {"bucket": "none", "faces": 0, "window_s": 10}
    assert ad["reason"] == "default: nobody in front of the display"


def test_unchanged_answer_is_304_and_a_change_is_200(stack: Stack) -> None:
    # GIVEN the display's last answer and its ETag
    _, headers, _ = call(stack, "GET", NEXT_AD, DISPLAY_1)
    etag = headers["ETag"]
    # WHEN it polls with If-None-Match and nothing changed THEN 304, empty, same headers
    status, again, body = call(stack, "GET", NEXT_AD, DISPLAY_1, headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert again["ETag"] == etag and again["Cache-Control"] == "private, max-age=1"
    # AND a weak or listed validator matches as well
    listed = {"If-None-Match": f'"other", W/{etag}'}
    assert call(stack, "GET", NEXT_AD, DISPLAY_1, headers=listed)[0] == 304
    # WHEN a senior woman arrives THEN the same validator gets a fresh 200
    frame_seen(stack, 100, SENIOR_WOMAN)
    status, changed, body = call(stack, "GET", NEXT_AD, DISPLAY_1, headers={"If-None-Match": etag})
    assert status == 200 and changed["ETag"] != etag
    assert json.loads(body)["ad_id"] == "senior-female"


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        (NEXT_AD, None, 401),
        (NEXT_AD, "not-a-token", 401),
        (NEXT_AD, DISPLAY_2, 403),  # another display's token
        (NEXT_AD, CAMERA_1, 403),  # a camera is not a display
        ("/v1/displays/nowhere/next-ad", OPERATOR, 404),
        ("/v1/displays/nowhere/next-ad", DISPLAY_1, 403),  # no probing for display ids
        (NEXT_AD, OPERATOR, 200),
    ],
)
def test_next_ad_auth(stack: Stack, path: str, token: str | None, status: int) -> None:
    assert call(stack, "GET", path, token)[0] == status


def test_displays_see_only_their_own_cameras(stack: Stack) -> None:
    # GIVEN a senior woman in front of the north store's camera only
    frame_seen(stack, 100, SENIOR_WOMAN, camera="north-cam-1")
    demo = json.loads(call(stack, "GET", NEXT_AD, DISPLAY_1)[2])
    north = json.loads(call(stack, "GET", "/v1/displays/north-display-1/next-ad", DISPLAY_2)[2])
    assert (demo["audience"]["bucket"], north["audience"]["bucket"]) == ("none", "senior/female")


# --- proof of play and reports ---------------------------------------------------------


def next_ad(stack: Stack, token: str = DISPLAY_1) -> dict[str, Any]:
    """The display's next-ad answer now (with its play ticket)."""
    status, _, body = call(stack, "GET", NEXT_AD, token)
    assert status == 200
    answer: dict[str, Any] = json.loads(body)
    return answer


def play(answer: dict[str, Any], started_at_ms: int, duration_s: float = 8) -> dict[str, Any]:
    """What the player posts after showing ``answer``'s creative."""
    return {
        "ticket": answer["ticket"],
        "ad_id": answer["ad_id"],
        "started_at_ms": started_at_ms,
        "duration_s": duration_s,
    }


def play_seconds(stack: Stack) -> float:
    """The store's play seconds in the report of 2024-06-05 (every hour, every bucket)."""
    query = "from=2024-06-05T00:00:00Z&to=2024-06-06T00:00:00Z"
    status, _, body = call(stack, "GET", f"/v1/stores/demo-store/report?{query}", OPERATOR)
    assert status == 200
    return sum(sum(hour["play_s"].values()) for hour in json.loads(body)["hours"])


def test_next_ad_carries_a_ticket_that_changes_once_a_play_is_recorded(stack: Stack) -> None:
    # GIVEN two polls of an unchanged decision: the same ticket, so the ETag still holds
    first, again = next_ad(stack), next_ad(stack)
    assert len(first["ticket"]) == 32 and again["ticket"] == first["ticket"]
    # WHEN a play is recorded with it
    stack.clock.now_ms += 10_000
    posted = play(first, START_MS, first["duration_s"])
    assert call(stack, "POST", IMPRESSIONS, DISPLAY_1, posted)[0] == 201
    # THEN the next answer carries a new ticket
    assert next_ad(stack)["ticket"] != first["ticket"]


def test_impressions_are_recorded_and_reported_per_hour(stack: Stack) -> None:
    # GIVEN the default creative played with nobody in front, then a senior woman seen by
    # the display's camera in one frame (no track, so no person) and her ad played
    stack.clock.now_ms = START_MS - 60_000
    house = next_ad(stack)
    stack.clock.now_ms = START_MS - 30_000
    status, _, _ = call(stack, "POST", IMPRESSIONS, DISPLAY_1, play(house, START_MS - 60_000, 10))
    assert status == 201
    frame_seen(stack, 0, SENIOR_WOMAN)
    senior = next_ad(stack)
    stack.clock.now_ms = START_MS
    for _ in range(2):  # the second post is the player retrying: the same answer
        posted = play(senior, START_MS - 20_000)
        status, _, recorded = call(stack, "POST", IMPRESSIONS, DISPLAY_1, posted)
        assert status == 201
    assert json.loads(recorded)["campaign_id"] == "senior-female-reading-glasses"
    # WHEN the operator asks for the morning's report
    query = "from=2024-06-05T09:00:00Z&to=2024-06-05T11:00:00Z"
    status, headers, body = call(stack, "GET", f"/v1/stores/demo-store/report?{query}", OPERATOR)
    # THEN the 09:00 UTC hour (10:00 in London) holds both plays, from the rollups
    report = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert report["time_zone"] == "Europe/London"
    nine, ten = report["hours"]
    assert nine["hour"] == "2024-06-05T10:00:00+01:00"
    assert nine["impressions"] == {"none": 1, "senior/female": 1}
    assert nine["play_s"] == {"none": 10.0, "senior/female": 8.0}
    assert nine["audience"] == {} and nine["people"] == 0
    assert ten["impressions"] == {}
    assert report["totals"]["impressions"] == 2 and report["totals"]["people"] == 0


def test_a_display_token_buys_no_more_play_than_the_screen_played(stack: Stack) -> None:
    # GIVEN the display's token, as copied out of a player URL, and the report's play seconds
    before = play_seconds(stack)
    # WHEN it posts 100 overlapping one-hour plays under a bucket of its choosing, each with
    # a ticket fresh from next-ad
    statuses = []
    for index in range(100):
        forged = play(next_ad(stack), START_MS - 3_600_000 + index, 3600)
        forged["bucket"] = "young_adult/male"
        statuses.append(call(stack, "POST", IMPRESSIONS, DISPLAY_1, forged)[0])
    # THEN none is accepted (an hour is longer than the creative) and no second was added
    assert statuses.count(201) <= 1 and set(statuses) == {400}
    assert play_seconds(stack) == before
    # WHEN it posts 100 overlapping plays of the creative's own length
    statuses = []
    for index in range(100):
        forged = play(next_ad(stack), START_MS - 20_000 + index, 10)
        forged["bucket"] = "young_adult/male"
        statuses.append(call(stack, "POST", IMPRESSIONS, DISPLAY_1, forged)[0])
    # THEN one is accepted, under the bucket the server chose, and the rest overlap it (409)
    assert statuses.count(201) == 1 and statuses.count(409) == 99
    assert play_seconds(stack) - before == 10.0  # house-welcome's length
    (recorded,) = stack.impressions.for_store("demo-store", 0, 10**13)
    assert recorded.bucket == "none"


def test_a_changed_replay_is_a_conflict_and_changes_nothing(stack: Stack) -> None:
    # GIVEN a play recorded with its ticket
    answer = next_ad(stack)
    first = play(answer, START_MS - 10_000, 10)
    status, _, recorded = call(stack, "POST", IMPRESSIONS, DISPLAY_1, first)
    assert status == 201
    # WHEN the same ticket comes again with another start, duration or bucket
    changed = [{**first, "duration_s": 5}, {**first, "started_at_ms": START_MS - 10_500}]
    answers = [call(stack, "POST", IMPRESSIONS, DISPLAY_1, body) for body in changed]
    # THEN each is a 409 and the recorded play is as it was; the same body again is a 201
    # with the same answer (a bucket in the body is ignored)
    assert [(status, json.loads(body)["message"]) for status, _, body in answers] == [
        (409, "ticket: already used for another play")
    ] * 2
    same = call(stack, "POST", IMPRESSIONS, DISPLAY_1, {**first, "bucket": "senior/male"})
    assert (same[0], same[2]) == (201, recorded)
    (row,) = stack.impressions.for_store("demo-store", 0, 10**13)
    assert (row.started_at_ms, row.duration_s, row.bucket) == (START_MS - 10_000, 10.0, "none")
    assert play_seconds(stack) == 10.0


def test_report_as_svg(stack: Stack) -> None:
    # GIVEN one play in the day, chosen for a teenage boy in front of the display
    frame_seen(
        stack, 100, FakeFace(box=(100, 80, 120, 120), age=15, age_band="teen", gender="male")
    )
    answer = next_ad(stack)
    call(stack, "POST", IMPRESSIONS, DISPLAY_1, play(answer, START_MS - 5000, 1))
    # WHEN the operator asks for the day's chart
    query = "from=2024-06-05T00:00:00Z&to=2024-06-06T00:00:00Z&format=svg"
    status, headers, body = call(stack, "GET", f"/v1/stores/demo-store/report?{query}", OPERATOR)
    # THEN it is an SVG document with the play's bar
    assert status == 200 and headers["Content-Type"] == "image/svg+xml"
    assert ET.fromstring(body).tag == "{http://www.w3.org/2000/svg}svg"
    assert b"Teen, male: 1</title>" in body


@pytest.mark.parametrize(
    ("change", "token", "status", "message"),
    [
        ({}, DISPLAY_2, 403, "only display demo-display-1's own token"),
        ({}, OPERATOR, 403, "only display demo-display-1's own token"),  # no plays by operators
        ({}, CAMERA_1, 403, "only display demo-display-1's own token"),
        ({}, None, 401, "missing bearer token"),
        ({"ad_id": "nope"}, DISPLAY_1, 400, "ad_id: the ticket is for 'house-welcome'"),
        ({"ticket": "f" * 32}, DISPLAY_1, 400, "ticket: unknown, expired"),
        ({"ticket": None}, DISPLAY_1, 400, "ticket: Input should be a valid string"),
        (b"{not json", DISPLAY_1, 400, "body: not valid JSON"),
        ([1, 2], DISPLAY_1, 400, "valid dictionary"),
    ],
)
def test_impression_refusals(
    stack: Stack, change: Any, token: str | None, status: int, message: str
) -> None:
    body = change if not isinstance(change, dict) else {**play(next_ad(stack), START_MS), **change}
    got, _, answer = call(stack, "POST", IMPRESSIONS, token, body)
    assert got == status
    assert message in json.loads(answer)["message"]
    assert stack.impressions.for_store("demo-store", 0, 10**13) == []


# --- camera uploads --------------------------------------------------------------------


def test_camera_gets_a_short_lived_url_for_its_own_prefix(stack: Stack, s3: Any) -> None:
    # WHEN the camera asks for an upload URL
    status, _, body = call(stack, "POST", UPLOAD_URL, CAMERA_1, {"captured_at_ms": START_MS})
    answer = json.loads(body)
    # THEN it may POST exactly its frame key, for at most 5 minutes
    assert status == 200
    assert answer["key"] == f"frames/demo-store/demo-cam-1/{START_MS}.jpg"
    assert answer["method"] == "POST" and answer["fields"]["key"] == answer["key"]
    assert answer["expires_in"] <= 300
    files = {"file": ("frame.jpg", b"\xff\xd8frame", "image/jpeg")}
    response = requests.post(answer["url"], data=answer["fields"], files=files)
    assert response.status_code in (200, 201, 204)
    assert s3.head_object(Bucket=stack.frames_bucket, Key=answer["key"])["ContentLength"] == 7


@pytest.mark.parametrize(
    ("path", "token", "body", "status"),
    [
        (UPLOAD_URL, None, None, 401),
        (UPLOAD_URL, CAMERA_2, None, 403),  # another store's camera
        (UPLOAD_URL, DISPLAY_1, None, 403),  # a display cannot upload
        ("/v1/stores/demo-store/cameras/demo-cam-2/upload-url", CAMERA_1, None, 403),
        ("/v1/stores/demo-store/cameras/demo-cam-2/upload-url", OPERATOR, None, 404),
        (UPLOAD_URL, CAMERA_1, {"captured_at_ms": "soon"}, 400),
        (UPLOAD_URL, CAMERA_1, {"key": "frames/other-store/x/1.jpg"}, 400),
        (UPLOAD_URL, CAMERA_1, {"captured_at_ms": START_MS - 3_600_000}, 400),
        (UPLOAD_URL, CAMERA_1, None, 200),  # no body: the key is stamped with the server time
    ],
)
def test_upload_url_refusals(
    stack: Stack, path: str, token: str | None, body: Any, status: int
) -> None:
    assert call(stack, "POST", path, token, body)[0] == status


# --- pages -----------------------------------------------------------------------------


def test_player_page_and_creatives_are_served(stack: Stack) -> None:
    status, headers, page = call(stack, "GET", "/display/demo-display-1")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/next-ad" in page and b"/impressions" in page
    status, headers, svg = call(stack, "GET", "/static/creatives/senior-female.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml"
    assert b"#8e44ad" in svg


@pytest.mark.parametrize(
    "path",
    [
        "/display/nowhere",
        "/static/creatives/missing.svg",
        "/static/creatives/..%2F..%2Fopenapi.yaml",
        "/static/creatives/catalog.py",
    ],
)
def test_unknown_pages_are_404(stack: Stack, path: str) -> None:
    assert call(stack, "GET", path)[0] == 404


def test_openapi_is_served(stack: Stack) -> None:
    status, _, body = call(stack, "GET", "/openapi.json")
    assert status == 200 and "/v1/displays/{display_id}/next-ad" in json.loads(body)["paths"]


def test_docs_page_carries_its_own_swagger_ui(stack: Stack) -> None:
    # GIVEN the interactive page WHEN fetched THEN it is HTML that loads Swagger UI and this
    # API's document from this server, nothing from another host (a store network may block
    # CDNs)
    status, headers, body = call(stack, "GET", "/docs")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<script src="/docs/swagger-ui-bundle.js">' in page
    assert not re.search(r"""(src|href)=['"](https?:)?//""", page)
    _, _, document = call(stack, "GET", "/openapi.json")
    assert "/v1/displays/{display_id}/next-ad" in json.loads(document)["paths"]
