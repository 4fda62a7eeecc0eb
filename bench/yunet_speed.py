"""Milliseconds per YuNet call on one core: a 1280x720 frame at several scales, and a batch of 4.

    taskset -c 0 python -m bench.yunet_speed [--model model/artifacts/yunet.tflite] [--calls 30]

Each figure is the median of ``--calls`` timed calls after three warm-up calls,
through ``YuNet.detect`` / ``detect_batch`` (resampling, padding, the network and
the decode). The frame is the sample photos composed on grey (model/samples.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from model.detect import new_face_finder
from model.machine import describe
from model.samples import compose_frame, sample_photos
from model.yunet import DEFAULT_PATH, YuNet


def median_ms(call: Callable[[], object], calls: int, warm_up: int = 3) -> tuple[float, float]:
    """Median and fastest wall time of ``call`` in milliseconds.

    The fastest call says what the host does uncontended; where other work shares the
    core, the median carries its load too.
    """
    for _ in range(warm_up):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 2), round(1000 * min(times), 2)


def measure(model: Path, calls: int) -> dict[str, object]:
    """ms per frame at scales 1.0/0.75/0.5, per batch of four at 1.0, and today's finder."""
    faces = [np.asarray(Image.open(p).convert("RGB")) for p in sample_photos()]
    frame = compose_frame(faces, (1280, 720), face_height=120)
    figures: dict[str, object] = {"host": describe(), "model": str(model), "calls": calls}
    for scale in (1.0, 0.75, 0.5):
        scaled = YuNet(model, num_threads=1, scale=scale)
        figures[f"scale_{scale}_faces"] = len(scaled.detect(frame))
        figures[f"scale_{scale}_ms_median_min"] = median_ms(partial(scaled.detect, frame), calls)
    detector = YuNet(model, num_threads=1)
    batch = [frame] * 4
    figures["batch_4_ms_median_min"] = median_ms(lambda: detector.detect_batch(batch), calls)
    # The network alone, to show what the decode and padding add.
    padded = np.zeros((1, 736, 1280, 3), np.float32)
    padded[0, :720] = frame
    figures["network_only_1280x736_ms_median_min"] = median_ms(
        lambda: detector.raw_outputs(padded), calls
    )
    # Today's served finder (BlazeFace cascade, default 24 px profile) on the same frame.
    finder = new_face_finder()
    figures["blazeface_finder_faces"] = len(finder.find(frame))
    figures["blazeface_finder_ms_median_min"] = median_ms(lambda: finder.find(frame), calls)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.calls), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
