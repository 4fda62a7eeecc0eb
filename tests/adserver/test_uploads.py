"""Presigned frame uploads: one key under the camera's prefix, expiring within 5 minutes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest

from adserver.uploads import UploadRefused, frame_upload_url, signing_client
from tests.conftest import REGION

NOW_MS = 1_717_779_600_000


@pytest.fixture
def s3(aws: None) -> Any:
    return signing_client(REGION)


def signature_for(s3: Any, url: str, path: str) -> str:
    """Re-sign ``url``'s request for ``path`` with the same credentials and time, as S3 would."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    amz_date = query["X-Amz-Date"][0]
    unsigned = {k: v[0] for k, v in query.items() if k != "X-Amz-Signature"}
    signer = S3SigV4QueryAuth(
        s3._request_signer._credentials,
        "s3",
        REGION,
        expires=int(unsigned["X-Amz-Expires"]),
    )
    signer._get_date = lambda: amz_date  # type: ignore[method-assign]
    request = AWSRequest(
        method="PUT",
        url=f"{parts.scheme}://{parts.netloc}{path}",
        headers={"Content-Type": "image/jpeg"},
    )
    request.context["timestamp"] = amz_date
    signer.add_auth(request)
    return parse_qs(urlsplit(request.url).query)["X-Amz-Signature"][0]


def test_url_writes_exactly_one_frame_key_and_expires_in_5_minutes(
    s3: Any, bucket_name: str
) -> None:
    # WHEN a camera asks for an upload URL
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", NOW_MS - 200, NOW_MS)
    # THEN it is a PUT for its own frame key, signed for at most 300 s
    assert answer["key"] == f"frames/demo-store/demo-cam-1/{NOW_MS - 200}.jpg"
    assert answer["method"] == "PUT"
    assert answer["headers"] == {"Content-Type": "image/jpeg"}
    parts = urlsplit(answer["url"])
    query = parse_qs(parts.query)
    assert parts.path.endswith(f"/{answer['key']}")
    assert int(query["X-Amz-Expires"][0]) == answer["expires_in"] <= 300
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")


def test_signature_does_not_cover_another_key(s3: Any, bucket_name: str) -> None:
    # GIVEN a URL for demo-cam-1
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", NOW_MS, NOW_MS)
    given = parse_qs(urlsplit(answer["url"]).query)["X-Amz-Signature"][0]
    path = urlsplit(answer["url"]).path
    # THEN the signature matches its own path and no other, so S3 refuses a rewritten URL
    assert signature_for(s3, answer["url"], path) == given
    for other in (
        path.replace("demo-cam-1", "demo-cam-2"),
        path.replace("frames/demo-store", "frames/other-store"),
        path.replace(f"{NOW_MS}.jpg", "../../../etc.jpg"),
    ):
        assert signature_for(s3, answer["url"], other) != given


def test_the_url_uploads_a_frame(s3: Any, bucket_name: str) -> None:
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", None, NOW_MS)
    response = requests.put(answer["url"], data=b"\xff\xd8jpeg", headers=answer["headers"])
    assert response.status_code == 200
    stored = s3.get_object(Bucket=bucket_name, Key=f"frames/demo-store/demo-cam-1/{NOW_MS}.jpg")
    assert stored["Body"].read() == b"\xff\xd8jpeg"


def test_expiry_is_capped_at_300_seconds(s3: Any, bucket_name: str) -> None:
    answer = frame_upload_url(s3, bucket_name, "s", "c", NOW_MS, NOW_MS, expires_in=3600)
    assert answer["expires_in"] == 300


@pytest.mark.parametrize(
    ("store", "camera", "captured", "reason"),
    [
        ("demo-store", "../x", NOW_MS, "store and camera ids must be"),
        ("demo store", "c", NOW_MS, "store and camera ids must be"),
        ("s", "c", "123", "captured_at_ms: must be an integer"),
        ("s", "c", True, "captured_at_ms: must be an integer"),
        ("s", "c", NOW_MS - 3_600_000, "captured_at_ms: more than 5 minutes"),
    ],
)
def test_refusals_say_why(s3: Any, store: str, camera: str, captured: Any, reason: str) -> None:
    with pytest.raises(UploadRefused) as exc:
        frame_upload_url(s3, "b", store, camera, captured, NOW_MS)
    assert exc.value.reason.startswith(reason)


def test_signing_client_uses_sigv4_in_every_region(aws: None) -> None:
    # boto3's default client may presign with SigV2 (us-east-1 does here); ours never does.
    answer = frame_upload_url(signing_client("us-east-1"), "b", "s", "c", NOW_MS, NOW_MS)
    assert "X-Amz-Signature=" in answer["url"]
