"""Shared test fixtures: data beside the project or inside dependencies, and the moto chain
(fake credentials -> mock_aws -> bucket / table) for the pipeline tests."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
UTKFACE = ROOT.parent / "shared" / "datasets" / "utkface"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def utkface() -> Path:
    """The shared UTKFace folder (present in CI beside the clone)."""
    if not UTKFACE.is_dir():
        pytest.skip(f"shared dataset not found at {UTKFACE}")
    return UTKFACE


@pytest.fixture(scope="session")
def sample_photos() -> list[np.ndarray]:
    """Real face photographs shipped inside matplotlib and scikit-image, as RGB arrays."""
    from model.samples import sample_photos

    photos = sample_photos()
    assert len(photos) == 2, "matplotlib and scikit-image must both be installed"
    return [np.asarray(Image.open(p).convert("RGB")) for p in photos]


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so nothing can reach a real account, whatever the shell has set."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def bucket_name(s3: Any) -> str:
    name = f"frames-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def observations_table(aws: None) -> Any:
    """A table with the observations key schema from template.yaml."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=f"observations-{uuid.uuid4().hex[:12]}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "camera_key", "AttributeType": "S"},
            {"AttributeName": "captured_at_ms", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "camera_key", "KeyType": "HASH"},
            {"AttributeName": "captured_at_ms", "KeyType": "RANGE"},
        ],
    )
    table.wait_until_exists()
    return table


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    """A small valid JPEG with some structure in it."""
    ramp = np.linspace(0, 255, width * height * 3).reshape(height, width, 3).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(ramp).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def jpeg() -> bytes:
    return jpeg_bytes()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free localhost port, as the local stack runs it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def provision_template(prefix: str) -> Any:
    """template.yaml provisioned on the active moto mock under a unique stack name."""
    from infra.provision import provision
    from infra.template import load_template, translate

    return provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name=REGION),
        stack_name=f"{prefix}-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
    )
