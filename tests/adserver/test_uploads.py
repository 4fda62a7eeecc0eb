"""Presigned frame uploads: a POST policy for one key under the camera's prefix, of a bounded
size and the JPEG type, expiring within 5 minutes. moto checks none of it; S3 does, so these
tests read the policy and its signature as S3 would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import pytest
import requests

from adserver.uploads import MAX_UPLOAD_BYTES, UploadRefused, frame_upload_url, signing_client
from tests.conftest import REGION

NOW_MS = 1_717_779_600_000


@pytest.fixture
def s3(aws: None) -> Any:
    return signing_client(REGION)


def policy_of(answer: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(answer["fields"]["policy"]))


def post_signature(s3: Any, policy_b64: str, date: str) -> str:
    """SigV4 of a POST policy: HMAC of the base64 policy with the day's signing key."""
    secret = s3._request_signer._credentials.get_frozen_credentials().secret_key
    key = f"AWS4{secret}".encode()
    for part in (date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()


def test_policy_allows_one_frame_key_of_bounded_size_for_at_most_5_minutes(
    s3: Any, bucket_name: str
) -> None:
    # WHEN a camera asks for an upload
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", NOW_MS - 200, NOW_MS)
    # THEN it is a form POST to the bucket for its own frame key...
    key = f"frames/demo-store/demo-cam-1/{NOW_MS - 200}.jpg"
    assert answer["method"] == "POST" and answer["key"] == key
    assert answer["url"].endswith(f"/{bucket_name}")
    assert answer["fields"]["key"] == key and answer["fields"]["Content-Type"] == "image/jpeg"
    # ...whose signed policy pins the bucket, the key, the type and 1 byte to MAX_UPLOAD_BYTES
    policy = policy_of(answer)
    conditions = policy["conditions"]
    assert {"bucket": bucket_name} in conditions and {"key": key} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, MAX_UPLOAD_BYTES] in conditions
    assert answer["max_bytes"] == MAX_UPLOAD_BYTES
    # ...and expires within the answer's expires_in (at most 300 s)
    signed_at = datetime.strptime(answer["fields"]["x-amz-date"], "%Y%m%dT%H%M%S%z")
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - signed_at).total_seconds() <= answer["expires_in"] <= 300
    assert answer["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_signature_covers_the_policy_and_nothing_else(s3: Any, bucket_name: str) -> None:
    # GIVEN the form for demo-cam-1
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", NOW_MS, NOW_MS)
    fields = answer["fields"]
    date = fields["x-amz-date"]
    # THEN the signature is that of its policy, as S3 recomputes it...
    assert post_signature(s3, fields["policy"], date) == fields["x-amz-signature"]
    # ...and a policy edited for another key, a larger size or a later expiry has another one
    policy = json.dumps(policy_of(answer))
    for edited in (
        policy.replace("demo-cam-1", "demo-cam-2"),
        policy.replace(str(MAX_UPLOAD_BYTES), str(10 * MAX_UPLOAD_BYTES)),
        policy.replace('"expiration": "2', '"expiration": "3'),
    ):
        assert edited != policy
        edited_b64 = base64.b64encode(edited.encode()).decode()
        assert post_signature(s3, edited_b64, date) != fields["x-amz-signature"]


def test_the_form_uploads_a_frame(s3: Any, bucket_name: str) -> None:
    answer = frame_upload_url(s3, bucket_name, "demo-store", "demo-cam-1", None, NOW_MS)
    response = requests.post(
        answer["url"],
        data=answer["fields"],
        files={"file": ("frame.jpg", b"\xff\xd8jpeg", "image/jpeg")},
    )
    assert response.status_code in (200, 201, 204)
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
    assert answer["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "x-amz-signature" in answer["fields"] and "signature" not in answer["fields"]
