"""Fixtures for the ad server tests (the moto chain lives in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from adserver.catalog import Catalog, seed_catalog
from tests.conftest import REGION


@pytest.fixture
def dynamodb(aws: None) -> Any:
    return boto3.resource("dynamodb", region_name=REGION)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return seed_catalog()
