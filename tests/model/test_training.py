"""Training pieces that shape the shipped network: age heads, targets, batch-norm recalibration."""

import numpy as np
import pytest

from model.crops import CropSet

keras = pytest.importorskip("keras")

from model.network import AGE_CLASSES, AGE_HEADS, build_model  # noqa: E402
from model.train import _targets, recalibrate_batch_norm, soft_age_labels  # noqa: E402

pytestmark = pytest.mark.slow


def _crops(ages: list[int]) -> CropSet:
    n = len(ages)
    return CropSet(
        crops=np.zeros((n, 64, 64, 3), np.uint8),
        ages=np.array(ages),
        genders=np.arange(n) % 2,
        races=np.zeros(n, int),
        names=np.array([f"{i}.jpg" for i in range(n)]),
        n_images=n,
        boxes=np.zeros((n, 4), np.float32),
        keypoints=np.zeros((n, 6, 2), np.float32),
    )


@pytest.mark.parametrize("head", AGE_HEADS)
def test_every_age_head_serves_age_and_gender(head):
    # GIVEN an untrained network with this age head
    network = build_model(width=4, age_head=head)
    # WHEN it predicts two crops
    outputs = network.predict(np.full((2, 64, 64, 3), 128, np.float32), verbose=0)
    # THEN the two outputs serving exports are there, one value per face, gender a probability
    assert outputs["age"].shape == (2, 1) and outputs["gender"].shape == (2, 1)
    assert np.all((outputs["gender"] >= 0) & (outputs["gender"] <= 1))


def test_unknown_age_head_is_refused():
    with pytest.raises(ValueError, match="age_head"):
        build_model(age_head="histogram")


def test_ordinal_targets_count_the_years_passed():
    # GIVEN ages at the ends of the range, and one past it
    targets = _targets(_crops([0, 5, 37, 120]), AGE_CLASSES, "ordinal")
    # THEN each row says "older than k" exactly age times (ages past 100 count as 100)
    assert targets["age_ordinal"].shape == (4, AGE_CLASSES - 1)
    np.testing.assert_array_equal(targets["age_ordinal"].sum(axis=1), [0, 5, 37, 100])
    np.testing.assert_array_equal(targets["age"][:, 0], [0, 5, 37, 100])


def test_soft_age_labels_peak_at_the_age_and_sum_to_one():
    labels = soft_age_labels(np.array([0, 30, 116]), AGE_CLASSES)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert list(labels.argmax(axis=1)) == [0, 30, 100]


def test_regression_targets_carry_no_auxiliary_output():
    assert set(_targets(_crops([20, 40]), AGE_CLASSES, "regression")) == {"age", "gender"}


def test_recalibrated_batch_norm_holds_the_exact_statistics_of_its_input():
    # GIVEN a network whose batch-norm statistics are the untrained defaults (0 and 1)
    network = build_model(width=4)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (300, 64, 64, 3)).astype(np.uint8)
    norms = [
        layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    # WHEN they are recalibrated on the crops, in odd-sized batches
    recalibrate_batch_norm(network, crops, batch_size=128)
    # THEN every layer's statistics are those of its input over all crops, computed in order
    for layer in norms:
        probe = keras.Model(network.input, layer.input)
        values = probe.predict(crops.astype(np.float32), verbose=0).reshape(
            -1, layer.moving_mean.shape[0]
        )
        np.testing.assert_allclose(
            layer.moving_mean.numpy(), values.mean(axis=0), rtol=1e-3, atol=1e-4
        )
        np.testing.assert_allclose(
            layer.moving_variance.numpy(), values.var(axis=0), rtol=1e-3, atol=1e-4
        )
