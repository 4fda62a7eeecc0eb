"""Camera client: read frames, skip the still ones, upload JPEGs through presigned URLs.

    CAMERA_TOKEN=... python -m infra.camera --source 0 --store demo-store \\
        --camera demo-cam-1 --api http://127.0.0.1:8080 [--fps 2]

``--source`` is a webcam index, a video file or a folder of JPEG/PNG images.
The camera's token comes from ``CAMERA_TOKEN`` or, against the local stack, from
its ``.local/outputs.json`` (which also gives ``--api``), never from the command
line, where any user of the machine could read it in ``ps``.
For each frame the client asks the API for a short-lived presigned upload
(``POST /v1/stores/{store}/cameras/{camera}/upload-url``, camera token): a POST
policy that can write only that frame's key under ``frames/{store}/{camera}/``,
as a JPEG of bounded size, and then posts the JPEG to it as a form. A frame
that differs too little from the last upload is skipped, except that one frame
every ``--heartbeat-s`` seconds goes up anyway so a person standing still stays
in the ad server's audience window.
Network errors and 5xx/429 answers are retried with exponential backoff; a
frame still failing after the last attempt is dropped and the status line says
why; a refused token or an unknown camera stops the client with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import quote

import cv2
import numpy as np

from infra.outputs import DEFAULT_OUTPUTS

TOKEN_ENV = "CAMERA_TOKEN"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
MAX_WIDTH = 1280
JPEG_QUALITY = 85
HTTP_TIMEOUT_S = 10.0


class CameraError(Exception):
    """A problem the client cannot work around; the message is the one line we print."""


# --- frame sources ---------------------------------------------------------------------


def image_folder_frames(folder: Path) -> Iterator[np.ndarray]:
    """The images of a folder in name order; unreadable files are skipped."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise CameraError(f"--source {folder}: no .jpg/.jpeg/.png images in the folder")

    def frames() -> Iterator[np.ndarray]:
        for path in paths:
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                yield frame

    return frames()


def capture_frames(capture: Any, every: int = 1) -> Iterator[np.ndarray]:
    """Frames from an opened cv2.VideoCapture, keeping one in ``every``."""
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % every == 0:
                yield frame
            index += 1
    finally:
        capture.release()


def open_source(source: str, fps: float) -> Iterator[np.ndarray]:
    """Frames from a webcam index, a video file or an image folder."""
    if source.isdigit():
        capture = cv2.VideoCapture(int(source))
        if not capture.isOpened():
            raise CameraError(f"--source {source}: cannot open webcam {source}")
        return capture_frames(capture)
    path = Path(source)
    if path.is_dir():
        return image_folder_frames(path)
    if path.is_file():
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise CameraError(f"--source {source}: not a video file OpenCV can read")
        # Sample the file at --fps of its own time line instead of uploading every frame.
        native_fps = capture.get(cv2.CAP_PROP_FPS) or fps
        return capture_frames(capture, every=max(1, round(native_fps / fps)))
    raise CameraError(f"--source {source}: not a webcam index, video file or image folder")


# --- motion ----------------------------------------------------------------------------


class MotionDetector:
    """Frame differencing against the last frame we uploaded.

    Frames are shrunk to 160 px wide, greyed and blurred, so sensor noise and
    JPEG artefacts do not count as motion; ``changed_percent`` is the share of
    pixels whose brightness moved by more than ``pixel_delta``.
    """

    def __init__(self, threshold_percent: float = 1.0, pixel_delta: int = 25) -> None:
        self.threshold_percent = threshold_percent
        self.pixel_delta = pixel_delta
        self._reference: np.ndarray | None = None

    @staticmethod
    def _small_grey(frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        small = cv2.resize(frame, (160, max(1, round(160 * height / width))))
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def changed_percent(self, frame: np.ndarray) -> float:
        """How much of the frame changed since the reference (100 when there is none)."""
        if self._reference is None:
            return 100.0
        current = self._small_grey(frame)
        if current.shape != self._reference.shape:
            return 100.0
        moved = cv2.absdiff(current, self._reference) > self.pixel_delta
        return float(np.count_nonzero(moved)) * 100.0 / moved.size

    def has_motion(self, frame: np.ndarray) -> bool:
        return self.changed_percent(frame) >= self.threshold_percent

    def remember(self, frame: np.ndarray) -> None:
        """Make ``frame`` the reference: it is the one the server now knows about."""
        self._reference = self._small_grey(frame)


def encode_jpeg(frame: np.ndarray, max_width: int = MAX_WIDTH) -> bytes:
    """JPEG bytes of a BGR frame, shrunk to ``max_width`` if wider."""
    height, width = frame.shape[:2]
    if width > max_width:
        frame = cv2.resize(frame, (max_width, round(height * max_width / width)))
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise CameraError("cannot encode a frame as JPEG")
    return data.tobytes()


# --- the API ---------------------------------------------------------------------------


class RetryableError(Exception):
    """A failure worth retrying: network trouble, 429 or a 5xx answer."""


@dataclass(frozen=True)
class UploadTarget:
    """Where one frame goes: a form POST (``fields`` then the file) or a plain PUT."""

    url: str
    key: str
    headers: dict[str, str]
    method: str = "PUT"
    fields: dict[str, str] = field(default_factory=dict)
    max_bytes: int | None = None


def multipart_form(fields: Mapping[str, str], jpeg: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body: the policy's fields, then the file (S3 wants it last)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="frame.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + jpeg
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class CameraApi:
    """The two HTTP calls of an upload: get a presigned upload, send the JPEG to it."""

    def __init__(self, api: str, token: str, store: str, camera: str) -> None:
        self._endpoint = (
            f"{api.rstrip('/')}/v1/stores/{quote(store, safe='')}"
            f"/cameras/{quote(camera, safe='')}/upload-url"
        )
        self._token = token

    def upload_target(self, captured_at_ms: int) -> UploadTarget:
        request = urllib.request.Request(
            self._endpoint,
            data=json.dumps({"captured_at_ms": captured_at_ms}).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        answer = json.loads(_send(request, "upload-url"))
        return UploadTarget(
            answer["url"],
            answer["key"],
            dict(answer.get("headers") or {}),
            method=str(answer.get("method") or "PUT").upper(),
            fields=dict(answer.get("fields") or {}),
            max_bytes=answer.get("max_bytes"),
        )

    def put(self, target: UploadTarget, jpeg: bytes) -> None:
        """Upload the JPEG the way the target says: the policy's form POST, or a PUT."""
        if target.max_bytes is not None and len(jpeg) > target.max_bytes:
            raise CameraError(
                f"a frame of {len(jpeg)} bytes is over the {target.max_bytes} allowed"
            )
        if target.method == "POST":
            body, content_type = multipart_form(target.fields, jpeg)
            headers = {**target.headers, "Content-Type": content_type}
            request = urllib.request.Request(target.url, data=body, method="POST", headers=headers)
            _send(request, "upload")
            return
        headers = {"Content-Type": "image/jpeg", **target.headers}
        _send(urllib.request.Request(target.url, data=jpeg, method="PUT", headers=headers), "PUT")


def _send(request: urllib.request.Request, what: str) -> bytes:
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise RetryableError(f"{what}: HTTP {exc.code}") from None
        detail = exc.read()[:200].decode(errors="replace").strip()
        if exc.code in (401, 403):
            raise CameraError(
                f"{what}: the API refused the camera token (HTTP {exc.code})"
            ) from None
        raise CameraError(f"{what}: HTTP {exc.code} {detail}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RetryableError(f"{what}: {reason}") from None


class Backoff:
    """Exponential backoff with full jitter: up to base x 2^n seconds, capped."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**self.failures)
        self.failures += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


# --- the loop --------------------------------------------------------------------------


@dataclass
class Stats:
    frames: int = 0
    uploaded: int = 0
    still: int = 0  # skipped for lack of motion
    retries: int = 0
    dropped: int = 0  # given up after max_attempts
    last_drop: str = ""  # why the latest dropped frame could not be uploaded

    def line(self, elapsed_s: float) -> str:
        rate = self.uploaded / elapsed_s if elapsed_s > 0 else 0.0
        why = f" (last: {self.last_drop})" if self.dropped else ""
        return (
            f"frames {self.frames} | uploaded {self.uploaded} | no motion {self.still} | "
            f"retries {self.retries} | dropped {self.dropped}{why} | {rate:.1f} uploads/s"
        )


class Progress:
    """One status line: redrawn in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream: TextIO, clock: Callable[[], float], every_s: float = 5.0):
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last = float("-inf")
        self._every_s = 0.0 if stream.isatty() else every_s
        self._end = "\r" if stream.isatty() else "\n"

    def show(self, stats: Stats, final: bool = False) -> None:
        now = self._clock()
        if final or now - self._last >= self._every_s:
            self._last = now
            end = "\n" if final else self._end
            self._stream.write(stats.line(now - self._started) + end)
            self._stream.flush()


def run(
    frames: Iterator[np.ndarray],
    api: CameraApi,
    fps: float,
    motion: MotionDetector,
    heartbeat_s: float,
    progress: Progress,
    max_attempts: int = 5,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
) -> Stats:
    """Upload the frames that moved (or are due as heartbeat), paced at ``fps``."""
    stats = Stats()
    backoff = backoff or Backoff()
    last_upload = float("-inf")
    next_due = clock()
    for frame in frames:
        wait = next_due - clock()
        if wait > 0:
            sleep(wait)
        next_due = max(next_due + 1.0 / fps, clock())
        stats.frames += 1
        now = clock()
        heartbeat_due = heartbeat_s > 0 and now - last_upload >= heartbeat_s
        if not motion.has_motion(frame) and not heartbeat_due:
            stats.still += 1
            progress.show(stats)
            continue
        jpeg = encode_jpeg(frame)
        for attempt in range(1, max_attempts + 1):
            try:
                api.put(api.upload_target(int(now * 1000)), jpeg)
            except RetryableError as failure:
                if attempt == max_attempts:
                    stats.dropped += 1
                    stats.last_drop = f"{failure} after {max_attempts} attempts"
                    break
                stats.retries += 1
                sleep(backoff.next_delay())
            else:
                backoff.reset()
                stats.uploaded += 1
                last_upload = now
                motion.remember(frame)
                break
        progress.show(stats)
    progress.show(stats, final=True)
    return stats


# --- the command line ------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m infra.camera",
        description="Upload camera frames with motion to the smart-display pipeline.",
    )
    parser.add_argument("--source", required=True, help="webcam index, video file or image folder")
    parser.add_argument("--store", required=True, help="store id, e.g. demo-store")
    parser.add_argument("--camera", required=True, help="camera id, e.g. demo-cam-1")
    parser.add_argument("--fps", type=_positive, default=2.0, help="frames per second (default 2)")
    parser.add_argument(
        "--api", help="ad server base URL (default: the local stack's, from --outputs)"
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        default=DEFAULT_OUTPUTS,
        help="the local stack's outputs, for --api and the camera's token when CAMERA_TOKEN "
        "is not set (default .local/outputs.json)",
    )
    # Refused with a reason rather than unknown: a token on the command line shows in ps.
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument(
        "--motion-threshold",
        type=float,
        default=1.0,
        help="percent of the frame that must change to upload (default 1.0)",
    )
    parser.add_argument(
        "--heartbeat-s",
        type=float,
        default=5.0,
        help="upload a still frame this often so a still audience stays seen; 0 = never",
    )
    return parser


def local_stack(outputs: Path) -> dict[str, Any]:
    """The local stack's outputs document, or {} when there is none (or it is unreadable)."""
    try:
        document = json.loads(outputs.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def camera_credentials(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    """The API's base URL and the camera's token: --api or the local stack's URL, and
    CAMERA_TOKEN or the local stack's token for this camera. CameraError says what to set."""
    if args.token is not None:
        raise CameraError(
            f"--token is not accepted (any user can read it in ps): set {TOKEN_ENV} instead"
        )
    stack = local_stack(args.outputs)
    api = args.api or str(stack.get("adserver_url") or "")
    if not api:
        raise CameraError(f"--api is required (no local stack outputs at {args.outputs})")
    if not api.startswith(("http://", "https://")):
        raise CameraError(f"--api {api}: must be an http:// or https:// URL")
    token = environ.get(TOKEN_ENV, "")
    if not token:
        cameras = stack.get("cameras") or {}
        token = str((cameras.get(f"{args.store}/{args.camera}") or {}).get("token") or "")
    if not token:
        raise CameraError(
            f"no token for camera {args.store}/{args.camera}: set {TOKEN_ENV} (python -m "
            f"infra.admin token issue camera ... prints one), or start the local stack, whose "
            f"{args.outputs.name} has its cameras' tokens"
        )
    return api, token


def main(
    argv: list[str] | None = None,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    err = stream or sys.stderr
    try:
        api_url, token = camera_credentials(args, os.environ if environ is None else environ)
        frames = open_source(args.source, args.fps)
    except CameraError as exc:
        err.write(f"error: {exc}\n")
        return 2
    api = CameraApi(api_url, token, args.store, args.camera)
    motion = MotionDetector(args.motion_threshold)
    try:
        stats = run(frames, api, args.fps, motion, args.heartbeat_s, Progress(err, time.time))
    except CameraError as exc:
        err.write(f"\nerror: {exc}\n")  # the newline ends a progress line drawn in place
        return 1
    except KeyboardInterrupt:
        err.write("\nstopped\n")
        return 130
    # Frames read but none delivered means the pipeline got nothing: say so in the exit code.
    return 1 if stats.frames and not stats.uploaded else 0


if __name__ == "__main__":
    raise SystemExit(main())
