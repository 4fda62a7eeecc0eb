"""No input makes the ad server answer 5xx: the cases found by hand, then hypothesis.

The app runs on moto's DynamoDB, not in-memory stores, so what DynamoDB itself refuses
(keys over 2 KB, numbers over 38 digits) is exercised too.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adserver.api import AdServerDependencies, create_app
from adserver.catalog import seed_catalog
from adserver.impressions import DynamoImpressionStore, create_impressions_table
from adserver.local_server import http_api_event, response_parts
from adserver.registry import Display, DynamoDBRegistry, Principal
from adserver.settings import AdServerSettings
from adserver.uploads import signing_client
from infra.local_lambda import LocalLambdaContext
from lambdas.observations import ObservationStore
from tests.conftest import REGION

OPERATOR, DISPLAY = "operator-token", "display-token"
CAMERA = "camera-token"
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def app(aws: None, observations_table: Any, bucket_name: str) -> Any:
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    registry_table = dynamodb.create_table(
        TableName="registry",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    registry = DynamoDBRegistry(registry_table)
    registry.add_display(Display("demo-display-1", "demo-store", ("demo-store/demo-cam-1",)))
    registry.add_token(OPERATOR, Principal("operator", "ops"))
    registry.add_token(DISPLAY, Principal("display", "demo-display-1", "demo-store"))
    registry.add_token(CAMERA, Principal("camera", "demo-store/demo-cam-1", "demo-store"))
    deps = AdServerDependencies(
        settings=AdServerSettings(
            OBSERVATIONS_TABLE=observations_table.name,
            REGISTRY_TABLE="registry",
            FRAMES_BUCKET=bucket_name,
        ),
        observations=ObservationStore(observations_table),
        registry=registry,
        catalog=seed_catalog,
        impressions=DynamoImpressionStore(create_impressions_table(dynamodb, "impressions")),
        frames_signer=signing_client(REGION),
    )
    return create_app(deps)


def call(
    app: Any, method: str, path: str, token: str, body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    event = http_api_event(method, path, headers, body)
    status, _, payload = response_parts(app.resolve(event, LocalLambdaContext("fuzz", 10)))
    try:
        answer = json.loads(payload) if payload else {}
    except ValueError:
        answer = {}  # the player page and creatives are not JSON
    return status, answer if isinstance(answer, dict) else {}


def now_ms() -> int:
    return int(time.time() * 1000)


REPORT = "/v1/stores/demo-store/report"
OBSERVATIONS = "/v1/stores/demo-store/cameras/demo-cam-1/observations"
IMPRESSIONS = "/v1/displays/demo-display-1/impressions"
UPLOAD_URL = "/v1/stores/demo-store/cameras/demo-cam-1/upload-url"


@pytest.mark.parametrize(
    ("method", "path", "token", "body", "message"),
    [
        ("GET", f"{REPORT}?from=%C2%B2&to=2024-06-05T00:00Z", OPERATOR, b"", "from: not an ISO"),
        ("GET", f"{REPORT}?from=0001-01-01T00:00Z&to=0001-01-02T00:00Z", OPERATOR, b"", "1970"),
        ("GET", f"{REPORT}?from=9999-12-31T22:00Z&to=9999-12-31T23:00Z", OPERATOR, b"", "9999"),
        ("GET", f"{REPORT}?from={'9' * 40}&to={'9' * 41}", OPERATOR, b"", "between 1970"),
        ("GET", f"{REPORT}?from=%D9%A1%D9%A2&to=2024-06-05T00:00Z", OPERATOR, b"", "from:"),
        ("GET", f"{OBSERVATIONS}?since_ms={'1' * 40}", OPERATOR, b"", "ASCII digits"),
        ("GET", f"{OBSERVATIONS}?since_ms=%D9%A1%D9%A2", OPERATOR, b"", "ASCII digits"),
        ("GET", f"{OBSERVATIONS}?limit=+5", OPERATOR, b"", "ASCII digits"),
        ("POST", IMPRESSIONS, DISPLAY, b"[" * 100_000, "larger than"),
        ("POST", IMPRESSIONS, DISPLAY, b"[" * 10_000, "nested too deeply"),
        ("POST", UPLOAD_URL, CAMERA, b"[" * 100_000, "larger than"),
        ("POST", UPLOAD_URL, CAMERA, b"[" * 10_000, "nested too deeply"),
        ("POST", IMPRESSIONS, DISPLAY, b'{"ad_id": "house-welcome", "duration_s": NaN}', "JSON"),
        (
            "POST",
            IMPRESSIONS,
            DISPLAY,
            b'{"ticket": "'
            + b"0" * 32
            + b'", "ad_id": "house-welcome", "started_at_ms": "1717581600000", '
            b'"duration_s": 5}',
            "started_at_ms: Input should be a valid integer",
        ),
    ],
)
def test_hostile_inputs_are_refused_with_a_reason(
    app: Any, method: str, path: str, token: str, body: bytes, message: str
) -> None:
    status, answer = call(app, method, path, token, body)
    assert status == 400, answer
    assert message in answer["message"]


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/displays/{'d' * 3000}/next-ad",
        f"/v1/stores/{'s' * 3000}/report?from=0&to=1000",
        f"/v1/stores/{'s' * 3000}/cameras/c/observations",
        "/v1/displays/%D9%A1/next-ad",
        f"/display/{'d' * 3000}",
    ],
)
def test_ids_no_registry_entry_can_have_are_not_found(app: Any, path: str) -> None:
    # An id over DynamoDB's 2 KB key limit would make GetItem fail; it is simply unknown.
    assert call(app, "GET", path, OPERATOR)[0] == 404


# --- properties --------------------------------------------------------------------------

segments = st.one_of(
    st.sampled_from(["demo-store", "demo-cam-1", "demo-display-1", "", "..", "x" * 3000]),
    st.text(min_size=1, max_size=80),
)
query_values = st.one_of(
    st.text(max_size=60),
    st.integers(min_value=-(10**45), max_value=10**45).map(str),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
    st.sampled_from(["²", "١٢٣", "0", "1_000", " 12", "NaN", "1e3", "9" * 40]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["ad_id", "started_at_ms", "duration_s", "bucket", "captured_at_ms"])
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)
impression_like = st.fixed_dictionaries(
    {
        "ad_id": st.sampled_from(["house-welcome", "senior-female"]) | st.text(max_size=70),
        "started_at_ms": st.integers(min_value=-(10**40), max_value=10**40)
        | st.just(now_ms() - 1000),
        "duration_s": st.floats(allow_nan=False) | st.integers(min_value=-(10**40)),
    },
    optional={"bucket": st.sampled_from(["none", "senior/female"]) | st.text(max_size=20)},
)
bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    impression_like.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=5000).map(lambda depth: b"[" * depth + b"]" * depth),
)


def assert_no_server_error(status: int, answer: dict[str, Any]) -> None:
    assert status < 500, answer
    if status >= 400:
        assert answer.get("message"), "a refusal says why"


@FUZZ
@given(
    store=segments,
    camera=segments,
    display=segments,
    query=st.dictionaries(
        st.sampled_from(["since_ms", "limit", "from", "to", "format"]), query_values
    ),
    token=st.sampled_from([OPERATOR, DISPLAY, CAMERA]),
)
def test_no_get_route_answers_5xx(
    app: Any, store: str, camera: str, display: str, query: dict[str, str], token: str
) -> None:
    store, camera, display = (quote(value, safe="") for value in (store, camera, display))
    suffix = f"?{urlencode(query)}" if query else ""
    for path in (
        f"/v1/stores/{store}/cameras/{camera}/observations{suffix}",
        f"/v1/displays/{display}/next-ad{suffix}",
        f"/v1/stores/{store}/report{suffix}",
        f"/display/{display}",
        f"/static/creatives/{camera}",
    ):
        assert_no_server_error(*call(app, "GET", path, token))


@FUZZ
@given(
    body=bodies,
    display=st.sampled_from(["demo-display-1"]) | segments,
    token=st.sampled_from([OPERATOR, DISPLAY]),
)
def test_no_impression_answers_5xx(app: Any, body: bytes, display: str, token: str) -> None:
    path = f"/v1/displays/{quote(display, safe='')}/impressions"
    assert_no_server_error(*call(app, "POST", path, token, body))


@FUZZ
@given(body=bodies, token=st.sampled_from([OPERATOR, CAMERA]))
def test_no_upload_url_answers_5xx(app: Any, body: bytes, token: str) -> None:
    assert_no_server_error(*call(app, "POST", UPLOAD_URL, token, body))
