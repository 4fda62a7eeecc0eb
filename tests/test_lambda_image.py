"""The inference image's runtime, without Docker: its requirements in a clean virtualenv, the
files its Dockerfile copies in a task root, and the handler its CMD names, run from there.

The virtualenv lives in .cache/lambda-image-venv (git-ignored) and is rebuilt only when the
requirements change; pip's own cache makes a rebuild cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from adserver.registry import DynamoDBRegistry
from infra.camera_frames import composed_frames
from infra.provision import provision
from infra.seed import seed_registry
from infra.template import REPO_ROOT, load_template, translate
from infra.worker import sqs_event

pytestmark = pytest.mark.lambda_image

IMAGE_DIR = REPO_ROOT / "lambdas" / "inference"
DOCKERFILE = IMAGE_DIR / "Dockerfile"
VENV = REPO_ROOT / ".cache" / "lambda-image-venv"
MODEL_ARTIFACT = REPO_ROOT / "model" / "artifacts" / "age_gender.tflite"


def dockerfile_copies() -> list[tuple[str, str]]:
    """(source, path under the task root) for each COPY into ${LAMBDA_TASK_ROOT}."""
    copies = re.findall(
        r"^COPY\s+(\S+)\s+\$\{LAMBDA_TASK_ROOT\}/(\S*)$", DOCKERFILE.read_text(), re.M
    )
    assert copies, "the Dockerfile copies nothing into the task root"
    return copies


def dockerfile_handler() -> str:
    [command] = re.findall(r'^CMD\s+\["([^"]+)"\]$', DOCKERFILE.read_text(), re.M)
    return command


def requirement_file() -> Path:
    assert "-r /tmp/requirements.txt" in DOCKERFILE.read_text()
    return IMAGE_DIR / "requirements.txt"


@pytest.fixture(scope="session")
def image_python() -> Path:
    """Python of a clean virtualenv holding exactly the image's requirements."""
    requirements = requirement_file()
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()
    python = VENV / "bin" / "python"
    stamp = VENV / ".requirements-sha256"
    if not (python.exists() and stamp.exists() and stamp.read_text() == digest):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(requirements)], check=True)
        stamp.write_text(digest)
    return python


@pytest.fixture
def task_root(tmp_path) -> Path:
    """What the Dockerfile's COPY lines put in ${LAMBDA_TASK_ROOT}, and nothing else."""
    root = tmp_path / "task"
    for source, target in dockerfile_copies():
        shutil.copytree(
            REPO_ROOT / source, root / target, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


def run_in_image(python: Path, task_root: Path, code: str, env: dict[str, str], stdin: str = ""):
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    return subprocess.run(
        [str(python), "-c", code],
        cwd=task_root,
        env={
            **clean_env,
            "PYTHONPATH": str(task_root),
            **env,
        },  # Lambda puts the task root on sys.path
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_image_runtime_imports_the_handler_and_the_predictor_without_tensorflow(
    image_python, task_root
):
    # WHEN the handler the CMD names and the predictor's modules are imported in the image env
    result = run_in_image(
        image_python,
        task_root,
        "import importlib, importlib.util, json\n"
        f"module, _, name = {dockerfile_handler()!r}.rpartition('.')\n"
        "handler = getattr(importlib.import_module(module), name)\n"
        "import model.predictor, ai_edge_litert\n"
        "print(json.dumps({'callable': callable(handler),"
        " 'tensorflow': importlib.util.find_spec('tensorflow') is not None,"
        " 'opencv': importlib.util.find_spec('cv2') is not None,"
        " 'model_from': model.predictor.__file__}))",
        env={},
    )
    # THEN it imports from the task root, and neither TensorFlow nor OpenCV is in the image
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {
        "callable": True,
        "tensorflow": False,
        "opencv": False,
        "model_from": str(task_root / "model" / "predictor.py"),
    }


def test_the_handler_runs_from_the_image_install_on_real_sqs_messages(
    image_python, task_root, moto_endpoint, monkeypatch, aws_credentials
):
    if not MODEL_ARTIFACT.exists():
        pytest.skip(f"the shipped model is not in the repository yet ({MODEL_ARTIFACT})")
    # GIVEN the template's stack on moto, its registry seeded, and a two-face frame uploaded by
    # a registered camera
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    stack = provision(
        translate(load_template(), {"Stage": "local"}),
        boto3.session.Session(region_name="us-east-1"),
        stack_name=f"image-{uuid.uuid4().hex[:6]}",
        parameters={"Stage": "local"},
        endpoint_url=moto_endpoint,
    )
    registry = boto3.resource("dynamodb").Table(stack.outputs["RegistryTableName"])
    seed_registry(DynamoDBRegistry(registry))
    frame = next(f for f in composed_frames(3) if f.expected_faces == 2)
    key = "frames/demo-store/demo-cam-1/1700000000000.jpg"
    bucket = stack.outputs["FramesBucketName"]
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=frame.jpeg)
    [source] = stack.event_sources
    messages = boto3.client("sqs").receive_message(
        QueueUrl=source.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    event = sqs_event(messages, source.queue_arn, "us-east-1")  # the test event and the frame
    # WHEN the image's handler gets that batch, with the function's environment from the template
    function = stack.functions[source.function]
    result = run_in_image(
        image_python,
        task_root,
        "import importlib, json, sys, types\n"
        f"module, _, name = {dockerfile_handler()!r}.rpartition('.')\n"
        "handler = getattr(importlib.import_module(module), name)\n"
        "context = types.SimpleNamespace(function_name='inference', memory_limit_in_mb=2048,"
        " invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:inference',"
        " aws_request_id='image-test', get_remaining_time_in_millis=lambda: 180_000)\n"
        "print(json.dumps(handler(json.load(sys.stdin), context)))",
        env={
            **function.environment,
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        stdin=json.dumps(event),
    )
    # THEN no record failed, the frame has an observation with both faces, and it is deleted
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    table = boto3.resource("dynamodb").Table(stack.outputs["ObservationsTableName"])
    [item] = table.scan()["Items"]
    assert (item["frame_key"], item["status"], len(item["faces"])) == (key, "ok", 2)
    assert boto3.client("s3").list_objects_v2(Bucket=bucket)["KeyCount"] == 0
