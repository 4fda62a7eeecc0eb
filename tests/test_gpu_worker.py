"""The GPU worker: the serving predictor's faces from batches of frames, and the Lambda's
queue semantics (one observation per frame, rejections, dead letters, retries) on moto."""

from __future__ import annotations

import io
import json
import threading
import time

import boto3
import numpy as np
import pytest
from PIL import Image

from infra.gpu_worker.batch_predictor import load_batch_predictor
from infra.gpu_worker.worker import GpuWorker, WorkerConfig
from lambdas.inference.dead_letters import SqsDeadLetters
from lambdas.inference.frames import FrameDependencies
from lambdas.inference.settings import InferenceSettings
from lambdas.observations import ObservationStore
from model.samples import compose_frame
from tests.aws_events import frame_job_event, load_event
from tests.conftest import REGION

CAMERA = "frames/demo-store/demo-cam-1"


@pytest.fixture(scope="module")
def frames(sample_photos):
    """Four camera frames: two faces, one face, two smaller faces in the other order, and
    far faces."""
    return [
        compose_frame(sample_photos),
        compose_frame(sample_photos[:1]),
        compose_frame(sample_photos[::-1], face_height=200),
        compose_frame(sample_photos, face_height=60),
    ]


@pytest.fixture(scope="module")
def batched():
    return load_batch_predictor("litert")


def assert_same_faces(got, want):
    assert len(got) == len(want)
    for ours, theirs in zip(got, want, strict=True):
        assert np.allclose(ours.box, theirs.box, atol=3), (ours.box, theirs.box)
        assert abs(ours.age - theirs.age) <= 1.0
        assert ours.gender == theirs.gender


def test_batched_litert_faces_match_the_serving_predictor(frames, batched):
    from model.predictor import load_predictor

    # GIVEN the serving predictor's faces, one frame at a time
    want = [load_predictor().predict(frame) for frame in frames]
    assert sum(len(faces) for faces in want) >= 4, "the sample frames must show faces"
    # WHEN the worker's predictor takes all three frames in one batch
    got = batched.predict_batch(frames, [None] * len(frames))
    # THEN each frame has the same faces: boxes within 3 px, ages within a year, same genders
    for ours, theirs in zip(got, want, strict=True):
        assert_same_faces(ours, theirs)


def test_the_all_keras_predictor_matches_the_serving_predictor(frames):
    pytest.importorskip("keras")
    from model.predictor import load_predictor

    # GIVEN the GPU image's configuration: YuNet and the trained .keras age/gender network
    # both on Keras (TensorFlow's CPU kernels here, PyTorch with CUDA in the image)
    keras_batched = load_batch_predictor("keras")
    # WHEN it takes the frames in one batch, one of them at the near profile
    profiles = [None, None, 64.0, None]
    got = keras_batched.predict_batch(frames, profiles)
    # THEN it agrees with the LiteRT serving predictor frame by frame
    for frame, profile, ours in zip(frames, profiles, got, strict=True):
        assert_same_faces(ours, load_predictor().predict(frame, min_face_px=profile))


# ---------------------------------------------------------------------------- on moto
def jpeg_of(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def queues(aws):
    """A jobs queue with a dead-letter queue after two receives, as in template.yaml."""
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName="gpu-jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="gpu-jobs",
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    return sqs, url, dlq_url


def make_worker(sqs, url, dlq_url, bucket_name, table, predictor):
    settings = InferenceSettings(OBSERVATIONS_TABLE=table.name, DEAD_LETTER_QUEUE_URL=dlq_url)

    def dependencies():
        return FrameDependencies(
            s3=boto3.client("s3", region_name=REGION),
            observations=ObservationStore(table),
            predictor=predictor,
            settings=settings,
        )

    config = WorkerConfig(
        queue_url=url, receivers=2, fetchers=2, recorders=2, batch_frames=8, poll_wait_s=1
    )
    return GpuWorker(sqs, config, predictor, dependencies, SqsDeadLetters(sqs, dlq_url))


def run_until(worker, settled, timeout_s=20.0):
    """Run the worker in a thread until ``settled(stats)`` holds, then stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not settled(worker.snapshot()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    return worker.snapshot()


def send_job(sqs, url, key, size, bucket):
    body = frame_job_event((key, size), bucket=bucket)["Records"][0]["body"]
    sqs.send_message(QueueUrl=url, MessageBody=body)


def observation(table, key):
    camera, captured = key.removeprefix("frames/").rsplit("/", 1)
    item = table.get_item(
        Key={"camera_key": camera, "captured_at_ms": int(captured.split(".")[0])}
    ).get("Item")
    return item


def test_jobs_on_the_queue_become_observations_rejections_and_dead_letters(
    queues, s3, bucket_name, observations_table, frames, batched
):
    sqs, url, dlq_url = queues
    # GIVEN two frames with faces, a frame that is not an image, a key that names no camera,
    # a message that is not a frame job, S3's test event, and one good job delivered twice
    good = [f"{CAMERA}/170000000000{i}.jpg" for i in range(2)]
    bad, nameless = f"{CAMERA}/1700000000009.jpg", "frames/not-a-frame.jpg"
    for key, rgb in zip(good, frames, strict=False):
        s3.put_object(Bucket=bucket_name, Key=key, Body=jpeg_of(rgb))
    s3.put_object(Bucket=bucket_name, Key=bad, Body=b"GIF89a" + b"\0" * 64)
    s3.put_object(Bucket=bucket_name, Key=nameless, Body=b"x")
    for key in [*good, bad, nameless, good[0]]:
        send_job(
            sqs, url, key, s3.head_object(Bucket=bucket_name, Key=key)["ContentLength"], bucket_name
        )
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    sqs.send_message(
        QueueUrl=url, MessageBody=load_event("sqs_sns_s3_test_event")["Records"][0]["body"]
    )
    worker = make_worker(sqs, url, dlq_url, bucket_name, observations_table, batched)

    # WHEN the worker drains the queue
    stats = run_until(worker, lambda s: s.get("jobs_done", 0) >= 7)

    # THEN every job is settled and deleted, none left for retry
    assert stats["jobs_done"] == 7 and "jobs_left_for_retry" not in stats
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    # AND each frame has one ok observation with the serving predictor's faces
    for key, rgb in zip(good, frames, strict=False):
        item = observation(observations_table, key)
        assert item["status"] == "ok" and item["frame_key"] == key
        assert len(item["faces"]) == len(batched.predict(rgb)) >= 1
    # AND the repeated job found its frame observed
    assert stats["frames_ok"] == 2 and stats["frames_duplicate"] == 1
    # AND the bad frame is a recorded rejection with its reason
    rejected = observation(observations_table, bad)
    assert rejected["status"] == "rejected" and rejected["error"].startswith("not a JPEG/PNG")
    # AND the nameless frame and the non-job went to the dead-letter queue with reasons
    dead = sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert len(reasons) == 2 and stats["jobs_dead_lettered"] == 2
    assert reasons[0].startswith("frames/not-a-frame.jpg: ")
    assert reasons[1].startswith("not a frame job")
    # AND every frame is gone from the bucket
    assert s3.list_objects_v2(Bucket=bucket_name).get("KeyCount") == 0


class BrokenModel:
    model_version = "broken-1"

    def predict_batch(self, frames, min_face_px):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    def predict(self, rgb, min_face_px=None):
        raise RuntimeError("not used")


def test_a_job_whose_batch_fails_stays_on_the_queue_for_redelivery(
    queues, s3, bucket_name, observations_table, frames
):
    sqs, url, dlq_url = queues
    # GIVEN a frame with faces and a model that fails
    key = f"{CAMERA}/1700000000000.jpg"
    data = jpeg_of(frames[1])
    s3.put_object(Bucket=bucket_name, Key=key, Body=data)
    send_job(sqs, url, key, len(data), bucket_name)
    worker = make_worker(sqs, url, dlq_url, bucket_name, observations_table, BrokenModel())
    # WHEN the worker takes the job
    stats = run_until(worker, lambda s: s.get("jobs_left_for_retry", 0) >= 1)
    # THEN the job is not deleted (it is in flight until its visibility timeout ends)
    assert stats["jobs_left_for_retry"] == 1 and "jobs_done" not in stats
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    # AND the frame has no observation and is still in the bucket for the retry
    assert observation(observations_table, key) is None
    assert s3.list_objects_v2(Bucket=bucket_name)["KeyCount"] == 1
