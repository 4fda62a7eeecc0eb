"""Whole-process latency of ``python -m model predict`` on one 1280x720 frame.

    python -m model.bench_predict [--runs N]

Each run is a fresh interpreter: imports, model load, decode, detection,
alignment and prediction, as a user or a cold Lambda pays them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from model.samples import compose_frame, sample_photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.bench_predict", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sample_photos()]
    with tempfile.TemporaryDirectory() as folder:
        frame = Path(folder) / "frame.jpg"
        Image.fromarray(compose_frame(photos + photos[:1], face_height=260)).save(frame, quality=90)
        seconds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "model", "predict", str(frame)],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds.append(time.perf_counter() - started)
    faces = result.stdout.count('"age_band"')
    print(
        f"predict on one 1280x720 frame ({faces} faces), {args.runs} fresh processes: "
        f"median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
