"""Load the JSON event fixtures in tests/events/ and derive variants of them.

The fixtures are real AWS shapes: an SQS event whose body is an SNS notification whose
Message is an S3 event notification, each layer a JSON string inside the one above.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A fixture by file name, without the .json."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def frame_job_event(*objects: tuple[str, int], bucket: str | None = None) -> dict[str, Any]:
    """An SQS batch with one S3 -> SNS -> SQS record per (key, size), cloned from the fixture."""
    template = load_event("sqs_sns_s3_object_created")["Records"][0]
    records = []
    for index, (key, size) in enumerate(objects):
        record = copy.deepcopy(template)
        notification = json.loads(record["body"])
        s3_event = json.loads(notification["Message"])
        entry = s3_event["Records"][0]["s3"]
        entry["object"]["key"] = key
        entry["object"]["size"] = size
        if bucket is not None:
            entry["bucket"]["name"] = bucket
            entry["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        notification["Message"] = json.dumps(s3_event)
        record["body"] = json.dumps(notification)
        record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
        record["messageId"] = f"{record['messageId'][:-4]}{index:04d}"
        records.append(record)
    return {"Records": records}


def fixture_bucket() -> str:
    """The bucket the object-created fixture names."""
    body = json.loads(load_event("sqs_sns_s3_object_created")["Records"][0]["body"])
    return json.loads(body["Message"])["Records"][0]["s3"]["bucket"]["name"]
