"""The OpenAPI description: valid, and covering every route of the contract."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate

import adserver

SPEC_PATH = Path(adserver.__file__).with_name("openapi.yaml")

CONTRACT_ROUTES = {
    ("get", "/v1/stores/{store}/cameras/{camera}/observations"),
    ("get", "/v1/displays/{id}/next-ad"),
    ("post", "/v1/displays/{id}/impressions"),
    ("get", "/v1/stores/{store}/report"),
    ("post", "/v1/stores/{store}/cameras/{camera}/upload-url"),
    ("get", "/display/{id}"),
}


def test_spec_is_valid_openapi() -> None:
    validate(yaml.safe_load(SPEC_PATH.read_text()))


def test_spec_describes_every_contract_route() -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    described = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert described >= CONTRACT_ROUTES


def test_every_v1_route_requires_a_bearer_token() -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.startswith("/v1/"):
                assert operation.get("security"), f"{method} {path} has no security"
                assert "401" in operation["responses"], f"{method} {path} has no 401"
