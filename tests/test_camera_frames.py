"""Frames the demo and the benchmark play into the stack."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from infra.camera_frames import composed_frames, folder_frames, video_frames
from model.images import decode_image
from tests.conftest import jpeg_bytes


def test_composed_frames_cycle_through_one_to_three_people_as_camera_jpegs():
    frames = list(composed_frames(4))
    assert [f.expected_faces for f in frames] == [1, 2, 3, 1]
    assert decode_image(frames[2].jpeg).shape == (720, 1280, 3)


def test_a_folder_plays_its_images_in_name_order_and_skips_broken_ones(tmp_path, capsys):
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(40, 30))
    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((20, 30, 3), np.uint8))[1])
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(folder_frames(tmp_path))
    assert [f.label for f in frames] == ["a.png", "b.jpg"]
    assert decode_image(frames[0].jpeg).shape == (20, 30, 3)
    assert "skipping c.jpg" in capsys.readouterr().out


def test_an_empty_folder_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no \.jpg/\.jpeg/\.png files"):
        list(folder_frames(tmp_path))


def test_a_video_is_sampled_every_half_second(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(20):  # two seconds at 10 fps
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()
    frames = list(video_frames(path, every_s=0.5))
    assert [f.label for f in frames] == [f"clip.avi @ {t:.1f} s" for t in (0, 0.5, 1.0, 1.5)]
    assert decode_image(frames[0].jpeg).shape == (48, 64, 3)
