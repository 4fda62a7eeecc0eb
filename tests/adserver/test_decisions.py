"""The next-ad answer for a display from its cameras' observations and its plays."""

from __future__ import annotations

from typing import Any

from adserver.catalog import Catalog
from adserver.decisions import decide_next_ad, etag_of
from adserver.impressions import Impression, InMemoryImpressionStore

NOW_MS = 1_717_581_600_000  # Wednesday 2024-06-05 10:00 UTC


def seen(camera: str, age_ms: int, *faces: tuple[str, str]) -> dict[str, Any]:
    """An observation record from ``camera`` captured ``age_ms`` before NOW_MS."""
    return {
        "store": "demo-store",
        "camera": camera,
        "frame_key": f"frames/demo-store/{camera}/{NOW_MS - age_ms}.jpg",
        "captured_at_ms": NOW_MS - age_ms,
        "processed_at_ms": NOW_MS - age_ms + 400,
        "status": "ok",
        "error": None,
        "faces": [
            {
                "box": [0, 0, 90, 90],
                "score": 0.9,
                "age": 70.0,
                "age_band": band,
                "gender": gender,
                "gender_confidence": 0.9,
            }
            for band, gender in faces
        ],
        "model_version": "test",
    }


def decide(
    records: list[dict[str, Any]],
    plays: InMemoryImpressionStore,
    catalog: Catalog,
    now_ms: int = NOW_MS,
):
    return decide_next_ad("demo-display-1", "demo-store", records, plays, catalog, now_ms)


def test_one_senior_woman_gives_the_senior_female_ad(catalog: Catalog) -> None:
    # GIVEN a frame from one of the display's cameras with one senior woman, 300 ms ago
    records = [seen("cam-1", 2_000), seen("cam-2", 300, ("senior", "female"))]
    # WHEN the display asks for its next ad
    answer = decide(records, InMemoryImpressionStore(), catalog)
    # THEN it targets senior female, in the contract's shape
    assert answer.body == {
        "ad_id": "senior-female",
        "creative_url": "/static/creatives/senior-female.svg",
        "duration_s": 8.0,
        "audience": {"bucket": "senior/female", "faces": 1, "window_s": 10.0},
        "reason": answer.body["reason"],
        "ticket": answer.ticket.id,
    }
    assert answer.body["reason"].startswith("targeted senior/female")
    # AND its play ticket binds the display, the ad, the bucket and the decision's time
    assert (answer.ticket.display, answer.ticket.ad_id, answer.ticket.bucket) == (
        "demo-display-1",
        "senior-female",
        "senior/female",
    )
    assert answer.ticket.issued_at_ms == NOW_MS and not answer.ticket.used


def test_nobody_for_longer_than_the_window_plays_the_default(catalog: Catalog) -> None:
    # GIVEN the senior woman left 10.5 s ago
    records = [seen("cam-1", 10_500, ("senior", "female")), seen("cam-2", 1_000)]
    answer = decide(records, InMemoryImpressionStore(), catalog)
    assert answer.body["ad_id"] == "house-welcome"
    assert answer.body["audience"] == {"bucket": "none", "faces": 0, "window_s": 10.0}
    assert answer.body["reason"] == "default: nobody in front of the display"


def test_same_state_gives_the_same_etag(catalog: Catalog) -> None:
    # GIVEN an adult man in front of the display
    records = [seen("cam-1", 100, ("adult", "male"))]
    plays = InMemoryImpressionStore()
    first = decide(records, plays, catalog)
    # WHEN the player polls again a second later with nothing new THEN the answer is identical
    again = decide(records, plays, catalog, NOW_MS + 1000)
    assert again.etag == first.etag == etag_of(first.body)
    assert again.body["ticket"] == first.body["ticket"]


def test_a_recorded_play_or_another_bucket_gives_a_new_ticket(catalog: Catalog) -> None:
    # GIVEN an adult man in front of the display and the ticket of its answer
    records = [seen("cam-1", 100, ("adult", "male"))]
    plays = InMemoryImpressionStore()
    first = decide(records, plays, catalog).ticket.id
    # WHEN a play is recorded, or the audience changes, THEN the ticket is another
    start = NOW_MS - 9000
    plays.put(Impression("demo-store", "demo-display-1", "adult-male", None, "x", start, 8, start))
    after_play = decide(records, plays, catalog).ticket.id
    woman = [seen("cam-1", 100, ("adult", "female"))]
    assert len({first, after_play, decide(woman, plays, catalog).ticket.id}) == 3


def test_a_new_play_reseeds_the_choice_and_caps_apply(catalog: Catalog) -> None:
    # GIVEN a teen boy and a display that already played the teen-male creative 30 times
    records = [seen("cam-1", 100, ("teen", "male"))]
    plays = InMemoryImpressionStore()
    for i in range(30):
        start = NOW_MS - (i + 1) * 10_000
        plays.put(
            Impression(
                "demo-store", "demo-display-1", "teen-male", None, "teen/male", start, 8, start
            )
        )
    # THEN the seed's cap (30 per 10 minutes) sends it to the default creative, with the reason
    answer = decide(records, plays, catalog)
    assert answer.body["ad_id"] == "house-welcome"
    assert answer.body["reason"] == (
        "default: no eligible campaign for teen/male (1 frequency cap reached)"
    )
    # AND plays on another display of the store do not count against this one
    other = InMemoryImpressionStore()
    for i in range(30):
        start = NOW_MS - (i + 1) * 10_000
        other.put(
            Impression("demo-store", "other", "teen-male", None, "teen/male", start, 8, start)
        )
    assert decide(records, other, catalog).body["ad_id"] == "teen-male"
