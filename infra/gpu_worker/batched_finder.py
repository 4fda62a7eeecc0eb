"""``model.detect.FaceFinder`` over many frames, each network call batched across them.

FaceFinder looks at one frame at a time: a full-range scan, the short-range model on the whole
frame, then two zoomed looks per proposal, stopping early when the outcome is settled. Here the
same steps run for a batch of frames in a few calls on the Keras BlazeFace (``keras_blazeface``):
one full-range call per input shape (cameras of one size share it), and one short-range call
per input side for every whole frame and every look of every proposal. Every look is
taken, where FaceFinder skips those that cannot change its decision; the decision itself is
FaceFinder's own (``confirmed_face``, ``is_sure``, ``kept_once``), so the faces are the same
(``tests/test_gpu_worker.py``).

Pre- and post-processing are ``model.detect``'s own (the short-range model's letterboxing
and decoding, the full-range scan's padded input, anchors and decoding); only the model calls
are Keras ones here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.detect import (
    CONFIRM_LOOK_SCORE,
    CONFIRM_ZOOMS,
    DEFAULT_MIN_FACE_PX,
    FULL_RANGE,
    MAX_PROPOSALS,
    SHORT_RANGE,
    SMALL_LOOK,
    Detection,
    _anchors,
    _scaled,
    _window,
    centred_best,
    confirmed_face,
    decode_full_range,
    decode_letterboxed,
    detector_scale,
    fill_scan_input,
    full_range_anchors,
    is_sure,
    kept_once,
    letterboxed,
    look_detector_spec,
    proposal_score,
    scan_input_shape,
    shrunk,
)

# Short-range inputs per call: bounds memory (each is 128 x 128 x 3 floats, 196 KB).
SHORT_RANGE_CHUNK = 1024


class BatchedFaceFinder:
    """FaceFinder's faces for many frames, on Keras models of BlazeFace."""

    def __init__(self, min_face_px: float = DEFAULT_MIN_FACE_PX) -> None:
        from infra.gpu_worker.keras_blazeface import load_blazeface

        self.min_face_px = min_face_px
        # The short-range model at each input side FaceFinder runs it at (whole frames and large
        # looks at its native side, small looks at SMALL_LOOK's).
        self._short_range = {
            spec.input_size: (
                load_blazeface(SHORT_RANGE, input_shape=(spec.input_size, spec.input_size, 3)),
                _anchors(spec),
            )
            for spec in (SHORT_RANGE, SMALL_LOOK)
        }
        self._full_range = load_blazeface(FULL_RANGE)

    def find_batch(
        self,
        frames: Sequence[np.ndarray],
        min_face_px: Sequence[float | None],
        iou_threshold: float = 0.3,
    ) -> list[list[Detection]]:
        """All faces in each RGB frame, best score first, as ``FaceFinder.find`` gives them."""
        profiles = [px or self.min_face_px for px in min_face_px]
        scales = [
            detector_scale(rgb.shape[1], rgb.shape[0], px)
            for rgb, px in zip(frames, profiles, strict=True)
        ]
        scaled = [shrunk(rgb, scale) for rgb, scale in zip(frames, scales, strict=True)]
        proposals = self._scan(scaled, scales, [proposal_score(px) for px in profiles])

        # Every image the short-range model looks at: each whole (scaled) frame, then each look.
        images: list[np.ndarray] = list(scaled)
        sides = [SHORT_RANGE.input_size] * len(frames)
        looks: list[tuple[int, int, float, int, int]] = []  # frame, proposal, zoom, left, top
        for index, rgb in enumerate(frames):
            for number, proposal in enumerate(proposals[index]):
                if is_sure(proposal):
                    continue
                for zoom in CONFIRM_ZOOMS:
                    window, left, top = _window(rgb, proposal.box, zoom)
                    images.append(window)
                    sides.append(look_detector_spec(window.shape[0]).input_size)
                    looks.append((index, number, zoom, left, top))
        found = self._short_range_detect(
            images,
            sides,
            [SHORT_RANGE.min_score] * len(frames) + [CONFIRM_LOOK_SCORE] * len(looks),
        )
        looked: dict[tuple[int, int, float], Detection | None] = {}
        for (index, number, zoom, left, top), faces, image in zip(
            looks, found[len(frames) :], images[len(frames) :], strict=True
        ):
            looked[index, number, zoom] = centred_best(faces, image.shape[0], left, top)

        results = []
        for index in range(len(frames)):
            candidates = [_scaled(d, 1 / scales[index]) for d in found[index]]
            for number, proposal in enumerate(proposals[index]):
                if is_sure(proposal):
                    candidates.append(proposal)
                    continue
                answers = {zoom: looked[index, number, zoom] for zoom in CONFIRM_ZOOMS}
                confirmed = confirmed_face(proposal, answers.__getitem__)
                if confirmed is not None:
                    candidates.append(confirmed)
            results.append(kept_once(candidates, iou_threshold))
        return results

    # ------------------------------------------------------------------ full range
    def _scan(
        self, scaled: Sequence[np.ndarray], scales: list[float], min_scores: list[float]
    ) -> list[list[Detection]]:
        """Each frame's proposals (at most MAX_PROPOSALS), in frame pixels, from the frames
        scaled for the scan; one call per padded input shape."""
        by_shape: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(scaled):
            by_shape.setdefault(scan_input_shape(image), []).append(index)
        proposals: list[list[Detection]] = [[] for _ in scaled]
        for (padded_h, padded_w), indices in by_shape.items():
            batch = np.zeros((len(indices), padded_h, padded_w, 3), np.float32)
            for row, index in enumerate(indices):
                fill_scan_input(batch[row], scaled[index])
            boxes, logits = _run(self._full_range, batch)
            anchors = full_range_anchors(padded_h, padded_w)
            for row, index in enumerate(indices):
                found = decode_full_range(boxes[row], logits[row, :, 0], anchors, min_scores[index])
                proposals[index] = [_scaled(d, 1 / scales[index]) for d in found][:MAX_PROPOSALS]
        return proposals

    # ------------------------------------------------------------------ short range
    def _short_range_detect(
        self, images: Sequence[np.ndarray], sides: Sequence[int], min_scores: Sequence[float]
    ) -> list[list[Detection]]:
        """``FaceDetector.detect`` (short range, at each image's input side) on each image,
        batched by side."""
        results: list[list[Detection]] = [[] for _ in images]
        for side, (model, anchors) in self._short_range.items():
            indices = [i for i, s in enumerate(sides) if s == side]
            for start in range(0, len(indices), SHORT_RANGE_CHUNK):
                chunk = indices[start : start + SHORT_RANGE_CHUNK]
                boxed = [letterboxed(images[i], side) for i in chunk]
                boxes, logits = _run(model, np.stack([b.square for b in boxed]))
                for row, index in enumerate(chunk):
                    results[index] = decode_letterboxed(
                        boxes[row], logits[row, :, 0], anchors, boxed[row], min_scores[index]
                    )
        return results


def _run(model: Any, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes, logits) of a BlazeFace model; a direct call, as keras_blazeface explains."""
    import keras

    outputs = [keras.ops.convert_to_numpy(o) for o in model(batch, training=False)]
    boxes, logits = sorted(outputs, key=lambda a: -a.shape[-1])
    return boxes, logits
