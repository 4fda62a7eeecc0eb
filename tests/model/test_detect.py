import numpy as np

from model.align import CROP_SIZE, align_face
from model.detect import FULL_RANGE, SHORT_RANGE, _anchors, load_face_finder
from model.samples import compose_frame


def test_anchor_layouts_match_the_models_outputs():
    assert _anchors(SHORT_RANGE).shape == (896, 2)
    assert _anchors(FULL_RANGE).shape == (2304, 2)


def test_finds_one_face_per_photo_with_eyes_above_the_mouth(sample_photos):
    for photo in sample_photos:
        faces = load_face_finder().find(photo)
        assert len(faces) == 1
        face = faces[0]
        assert face.score > 0.7
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and x + w <= photo.shape[1] + 5 and y + h <= photo.shape[0] + 5
        eyes_y = (face.right_eye[1] + face.left_eye[1]) / 2
        mouth_y = face.keypoints[3][1]
        assert y < eyes_y < mouth_y < y + h


def test_finds_each_face_in_a_camera_sized_frame(sample_photos):
    frame = compose_frame(sample_photos + sample_photos[:1], face_height=260)
    faces = load_face_finder().find(frame)
    assert len(faces) == 3
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert centres[0] < 1280 / 3 < centres[1] < 2 * 1280 / 3 < centres[2]


def test_empty_frame_has_no_faces():
    assert load_face_finder().find(np.full((720, 1280, 3), 127, np.uint8)) == []


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
    assert abs(np.degrees(np.arctan2(dy, dx))) < 6
