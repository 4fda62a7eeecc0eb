"""The people and watchers present while an ad played, from the tracker's tracks."""

from __future__ import annotations

from adserver.play_audience import play_audience
from adserver.tracks import CameraTracker, Track
from lambdas.tracker.store import InMemoryTrackStore

PLAY_MS = 1_764_500_000_000  # the play: [PLAY_MS, PLAY_MS + 8 s]
CAMERA = "demo-store/demo-cam-1"


def person(start_s: float, end_s: float, looking_s: float = 0.0) -> Track:
    start, end = PLAY_MS + int(start_s * 1000), PLAY_MS + int(end_s * 1000)
    return Track(CAMERA, start, end, "adult", "female", 0.9, 6, end_s - start_s, looking_s)


def face(x: int, looking: bool) -> dict:
    return {
        "box": [x, 100, 60, 60],
        "score": 0.9,
        "age_band": "adult",
        "gender": "male",
        "gender_confidence": 0.9,
        "looking": looking,
    }


def test_people_who_overlapped_the_play_are_counted_once_each() -> None:
    # GIVEN people who left before it, stayed through it, came during it, came after it
    store = InMemoryTrackStore()
    store.put_tracks(
        CAMERA,
        [
            person(-30, -1),  # gone before the play
            person(-20, 20, looking_s=5),  # stood through it, a watcher
            person(3, 5),  # passed during it
            person(9, 15),  # came after it ended
        ],
    )
    # WHEN the play's audience is counted
    audience = play_audience(store, [CAMERA], PLAY_MS, PLAY_MS + 8000)
    # THEN two were present, one of them watching
    assert (audience.people, audience.watchers) == (2, 1)


def test_people_still_in_view_count_if_they_arrived_before_the_play_ended() -> None:
    # GIVEN the tracker's open tracks: one looking person there since the play began, and a
    # face seen once (not yet a person)
    tracker = CameraTracker(CAMERA)
    for step in range(6):
        tracker.observe(PLAY_MS + 500 * step, [face(100, looking=True)])
    tracker.observe(PLAY_MS + 3000, [face(100, True), face(900, False)])
    store = InMemoryTrackStore()
    store.save_open_tracks(CAMERA, tracker.to_state(), 0, 0, due=True)
    # WHEN counted THEN the person is there and watching; the single sighting is not counted
    audience = play_audience(store, [CAMERA], PLAY_MS, PLAY_MS + 8000)
    assert (audience.people, audience.watchers) == (1, 1)


def test_a_display_without_tracks_had_nobody() -> None:
    assert play_audience(InMemoryTrackStore(), [CAMERA], PLAY_MS, PLAY_MS + 8000).people == 0


def test_a_person_seen_by_both_cameras_of_the_display_counts_once() -> None:
    # GIVEN a display with two cameras, both of which saw one woman during the play (only the
    # second camera saw her look), and one of which also saw a man
    other = "demo-store/demo-cam-2"
    store = InMemoryTrackStore()
    store.put_tracks(CAMERA, [person(-2, 6)])
    both = Track(other, PLAY_MS, PLAY_MS + 7000, "adult", "female", 0.9, 14, 7.0, 3.0)
    man = Track(other, PLAY_MS, PLAY_MS + 5000, "adult", "male", 0.9, 10, 5.0, 0.0, first_face=1)
    store.put_tracks(other, [both, man])
    # WHEN the play's audience is counted over both cameras
    audience = play_audience(store, [CAMERA, other], PLAY_MS, PLAY_MS + 8000)
    # THEN two people were there, the woman watching
    assert (audience.people, audience.watchers) == (2, 1)
    # AND each camera alone still counts what it saw
    assert play_audience(store, [other], PLAY_MS, PLAY_MS + 8000).people == 2
    assert play_audience(store, [CAMERA], PLAY_MS, PLAY_MS + 8000).people == 1
