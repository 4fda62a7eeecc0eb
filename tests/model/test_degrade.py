"""Store-camera degradations for training: what they do to a face, and that they stay a face."""

import numpy as np
import pytest

from model.align import CROP_SIZE, SQUARE_DROP_PER_HEIGHT, SQUARE_PER_WIDTH
from model.degrade import (
    CameraConditions,
    camera_response,
    degraded_crop,
    sample_conditions,
    surroundings,
)
from model.detect import Detection, load_face_finder


@pytest.fixture(scope="module")
def face(sample_photos):
    photo = sample_photos[0]
    return photo, load_face_finder().find(photo)[0]


def _conditions(**changes):
    base = dict(
        face_px=40.0,
        rotation_deg=0.0,
        blur_sigma=0.0,
        gain=1.0,
        gamma=1.0,
        noise_sigma=0.0,
        jpeg_quality=0,
        feather=0.5,
        oval=None,
        body=False,
    )
    return CameraConditions(**(base | changes))


def test_a_far_face_keeps_less_detail_than_a_near_one(face):
    photo, detection = face
    rng = np.random.default_rng(0)
    donor = np.full((200, 200, 3), 90, np.uint8)
    near = degraded_crop(photo, detection, donor, _conditions(face_px=160.0), rng)
    far = degraded_crop(photo, detection, donor, _conditions(face_px=16.0), rng)
    assert near.shape == far.shape == (CROP_SIZE, CROP_SIZE, 3)

    def detail(crop):  # mean absolute difference between neighbouring pixels
        return np.abs(np.diff(crop.astype(float), axis=1)).mean()

    assert detail(far) < 0.7 * detail(near)


def test_a_degraded_far_face_is_still_found_where_it_was_put(face):
    # GIVEN a face shrunk to 48 pixels, dim and compressed, in someone else's surroundings
    photo, detection = face
    rng = np.random.default_rng(1)
    crop = degraded_crop(
        photo,
        detection,
        np.full((200, 200, 3), 60, np.uint8),
        _conditions(face_px=48.0, gain=0.6, noise_sigma=4.0, jpeg_quality=50, rotation_deg=10),
        rng,
    )
    # THEN the crop still shows one face near its centre
    import cv2

    found = load_face_finder().find(cv2.resize(crop, (192, 192)))
    assert found
    x, y, w, h = found[0].box
    assert abs(x + w / 2 - 96) < 30 and abs(y + h / 2 - 96) < 30


def test_dim_light_darkens_and_noise_adds_variance():
    rng = np.random.default_rng(2)
    grey = np.full((64, 64, 3), 160, np.uint8)
    dim = camera_response(grey, _conditions(gain=0.5), rng)
    noisy = camera_response(grey, _conditions(noise_sigma=8.0), rng)
    assert dim.mean() == pytest.approx(80, abs=2)
    assert noisy.std() > 5 and grey.std() == 0


def test_sampled_conditions_stay_in_the_ranges_a_store_camera_produces():
    rng = np.random.default_rng(3)
    draws = [sample_conditions(rng) for _ in range(500)]
    assert all(14 <= c.face_px <= 160 for c in draws)
    assert all(abs(c.rotation_deg) <= 15 for c in draws)
    assert all(c.jpeg_quality == 0 or 25 <= c.jpeg_quality < 90 for c in draws)
    # Both sharp and degraded draws occur.
    assert any(c.blur_sigma == 0 for c in draws) and any(c.blur_sigma > 0 for c in draws)
    assert min(c.face_px for c in draws) < 24 and max(c.face_px for c in draws) > 80


def test_an_oval_keeps_the_face_and_takes_the_corners_from_the_surroundings(face):
    photo, detection = face
    # A dataset-like chip: the face's crop square fills about 93 % of it.
    x, y, w, h = detection.box
    side = round(w * SQUARE_PER_WIDTH / 0.93)
    centre_y = y + h / 2 + SQUARE_DROP_PER_HEIGHT * h
    left, top = max(0, round(x + w / 2 - side / 2)), max(0, round(centre_y - side / 2))
    chip = np.ascontiguousarray(photo[top : top + side, left : left + side])
    inside = Detection(
        (x - left, y - top, w, h), detection.score, detection.keypoints - np.array([left, top])
    )
    donor = np.full((200, 200, 3), 90, np.uint8)

    def crop(oval):
        conditions = _conditions(face_px=160.0, oval=oval)
        return degraded_crop(chip, inside, donor, conditions, np.random.default_rng(3)).astype(
            float
        )

    whole, oval = crop(None), crop((0.42, 0.5))
    middle = slice(CROP_SIZE * 3 // 8, CROP_SIZE * 5 // 8)
    centre_change = np.abs(whole[middle, middle] - oval[middle, middle]).mean()
    corner_change = np.abs(whole[:6, :6] - oval[:6, :6]).mean()
    assert centre_change < 2
    assert corner_change > 5 * max(centre_change, 1)


def test_surroundings_tile_a_portrait_donor():
    # GIVEN a donor taller than wide (an All-Age-Faces portrait is about 300x340)
    donor = np.random.default_rng(1).integers(0, 255, (341, 303, 3), dtype=np.uint8)
    # WHEN surroundings are cut from it, whichever kind each draw makes
    for seed in range(12):
        background = surroundings((120, 160), donor, np.random.default_rng(seed))
        # THEN each is the asked shape (the shuffled blocks tile although the sides differ)
        assert background.shape == (120, 160, 3) and background.dtype == np.uint8
