"""The store-scene benchmark: scenes carry true boxes, and scoring counts what it should."""

from pathlib import Path

import numpy as np

from model.dataset import LabelledImage
from model.detect import load_face_finder
from model.images import decode_image
from model.scenes import (
    TruthFace,
    ece_noise_floor,
    expected_calibration_error,
    make_scenes,
    match_faces,
    score,
)


def _faces(sample_photos):
    faces = []
    for index, photo in enumerate(sample_photos):
        box = load_face_finder().find(photo)[0].box
        labels = LabelledImage(Path(f"{30 + index}_1_0_x.jpg"), 30, 1)
        faces.append((labels, photo, box))
    return faces


def test_scenes_are_jpeg_frames_with_faces_inside_them(sample_photos):
    scenes = make_scenes(_faces(sample_photos), n_frames=6, seed=1, empty_fraction=0.0)
    assert len(scenes) == 6
    for scene in scenes:
        rgb = decode_image(scene.jpeg)
        assert rgb.shape == (720, 1280, 3)
        assert 1 <= len(scene.faces) <= 5
        for face in scene.faces:
            x, y, w, h = face.box
            assert x >= 0 and x + w <= 1280 and y >= 0 and y + h <= 720
    # Same seed, same scenes.
    again = make_scenes(_faces(sample_photos), n_frames=6, seed=1, empty_fraction=0.0)
    assert [s.faces for s in again] == [s.faces for s in scenes]


def test_placed_faces_are_found_by_the_serving_finder(sample_photos):
    scenes = make_scenes(_faces(sample_photos), n_frames=8, seed=2, empty_fraction=0.0)
    matches = []
    for scene in scenes:
        found = [
            {"box": d.box, "gender": "female", "gender_confidence": 0.9, "age": 30.0}
            for d in load_face_finder().find(decode_image(scene.jpeg))
        ]
        matches += match_faces(scene.faces, found)[0]
    large = [m for m in matches if m.truth.box[2] >= 48]
    assert large and sum(m.found is not None for m in large) >= 0.8 * len(large)


def test_scoring_counts_misses_false_faces_and_errors_by_bucket():
    truths = [
        TruthFace((100, 100, 40, 40), 30, 1, "a"),
        TruthFace((400, 100, 40, 40), 50, 0, "b"),
        TruthFace((700, 100, 100, 100), 20, 0, "c"),
    ]
    predicted = [
        {"box": [102, 101, 40, 40], "gender": "female", "gender_confidence": 0.9, "age": 34.0},
        {"box": [705, 100, 95, 100], "gender": "female", "gender_confidence": 0.6, "age": 20.0},
        {"box": [1000, 500, 30, 30], "gender": "male", "gender_confidence": 0.7, "age": 40.0},
    ]
    matches, false_faces = match_faces(truths, predicted)
    assert false_faces == 1
    report = score(matches, false_faces, n_frames=2)
    assert report["false_faces_per_frame"] == 0.5
    assert report["by_face_px"]["32-48"]["recall"] == 0.5
    assert report["by_face_px"]["32-48"]["age_mae"] == 4.0
    assert report["by_face_px"]["80-160"]["gender_accuracy"] == 0.0
    assert report["recall_32_80"] == 0.5
    assert report["by_face_px"]["<24"]["recall"] is None
    assert np.isclose(report["gender_accuracy_32_80"], 1.0)


def test_the_ece_noise_floor_shrinks_with_more_faces_and_flags_a_miscalibrated_bucket():
    rng = np.random.default_rng(1)
    few, many = rng.uniform(0.5, 1.0, 100), rng.uniform(0.5, 1.0, 2000)
    # Sampling alone gives a perfectly calibrated model an ECE; it falls with more faces.
    assert 0.02 < ece_noise_floor(few) < 0.08
    assert ece_noise_floor(many) < ece_noise_floor(few) / 3
    # A model that states 0.95 and is right 70 % of the time is far above its floor.
    stated = np.full(400, 0.95)
    right = rng.random(400) < 0.7
    assert expected_calibration_error(stated, right) > 5 * ece_noise_floor(stated)
