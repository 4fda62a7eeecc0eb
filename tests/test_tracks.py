import pytest

from adserver.bench_tracks import DELIVERIES, deliver, make_sequence, score_tracker, without
from adserver.tracks import (
    CameraTracker,
    OpenTrack,
    Track,
    TrackSettings,
    associate,
    gender_weight,
    one_per_person,
    track_frames,
    vote,
)


def face(x, y=300, w=40, gender="female", confidence=0.9, band="adult", looking=False):
    return {
        "box": [x, y, w, round(1.2 * w)],
        "score": 0.9,
        "age": 40.0,
        "age_band": band,
        "gender": gender,
        "gender_confidence": confidence,
        "yaw": 0.0 if looking else 70.0,
        "looking": looking,
    }


def frames(*faces_per_frame, every_ms=500):
    return [(i * every_ms, list(faces)) for i, faces in enumerate(faces_per_frame)]


# --- association -------------------------------------------------------------------------


def test_a_person_walking_across_at_two_frames_per_second_is_one_track():
    # GIVEN a 40 px face moving 180 px (4.5 face widths) per frame, one frame missed
    steps = [face(100 + 180 * i) for i in range(7)]
    steps[3] = None
    sequence = frames(*[[f] if f else [] for f in steps])
    # WHEN tracked THEN it is one person, seen six times
    (track,) = track_frames("s/c", sequence)
    assert track.seen == 6
    assert track.started_at_ms == 0 and track.ended_at_ms == 3000


def test_two_people_crossing_at_different_distances_keep_their_tracks():
    # GIVEN a near face walking right and a far face walking left, crossing mid-frame
    sequence = frames(
        *[[face(200 + 120 * i, w=80), face(900 - 120 * i, y=310, w=35)] for i in range(7)]
    )
    # WHEN tracked THEN each is a track of its own, of its own size
    tracks = track_frames("s/c", sequence)
    assert [t.seen for t in tracks] == [7, 7]


def test_two_people_standing_side_by_side_stay_apart():
    sequence = frames(*[[face(400, gender="male"), face(520, gender="female")]] * 10)
    tracks = track_frames("s/c", sequence)
    assert sorted(t.gender for t in tracks) == ["female", "male"]
    assert all(t.seen == 10 for t in tracks)


def test_association_takes_the_cheapest_pairs_first():
    # GIVEN two tracks seen once and two faces, each nearer one track
    settings = TrackSettings()
    tracks = [
        OpenTrack(started_at_ms=0, last_at_ms=0, box=(100, 300, 40, 48)),
        OpenTrack(started_at_ms=0, last_at_ms=0, box=(300, 300, 40, 48)),
    ]
    # WHEN the next frame's faces arrive in the opposite order
    links = associate(tracks, [(290, 300, 40, 48), (120, 300, 40, 48)], 500, settings)
    # THEN each face goes to the track it is nearest
    assert links == {0: 1, 1: 0}


def test_a_face_out_of_the_gate_starts_a_new_track():
    settings = TrackSettings()
    track = OpenTrack(started_at_ms=0, last_at_ms=0, box=(100, 300, 40, 48))
    # far above (people do not move up the frame), much larger, or a second too late
    assert associate([track], [(100, 100, 40, 48)], 500, settings) == {}
    assert associate([track], [(100, 300, 70, 84)], 500, settings) == {}
    assert associate([track], [(110, 300, 40, 48)], 1500, settings) == {}
    assert associate([track], [(110, 300, 40, 48)], 500, settings) == {0: 0}


def test_a_person_who_stops_walking_keeps_the_track():
    # GIVEN a walker (150 px per frame) who stops dead and stands
    xs = [100, 250, 400, 550, 560, 560, 565, 560]
    (track,) = track_frames("s/c", frames(*[[face(x)] for x in xs]))
    assert track.seen == len(xs)


def test_a_track_ends_after_some_seconds_unseen():
    settings = TrackSettings(end_after_s=3.0)
    seen = [[face(400)]] * 3
    # WHEN the same place is empty for 2 s THEN it is the same track; for 5 s, two tracks
    two_seconds_away = frames(*(seen + [[]] * 3 + seen))
    five_seconds_away = frames(*(seen + [[]] * 9 + seen))
    assert len(track_frames("s/c", two_seconds_away, settings)) == 1
    assert len(track_frames("s/c", five_seconds_away, settings)) == 2


def test_ended_tracks_come_out_as_later_frames_arrive():
    tracker = CameraTracker("s/c", TrackSettings(end_after_s=3.0))
    tracker.observe(0, [face(400)])
    tracker.observe(500, [face(402)])
    assert tracker.observe(3000, [])[1] == []
    _, ended = tracker.observe(3600, [])
    assert [t.seen for t in ended] == [2]
    assert tracker.open == []


def test_a_single_sighting_is_not_a_person():
    assert track_frames("s/c", frames([face(400)], [], [], [])) == []


def test_frames_out_of_order_are_refused():
    tracker = CameraTracker("s/c")
    tracker.observe(1000, [])
    with pytest.raises(ValueError, match="older"):
        tracker.observe(500, [])


# --- the vote ------------------------------------------------------------------------------


def test_vote_picks_the_heaviest_label_and_its_share():
    assert vote({"male": 1.0, "female": 3.0}) == ("female", 0.75)
    with pytest.raises(ValueError):
        vote({})


def test_gender_weight_is_the_log_odds_of_the_confidence():
    assert gender_weight(0.5) == 0.0
    assert gender_weight(0.9) == pytest.approx(2.197, abs=1e-3)
    assert gender_weight(1.0) == gender_weight(0.99)  # no single face is certain


def test_a_track_votes_by_confidence_not_by_head_count():
    # GIVEN three unsure "male" readings and two sure "female" readings of one person
    readings = [face(400, gender="male", confidence=0.6)] * 3 + [
        face(400, gender="female", confidence=0.95)
    ] * 2
    (track,) = track_frames("s/c", frames(*[[f] for f in readings]))
    # THEN the sure readings win, and the vote says how lopsided it was
    assert track.gender == "female"
    expected = 2 * gender_weight(0.95) / (2 * gender_weight(0.95) + 3 * gender_weight(0.6))
    assert track.vote_confidence == pytest.approx(expected, abs=1e-3)


def test_a_track_age_band_is_the_most_frequent_reading():
    readings = [face(400, band="adult")] * 3 + [face(400, band="senior")] * 2
    (track,) = track_frames("s/c", frames(*[[f] for f in readings]))
    assert track.age_band == "adult"


# --- dwell, looking and watchers -----------------------------------------------------------


def test_dwell_and_looking_time_of_a_person_who_looks_throughout():
    # GIVEN four frames 0.5 s apart, looking in each
    (track,) = track_frames("s/c", frames(*[[face(400, looking=True)]] * 4))
    # THEN each frame stands for 0.5 s: 2 s present, 2 s looking, a watcher
    assert track.dwell_s == pytest.approx(2.0)
    assert track.looking_s == pytest.approx(2.0)
    assert track.is_watcher(TrackSettings())


def test_one_glance_is_not_a_watcher():
    glance = [face(400)] * 2 + [face(400, looking=True)] + [face(400)] * 3
    (track,) = track_frames("s/c", frames(*[[f] for f in glance]))
    assert track.looking_s == pytest.approx(0.5)
    assert not track.is_watcher(TrackSettings())


def test_a_track_record_holds_nothing_about_where_the_face_was():
    (track,) = track_frames("s/c", frames(*[[face(400)]] * 3))
    assert set(track.to_dict()) == {
        "camera",
        "started_at_ms",
        "ended_at_ms",
        "age_band",
        "gender",
        "vote_confidence",
        "seen",
        "dwell_s",
        "looking_s",
        "first_face",  # its place in its first frame's face list: a key, not a trait
    }


# --- a generated sequence ------------------------------------------------------------------


def test_people_and_watchers_on_a_generated_sequence_are_close_to_the_truth():
    # GIVEN 60 simulated shoppers (passing, standing, some looking) at 2 frames per second
    scores = score_tracker(make_sequence(60, seed=7))
    # THEN people and watchers are near the truth, few people are split or merged,
    # and the track vote reads gender better than single frames on the same faces
    assert scores.true_people == 60
    assert abs(scores.ots_error) <= 0.10
    assert abs(scores.watcher_error) <= 0.15
    assert scores.fragments_per_person <= 0.1 and scores.merges_per_person <= 0.1
    assert scores.track_gender_accuracy >= scores.frame_gender_accuracy + 0.03


def test_a_tracker_resumes_from_its_saved_state_as_if_never_stopped():
    # GIVEN one camera's frames of a walker and a stander
    sequence = frames(*[[face(100 + 150 * i), face(900, gender="male")] for i in range(6)])
    whole = track_frames("s/c", sequence)
    # WHEN the tracker is saved to JSON and restored between every frame
    import json

    state: dict = {}
    people = []
    for at_ms, faces in sequence:
        tracker = CameraTracker.from_state("s/c", json.loads(json.dumps(state)))
        people += tracker.observe(at_ms, faces)[1]
        state = tracker.to_state()
    people += CameraTracker.from_state("s/c", state).finish()
    # THEN it finds the same people
    assert sorted(people, key=lambda t: t.sort_key) == sorted(whole, key=lambda t: t.sort_key)
    assert len(whole) == 2


# --- one person per display ----------------------------------------------------------------


def seen(camera, start_s, end_s, band="adult", gender="female", first_face=0):
    return Track(
        f"s/{camera}", int(start_s * 1000), int(end_s * 1000), band, gender, 0.9, 6,
        end_s - start_s, 0.0, first_face,
    )  # fmt: skip


def test_a_person_seen_by_two_cameras_at_once_is_one_person():
    # GIVEN one woman seen by both cameras of a display over overlapping seconds
    groups = one_per_person([seen("cam-1", 0, 8), seen("cam-2", 2, 10)])
    # THEN she is one person
    assert [len(group) for group in groups] == [2]


def test_tracks_that_disagree_or_do_not_overlap_are_different_people():
    tracks = [
        seen("cam-1", 0, 8),
        seen("cam-2", 2, 10, gender="male"),  # another gender
        seen("cam-2", 3, 9, band="senior"),  # another band
        seen("cam-2", 9, 12),  # after she left cam-1's view
    ]
    assert [len(group) for group in one_per_person(tracks)] == [1, 1, 1, 1]


def test_two_alike_people_in_front_of_both_cameras_stay_two():
    # GIVEN two women of one band, each seen by both cameras at the same time
    tracks = [
        seen("cam-1", 0, 8),
        seen("cam-1", 1, 9, first_face=1),
        seen("cam-2", 0, 8),
        seen("cam-2", 1, 9, first_face=1),
    ]
    # THEN they are two people (a group holds one track per camera), each seen twice
    assert sorted(len(group) for group in one_per_person(tracks)) == [2, 2]


def test_the_tracker_function_out_of_order_counts_what_the_tracker_counts_in_order():
    # GIVEN a generated sequence delivered through the tracker function's stream and sweep,
    # once in order and once with frames overtaking each other by up to 4 s
    sequence = make_sequence(60, seed=7)
    in_order = deliver(sequence, DELIVERIES["in-order"], seed=7)
    shuffled = deliver(sequence, DELIVERIES["shuffled"], seed=7)
    # THEN in order it writes exactly the people the tracker finds when fed directly
    direct = score_tracker(sequence)
    assert len(in_order.people) == direct.people and in_order.late == []
    # AND shuffled, with many frames overtaken, it writes the people the tracker finds in the
    # frames that were not too late to link, and those are few
    assert shuffled.reordered > len(sequence.frames) / 4
    assert len(shuffled.late) <= 0.02 * len(sequence.frames)
    assert len(shuffled.people) == score_tracker(without(sequence, shuffled.late)).people
    assert abs(len(shuffled.people) - direct.people) <= 1
