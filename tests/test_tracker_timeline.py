"""A camera's frames held back and linked in capture order (lambdas/tracker/timeline.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from adserver.tracks import CameraTracker
from lambdas.tracker.timeline import CameraTimeline, Timing


def face(x=400, looking=True):
    return {
        "box": [x, 300, 40, 48],
        "score": 0.9,
        "age": 30.0,
        "age_band": "adult",
        "gender": "female",
        "gender_confidence": 0.9,
        "yaw": 0.0,
        "looking": looking,
    }


def timeline():
    return CameraTimeline(CameraTracker("s/c"), Timing(hold_s=5, lag_s=10))


def test_a_frame_settles_what_was_captured_before_it_once_it_has_waited_hold_s():
    line = timeline()
    # GIVEN frames captured at 0, 1 and 2 s that arrived in the order 2, 0, 1 around 3 s
    line.receive(2000, [face()], arrived_ms=3000)
    line.receive(0, [face()], arrived_ms=3100)
    line.receive(1000, [face()], arrived_ms=3200)
    # THEN nothing settles while frames keep coming, and all of it 5 s after the first came
    assert line.horizon(7_900) is None
    assert line.horizon(8_000) == 2000
    linked, people = line.settle(8_000)
    assert (linked, people, line.held) == (3, [], [])
    assert [t.seen for t in line.tracker.open] == [3]


def test_a_quiet_camera_settles_by_its_clock_less_the_lag():
    line = timeline()
    # GIVEN a person seen at 0-1.5 s, each frame arriving half a second after its capture
    for at_ms in range(0, 2000, 500):
        line.receive(at_ms, [face()], arrived_ms=at_ms + 500)
    # WHEN the camera sends nothing: its clock is ours less 0.5 s, and frames come 10 s late
    # at most; THEN at 14 s it has settled up to 3.5 s, and she has not been gone 3 s yet
    assert line.horizon(14_000) == 3_500
    assert line.settle(14_000)[1] == []
    # AND a little later (4.6 s) she has been: one person, seen four times
    [person] = line.settle(15_100)[1]
    assert person.seen == 4
    assert line.is_idle


def test_frames_at_or_before_the_horizon_are_late_and_a_repeat_is_skipped():
    line = timeline()
    line.receive(1000, [face()], arrived_ms=1500)
    assert line.receive(1000, [face()], arrived_ms=1600).repeated == 1
    line.settle(20_000)
    assert line.horizon_ms == 9_500
    assert line.receive(9_500, [face()], arrived_ms=20_100).late == 1
    assert line.receive(9_501, [face()], arrived_ms=20_100).held == 1


def test_a_rejected_frame_moves_the_clock_but_is_never_linked():
    line = timeline()
    assert line.receive(5000, None, arrived_ms=5200).held == 0
    assert line.held == [] and line.clock_offset_ms == -200


def test_the_state_resumes_through_json_with_stream_numbers_as_decimals():
    # GIVEN a timeline holding a frame whose face came from a stream image (Decimals)
    line = timeline()
    streamed = {**face(), "box": [Decimal(400), Decimal(300), Decimal(40), Decimal(48)]}
    streamed["gender_confidence"] = Decimal("0.9")
    line.receive(1000, [streamed], arrived_ms=1200)
    # WHEN it is saved as JSON and restored
    state = json.loads(json.dumps(line.to_state()))
    again = CameraTimeline.from_state("s/c", state, timing=Timing(hold_s=5, lag_s=10))
    # THEN it holds the same frame, with only what the tracker reads of its face
    assert again.held == line.held
    assert set(again.held[0].faces[0]) == {
        "box", "score", "age_band", "gender", "gender_confidence", "looking",
    }  # fmt: skip
    assert (again.clock_offset_ms, again.last_arrived_ms) == (-200, 1200)


def test_a_state_saved_before_frames_were_held_is_settled_up_to_its_last_frame():
    old = CameraTracker("s/c")
    old.observe(1000, [face()])
    line = CameraTimeline.from_state("s/c", old.to_state())
    assert line.horizon_ms == 1000 and line.held == []


def test_the_lag_may_not_be_shorter_than_the_hold():
    with pytest.raises(ValueError, match="lag_s"):
        Timing(hold_s=5, lag_s=4)
