"""Gender confidence temperatures: fitted honestly, applied by face width."""

import numpy as np

from model.confidence import (
    apply_temperature,
    face_px_bucket,
    fit_temperature,
    temperature_for,
    temperature_table,
)


def test_an_overconfident_model_gets_a_temperature_above_one():
    # GIVEN predictions that say 0.99 but are right only 80 % of the time
    rng = np.random.default_rng(0)
    female = rng.random(4000) < 0.5
    right = rng.random(4000) < 0.8
    p_female = np.where(female == right, 0.99, 0.01)
    # WHEN a temperature is fitted
    temperature = fit_temperature(p_female, female)
    # THEN it softens them to about the accuracy they have
    assert temperature > 2
    softened = apply_temperature(np.array([0.99]), temperature)[0]
    assert 0.75 < softened < 0.85


def test_temperature_one_changes_nothing():
    p = np.array([0.1, 0.5, 0.93])
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, atol=1e-9)


def test_table_has_a_temperature_per_bucket_and_thin_buckets_borrow():
    rng = np.random.default_rng(1)
    n = 3000
    face_px = np.where(np.arange(n) < 2000, 40.0, 120.0)  # nothing under 32 px, nothing over 160
    female = rng.random(n) < 0.5
    p_female = np.clip(np.where(female, 0.7, 0.3) + rng.normal(0, 0.1, n), 0.01, 0.99)
    table = temperature_table(p_female, female, face_px)
    assert [upper for upper, _ in table] == [24, 32, 48, 80, 160, 1e9]
    temperatures = [t for _, t in table]
    assert temperatures[0] == temperatures[1] == temperatures[2]  # leading thin buckets borrow
    assert temperatures[5] == temperatures[4]  # a trailing thin bucket borrows
    assert temperature_for(40, table) == temperatures[2]
    assert temperature_for(5000, table) == temperatures[5]
    assert temperature_for(40, []) == 1.0


def test_bucket_names_cover_every_width():
    assert [face_px_bucket(w) for w in (10, 24, 47.9, 79, 100, 161)] == [
        "<24",
        "24-32",
        "32-48",
        "48-80",
        "80-160",
        ">160",
    ]
