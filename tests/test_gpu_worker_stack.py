"""`python -m infra.stack --gpu-worker`: the GPU worker, not the Lambda's pollers, turns
camera uploads into observations on the local stack."""

from __future__ import annotations

import json
import time

import pytest

from infra.camera_frames import composed_frames
from infra.stack import start_in_background, stop_background

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gpu-stack")
    process, outputs = start_in_background(run_dir, extra_args=("--gpu-worker",))
    yield outputs
    stop_background(process)


def observation(outputs, key, timeout_s=30.0):
    camera, captured = key.removeprefix("frames/").rsplit("/", 1)
    dynamodb = outputs.client("dynamodb")
    key_item = {"camera_key": {"S": camera}, "captured_at_ms": {"N": captured.split(".")[0]}}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=outputs.document["observations_table"], Key=key_item, ConsistentRead=True
        ).get("Item")
        if item is not None:
            return item
        time.sleep(0.1)
    raise AssertionError(f"no observation of {key} within {timeout_s} s")


def test_uploads_become_observations_through_the_gpu_worker(stack):
    outputs = stack
    # GIVEN the stack runs the GPU worker and no Lambda pollers
    pids = json.loads(outputs.pids_file.read_text())
    assert "gpu-worker" in pids and not any(name.startswith("worker-") for name in pids)
    # WHEN a camera uploads a two-face frame and a file that is no image
    s3 = outputs.client("s3")
    now_ms = time.time_ns() // 1_000_000
    good, bad = (f"frames/demo-store/demo-cam-1/{now_ms + i}.jpg" for i in range(2))
    frame = next(f for f in composed_frames(3) if f.expected_faces == 2)
    s3.put_object(Bucket=outputs.frames_bucket, Key=good, Body=frame.jpeg)
    s3.put_object(Bucket=outputs.frames_bucket, Key=bad, Body=b"not a picture")
    # THEN the frame is an ok observation with both faces, the other a recorded rejection
    item = observation(outputs, good)
    assert item["status"]["S"] == "ok" and len(item["faces"]["L"]) == 2
    rejected = observation(outputs, bad)
    assert rejected["status"]["S"] == "rejected" and rejected["error"]["S"]
    # AND both are gone from the bucket
    deadline = time.monotonic() + 10
    while s3.list_objects_v2(Bucket=outputs.frames_bucket, Prefix="frames/").get("KeyCount"):
        assert time.monotonic() < deadline, "frames were not deleted"
        time.sleep(0.1)
