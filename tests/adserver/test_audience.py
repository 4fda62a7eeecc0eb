"""Audience bucket from observations in a sliding window."""

from __future__ import annotations

from typing import Any

import pytest

from adserver.audience import audience_from

NOW_MS = 1_700_000_000_000


def face(
    band: str,
    gender: str,
    size: int = 100,
    score: float = 0.9,
    conf: float = 0.9,
    x: int = 10,
    looking: bool = False,
) -> dict:
    return {
        "box": [x, 10, size, size],
        "score": score,
        "age": 40.0,
        "age_band": band,
        "gender": gender,
        "gender_confidence": conf,
        "looking": looking,
    }


def observation(age_ms: int, *faces: dict, status: str = "ok") -> dict[str, Any]:
    return {
        "store": "demo-store",
        "camera": "demo-cam-1",
        "frame_key": f"frames/demo-store/demo-cam-1/{NOW_MS - age_ms}.jpg",
        "captured_at_ms": NOW_MS - age_ms,
        "processed_at_ms": NOW_MS - age_ms + 300,
        "status": status,
        "error": None if status == "ok" else "not a JPEG/PNG",
        "faces": list(faces),
        "model_version": "test",
    }


def test_nobody_in_the_window_is_none() -> None:
    # GIVEN frames without faces, and a face seen 11 s ago (outside the 10 s window)
    observations = [observation(1_000), observation(11_000, face("senior", "female"))]
    # WHEN the audience is computed THEN nobody is there
    audience = audience_from(observations, NOW_MS, window_s=10)
    assert (audience.bucket, audience.faces, audience.window_s) == ("none", 0, 10)


def test_one_senior_woman_is_senior_female() -> None:
    audience = audience_from([observation(500, face("senior", "female"))], NOW_MS)
    assert audience.bucket == "senior/female"
    assert audience.faces == 1
    assert audience.shares == {"senior/female": pytest.approx(1.0)}


def test_a_large_close_face_outweighs_two_small_ones() -> None:
    # GIVEN a 200 px adult man and two 80 px teenage girls in the same frame, apart
    frame = observation(
        200,
        face("adult", "male", size=200),
        face("teen", "female", 80, x=400),
        face("teen", "female", 80, x=800),
    )
    audience = audience_from([frame], NOW_MS)
    # THEN area wins: 40000 vs 2 x 6400
    assert audience.bucket == "adult/male"
    assert (audience.faces, audience.people) == (3, 3)
    assert audience.shares["adult/male"] == pytest.approx(40000 / (40000 + 12800))


def test_low_confidence_faces_count_less() -> None:
    sure = face("young_adult", "female", size=100, score=0.95, conf=0.95)
    unsure = face("young_adult", "male", size=110, score=0.4, conf=0.55, x=600)
    assert audience_from([observation(0, sure, unsure)], NOW_MS).bucket == "young_adult/female"


def test_a_person_seen_in_many_frames_counts_once() -> None:
    # GIVEN a senior man standing in front of the screen for eight frames, and two teenage
    # girls passing, each seen once, as near and as clear as he is
    observations = [observation(4000 - 500 * i, face("senior", "male")) for i in range(8)]
    observations += [
        observation(1000, face("teen", "female", x=500)),
        observation(900, face("teen", "female", x=900)),
    ]
    # WHEN the audience is computed
    audience = audience_from(observations, NOW_MS)
    # THEN he is one person against two: counting frames, he would have won eight to two
    assert audience.people == 3
    assert audience.bucket == "teen/female"


def test_a_person_looking_at_the_screen_counts_more() -> None:
    # GIVEN two people alike, the second of them looking at the screen
    frame = observation(100, face("adult", "female"), face("adult", "male", x=600, looking=True))
    audience = audience_from([frame], NOW_MS)
    assert audience.bucket == "adult/male"
    assert audience.shares["adult/male"] == pytest.approx(2 / 3)


def test_a_sure_gender_vote_outweighs_an_unsure_one() -> None:
    # GIVEN a woman read as female at 0.9 in four frames, and a man read once at 0.6
    observations = [observation(2000 - 500 * i, face("adult", "female")) for i in range(4)]
    observations.append(observation(100, face("adult", "male", conf=0.6, x=700)))
    assert audience_from(observations, NOW_MS).bucket == "adult/female"


def test_rejected_frames_are_ignored() -> None:
    bad = observation(100, face("adult", "female"), status="rejected")
    assert audience_from([bad], NOW_MS).bucket == "none"


def test_window_edges() -> None:
    # A frame exactly window_s old still counts; a slightly future-stamped frame counts too.
    at_edge = observation(10_000, face("teen", "male"))
    assert audience_from([at_edge], NOW_MS, window_s=10).bucket == "teen/male"
    ahead = observation(-2_000, face("teen", "female"))
    assert audience_from([ahead], NOW_MS, window_s=10).bucket == "teen/female"
    far_future = observation(-60_000, face("teen", "female"))
    assert audience_from([far_future], NOW_MS, window_s=10).bucket == "none"


def test_to_dict_is_the_api_shape() -> None:
    audience = audience_from([observation(0, face("adult", "female"))], NOW_MS, window_s=8)
    assert audience.to_dict() == {"bucket": "adult/female", "faces": 1, "window_s": 8}


def test_a_person_both_cameras_of_a_display_see_counts_once() -> None:
    # GIVEN one senior woman seen by both of a display's cameras for the last 3 s, and a
    # young man seen by the first camera only
    observations = []
    for step in range(6):
        age_ms = 500 * step
        first = observation(
            age_ms, face("senior", "female", x=10), face("young_adult", "male", x=400)
        )
        second = {**observation(age_ms, face("senior", "female", x=600)), "camera": "demo-cam-2"}
        observations += [first, second]
    # WHEN the display's audience is computed from both cameras
    audience = audience_from(observations, NOW_MS)
    # THEN two people are there, and the woman's say is not doubled by her second camera
    assert audience.people == 2
    assert audience.shares["senior/female"] == pytest.approx(0.5)
