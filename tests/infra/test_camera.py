"""Camera client against a fake API on localhost, with an image folder made in the test."""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from infra.camera import (
    Backoff,
    CameraApi,
    CameraError,
    MotionDetector,
    Progress,
    image_folder_frames,
    main,
    open_source,
    run,
)

TOKEN = "camera-secret"


@dataclass
class FakeApi:
    """Records what the client sends; fails the first ``fail_next`` calls with 503."""

    url: str = ""
    fail_next: int = 0
    status_override: int | None = None
    url_requests: list[dict] = field(default_factory=list)
    uploads: list[tuple[str, bytes, str]] = field(default_factory=list)
    form_fields: list[dict[str, str]] = field(default_factory=list)
    upload_method: str = "POST"  # what the API answers: a POST policy, or (older) a PUT URL


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    state = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: bytes = b"", kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _failing(self) -> bool:
            if state.status_override is not None:
                self._reply(state.status_override, b'{"message": "nope"}')
                return True
            if state.fail_next > 0:
                state.fail_next -= 1
                self._reply(503, b'{"message": "busy"}')
                return True
            return False

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self._failing():
                return
            if self.path == "/bucket":  # the form upload S3 would take
                fields, (data, kind) = parse_form(self.headers["Content-Type"], body)
                state.form_fields.append(fields)
                state.uploads.append((f"/bucket/{fields['key']}", data, kind))
                self._reply(204)
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, b'{"message": "bad token"}')
                return
            if self.path != "/v1/stores/demo-store/cameras/cam-1/upload-url":
                self._reply(404)
                return
            request = json.loads(body)
            state.url_requests.append(request)
            key = f"frames/demo-store/cam-1/{request['captured_at_ms']}.jpg"
            answer: dict[str, object] = {"url": f"{state.url}/bucket/{key}", "key": key}
            if state.upload_method == "POST":
                fields = {
                    "key": key,
                    "Content-Type": "image/jpeg",
                    "policy": "p",
                    "x-amz-signature": "s",
                }
                answer.update(url=f"{state.url}/bucket", method="POST", fields=fields, headers={})
                answer.update(max_bytes=10 * 1024 * 1024)
            self._reply(200, json.dumps({**answer, "expires_in": 300}).encode())

        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self._failing():
                return
            state.uploads.append((self.path, body, self.headers["Content-Type"]))
            self._reply(200)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], tuple[bytes, str]]:
    """The text fields and the file part (bytes, content type) of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    upload = (b"", "")
    parts = list(message.iter_parts())
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            assert part is parts[-1], "S3 ignores fields after the file"
            upload = (part.get_payload(decode=True), part.get_content_type())
        else:
            fields[str(name)] = part.get_payload(decode=True).decode()
    return fields, upload


def scene(shift: int = 0) -> np.ndarray:
    """A 320x240 BGR frame with a white square that moves right by ``shift`` pixels."""
    frame = np.full((240, 320, 3), 40, np.uint8)
    cv2.rectangle(frame, (60 + shift, 60), (140 + shift, 160), (255, 255, 255), -1)
    return frame


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # GIVEN five frames: still, still (tiny noise), moved, still again, moved
    rng = np.random.default_rng(0)
    noisy = np.clip(scene().astype(int) + rng.integers(-3, 4, (240, 320, 3)), 0, 255)
    for name, frame in [
        ("000.jpg", scene()),
        ("001.jpg", noisy.astype(np.uint8)),
        ("002.png", scene(80)),
        ("003.jpg", scene(80)),
        ("004.jpg", scene(160)),
    ]:
        cv2.imwrite(str(tmp_path / name), frame)
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run_folder(folder: Path, api: CameraApi, heartbeat_s: float = 0, **kwargs: object):
    clock = FakeClock()
    stream = io.StringIO()
    stats = run(
        image_folder_frames(folder),
        api,
        fps=2,
        motion=MotionDetector(),
        heartbeat_s=heartbeat_s,
        progress=Progress(stream, clock),
        clock=clock,
        sleep=clock.sleep,
        backoff=Backoff(rng=random.Random(0)),
        **kwargs,
    )
    return stats, clock, stream.getvalue()


def test_uploads_only_frames_with_motion(fake_api: FakeApi, folder: Path) -> None:
    # WHEN the client runs over the folder
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    stats, _clock, output = run_folder(folder, api)
    # THEN the first frame and the two moves are uploaded as JPEGs; the still ones are skipped
    assert (stats.frames, stats.uploaded, stats.still) == (5, 3, 2)
    assert all(
        kind == "image/jpeg" and body[:2] == b"\xff\xd8" for _, body, kind in fake_api.uploads
    )
    # AND each upload went to the key the API handed out, stamped with the capture time
    stamps = [r["captured_at_ms"] for r in fake_api.url_requests]
    assert [path for path, _, _ in fake_api.uploads] == [
        f"/bucket/frames/demo-store/cam-1/{ms}.jpg" for ms in stamps
    ]
    # AND frames are paced at 2 fps: 0.5 s between captures
    assert [b - a for a, b in itertools.pairwise(stamps)] == [1000, 1000]
    # AND the progress summary says what happened
    assert (
        output.strip()
        .splitlines()[-1]
        .startswith("frames 5 | uploaded 3 | no motion 2 | retries 0 | dropped 0")
    )


def test_the_form_carries_the_policy_fields_then_the_jpeg(fake_api: FakeApi, folder: Path) -> None:
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    run_folder(folder, api)
    keys = [path.removeprefix("/bucket/") for path, _, _ in fake_api.uploads]
    assert [fields["key"] for fields in fake_api.form_fields] == keys
    assert all(f["policy"] == "p" and f["x-amz-signature"] == "s" for f in fake_api.form_fields)


def test_an_older_api_answering_a_put_url_still_works(fake_api: FakeApi, folder: Path) -> None:
    fake_api.upload_method = "PUT"
    stats, _clock, _output = run_folder(
        folder, CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    )
    assert stats.uploaded == 3 and fake_api.form_fields == []
    assert all(kind == "image/jpeg" for _, _, kind in fake_api.uploads)


def test_heartbeat_uploads_a_still_frame(fake_api: FakeApi, folder: Path) -> None:
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    # GIVEN frames 0.5 s apart and a heartbeat of 0.5 s
    stats, _, _ = run_folder(folder, api, heartbeat_s=0.5)
    # THEN the still frames go up too, as heartbeats
    assert (stats.uploaded, stats.still) == (5, 0)


def test_retries_with_backoff_then_succeeds(fake_api: FakeApi, folder: Path) -> None:
    # GIVEN an API that answers 503 three times
    fake_api.fail_next = 3
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    stats, clock, _ = run_folder(folder, api)
    # THEN the frames all arrive after three retries, with growing waits
    assert (stats.uploaded, stats.retries, stats.dropped) == (3, 3, 0)
    backoffs = [s for s in clock.slept if s not in (0.5,)][:3]
    assert 0.25 <= backoffs[0] <= 0.5 and 0.5 <= backoffs[1] <= 1.0 and 1.0 <= backoffs[2] <= 2.0


def test_gives_up_on_a_frame_after_max_attempts(fake_api: FakeApi, folder: Path) -> None:
    fake_api.fail_next = 2
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    stats, _, _ = run_folder(folder, api, max_attempts=2)
    assert stats.dropped == 1
    assert stats.uploaded == 3  # the dropped frame was not remembered, so the next one goes


def folder_args(folder: Path, api: str) -> list[str]:
    """The command line for uploading ``folder`` as camera cam-1 of demo-store."""
    where = f"--source {folder} --store demo-store --camera cam-1"
    return f"{where} --fps 50 --api {api} --outputs {folder / 'no-outputs.json'}".split()


def test_refused_token_stops_with_one_line(fake_api: FakeApi, folder: Path) -> None:
    stream = io.StringIO()
    code = main(folder_args(folder, fake_api.url), stream, {"CAMERA_TOKEN": "wrong"})
    assert code == 1
    assert stream.getvalue().strip().splitlines()[-1] == (
        "error: upload-url: the API refused the camera token (HTTP 401)"
    )


def test_main_uploads_the_folder(fake_api: FakeApi, folder: Path) -> None:
    stream = io.StringIO()
    code = main(folder_args(folder, fake_api.url), stream, {"CAMERA_TOKEN": TOKEN})
    assert code == 0
    assert len(fake_api.uploads) == 3


def test_the_local_stack_gives_the_api_and_the_cameras_token(
    fake_api: FakeApi, folder: Path, tmp_path: Path
) -> None:
    # GIVEN the local stack's outputs naming the API and demo-store/cam-1's token, no env
    outputs = tmp_path / "outputs.json"
    cameras = {"demo-store/cam-1": {"token": TOKEN}, "demo-store/cam-2": {"token": "other"}}
    outputs.write_text(json.dumps({"adserver_url": fake_api.url, "cameras": cameras}))
    args = f"--source {folder} --store demo-store --camera cam-1 --fps 50 --outputs {outputs}"
    # WHEN the client runs with neither --api nor a token on its command line
    code = main(args.split(), io.StringIO(), {})
    # THEN it uploads with that camera's token
    assert code == 0 and len(fake_api.uploads) == 3


def test_a_token_on_the_command_line_is_refused(folder: Path) -> None:
    stream = io.StringIO()
    code = main([*folder_args(folder, "http://x"), "--token", "t"], stream, {})
    assert code == 2
    assert stream.getvalue() == (
        "error: --token is not accepted (any user can read it in ps): set CAMERA_TOKEN instead\n"
    )


def test_without_a_token_says_where_to_get_one(folder: Path) -> None:
    stream = io.StringIO()
    assert main(folder_args(folder, "http://x"), stream, {}) == 2
    assert stream.getvalue().startswith(
        "error: no token for camera demo-store/cam-1: set CAMERA_TOKEN"
    )


def test_a_dropped_frame_says_why(fake_api: FakeApi, folder: Path) -> None:
    # GIVEN an API down for a frame's every attempt
    fake_api.fail_next = 2
    api = CameraApi(fake_api.url, TOKEN, "demo-store", "cam-1")
    # WHEN the folder is uploaded THEN the status line gives the drop's reason
    stats, _, _ = run_folder(folder, api, max_attempts=2)
    assert stats.dropped == 1
    assert "dropped 1 (last: upload-url: HTTP 503 after 2 attempts)" in stats.line(1.0)


def test_video_file_source_samples_at_fps(tmp_path: Path) -> None:
    # GIVEN a 10 fps, 2 s video
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(20):
        writer.write(scene(i * 5))
    writer.release()
    # WHEN read at 2 fps THEN every fifth frame comes out
    assert len(list(open_source(str(path), fps=2))) == 4


REQUIRED = "--store s --camera c --api http://x"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (REQUIRED, "error: the following arguments are required: --source (see --help)"),
        (
            f"--source 0 {REQUIRED} --fps 0",
            "error: argument --fps: must be > 0, got 0 (see --help)",
        ),
        (
            f"--source /no/such/thing {REQUIRED}",
            "error: --source /no/such/thing: not a webcam index, video file or image folder",
        ),
        (
            "--source . --store s --camera c --api ftp://x",
            "error: --api ftp://x: must be an http:// or https:// URL",
        ),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(args: str, message: str) -> None:
    # Run as the real command: one line on stderr, exit 2, no traceback.
    command = [sys.executable, "-m", "infra.camera", *args.split()]
    environ = {**os.environ, "CAMERA_TOKEN": "t"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environ)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"no \.jpg/\.jpeg/\.png images"):
        open_source(str(tmp_path), fps=2)
