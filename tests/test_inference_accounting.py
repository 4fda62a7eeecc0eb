"""Every uploaded frame is accounted for on the template-provisioned moto stack: an
observation, a rejection with its reason, or a dead letter with its reason; the bucket ends
empty and nothing waits for retries."""

from __future__ import annotations

import io

import boto3
from PIL import Image

from tests import test_local_pipeline as pipeline
from tests.conftest import jpeg_bytes
from tests.test_local_pipeline import FRAME, drain, observations, queue_depth

# The pipeline test's fixtures: a template-provisioned moto stack and its poller, model faked.
session, stack, predictor, poller = (
    pipeline.session,
    pipeline.stack,
    pipeline.predictor,
    pipeline.poller,
)


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def test_bad_frames_and_poison_jobs_are_each_accounted_for_with_a_reason(stack, poller):
    # GIVEN a good frame, a 100000x1 PNG, a .png of the good frame's camera and time, a frame
    # from a camera not in the registry, an object outside the key scheme, and a stray message
    s3, bucket = boto3.client("s3"), stack.outputs["FramesBucketName"]
    good = FRAME.format(ms=1_700_000_000_000)
    thin = FRAME.format(ms=1_700_000_000_001).replace(".jpg", ".png")
    stranger = "frames/demo-store/no-such-cam/1700000000002.jpg"
    s3.put_object(Bucket=bucket, Key=good, Body=jpeg_bytes())
    drain(poller)  # the .jpg is observed first
    uploads = {
        thin: png_bytes(100_000, 1),
        good.replace(".jpg", ".png"): png_bytes(64, 48),
        stranger: jpeg_bytes(),
        "frames/holiday.jpg": jpeg_bytes(),
    }
    for key, data in uploads.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.outputs["JobsQueueUrl"], MessageBody="not a frame job")
    # WHEN everything is processed
    drain(poller)
    # THEN observations and rejections carry their reasons...
    outcome = {item["frame_key"]: (item["status"], item["error"]) for item in observations(stack)}
    assert outcome[good] == ("ok", None)
    assert outcome[thin][0] == "rejected" and "too small" in outcome[thin][1]
    assert outcome[stranger] == (
        "rejected",
        "camera 'no-such-cam' is not registered to store 'demo-store'",
    )
    # ...the rest are dead letters with theirs, at once rather than after five receives...
    dead = sqs.receive_message(
        QueueUrl=stack.outputs["JobsDeadLetterQueueUrl"],
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert len(reasons) == 3
    assert reasons[0].startswith(f"{good.replace('.jpg', '.png')}: duplicate frame id: {good}")
    assert reasons[1].startswith("frames/holiday.jpg: not a frame key")
    assert reasons[2].startswith("not a frame job: body: Invalid JSON")
    # ...and nothing is left in the bucket or waiting on the jobs queue
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert queue_depth(stack.outputs["JobsQueueUrl"]) == 0
