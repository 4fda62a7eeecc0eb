import math

import numpy as np
import pytest

from model.detect import STRIDES, YUNET_TFLITE, FaceFinder, box_iou, decode, padded_shape
from model.runtime import LiteRtRuntime

SURE, NEVER = 12.0, -12.0  # logits: sigmoid ~1 and ~0


def _blank_raw(height: int, width: int) -> list[np.ndarray]:
    """Raw heads of an image with no face anywhere: class and objectness logits very low."""
    raw = []
    for stride in STRIDES:
        level = np.zeros((height // stride, width // stride, 16), np.float32)
        level[..., 0:2] = NEVER
        raw.append(level)
    return raw


def _place(raw: list[np.ndarray], level: int, row: int, col: int, cls: float, obj: float) -> None:
    """A candidate at one cell: box centred on the cell's corner, one stride square."""
    raw[level][row, col, 0:2] = cls, obj
    raw[level][row, col, 2:6] = 0.0


def test_padding_goes_up_to_multiples_of_32():
    assert padded_shape(720, 1280) == (736, 1280)
    assert padded_shape(544, 960) == (544, 960)
    assert padded_shape(1, 33) == (32, 64)


def test_decode_maps_offsets_to_pixels_as_the_c_code_does():
    # GIVEN one sure face on the stride-16 level at row 3, column 5, with box and keypoint offsets
    raw = _blank_raw(128, 256)
    cell = raw[1][3, 5]
    cell[0:2] = SURE
    cell[2:6] = 0.5, 0.25, math.log(2.0), math.log(3.0)
    cell[6:16] = np.arange(10) / 10
    # WHEN decoded
    [face] = decode(raw, (128, 256), min_score=0.5)
    # THEN the centre is the cell corner (80, 48) plus offset x stride, the size exp(.) x stride
    np.testing.assert_allclose(face.box, (88 - 16, 52 - 24, 32, 48), atol=1e-4)
    # AND each keypoint is the cell corner plus its offset x stride
    expected = np.array([80, 48]) + (np.arange(10) / 10).reshape(5, 2) * 16
    np.testing.assert_allclose(face.keypoints, expected, atol=1e-4)
    assert face.keypoints.shape == (5, 2)
    assert face.score == pytest.approx(1.0, abs=1e-4)


def test_score_is_the_geometric_mean_of_class_and_objectness():
    # GIVEN a cell whose class probability is 0.9 and objectness 0.4
    raw = _blank_raw(64, 64)
    _place(raw, 0, 2, 2, cls=math.log(0.9 / 0.1), obj=math.log(0.4 / 0.6))
    # WHEN decoded with a threshold below and above sqrt(0.9 * 0.4) = 0.6
    [face] = decode(raw, (64, 64), min_score=0.59)
    # THEN the score is 0.6, and a threshold of 0.61 drops the face
    assert face.score == pytest.approx(0.6, abs=1e-5)
    assert decode(raw, (64, 64), min_score=0.61) == []


def test_overlapping_boxes_keep_the_best_and_distant_ones_all_survive():
    # GIVEN two overlapping candidates on neighbouring stride-8 cells (their 8 px squares, 1 px
    # apart, have IoU 56/72 = 0.78) and a third far away
    raw = _blank_raw(64, 64)
    _place(raw, 0, 2, 2, cls=SURE, obj=2.0)
    raw[0][2, 3, 0:2] = SURE, 1.0
    raw[0][2, 3, 2] = -7 / 8  # centre 1 px right of cell (2, 2)'s
    _place(raw, 0, 6, 6, cls=SURE, obj=0.0)
    # WHEN decoded
    faces = decode(raw, (64, 64), min_score=0.3, iou_threshold=0.45)
    # THEN the weaker of the pair is suppressed, best score first
    assert [f.box[:2] for f in faces] == [(12.0, 12.0), (44.0, 44.0)]
    assert faces[0].score > faces[1].score
    # AND with suppression off (threshold 1) all three are kept
    assert len(decode(raw, (64, 64), min_score=0.3, iou_threshold=1.0)) == 3


def test_a_crowd_is_not_capped():
    # GIVEN 60 separate sure faces on the stride-8 level
    raw = _blank_raw(160, 192)
    for i in range(60):
        _place(raw, 0, 2 * (i // 12), 2 * (i % 12), cls=SURE, obj=SURE)
    # WHEN decoded THEN every one is returned
    assert len(decode(raw, (160, 192))) == 60


def test_decode_rejects_outputs_of_another_shape():
    with pytest.raises(ValueError, match="stride 8"):
        decode(_blank_raw(64, 64), (128, 64))


@pytest.fixture(scope="module")
def yunet() -> FaceFinder:
    """The shipped network at libfacedetection's usual threshold, read at a chosen scale."""
    return FaceFinder(LiteRtRuntime(YUNET_TFLITE), min_score=0.5)


def test_the_shipped_model_finds_grace_hopper_with_her_landmarks(yunet, sample_photos):
    # GIVEN Grace Hopper's portrait (512x600, one face)
    photo = sample_photos[0]
    # WHEN YuNet reads it
    [faces] = yunet.find_at_scales([photo], [1.0])
    # THEN there is one sure face
    assert len(faces) == 1
    [face] = faces
    assert face.score > 0.9
    _, y, w, h = face.box
    assert 120 < w < 320 and 0.9 < h / w < 1.6
    right_eye, left_eye, nose, mouth_right, mouth_left = face.keypoints
    # AND her right eye is on the image's left, the eyes level and in the upper half of the box
    assert right_eye[0] < nose[0] < left_eye[0]
    assert abs(right_eye[1] - left_eye[1]) < 0.1 * w
    assert y < right_eye[1] < y + h / 2
    # AND the mouth corners lie below the nose, on either side of it, inside the box
    assert nose[1] < min(mouth_right[1], mouth_left[1]) < y + h
    assert mouth_right[0] < nose[0] < mouth_left[0]


def test_scale_and_batch_find_the_same_face_in_frame_pixels(yunet, sample_photos):
    # GIVEN the portrait and its mirror, read at full size and at half size
    photo = sample_photos[0]
    mirror = np.ascontiguousarray(photo[:, ::-1])
    [[full]] = yunet.find_at_scales([photo], [1.0])
    # WHEN both are read at half size in one batch
    [[half], [mirrored]] = yunet.find_at_scales([photo, mirror], [0.5, 0.5])
    # THEN the half-size box is mapped back onto the full-size one
    assert box_iou(full.box, half.box) > 0.8
    # AND the mirror's face is the same face, mirrored
    x, y, w, h = mirrored.box
    assert box_iou(half.box, (photo.shape[1] - x - w, y, w, h)) > 0.8


@pytest.mark.slow
def test_keras_and_litert_give_the_same_raw_outputs(yunet, sample_photos):
    # GIVEN the Keras port with the shipped weights, and the shipped .tflite
    from model.yunet_keras import load_yunet

    network = load_yunet()
    # WHEN both read the same zero-padded portrait
    photo = sample_photos[0]
    height, width = padded_shape(*photo.shape[:2])
    image = np.zeros((1, height, width, 3), np.float32)
    image[0, : photo.shape[0], : photo.shape[1]] = photo
    keras_out = network.predict(image, verbose=0)
    lite_out = yunet.network(image)
    # THEN every level agrees to float32 rounding
    for stride in STRIDES:
        name = f"stride_{stride}"
        np.testing.assert_allclose(lite_out[name], keras_out[name], atol=2e-3)


@pytest.mark.slow
def test_the_shipped_weights_are_the_c_arrays():
    # GIVEN libfacedetection's C sources (only where they are present)
    from pathlib import Path

    from model.yunet_keras import build_yunet, load_weights_from_cpp, load_yunet

    data_cpp = Path("/work/data/libfacedetection/src/facedetectcnn-data.cpp")
    if not data_cpp.exists():
        pytest.skip("libfacedetection sources not present")
    # WHEN the port is loaded from the C arrays and from the shipped weights
    from_c = load_weights_from_cpp(build_yunet(), data_cpp)
    shipped = load_yunet()
    # THEN every layer holds the same numbers, and all 53 convolutions hold some
    loaded = [layer for layer in from_c.layers if layer.get_weights()]
    assert len(loaded) == 53
    for layer in loaded:
        for ours, theirs in zip(
            layer.get_weights(), shipped.get_layer(layer.name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
