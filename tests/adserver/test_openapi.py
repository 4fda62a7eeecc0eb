"""The OpenAPI document generated from the routes: valid, every route documented, and the
documented bodies are what the routes really answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from adserver import api_document
from tests.adserver import test_api
from tests.adserver.test_api import (
    CAMERA_1,
    DISPLAY_1,
    IMPRESSIONS,
    NEXT_AD,
    OPERATOR,
    SENIOR_WOMAN,
    START_MS,
    UPLOAD_URL,
    Stack,
    call,
    frame_seen,
)

stack = test_api.stack  # the routes' fixture: the app over in-memory stores

CONTRACT_ROUTES = {
    ("get", "/v1/stores/{store}/cameras/{camera}/observations"),
    ("get", "/v1/displays/{display_id}/next-ad"),
    ("post", "/v1/displays/{display_id}/impressions"),
    ("get", "/v1/stores/{store}/report"),
    ("post", "/v1/stores/{store}/cameras/{camera}/upload-url"),
    ("get", "/display/{display_id}"),
    ("get", "/health"),
}


def served_document(stack: Stack) -> dict[str, Any]:
    status, _, body = call(stack, "GET", "/openapi.json")
    assert status == 200
    return json.loads(body)


def route_table(stack: Stack) -> list[Any]:
    """Every route the resolver answers, as Powertools keeps them."""
    return [*stack.app._static_routes, *stack.app._dynamic_routes]


def test_document_is_valid_openapi(stack: Stack) -> None:
    validate(served_document(stack))


def test_document_describes_the_contract_routes(stack: Stack) -> None:
    paths = served_document(stack)["paths"]
    assert {(method, path) for path, item in paths.items() for method in item} >= CONTRACT_ROUTES


def test_every_route_has_its_document_entry(stack: Stack) -> None:
    # GIVEN the resolver's route table and the document served from it
    paths = served_document(stack)["paths"]
    undocumented = []
    for route in route_table(stack):
        if route.rule.pattern == "^/docs$":  # the interactive page itself
            continue
        # WHEN each route's operation is looked up
        where = f"{route.method} {route.openapi_path}"
        operation = paths.get(route.openapi_path, {}).get(route.method.lower())
        # THEN it is there with a summary, a tag and its answers, each with content
        if operation is None:
            undocumented.append(f"{where}: not in the document")
            continue
        if not operation.get("summary") or not operation.get("tags"):
            undocumented.append(f"{where}: no summary or tag (give the decorator summary=, tags=)")
        success = [code for code in operation["responses"] if code.startswith("2")]
        if not success or not all(operation["responses"][code].get("content") for code in success):
            undocumented.append(f"{where}: no documented answer (give responses=)")
        # AND a route that checks a token says which and documents its refusals
        if route.openapi_path.startswith("/v1/"):
            if not operation.get("security"):
                undocumented.append(f"{where}: no security (give security=)")
            if not {"401", "403", "404"} <= set(operation["responses"]):
                undocumented.append(f"{where}: 401/403/404 not documented")
    assert not undocumented, "routes without their document entry:\n" + "\n".join(undocumented)


def documented_model(document: dict[str, Any], method: str, path: str, status: str) -> Any:
    """The api_document model named by an operation's JSON answer for ``status``."""
    content = document["paths"][path][method]["responses"][status]["content"]
    name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return getattr(api_document, name)


def test_answers_are_what_the_document_says(stack: Stack) -> None:
    # GIVEN a face in front of the display, a play, and each route called as documented (the
    # report's breakdowns follow the rollups: its model pins only the frame)
    document = served_document(stack)
    frame_seen(stack, 2000, SENIOR_WOMAN)
    answer = test_api.next_ad(stack)  # the play ticket the impression is sent with
    play = test_api.play(answer, START_MS - 1_000)
    calls = [
        ("get", "/v1/displays/{display_id}/next-ad", "200", NEXT_AD, DISPLAY_1, None),
        ("post", "/v1/displays/{display_id}/impressions", "201", IMPRESSIONS, DISPLAY_1, play),
        (
            "get",
            "/v1/stores/{store}/cameras/{camera}/observations",
            "200",
            "/v1/stores/demo-store/cameras/demo-cam-1/observations",
            OPERATOR,
            None,
        ),
        ("post", "/v1/stores/{store}/cameras/{camera}/upload-url", "200", UPLOAD_URL, CAMERA_1, {}),
        (
            "get",
            "/v1/stores/{store}/report",
            "200",
            "/v1/stores/demo-store/report?from=2024-06-05T09:00:00Z&to=2024-06-05T11:00:00Z",
            OPERATOR,
            None,
        ),
        ("get", "/v1/stores/{store}/now", "200", "/v1/stores/demo-store/now", OPERATOR, None),
        ("get", "/health", "200", "/health", None, None),
        ("get", "/v1/displays/{display_id}/next-ad", "401", NEXT_AD, None, None),
    ]
    for method, path, status, url, token, body in calls:
        # WHEN the route answers
        got, _, raw = call(stack, method.upper(), url, token, body)
        # THEN with the documented status and a body the documented model accepts whole
        assert str(got) == status, (url, raw)
        model = documented_model(document, method, path, status)
        model.model_validate(json.loads(raw))


@pytest.mark.parametrize("extra_key", ["surprise"])
def test_an_undocumented_key_in_an_answer_is_caught(extra_key: str) -> None:
    # The models refuse keys they do not name, so a new field must be documented first.
    answer = {"status": "ok", extra_key: 1}
    with pytest.raises(ValueError, match=extra_key):
        api_document.Health.model_validate(answer)
