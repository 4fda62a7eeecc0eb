"""Presigned frame uploads: a camera may write one frame key under its own prefix, briefly.

The URL is a SigV4 query-signed PUT for exactly ``frames/{store}/{camera}/{ms}.jpg``:
the path and the Content-Type header are part of the signature, so the URL cannot
be pointed at another key, and it stops working after ``expires_in`` seconds.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from lambdas.frame_keys import FrameKey, is_valid_id

MAX_EXPIRES_S = 300
FRAME_CONTENT_TYPE = "image/jpeg"
# A camera may stamp frames a little ahead or behind our clock, but not by hours.
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000


def signing_client(region: str, endpoint_url: str | None = None) -> Any:
    """An S3 client that presigns with SigV4, the only scheme that enforces our expiry.

    (boto3's default can hand out SigV2 URLs, whose expiry S3 trusts from the URL itself.)
    """
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)


class UploadRefused(ValueError):
    """A request for an upload URL we will not sign; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def frame_upload_url(
    s3_client: Any,
    bucket: str,
    store: str,
    camera: str,
    captured_at_ms: int | None,
    now_ms: int,
    expires_in: int = MAX_EXPIRES_S,
) -> dict[str, Any]:
    """Sign a PUT for one frame of ``store``/``camera``; the answer of the upload-url route."""
    if not (is_valid_id(store) and is_valid_id(camera)):
        raise UploadRefused("store and camera ids must be letters, digits, '-' or '_'")
    if captured_at_ms is None:
        captured_at_ms = now_ms
    if isinstance(captured_at_ms, bool) or not isinstance(captured_at_ms, int):
        raise UploadRefused("captured_at_ms: must be an integer of epoch milliseconds")
    if abs(captured_at_ms - now_ms) > MAX_CLOCK_SKEW_MS:
        raise UploadRefused("captured_at_ms: more than 5 minutes away from the server clock")
    expires_in = max(1, min(expires_in, MAX_EXPIRES_S))
    key = FrameKey(store=store, camera=camera, captured_at_ms=captured_at_ms).key
    url = s3_client.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": FRAME_CONTENT_TYPE},
        ExpiresIn=expires_in,
        HttpMethod="PUT",
    )
    return {
        "url": url,
        "key": key,
        "method": "PUT",
        "headers": {"Content-Type": FRAME_CONTENT_TYPE},
        "expires_in": expires_in,
    }
