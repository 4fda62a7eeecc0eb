"""What `make demo` prints: faces in words a newcomer can read, and where to look next."""

from __future__ import annotations

from infra.demo import describe_ad, describe_faces, next_steps
from infra.outputs import StackOutputs

FACE = {"age_band": "young_adult", "gender": "female", "age": 27.4, "gender_confidence": 0.65}
OUTPUTS = StackOutputs(
    {
        "adserver_url": "http://127.0.0.1:8080",
        "operator_token": "op-token-1",
        "displays": {
            "demo-display-1": {"token": "d1-token", "store": "demo-store", "cameras": []},
            "north-display-1": {"token": "n1-token", "store": "north-store", "cameras": []},
        },
    }
)


def observation(*faces: dict[str, object]) -> dict[str, object]:
    return {"status": "ok", "faces": list(faces)}


def test_one_face_is_one_face_and_its_confidence_says_what_it_is() -> None:
    line = describe_faces(observation(FACE))
    assert line.startswith("ok, 1 face: ")
    assert "young adult female ~27y (65% sure of the gender)" in line
    assert describe_faces(observation(FACE, FACE)).startswith("ok, 2 faces: ")


def test_the_next_ad_says_one_face_in_the_singular() -> None:
    ad = {"ad_id": "a", "duration_s": 8, "audience": {"bucket": "none", "faces": 1, "window_s": 5}}
    assert "1 face in 5 s" in describe_ad(ad)


def test_the_demo_ends_with_the_dashboard_and_player_links_and_their_tokens() -> None:
    text = next_steps(OUTPUTS, kept=True)
    assert "http://127.0.0.1:8080/stores/demo-store/dashboard#token=op-token-1" in text
    assert "http://127.0.0.1:8080/display/demo-display-1#token=d1-token" in text
    assert "http://127.0.0.1:8080/docs" in text
    # AND its own stack's links are said to stop with it, with the way to keep them
    assert "--keep" in next_steps(OUTPUTS, kept=False)
