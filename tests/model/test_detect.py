import numpy as np

from model.align import CROP_SCALE, CROP_SIZE, align_face
from model.detect import (
    FULL_RANGE,
    SHORT_RANGE,
    SMALL_LOOK,
    Detection,
    FaceDetector,
    _anchors,
    _weighted_nms,
    box_iou,
    load_face_finder,
    look_detector_spec,
    resized,
)
from model.samples import compose_frame


def test_anchor_layouts_match_the_models_outputs():
    assert _anchors(SHORT_RANGE).shape == (896, 2)
    assert _anchors(FULL_RANGE).shape == (2304, 2)


def test_small_looks_run_the_short_range_model_at_96_pixels(sample_photos):
    # GIVEN the short-range model at its native 128 and at the small looks' 96 pixels
    small, native = FaceDetector(SMALL_LOOK), FaceDetector(SHORT_RANGE)
    assert _anchors(SMALL_LOOK).shape == (504, 2)  # 12x12x2 + 6x6x6, one per output box
    # WHEN both read the same close-up
    photo = sample_photos[0]
    [near], [far] = native.detect(photo), small.detect(photo)
    # THEN they find the same face, in the photo's own pixels
    assert box_iou(near.box, far.box) > 0.8
    # AND a look's window picks the model by its side: small windows at 96, larger at 128
    assert look_detector_spec(48) is look_detector_spec(128) is SMALL_LOOK
    assert look_detector_spec(129) is SHORT_RANGE


def test_suppression_ends_when_the_best_box_is_empty():
    # GIVEN a zero-width best box (IoU 0 with itself) beside an ordinary one
    boxes = np.array([[0.5, 0.5, 0.0, 0.1], [0.2, 0.2, 0.1, 0.1]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    points = np.zeros((2, 6, 2), np.float32)
    # WHEN suppressed THEN each box is kept once, and the loop ends
    kept = _weighted_nms(boxes, scores, points, iou_threshold=0.3)
    assert [score for _, score, _ in kept] == [np.float32(0.9), np.float32(0.8)]


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
        face = Detection((x, y, width, width * 1.1), 0.9, np.vstack([eyes, np.zeros((4, 2))]))
        centre = (x + width / 2, y + width * 1.1 / 2)
        dx, dy = eyes[1] - eyes[0]
        matrix = cv2.getRotationMatrix2D(
            centre, np.degrees(np.arctan2(dy, dx)), CROP_SIZE / (width * 1.1 * CROP_SCALE)
        )
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


def test_full_range_scan_runs_on_any_frame_size_with_one_anchor_per_cell():
    # GIVEN frames of odd sizes, the network rewritten for each padded size
    from model.detect import FullRangeScan

    scan = FullRangeScan()
    for height, width in ((100, 700), (360, 640), (1, 5000)):
        # WHEN it scans a blank frame THEN it finds nothing and does not fail
        assert scan.detect(np.full((height, width, 3), 90, np.uint8)) == []
    _interpreter, *_, anchors = scan._runner(384, 640)
    # THEN the outputs cover the input with one anchor per 4x4 cell
    assert anchors.shape == (96 * 160, 2)


def test_far_faces_in_a_1280x720_frame_are_found_at_the_default_profile(sample_photos):
    # GIVEN the sample faces shrunk to about 40 pixels wide, spread over a camera frame
    import cv2

    from model.detect import DEFAULT_MIN_FACE_PX, NEAR_MIN_FACE_PX

    frame = np.full((720, 1280, 3), 110, np.uint8)
    placed = []
    for index, photo in enumerate(sample_photos * 2):
        face = load_face_finder().find(photo)[0]
        scale = 40 / face.box[2]
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        x, y = 150 + index * 280, 200 + (index % 2) * 250
        frame[y : y + h, x : x + w] = small
        placed.append((x + face.box[0] * scale, y + face.box[1] * scale))
    # WHEN the finder looks at the default (far) and the near profile
    far = load_face_finder().find(frame, min_face_px=DEFAULT_MIN_FACE_PX)
    near = load_face_finder().find(frame, min_face_px=NEAR_MIN_FACE_PX)
    # THEN the far profile finds every face where it was placed, and the near one fewer
    assert len(far) == len(placed)
    for x, y in placed:
        assert any(abs(f.box[0] - x) < 10 and abs(f.box[1] - y) < 10 for f in far)
    assert len(near) < len(placed)


def test_detector_cost_is_bounded_for_shapes_no_camera_produces():
    from model.detect import MAX_DETECTOR_PIXELS, detector_scale

    # GIVEN a 100000x1 image and a 20000x20000 one
    for width, height in ((100_000, 1), (20_000, 20_000), (1280, 720), (200, 200)):
        scale = detector_scale(width, height, 24)
        # THEN the scan never sees more than the bounded number of pixels, nor enlarges
        assert width * height * scale**2 <= MAX_DETECTOR_PIXELS + 1
        assert scale <= 1.0
    # AND a camera frame is scanned at half size for 24-pixel faces, a chip at its own size
    assert detector_scale(1280, 720, 24) == 0.5
    assert detector_scale(200, 200, 24) == 0.96


def test_a_proposal_is_kept_only_when_its_looks_confirm_a_face(sample_photos):
    # GIVEN one sample face shrunk to 40 pixels in a flat frame, and proposals the scan could make
    import cv2

    from model.detect import ACCEPT_SCORE, Detection

    finder = load_face_finder()
    photo = sample_photos[0]
    face = finder.find(photo)[0]
    scale = 40 / face.box[2]
    small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[300 : 300 + small.shape[0], 600 : 600 + small.shape[1]] = small
    x, y, w, h = (v * scale for v in face.box)
    at_face = Detection((600 + x, 300 + y, w * 0.8, h * 0.8), 0.3, np.zeros((6, 2), np.float32))
    at_wall = Detection((100, 100, w, h), 0.9, np.zeros((6, 2), np.float32))
    # WHEN each proposal gets its second looks
    confirmed = finder._confirm(frame, at_face)
    # THEN the face is confirmed with a box where it is and a score that reached the bar
    assert confirmed is not None
    assert confirmed.score >= ACCEPT_SCORE
    assert abs(confirmed.box[0] - (600 + x)) < 8 and abs(confirmed.box[2] - w) < 0.3 * w
    # AND a confident proposal on a blank wall is dropped: the looks outvote the scan
    assert finder._confirm(frame, at_wall) is None


def test_the_confirm_decision_asks_only_for_looks_that_can_change_it():
    # GIVEN a 40 px proposal and looks answered from a table, each request recorded
    import pytest

    from model.detect import CONFIRM_ZOOMS, SCAN_WEIGHT, confirmed_face

    points = np.zeros((6, 2), np.float32)
    proposal = Detection((100, 100, 40, 40), 0.3, points)
    first, second = CONFIRM_ZOOMS

    def looks(answers):
        asked = []

        def look(zoom):
            asked.append(zoom)
            return answers[zoom]

        return look, asked

    face = Detection((98, 99, 44, 44), 0.9, points + 1)
    # WHEN both looks find a face of the proposal's size
    look, asked = looks({first: face, second: Detection((90, 90, 60, 60), 0.8, points)})
    confirmed = confirmed_face(proposal, look)
    # THEN it is a face: the first look's box and keypoints, the weighted mean as its score
    assert asked == [first, second]
    assert confirmed is not None and confirmed.box == face.box
    assert np.array_equal(confirmed.keypoints, face.keypoints)
    assert confirmed.score == pytest.approx(SCAN_WEIGHT * 0.3 + (1 - SCAN_WEIGHT) * (0.9 + 0.8) / 2)
    # AND when the first look finds nothing, or something of another size, the second is not taken
    for answer in (None, Detection((60, 60, 120, 120), 0.99, points)):
        look, asked = looks({first: answer, second: face})
        assert confirmed_face(proposal, look) is None and asked == [first]
    # AND a second look that finds nothing outvotes a weak first one
    look, asked = looks({first: Detection((98, 99, 44, 44), 0.5, points), second: None})
    assert confirmed_face(proposal, look) is None and asked == [first, second]
    # AND a faint proposal whose first look is faint too is dropped without the second look:
    # even a certain one could not lift it to the bar
    look, asked = looks({first: Detection((98, 99, 44, 44), 0.25, points), second: face})
    assert confirmed_face(Detection((100, 100, 40, 40), 0.1, points), look) is None
    assert asked == [first]
