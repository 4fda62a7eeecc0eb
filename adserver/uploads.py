"""Presigned frame uploads: a camera may write one frame key under its own prefix, briefly.

The answer is a SigV4 POST policy (a browser-style form upload) for exactly
``frames/{store}/{camera}/{ms}.jpg``: S3 accepts the form only with that key, the JPEG
content type and a body of 1 byte to ``MAX_UPLOAD_BYTES``, and only for ``expires_in``
seconds. (A presigned PUT cannot bound the size of what is written.)

The local stack's moto server checks none of this: it takes any form or PUT to the bucket,
signed or not, expired or not, of any size. Only S3 enforces the policy.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from lambdas.frame_keys import FrameKey, is_valid_id

MAX_EXPIRES_S = 300
FRAME_CONTENT_TYPE = "image/jpeg"
# A 1280-px camera JPEG is about 200 KB; 10 MiB leaves room for a full-resolution still
# and stays under the 20 MiB the inference function reads (MAX_FRAME_BYTES).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
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
    """Sign a form upload of one frame of ``store``/``camera``; the upload-url route's answer.

    ``url`` and ``fields`` make a multipart/form-data POST, the JPEG as its last part
    ("file"); ``key``, ``method``, ``headers`` and ``expires_in`` keep the shape that
    clients of the earlier presigned PUT read.
    """
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
    post = s3_client.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": FRAME_CONTENT_TYPE},
        Conditions=[
            {"Content-Type": FRAME_CONTENT_TYPE},
            ["content-length-range", 1, MAX_UPLOAD_BYTES],
        ],
        ExpiresIn=expires_in,
    )
    return {
        "url": post["url"],
        "key": key,
        "method": "POST",
        "fields": post["fields"],
        "headers": {},  # everything S3 checks travels in the form's fields
        "content_type": FRAME_CONTENT_TYPE,
        "max_bytes": MAX_UPLOAD_BYTES,
        "expires_in": expires_in,
    }
