import numpy as np
import pytest

from model.align import CROP_SCALE, CROP_SIZE, SQUARE_DROP_PER_HEIGHT, SQUARE_PER_WIDTH, align_face
from model.detect import (
    DEFAULT_MIN_FACE_PX,
    MAX_NETWORK_PIXELS,
    NEAR_MIN_FACE_PX,
    NETWORK_FACE_PX,
    Detection,
    load_face_finder,
    network_scale,
    resized,
)
from model.samples import compose_frame


def test_finds_one_face_per_photo_with_eyes_above_the_mouth(sample_photos):
    for photo in sample_photos:
        faces = load_face_finder().find(photo)
        assert len(faces) == 1
        face = faces[0]
        assert face.score > 0.8
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and x + w <= photo.shape[1] + 5 and y + h <= photo.shape[0] + 5
        eyes_y = (face.right_eye[1] + face.left_eye[1]) / 2
        mouth_y = face.keypoints[3:5, 1].mean()
        assert y < eyes_y < face.keypoints[2][1] < mouth_y < y + h


def test_finds_each_face_in_a_camera_sized_frame(sample_photos):
    frame = compose_frame(sample_photos + sample_photos[:1], face_height=260)
    faces = load_face_finder().find(frame)
    assert len(faces) == 3
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert centres[0] < 1280 / 3 < centres[1] < 2 * 1280 / 3 < centres[2]


def test_a_crowd_of_forty_faces_is_forty(sample_photos):
    # GIVEN forty small portraits tiled over a 1280x720 frame (8 x 5), each face ~60 px wide
    tile = resized(sample_photos[1], 140, 130)
    frame = np.full((720, 1280, 3), 120, np.uint8)
    for row in range(5):
        for column in range(8):
            frame[10 + row * 140 : 140 + row * 140, 10 + column * 158 : 150 + column * 158] = tile
    # WHEN the finder reads it THEN every face is found: there is no cap per frame
    assert len(load_face_finder().find(frame)) == 40


def test_empty_frame_has_no_faces():
    assert load_face_finder().find(np.full((720, 1280, 3), 127, np.uint8)) == []


def test_a_batch_of_frames_of_several_sizes_gives_each_frame_its_own_faces(sample_photos):
    # GIVEN frames of three sizes, two of them the same size, and an empty one
    frames = [
        compose_frame(sample_photos, face_height=200),
        sample_photos[0],
        np.full((720, 1280, 3), 90, np.uint8),
        compose_frame(sample_photos[:1], face_height=120),
    ]
    finder = load_face_finder()
    # WHEN they are found in one batch, one of them at the near profile
    limits = [None, None, None, NEAR_MIN_FACE_PX]
    batched = finder.find_batch(frames, limits)
    # THEN each frame has what it has when found alone, box for box
    for frame, limit, faces in zip(frames, limits, batched, strict=True):
        alone = finder.find(frame, min_face_px=limit)
        np.testing.assert_allclose(
            np.array([f.box for f in faces]).reshape(-1, 4),
            np.array([f.box for f in alone]).reshape(-1, 4),
            atol=1e-3,
        )
    assert [len(faces) for faces in batched] == [2, 1, 0, 1]


def test_aligned_crop_is_upright_and_serving_sized(sample_photos):
    photo = sample_photos[0]
    # Rotate the photo by 20 degrees: alignment must undo the tilt.
    import cv2

    h, w = photo.shape[:2]
    tilted = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0), (w, h))
    face = load_face_finder().find(tilted)[0]
    crop = align_face(tilted, face)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3)
    recrop = load_face_finder().find(cv2.resize(crop, (192, 192)))
    assert recrop, "the aligned crop still shows a face"
    dx, dy = recrop[0].left_eye - recrop[0].right_eye
    # The 20-degree tilt is undone to within the landmarks' own noise on a blurry, enlarged
    # 64-pixel crop (about 7 degrees on this photo).
    assert abs(np.degrees(np.arctan2(dy, dx))) < 10


def test_aligned_crops_are_the_ones_the_networks_were_trained_on(sample_photos):
    # The shipped networks were trained on crops from OpenCV's warpAffine (bilinear, border
    # replicated); serving computes them without OpenCV, and must give the same pixels.
    import cv2

    rng = np.random.default_rng(3)
    photo = sample_photos[0]
    for _ in range(20):
        width = rng.uniform(12, 300)
        x, y = rng.uniform(-60, photo.shape[1] - 20), rng.uniform(-60, photo.shape[0] - 20)
        eyes = np.array([[x, y], [x + rng.uniform(5, 40), y + rng.uniform(-15, 15)]])
        height = width * 1.3
        face = Detection((x, y, width, height), 0.9, np.vstack([eyes, np.zeros((3, 2))]))
        centre = (x + width / 2, y + height / 2 + SQUARE_DROP_PER_HEIGHT * height)
        dx, dy = eyes[1] - eyes[0]
        side = width * SQUARE_PER_WIDTH * CROP_SCALE
        matrix = cv2.getRotationMatrix2D(centre, np.degrees(np.arctan2(dy, dx)), CROP_SIZE / side)
        matrix[:, 2] += CROP_SIZE / 2 - np.array(centre)
        expected = cv2.warpAffine(
            photo, matrix, (CROP_SIZE, CROP_SIZE), borderMode=cv2.BORDER_REPLICATE
        )
        difference = np.abs(align_face(photo, face).astype(int) - expected)
        assert difference.max() <= 1 and difference.mean() < 0.01


def test_shrinking_averages_pixel_areas_as_opencv_does(sample_photos):
    import cv2

    photo = np.ascontiguousarray(sample_photos[0][:360, :512])
    exact = resized(photo, 256, 180)  # an integer factor: the same pixels
    assert (
        np.abs(
            exact.astype(int) - cv2.resize(photo, (256, 180), interpolation=cv2.INTER_AREA)
        ).max()
        <= 1
    )
    other = resized(photo, 120, 68)  # any other: close
    reference = cv2.resize(photo, (120, 68), interpolation=cv2.INTER_AREA)
    assert np.abs(other.astype(float) - reference).mean() < 1.5
    assert resized(photo, 1280, 720).shape == (720, 1280, 3)


def test_far_faces_in_a_1280x720_frame_are_found_at_the_default_profile(sample_photos):
    # GIVEN the sample faces shrunk to about 30 pixels wide, spread over a camera frame
    import cv2

    frame = np.full((720, 1280, 3), 110, np.uint8)
    placed = []
    for index, photo in enumerate(sample_photos * 2):
        face = load_face_finder().find(photo)[0]
        scale = 30 / face.box[2]
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        x, y = 150 + index * 280, 200 + (index % 2) * 250
        frame[y : y + h, x : x + w] = small
        placed.append((x + face.box[0] * scale, y + face.box[1] * scale))
    # WHEN the finder looks at the default (far) profile
    far = load_face_finder().find(frame, min_face_px=DEFAULT_MIN_FACE_PX)
    # THEN the far profile finds every face where it was placed
    assert len(far) == len(placed)
    for x, y in placed:
        assert any(abs(f.box[0] - x) < 10 and abs(f.box[1] - y) < 10 for f in far)


def test_network_cost_is_bounded_for_shapes_no_camera_produces():
    # GIVEN a 100000x1 image, a 20000x20000 one, a camera frame and a small photo
    for width, height in ((100_000, 1), (20_000, 20_000), (1280, 720), (400, 300)):
        scale = network_scale(width, height, DEFAULT_MIN_FACE_PX)
        # THEN the network never reads more than the bounded number of pixels
        assert width * height * scale**2 <= MAX_NETWORK_PIXELS + 1
    # AND a camera frame is read at about its own size for 24-pixel faces, a small photo
    # enlarged so that its 24-pixel faces reach the network's reliable size, and the near
    # profile reads a camera frame at half size
    assert network_scale(1280, 720, DEFAULT_MIN_FACE_PX) == pytest.approx(1.04, abs=0.01)
    assert network_scale(400, 300, DEFAULT_MIN_FACE_PX) == NETWORK_FACE_PX / DEFAULT_MIN_FACE_PX
    assert network_scale(1280, 720, NEAR_MIN_FACE_PX) == NETWORK_FACE_PX / NEAR_MIN_FACE_PX
