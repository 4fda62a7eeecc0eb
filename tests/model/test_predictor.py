from model.bands import BAND_NAMES, age_band
from model.predictor import load_predictor
from model.samples import compose_frame


def test_predicts_every_face_of_a_camera_frame_with_consistent_fields(sample_photos):
    # GIVEN a 1280x720 frame with two real faces side by side
    frame = compose_frame(sample_photos)
    # WHEN the serving predictor runs on it
    faces = load_predictor().predict(frame)
    # THEN both faces come back, in frame coordinates, with well-formed predictions
    assert len(faces) == 2
    for face in faces:
        x, y, w, h = face.box
        assert 0 <= x < x + w <= 1280 and 0 <= y < y + h <= 720
        assert 0 <= face.age <= 100
        assert face.age_band == age_band(face.age) and face.age_band in BAND_NAMES
        assert face.gender in ("male", "female")
        assert 0.5 <= face.gender_confidence <= 1.0
        assert set(face.to_dict()) == {
            "box",
            "score",
            "age",
            "age_band",
            "gender",
            "gender_confidence",
            "yaw",
            "looking",
        }
        assert -90 <= face.yaw <= 90 and face.looking == (abs(face.yaw) <= 30)


def test_adults_are_not_taken_for_children(sample_photos):
    # Both sample photos show grown women; a child band here would be a gross error.
    for photo in sample_photos:
        (face,) = load_predictor().predict(photo)
        assert face.age >= 20


def test_model_version_comes_from_the_shipped_card():
    assert load_predictor().model_version.startswith("age-gender-")
