"""The LiteRT model we serve must compute what the Keras model we trained computes.

The served file stores its weights as int8 (``export --quantize``, see the model card):
a quarter of the size and a third of the time per face, for differences far below the
model's own error.
"""

import numpy as np
import pytest

from model.crops import crop_best_face
from model.dataset import load_folder
from model.predictor import ARTIFACTS, AgeGenderModel
from model.runtime import LiteRtRuntime

pytestmark = pytest.mark.slow


def test_litert_export_matches_keras_on_real_faces(utkface):
    keras = pytest.importorskip("keras")
    # GIVEN serving crops of 64 real faces
    images = load_folder(utkface).images[::300][:64]
    crops = np.stack([c for c in (crop_best_face(i) for i in images) if c is not None])
    assert len(crops) >= 60
    # WHEN both models predict
    network = keras.saving.load_model(ARTIFACTS / "age_gender.keras")
    expected = network.predict(crops.astype(np.float32), verbose=0)
    ages, female = AgeGenderModel(LiteRtRuntime(ARTIFACTS / "age_gender.tflite")).predict(crops)
    # THEN they agree far inside the model's own error (5 years, 8 % of genders)
    np.testing.assert_allclose(ages, expected["age"][:, 0], atol=1.0)
    assert np.abs(ages - expected["age"][:, 0]).mean() < 0.2
    np.testing.assert_allclose(female, expected["gender"][:, 0], atol=0.03)
