"""The ad server's Lambda entry point and its local HTTP adapter."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import boto3
import pytest

from adserver import handler
from adserver.local_server import http_api_event, make_request_handler, response_parts
from adserver.registry import DynamoDBRegistry, Principal, token_digest
from infra.local_lambda import LocalLambdaContext
from lambdas.frame_keys import FrameKey
from lambdas.observations import ObservationStore, ok_observation
from tests.aws_events import load_event
from tests.fakes import FakeFace


@pytest.fixture
def registry_table(aws):
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName="registry",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return table


@pytest.fixture
def function(monkeypatch, observations_table, registry_table):
    """The handler module as a fresh container, with the template's environment."""
    monkeypatch.setenv("OBSERVATIONS_TABLE", observations_table.name)
    monkeypatch.setenv("REGISTRY_TABLE", registry_table.name)
    monkeypatch.setenv("FRAMES_BUCKET", "frames-bucket")
    handler.get_app.cache_clear()
    DynamoDBRegistry(registry_table).add_token(
        "operator-token-from-fixture", Principal("operator", "ops")
    )
    frame = FrameKey("demo-store", "demo-cam-1", 1_700_000_001_000)
    ObservationStore(observations_table).put(
        ok_observation(frame, [FakeFace().to_dict()], processed_at_ms=1, model_version="m1")
    )
    yield handler
    handler.get_app.cache_clear()


def test_the_http_api_fixture_is_answered_from_the_tables(function):
    # WHEN API Gateway delivers the real-shaped request
    response = handler.lambda_handler(
        load_event("http_api_get_observations"), LocalLambdaContext("adserver", 10)
    )
    # THEN the observation after since_ms comes back as JSON
    assert response["statusCode"] == 200
    [observation] = json.loads(response["body"])["observations"]
    assert observation["frame_key"] == "frames/demo-store/demo-cam-1/1700000001000.jpg"


def test_the_registry_keeps_token_digests_not_tokens(function, registry_table):
    items = registry_table.scan()["Items"]
    digest = token_digest("operator-token-from-fixture")
    assert [item["pk"] for item in items] == [f"token#{digest}"]
    assert "operator-token-from-fixture" not in json.dumps(items, default=str)


def test_a_local_request_becomes_an_http_api_event():
    # WHEN a plain request line and headers are adapted
    event = http_api_event(
        "get", "/v1/x?since_ms=5&tag=a&tag=b", {"Authorization": "Bearer t", "X-Two": "1"}
    )
    # THEN it reads like API Gateway's payload 2.0: lower-case headers, joined repeats
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/v1/x" and event["rawQueryString"] == "since_ms=5&tag=a&tag=b"
    assert event["queryStringParameters"] == {"since_ms": "5", "tag": "a,b"}
    assert event["headers"] == {"authorization": "Bearer t", "x-two": "1"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "body" not in event


def test_a_binary_body_is_base64_encoded_both_ways():
    event = http_api_event("POST", "/up", {"Content-Type": "image/jpeg"}, b"\xff\xd8\x00")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xd8\x00"
    status, _, body = response_parts(
        {"statusCode": 201, "isBase64Encoded": True, "body": base64.b64encode(b"\x01").decode()}
    )
    assert (status, body) == (201, b"\x01")


@pytest.fixture
def serve():
    servers = []

    def start(lambda_handler):
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_request_handler(lambda_handler, 10))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def test_the_local_server_passes_requests_and_responses_through(serve):
    seen = []

    def echo(event, context):
        seen.append(event)
        return {"statusCode": 418, "headers": {"X-Echo": event["rawPath"]}, "body": "teapot"}

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{serve(echo)}/v1/echo?a=1", timeout=5)
    assert answer.value.code == 418 and answer.value.headers["X-Echo"] == "/v1/echo"
    assert answer.value.read() == b"teapot"
    assert seen[0]["queryStringParameters"] == {"a": "1"}


def test_a_failing_function_is_a_500_like_api_gateway(serve):
    def broken(event, context):
        raise RuntimeError("boom")

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{serve(broken)}/anything", timeout=5)
    assert answer.value.code == 500
