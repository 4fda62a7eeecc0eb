"""The tracker on a generated sequence of known people: ``python -m adserver.bench_tracks``.

One display camera (1280x720, 70 degrees across, 2 frames per second) watches
people come and go: passers-by who cross the view at walking pace at 1.5-5.5 m,
some glancing at the screen, and people who walk in, stand for 5-40 s (swaying,
turning to the shelves and to the screen) and walk out. Each frame's
observation is written directly, as the inference function would: a box per
visible face with noise in place and size, a miss rate, false faces, a yaw read
with the error ``python -m model.bench_attention`` measured and ``looking``
from it, and a gender reading whose accuracy on single frames is the model
card's for far faces (about 0.87). Gender readings of one person are not
independent: each person has a legibility of their own (a latent log-odds
shared by all their frames) plus noise per frame, so a track's vote cannot
simply average its errors away.

Printed: people (OTS) and watchers (looked >= 1 s) against the truth,
fragments and merges per true person, dwell and looking time, and the track
vote's gender accuracy against the single-frame accuracy on the same faces.

``--delivery`` picks how the frames reach the tracker. ``direct`` feeds them to the
tracker in capture order, as the tracking code sees them at best. ``in-order`` and
``shuffled`` run the tracker function's own path (``lambdas.tracker.tracking``: frames held
back and linked in capture order, stream batches each second, the scheduled sweep each
minute, on a simulated clock): ``in-order`` delivers every frame half a second after its
capture, ``shuffled`` after 0.3-4.3 s (so about half the frames arrive after a frame captured
later) and one frame in a hundred 5-30 s late, which the tracker counts as too late to link.
People and watchers are then what the function wrote; the other figures score the tracker
on the frames it linked. ``all`` (the default) prints the three.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from adserver.tracks import CameraTracker, OpenTrack, Track, TrackSettings
from lambdas.observations import Observation
from lambdas.tracker.store import InMemoryTrackStore
from lambdas.tracker.timeline import Timing
from lambdas.tracker.tracking import TrackerDependencies, sweep, track_observations

WIDTH, HEIGHT = 1280, 720
FOCAL_PX = (WIDTH / 2) / math.tan(math.radians(35))  # 70 degrees across
FACE_WIDTH_M = 0.16
CAMERA_HEIGHT_M = 1.9  # on top of the screen; faces at 1.5-1.75 m are below its axis
FPS = 2.0
LOOKING_YAW_DEG = 30.0
BANDS = ("child", "teen", "young_adult", "adult", "senior")
BAND_SHARES = (0.08, 0.1, 0.32, 0.35, 0.15)


@dataclass(frozen=True)
class Noise:
    """How the camera and the model err, per frame."""

    miss_rate: float = 0.10  # a face in view that the finder does not report
    small_face_px: float = 30.0  # below this width the miss rate doubles
    box_noise: float = 0.05  # centre and width error, as a share of the face width
    yaw_error_deg: float = 11.0  # model.bench_attention: MAE 10-14 deg on turned faces
    false_faces_per_frame: float = 0.08  # model card: 0.083 on store scenes
    # Gender: each person's frames share a latent log-odds ~ N(mean, person_sd) plus per-frame
    # noise ~ N(0, frame_sd); P(correct frame) = Phi(mean / sqrt(person_sd^2 + frame_sd^2)).
    gender_logit_mean: float = 1.8
    gender_person_sd: float = 1.0
    gender_frame_sd: float = 1.2
    band_accuracy: float = 0.65  # otherwise a neighbouring band


@dataclass
class Person:
    """A simulated shopper: a path through the view and the times they look at the screen."""

    number: int
    gender: str
    band: str
    legibility: float  # latent gender log-odds shared by all their frames
    enter_s: float
    leave_s: float
    path: list[tuple[float, float, float]]  # (t, x metres across, z metres away), sorted by t
    looking: list[tuple[float, float]] = field(default_factory=list)  # intervals, seconds
    turned_yaw: float = 70.0  # their yaw when not looking (signed)
    height_m: float = 1.65

    def position(self, t: float) -> tuple[float, float]:
        times = [p[0] for p in self.path]
        x = float(np.interp(t, times, [p[1] for p in self.path]))
        z = float(np.interp(t, times, [p[2] for p in self.path]))
        return x, z

    def is_looking(self, t: float) -> bool:
        return any(start <= t < end for start, end in self.looking)

    def box(self, t: float) -> tuple[float, float, float, float] | None:
        """The face's true box in frame pixels, or None when it is out of view."""
        x, z = self.position(t)
        width = FOCAL_PX * FACE_WIDTH_M / z
        cx = WIDTH / 2 + FOCAL_PX * x / z
        cy = HEIGHT / 2 + FOCAL_PX * (CAMERA_HEIGHT_M - self.height_m) / z
        if not 0 <= cx < WIDTH or width < 18:
            return None
        return (cx - width / 2, cy - 0.6 * width, width, 1.2 * width)

    def in_view_s(self, step: float = 0.05) -> tuple[float, float]:
        """Seconds in view, and seconds of that spent looking at the screen."""
        times = np.arange(self.enter_s, self.leave_s, step)
        seen = [t for t in times if self.box(float(t)) is not None]
        return len(seen) * step, sum(step for t in seen if self.is_looking(float(t)))


def _half_width_m(z: float) -> float:
    return z * math.tan(math.radians(35))


def make_people(count: int, rng: np.random.Generator, noise: Noise) -> list[Person]:
    """``count`` shoppers arriving at random (about one every 5 s): 65 % pass by, 35 % stop."""
    people = []
    t = 0.0
    for number in range(count):
        t += float(rng.exponential(5.0))
        gender = "female" if rng.random() < 0.5 else "male"
        band = str(rng.choice(BANDS, p=BAND_SHARES))
        legibility = float(rng.normal(noise.gender_logit_mean, noise.gender_person_sd))
        side = 1 if rng.random() < 0.5 else -1  # +1: enters on the left, walks right
        speed = float(rng.uniform(0.8, 1.5))
        height = float(rng.uniform(1.1, 1.3)) if band == "child" else float(rng.uniform(1.5, 1.8))
        if rng.random() < 0.65:
            z0, z1 = float(rng.uniform(1.5, 5.5)), float(rng.uniform(1.5, 5.5))
            z1 = z0 + 0.3 * (z1 - z0)  # mostly across, a little towards or away
            x0, x1 = -side * (_half_width_m(z0) + 0.4), side * (_half_width_m(z1) + 0.4)
            duration = abs(x1 - x0) / speed
            path = [(t, x0, z0), (t + duration, x1, z1)]
            looking = []
            if rng.random() < 0.4:
                start = t + float(rng.uniform(0.2, 0.8)) * duration
                looking.append((start, start + float(rng.uniform(0.3, 3.0))))
            turned = 75.0 * side
        else:
            z = float(rng.uniform(1.5, 4.0))
            spot = float(rng.uniform(-0.6, 0.6)) * _half_width_m(z)
            x0 = -side * (_half_width_m(z) + 0.4)
            # Slowing down over the last second before the spot: half a second's walk in it.
            slowing = spot - side * speed / 2
            arrive = t + abs(slowing - x0) / speed + 1.0
            stay = float(rng.uniform(5.0, 40.0))
            path = [(t, x0, z), (arrive - 1.0, slowing, z), (arrive, spot, z)]
            # Swaying while standing: a small random walk, a step every second.
            for second in range(1, int(stay) + 1):
                last = path[-1]
                path.append(
                    (
                        arrive + second,
                        last[1] + float(rng.normal(0, 0.04)),
                        max(1.2, last[2] + float(rng.normal(0, 0.03))),
                    )
                )
            leave_side = side if rng.random() < 0.5 else -side
            # Setting off: half a second's walk in the first second, then walking pace.
            t_end, x_end, z_end = path[-1]
            path.append((t_end + 1.0, x_end + leave_side * speed / 2, z_end))
            x_out = leave_side * (_half_width_m(z_end) + 0.4)
            path.append((path[-1][0] + abs(x_out - path[-1][1]) / speed, x_out, z_end))
            looking = []
            if rng.random() < 0.7:
                for _ in range(int(rng.integers(1, 4))):
                    start = arrive + float(rng.uniform(0, stay))
                    looking.append((start, start + float(rng.uniform(0.5, 8.0))))
            turned = float(rng.choice([-1, 1])) * float(rng.uniform(45, 90))
        people.append(
            Person(
                number=number,
                gender=gender,
                band=band,
                legibility=legibility,
                enter_s=path[0][0],
                leave_s=path[-1][0],
                path=path,
                looking=looking,
                turned_yaw=turned,
                height_m=height,
            )
        )
    return people


def observe_face(
    person: Person,
    t: float,
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    noise: Noise,
) -> dict[str, Any]:
    """The face record the inference function would write for this person at ``t``."""
    x, y, w, h = box
    scale = math.exp(float(rng.normal(0, noise.box_noise)))
    cx = x + w / 2 + float(rng.normal(0, noise.box_noise)) * w
    cy = y + h / 2 + float(rng.normal(0, noise.box_noise)) * w
    w, h = w * scale, h * scale
    true_yaw = float(rng.normal(0, 8)) if person.is_looking(t) else person.turned_yaw
    yaw = true_yaw + float(rng.normal(0, noise.yaw_error_deg))
    logit = person.legibility + float(rng.normal(0, noise.gender_frame_sd))
    other = "male" if person.gender == "female" else "female"
    band = person.band
    if rng.random() > noise.band_accuracy:
        index = BANDS.index(band) + int(rng.choice([-1, 1]))
        band = BANDS[min(max(index, 0), len(BANDS) - 1)]
    return {
        "box": [round(cx - w / 2), round(cy - h / 2), round(w), round(h)],
        "score": round(float(rng.uniform(0.6, 0.95)), 4),
        "age": 0.0,
        "age_band": band,
        "gender": person.gender if logit > 0 else other,
        "gender_confidence": round(1 / (1 + math.exp(-abs(logit))), 4),
        "yaw": round(yaw, 1),
        "looking": abs(yaw) <= LOOKING_YAW_DEG,
    }


def false_face(rng: np.random.Generator) -> dict[str, Any]:
    """A detection of something that is not a face, anywhere, once."""
    w = float(rng.uniform(20, 60))
    return {
        "box": [
            round(rng.uniform(0, WIDTH - w)),
            round(rng.uniform(0, HEIGHT - w)),
            round(w),
            round(1.2 * w),
        ],
        "score": round(float(rng.uniform(0.55, 0.7)), 4),
        "age": 0.0,
        "age_band": str(rng.choice(BANDS)),
        "gender": str(rng.choice(["male", "female"])),
        "gender_confidence": round(float(rng.uniform(0.5, 0.9)), 4),
        "yaw": 0.0,
        "looking": bool(rng.random() < 0.5),
    }


@dataclass
class GeneratedSequence:
    frames: list[tuple[int, list[dict[str, Any]]]]
    truth: list[list[int]]  # per frame, per face: the person's number, -1 for a false face
    people: list[Person]


def make_sequence(people_count: int, seed: int, noise: Noise | None = None) -> GeneratedSequence:
    """Frames at ``FPS`` (with a little jitter) from before the first person to after the last."""
    noise = noise or Noise()
    rng = np.random.default_rng(seed)
    people = make_people(people_count, rng, noise)
    end = max(p.leave_s for p in people) + 5
    frames, truth = [], []
    t = 0.0
    while t < end:
        faces, who = [], []
        for person in people:
            if not person.enter_s <= t <= person.leave_s:
                continue
            box = person.box(t)
            if box is None:
                continue
            miss = noise.miss_rate * (2 if box[2] < noise.small_face_px else 1)
            if rng.random() < miss:
                continue
            faces.append(observe_face(person, t, box, rng, noise))
            who.append(person.number)
        for _ in range(int(rng.poisson(noise.false_faces_per_frame))):
            faces.append(false_face(rng))
            who.append(-1)
        frames.append((round(t * 1000), faces))
        truth.append(who)
        t += 1 / FPS + float(rng.uniform(-0.03, 0.03))
    return GeneratedSequence(frames, truth, people)


@dataclass(frozen=True)
class Scores:
    true_people: int
    people: int
    true_watchers: int
    watchers: int
    fragments_per_person: float  # extra tracks per true person
    merges_per_person: float  # tracks holding 2+ faces each of 2+ people, per true person
    stray_faces: float  # share of people's faces linked into someone else's track
    missed_people: int  # true people with no track
    frame_gender_accuracy: float
    track_gender_accuracy: float  # on the same faces
    frame_band_accuracy: float
    track_band_accuracy: float
    dwell_error_s: float  # median |track dwell - true time in view| over matched tracks
    looking_error_s: float

    @property
    def ots_error(self) -> float:
        return (self.people - self.true_people) / self.true_people

    @property
    def watcher_error(self) -> float:
        return (self.watchers - self.true_watchers) / max(1, self.true_watchers)


def score_tracker(sequence: GeneratedSequence, settings: TrackSettings | None = None) -> Scores:
    """Run the tracker over the sequence and score it against the people who made it."""
    settings = settings or TrackSettings()
    tracker = CameraTracker("bench/camera", settings)
    tracks: dict[int, OpenTrack] = {}
    members: dict[int, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for (at_ms, faces), who in zip(sequence.frames, sequence.truth, strict=True):
        placed, _ = tracker.observe(at_ms, faces)
        for track, person, face in zip(placed, who, faces, strict=True):
            tracks[id(track)] = track
            members[id(track)].append((person, face))
    people = {p.number: p for p in sequence.people}
    in_view = {p.number: p.in_view_s() for p in sequence.people}
    true_people = [n for n, (seen_s, _) in in_view.items() if seen_s >= 1 / FPS]
    true_watchers = [n for n in true_people if in_view[n][1] >= settings.watcher_looking_s]

    counted = [key for key, track in tracks.items() if track.seen >= settings.min_sightings]
    records = {key: tracker.record(tracks[key]) for key in counted}
    owner: dict[int, int] = {}
    merges = strays = faces_of_people = 0
    for key in counted:
        persons = Counter(person for person, _ in members[key])
        owner[key] = persons.most_common(1)[0][0]
        # Two people in one track for at least two frames each: counted as one person.
        if len([p for p, n in persons.items() if p >= 0 and n >= 2]) > 1:
            merges += 1
        strays += sum(n for p, n in persons.items() if p >= 0 and p != owner[key])
        faces_of_people += sum(n for p, n in persons.items() if p >= 0)
    tracks_of = Counter(owner[key] for key in counted if owner[key] >= 0)
    fragments = sum(max(0, n - 1) for n in tracks_of.values())

    frame_gender, track_gender, frame_band, track_band = [], [], [], []
    dwell_errors, looking_errors = [], []
    for key in counted:
        number = owner[key]
        if number < 0:
            continue
        shopper, record = people[number], records[key]
        for member, face in members[key]:
            if member == number:
                frame_gender.append(face["gender"] == shopper.gender)
                track_gender.append(record.gender == shopper.gender)
                frame_band.append(face["age_band"] == shopper.band)
                track_band.append(record.age_band == shopper.band)
        if tracks_of[number] == 1:
            dwell_errors.append(abs(record.dwell_s - in_view[number][0]))
            looking_errors.append(abs(record.looking_s - in_view[number][1]))
    return Scores(
        true_people=len(true_people),
        people=len(counted),
        true_watchers=len(true_watchers),
        watchers=sum(r.is_watcher(settings) for r in records.values()),
        fragments_per_person=fragments / len(true_people),
        merges_per_person=merges / len(true_people),
        stray_faces=strays / max(1, faces_of_people),
        missed_people=len(set(true_people) - set(tracks_of)),
        frame_gender_accuracy=statistics.fmean(frame_gender),
        track_gender_accuracy=statistics.fmean(track_gender),
        frame_band_accuracy=statistics.fmean(frame_band),
        track_band_accuracy=statistics.fmean(track_band),
        dwell_error_s=statistics.median(dwell_errors),
        looking_error_s=statistics.median(looking_errors),
    )


@dataclass(frozen=True)
class Delivery:
    """How frames reach the tracker function, on its clock."""

    latency_s: float = 0.5  # from capture to the stream, at the least
    jitter_s: float = 0.0  # plus up to this much more, at random: frames overtake each other
    straggler_share: float = 0.0  # frames held up far longer (a retried upload, a backlog)
    straggler_s: tuple[float, float] = (5.0, 30.0)
    batch_s: float = 1.0  # the stream's batching window
    sweep_every_s: float = 60.0  # the schedule


DELIVERIES = {
    "in-order": Delivery(),
    "shuffled": Delivery(latency_s=0.3, jitter_s=4.0, straggler_share=0.01),
}


@dataclass(frozen=True)
class Delivered:
    """What the tracker function made of a delivered sequence."""

    people: list[Track]  # as written to the tracks table
    late: list[int]  # indices of the frames that came too late to link
    reordered: int  # frames that arrived after a frame captured later than them


def deliver(
    sequence: GeneratedSequence,
    delivery: Delivery,
    settings: TrackSettings | None = None,
    timing: Timing | None = None,
    seed: int = 0,
) -> Delivered:
    """Run the tracker function's path (stream batches and the sweep) over the sequence."""
    rng = np.random.default_rng(seed)
    store = InMemoryTrackStore()
    clock = _SimulatedClock()
    deps = TrackerDependencies(store, settings or TrackSettings(), clock, timing or Timing())
    arrivals = []
    for index, (at_ms, _) in enumerate(sequence.frames):
        delay = delivery.latency_s + float(rng.uniform(0, delivery.jitter_s))
        if rng.random() < delivery.straggler_share:
            delay = float(rng.uniform(*delivery.straggler_s))
        arrivals.append((at_ms / 1000 + delay, index))
    arrivals.sort()
    newest = reordered = 0
    for _, index in arrivals:
        reordered += sequence.frames[index][0] < newest
        newest = max(newest, sequence.frames[index][0])
    batches: dict[int, list[int]] = defaultdict(list)
    for arrived_s, index in arrivals:
        batches[math.ceil(arrived_s / delivery.batch_s)].append(index)
    end_s = arrivals[-1][0] + 2 * delivery.sweep_every_s + 60
    events = [(batch * delivery.batch_s, 1, batch) for batch in batches]
    sweeps = np.arange(delivery.sweep_every_s, end_s, delivery.sweep_every_s)
    events += [(float(at_s), 0, -1) for at_s in sweeps]
    late: list[int] = []
    camera = "bench/camera"
    for at_s, kind, batch in sorted(events):
        clock.now_s = at_s
        if kind == 0:
            sweep(deps)
            continue
        horizon = store.open_tracks(camera).get("horizon_ms")
        observations = [_observation(index, sequence.frames[index]) for index in batches[batch]]
        late += [
            index
            for index, observation in zip(batches[batch], observations, strict=True)
            if horizon is not None and observation.captured_at_ms <= horizon
        ]
        track_observations(observations, deps)
    return Delivered(list(store.records.values()), sorted(late), reordered)


class _SimulatedClock:
    now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def _observation(index: int, frame: tuple[int, list[dict[str, Any]]]) -> Observation:
    at_ms, faces = frame
    return Observation(
        store="bench",
        camera="camera",
        frame_key=f"frames/bench/camera/{at_ms}.jpg",
        captured_at_ms=at_ms,
        processed_at_ms=at_ms,
        status="ok",
        error=None,
        faces=tuple(faces),
        model_version="bench",
    )


def without(sequence: GeneratedSequence, frames: Sequence[int]) -> GeneratedSequence:
    """The sequence less some frames (those the tracker could not link)."""
    dropped = set(frames)
    kept = [i for i in range(len(sequence.frames)) if i not in dropped]
    return GeneratedSequence(
        [sequence.frames[i] for i in kept], [sequence.truth[i] for i in kept], sequence.people
    )


def score_delivered(
    sequence: GeneratedSequence,
    delivery: Delivery,
    settings: TrackSettings | None = None,
    seed: int = 0,
) -> tuple[Scores, Delivered]:
    """Scores of the tracker function's path: people and watchers as it wrote them, the rest
    from the tracker on the frames it linked (the same tracks, linked in the same order)."""
    settings = settings or TrackSettings()
    delivered = deliver(sequence, delivery, settings, seed=seed)
    scores = score_tracker(without(sequence, delivered.late), settings)
    watchers = sum(person.is_watcher(settings) for person in delivered.people)
    return replace(scores, people=len(delivered.people), watchers=watchers), delivered


def report(scores: Scores, faces: int, frames: int) -> str:
    def check(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    gain = scores.track_gender_accuracy - scores.frame_gender_accuracy
    return "\n".join(
        [
            f"{frames} frames at {FPS:g} fps, {faces} faces",
            f"people (OTS)       {scores.people:5} vs {scores.true_people:5} true"
            f"  {scores.ots_error:+7.1%}"
            f"  (target within 3 %: {check(abs(scores.ots_error) <= 0.03)})",
            f"watchers (>= 1 s)  {scores.watchers:5} vs {scores.true_watchers:5} true"
            f"  {scores.watcher_error:+7.1%}"
            f"  (target within 7 %: {check(abs(scores.watcher_error) <= 0.07)})",
            f"fragments per true person {scores.fragments_per_person:.3f},"
            f" merges per true person {scores.merges_per_person:.3f},"
            f" people with no track {scores.missed_people},"
            f" faces in another person's track {scores.stray_faces:.1%}",
            f"gender accuracy on the same faces: single frame {scores.frame_gender_accuracy:.3f},"
            f" track vote {scores.track_gender_accuracy:.3f}, {100 * gain:+.1f} points"
            f"  (target >= +3: {check(gain >= 0.03)})",
            f"age band accuracy on the same faces: single frame {scores.frame_band_accuracy:.3f},"
            f" track vote {scores.track_band_accuracy:.3f}",
            f"median error per unfragmented person: dwell {scores.dwell_error_s:.2f} s,"
            f" looking {scores.looking_error_s:.2f} s",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adserver.bench_tracks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--delivery", choices=("all", "direct", *DELIVERIES), default="all", help="see above"
    )
    args = parser.parse_args(argv)
    if args.people < 1:
        parser.error("--people must be at least 1")
    sequence = make_sequence(args.people, args.seed)
    faces = sum(len(faces) for _, faces in sequence.frames)
    print(f"{args.people} simulated people, seed {args.seed}, {TrackSettings()}, {Timing()}")
    modes = ("direct", *DELIVERIES) if args.delivery == "all" else (args.delivery,)
    for mode in modes:
        if mode == "direct":
            print("\n-- direct: the tracker fed every frame in capture order")
            print(report(score_tracker(sequence), faces, len(sequence.frames)))
            continue
        delivery = DELIVERIES[mode]
        scores, delivered = score_delivered(sequence, delivery, seed=args.seed)
        print(f"\n-- {mode}: the tracker function (stream and sweep), {delivery}")
        print(
            f"{delivered.reordered} frames arrived after a later one,"
            f" {len(delivered.late)} too late to link"
        )
        print(report(scores, faces, len(sequence.frames)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
