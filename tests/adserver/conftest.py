"""Fixtures for the ad server tests: moto chain, seed catalog, fixed clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from adserver.catalog import Catalog, seed_catalog


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name="eu-west-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"catalog-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.resource("dynamodb", region_name="eu-west-1")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return seed_catalog()
