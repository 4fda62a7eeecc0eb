"""Milliseconds per frame beside another checkout's pipeline, in one run on one core.

    python -m bench.finder_speed --baseline ../baseline [--frames 120] [--rounds 3]

``--baseline`` is a checkout of an earlier commit (``git worktree add ../baseline REV``).
The same 1280x720 store scenes (1 to 3 people, seed 7, as ``make bench``'s per-frame part)
go through ``load_predictor().predict`` (decode included) of each checkout, in separate
processes pinned to one core, taking turns round by round so that both see the same load on
the host: the ratio holds where the host's speed does not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.model_speed import PROFILES, SCENE_SEED
from infra.template import REPO_ROOT
from model import machine

# Run inside each checkout: decode and predict every frame of a folder in both profiles.
TIMER = """
import json, sys, time
from pathlib import Path
from model.images import decode_image
from model.predictor import load_predictor
predictor = load_predictor(num_threads=1)
jpegs = [p.read_bytes() for p in sorted(Path(sys.argv[1]).glob("*.jpg"))]
result = {}
for name, min_face_px in json.loads(sys.argv[2]).items():
    predictor.predict(decode_image(jpegs[0]), min_face_px=min_face_px)  # warm
    times = []
    for jpeg in jpegs:
        started = time.perf_counter()
        predictor.predict(decode_image(jpeg), min_face_px=min_face_px)
        times.append((time.perf_counter() - started) * 1000)
    result[name] = times
print(json.dumps(result))
"""


def time_checkout(checkout: Path, frames: Path, core: int) -> dict[str, list[float]]:
    """Per-frame milliseconds of ``checkout``'s predictor on the JPEGs in ``frames``."""
    command = ["taskset", "-c", str(core), sys.executable, "-c", TIMER, str(frames)]
    done = subprocess.run(
        [*command, json.dumps(PROFILES)],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout), "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{checkout}: {done.stderr.strip()[-800:]}")
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(baseline: Path, count: int, rounds: int, data: Path, cache: Path) -> dict[str, Any]:
    """Median and p95 ms per profile for this checkout and the baseline, and their ratio."""
    from model.bench_scenes import store_scenes

    scenes = store_scenes(data, count * 2, SCENE_SEED, (1280, 720), cache)
    jpegs = [s.jpeg for s in scenes if 1 <= len(s.faces) <= 3][:count]
    core = min(os.sched_getaffinity(0))
    times: dict[str, dict[str, list[float]]] = {"current": {}, "baseline": {}}
    with tempfile.TemporaryDirectory() as folder:
        for index, jpeg in enumerate(jpegs):
            (Path(folder) / f"{index:05d}.jpg").write_bytes(jpeg)
        for _ in range(rounds):
            for name, checkout in (("baseline", baseline), ("current", REPO_ROOT)):
                for profile, values in time_checkout(checkout, Path(folder), core).items():
                    times[name].setdefault(profile, []).extend(values)
    report: dict[str, Any] = {"frames": len(jpegs), "rounds": rounds, "machine": machine.describe()}
    for profile in PROFILES:
        medians = {name: statistics.median(times[name][profile]) for name in times}
        report[profile] = {
            **{f"{name}_median_ms": round(value, 1) for name, value in medians.items()},
            **{
                f"{name}_p95_ms": round(statistics.quantiles(times[name][profile], n=20)[-1], 1)
                for name in times
            },
            "current_over_baseline": round(medians["current"] / medians["baseline"], 3),
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="an earlier checkout")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared/datasets/utkface")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / ".cache")
    args = parser.parse_args(argv)
    print(
        json.dumps(
            compare(args.baseline, args.frames, args.rounds, args.data, args.cache), indent=1
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
