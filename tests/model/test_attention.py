import math

import numpy as np
import pytest

from model.attention import (
    EYE_DEPTH_CM,
    EYE_HALF_SPAN_CM,
    MOUTH_DEPTH_CM,
    MOUTH_HALF_SPAN_CM,
    NOSE_DEPTH_CM,
    estimate_yaw,
    head_pose,
)
from model.bench_attention import face_window, turn_head
from model.detect import load_face_finder

BOX = (100.0, 100.0, 100.0, 100.0)


def head_keypoints(yaw_deg: float, roll_deg: float = 0.0, scale: float = 6.0) -> np.ndarray:
    """Landmarks of the adult head model turned by ``yaw_deg``, orthographic, in pixels."""
    # (lateral, depth, height) in cm; lateral grows to the subject's left (the image's right).
    points = np.array(
        [
            (-EYE_HALF_SPAN_CM, EYE_DEPTH_CM, 0.0),
            (EYE_HALF_SPAN_CM, EYE_DEPTH_CM, 0.0),
            (0.0, NOSE_DEPTH_CM, 4.0),
            (-MOUTH_HALF_SPAN_CM, MOUTH_DEPTH_CM, 7.0),
            (MOUTH_HALF_SPAN_CM, MOUTH_DEPTH_CM, 7.0),
        ]
    )
    theta = math.radians(yaw_deg)
    x = points[:, 0] * math.cos(theta) + points[:, 1] * math.sin(theta)
    image = np.stack([x, points[:, 2]], axis=1) * scale
    roll = math.radians(roll_deg)
    rotation = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    return image @ rotation.T + 150.0


def test_a_frontal_head_reads_zero_and_looking():
    pose = head_pose(head_keypoints(0.0), BOX)
    assert pose.yaw == 0.0
    assert pose.looking


@pytest.mark.parametrize("yaw", [10.0, 25.0, 45.0, 70.0])
def test_yaw_grows_with_the_turn_and_keeps_its_sign(yaw):
    # GIVEN the head model turned to its left, and the same turn to its right
    left, right = estimate_yaw(head_keypoints(yaw), BOX), estimate_yaw(head_keypoints(-yaw), BOX)
    # THEN the readings mirror each other and a larger turn reads larger
    assert left > 0 and right == pytest.approx(-left, abs=1e-6)
    assert estimate_yaw(head_keypoints(yaw + 5), BOX) > left
    # and on exact geometry the reading is within the keypoint-lag correction of the truth
    assert yaw <= left <= math.degrees(math.atan(1.25 * math.tan(math.radians(yaw))))


def test_a_tilted_head_reads_the_same_yaw():
    upright = estimate_yaw(head_keypoints(30.0), BOX)
    assert estimate_yaw(head_keypoints(30.0, roll_deg=20.0), BOX) == pytest.approx(upright, abs=0.5)


def test_looking_is_within_the_threshold():
    assert head_pose(head_keypoints(15.0), BOX).looking
    assert not head_pose(head_keypoints(50.0), BOX).looking
    assert head_pose(head_keypoints(50.0), BOX, looking_yaw_deg=70.0).looking


def test_malformed_keypoints_are_refused():
    with pytest.raises(ValueError, match="5 finite"):
        estimate_yaw(np.zeros((6, 2)), BOX)
    with pytest.raises(ValueError, match="5 finite"):
        estimate_yaw(np.full((5, 2), np.nan), BOX)


def test_collapsed_keypoints_give_a_bounded_yaw():
    yaw = estimate_yaw(np.full((5, 2), 150.0), BOX)
    assert -90 <= yaw <= 90


def test_a_photo_turned_on_the_head_model_reads_its_turn(sample_photos):
    # GIVEN a real frontal portrait, turned by 60 degrees each way on the head model
    finder = load_face_finder()
    photo = sample_photos[0]
    window = face_window(photo, finder.find(photo)[0])
    (frontal,) = finder.find(window)
    front = head_pose(frontal.keypoints, frontal.box)
    readings = {}
    for yaw in (-60.0, 60.0):
        found = finder.find(turn_head(window, frontal, yaw))
        assert found, f"the face turned by {yaw} is still found"
        best = max(found, key=lambda d: d.score)
        readings[yaw] = head_pose(best.keypoints, best.box)
    # THEN the frontal face looks at the camera and the turned ones read clear turns, each on
    # its side. Not "beyond 30 degrees": the estimate under-reads large turns (about -11
    # degrees at 45-60, model card), so a 60-degree turn of this photo reads 29-31 degrees,
    # either side of the `looking` boundary by a grey level of resizing; how often `looking`
    # is right is measured by `make bench-attention`.
    assert front.looking and abs(front.yaw) < 15
    assert readings[60.0].yaw > 20 and readings[-60.0].yaw < -20


def test_an_observation_keeps_the_attention_of_each_face_and_accepts_older_faces():
    from lambdas.observations import face_record

    face = {
        "box": [1, 2, 3, 4],
        "score": 0.9,
        "age": 30.0,
        "age_band": "young_adult",
        "gender": "female",
        "gender_confidence": 0.8,
    }
    assert face_record({**face, "yaw": 12.34, "looking": True})["yaw"] == 12.3
    assert face_record({**face, "yaw": 12.34, "looking": True})["looking"] is True
    assert "yaw" not in face_record(face) and "looking" not in face_record(face)
