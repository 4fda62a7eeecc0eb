"""The fault run's accounting: each frame ends as an observation, a rejection with its reason
or a dead letter with its reason, and none may stay in the bucket."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from infra.dlq import DeadLetter
from infra.faults import Case, Fate, dead_letter_reasons, fate_of_frame, judge, png_claiming

A, B, C = (f"frames/demo-store/demo-cam-1/170000000000{i}.jpg" for i in range(3))


def letter(body: str, reason: str | None, keys: list[str]) -> DeadLetter:
    return DeadLetter("id", "handle", body, reason, 1, 0, keys, {})


def test_an_observed_frame_is_accounted_as_ok_with_its_faces():
    fate = fate_of_frame(A, {A: {"status": "ok", "faces": [{}, {}]}}, {}, set())
    assert fate == Fate("ok", "2 face(s)", 2)


def test_a_frame_still_in_the_bucket_is_not_done_even_if_observed():
    fate = fate_of_frame(A, {A: {"status": "ok", "faces": []}}, {}, {A})
    assert fate.kind == "in bucket"
    verdict = judge(Case("load", "ok", [A]), [fate])
    assert (verdict.accounted, verdict.passed) == (0, False)


def test_a_rejection_or_dead_letter_counts_only_with_a_reason():
    rejected = fate_of_frame(A, {A: {"status": "rejected", "error": "not a JPEG/PNG"}}, {}, set())
    silent = fate_of_frame(B, {}, {B: ""}, set())  # moved by the redrive policy: no reason
    lost = fate_of_frame(C, {}, {}, set())
    verdict = judge(Case("mixed", "rejected", [A, B, C]), [rejected, silent, lost])
    assert verdict.accounted == 1 and verdict.total == 3 and not verdict.passed
    assert "rejected (not a JPEG/PNG)" in verdict.observed and "missing" in verdict.observed


def test_a_case_passes_only_if_every_frame_ends_as_expected():
    ok = [Fate("ok", "1 face(s)", 1), Fate("ok", "2 face(s)", 2)]
    assert judge(Case("load", "ok", [A, B]), ok).passed
    assert judge(Case("16-bit", "ok with faces", [A]), [Fate("ok", "0 face(s)", 0)]).passed is False
    assert judge(Case("empty", "ok", []), []).passed is False  # nothing sent, nothing proven


def test_dead_letters_are_sorted_into_frames_and_poison():
    by_key, poison = dead_letter_reasons(
        [letter("{job}", "frame cannot be recorded", [A]), letter("not json", "not JSON", [])]
    )
    assert by_key == {A: "frame cannot be recorded"}
    assert poison == {"not json"}


def test_the_huge_header_png_claims_its_size_in_a_few_bytes():
    data = png_claiming(100_000, 100_000)
    assert len(data) < 200
    # Pillow reads the header and refuses the claimed 10^10 pixels before decoding anything
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
