"""What a store camera does to a face, applied before cropping, for training the network.

A display-mounted camera sees shoppers 1.5 to 6 metres away: on a 1280x720 frame
their faces are 24 to 80 pixels wide, in dim uneven light, through a noisy sensor
and hard JPEG compression. The dataset's chips are 200x200 studio-like faces.
``degraded_crop`` turns a chip into what serving would crop from such a frame:
the chip is pasted into other surroundings (not replicated borders), shrunk to
the face width a far camera gives it, blurred, darkened, made noisy and JPEG
compressed, and then cropped by the very ``align_face`` serving uses, from a
detection jittered the way a detector's boxes and eyes jitter on small faces.

What lies around the face inside the crop varies in a store: hair, a hood, a
shoulder, a shelf. Half the faces keep only an oval of the chip (the face and a
little hair), the rest of the crop coming from the surroundings and a body
under the head, so the network reads the face and not the chip's own backdrop.

Version 2 (2026-11-30) widened the camera to what cheap store cameras do
(noise and JPEG on almost every frame, dim light more often) and added the
oval and the body: scene faces read worse than validation chips at every size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from model.align import align_face
from model.detect import Detection

# Face widths (pixels, detector box) a degraded variant is drawn from, log-uniform.
MIN_FACE_PX, MAX_FACE_PX = 14.0, 160.0
DEGRADE_VERSION = 2  # part of the degraded crops' cache key: bump when the draws change


@dataclass(frozen=True)
class CameraConditions:
    """One draw of camera conditions for one face."""

    face_px: float  # width of the detector's box around the face, in frame pixels
    rotation_deg: float  # head roll relative to the camera
    blur_sigma: float  # optical and motion blur, in frame pixels
    gain: float  # exposure: 1 is the chip's own brightness, lower is dimmer
    gamma: float  # the sensor's tone curve
    noise_sigma: float  # sensor noise, in 8-bit levels
    jpeg_quality: int  # 0 leaves the frame uncompressed
    feather: float  # how softly the pasted face blends into its surroundings (0..1)
    # The chip kept only inside a centred oval of these half-axes (fractions of its size).
    oval: tuple[float, float] | None
    body: bool  # shoulders under the head in the surroundings


def _sometimes(rng: np.random.Generator, usual: float, drawn: float, chance: float) -> float:
    """``drawn`` with probability ``chance``, else ``usual``."""
    return float(rng.choice(np.array([usual, drawn], np.float64), p=[1 - chance, chance]))


def sample_conditions(rng: np.random.Generator) -> CameraConditions:
    """Camera conditions from the ranges a store display's camera produces."""
    return CameraConditions(
        face_px=float(math.exp(rng.uniform(math.log(MIN_FACE_PX), math.log(MAX_FACE_PX)))),
        rotation_deg=float(rng.uniform(-15, 15)),
        blur_sigma=_sometimes(rng, 0.0, rng.uniform(0.2, 1.2), 0.7),
        gain=_sometimes(rng, 1.0, rng.uniform(0.35, 1.05), 0.7),
        gamma=float(rng.uniform(0.8, 1.25)),
        noise_sigma=_sometimes(rng, 0.0, rng.uniform(1.5, 10), 0.85),
        jpeg_quality=int(_sometimes(rng, 0, float(rng.integers(25, 80)), 0.9)),
        feather=float(rng.uniform(0, 1)),
        oval=(
            (float(rng.uniform(0.4, 0.52)), float(rng.uniform(0.45, 0.58)))
            if rng.random() < 0.5
            else None
        ),
        body=bool(rng.random() < 0.5),
    )


def surroundings(shape: tuple[int, int], donor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A background of ``shape`` (h, w): another photo's texture, a wall, or a gradient.

    ``donor`` is any other RGB image (another chip): its pixels give photographic
    colour and texture, cut into blocks and shuffled so no second face appears.
    """
    height, width = shape
    kind = rng.integers(3)
    background: np.ndarray
    if kind == 0:
        blocks = 4
        # Blocks of one size, so that they tile whatever the donor's shape (portraits too).
        rows_side, columns_side = donor.shape[0] // blocks, donor.shape[1] // blocks
        pieces = [
            donor[r * rows_side : (r + 1) * rows_side, c * columns_side : (c + 1) * columns_side]
            for r in range(blocks)
            for c in range(blocks)
        ]
        order = rng.permutation(len(pieces))
        rows = [
            np.concatenate([pieces[i] for i in order[r * blocks : (r + 1) * blocks]], axis=1)
            for r in range(blocks)
        ]
        background = cv2.resize(np.concatenate(rows), (width, height))
    elif kind == 1:
        colour = rng.integers(20, 235, 3)
        background = np.empty((height, width, 3), np.float32)
        background[:] = colour
        background += rng.normal(0, rng.uniform(2, 12), (height, width, 1))
    else:
        top, bottom = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        background = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (height, width, 3)).copy()
        for _ in range(rng.integers(0, 4)):  # shelves, door frames, displays
            y0, x0 = rng.integers(0, height), rng.integers(0, width)
            y1, x1 = y0 + rng.integers(4, height // 2 + 5), x0 + rng.integers(4, width // 2 + 5)
            background[y0:y1, x0:x1] = rng.integers(0, 255, 3)
    return np.clip(background, 0, 255).astype(np.uint8)


def paste(
    chip: np.ndarray,
    background: np.ndarray,
    top_left: tuple[int, int],
    feather: float,
    oval: tuple[float, float] | None = None,
) -> np.ndarray:
    """``chip`` over ``background`` at (x, y), its edge blended over ``feather`` (0..1) of 6 %.

    With ``oval`` (half-axes as fractions of the chip's width and height) only the
    chip inside that centred oval is kept.
    """
    x, y = top_left
    height, width = chip.shape[:2]
    margin = max(1, round(feather * 0.06 * min(height, width)))
    mask: np.ndarray = np.zeros((height, width), np.float32)
    if oval is not None:
        axes = (round(oval[0] * width), round(oval[1] * height))
        cv2.ellipse(mask, (width // 2, height // 2), axes, 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), margin / 2 + 1)
    elif feather > 0:
        mask[margin:-margin, margin:-margin] = 1.0
        mask = cv2.GaussianBlur(mask, (0, 0), margin / 2)
    else:
        mask[:] = 1.0
    out = background.copy()
    region = out[y : y + height, x : x + width].astype(np.float32)
    blended = region * (1 - mask[..., None]) + chip.astype(np.float32) * mask[..., None]
    out[y : y + height, x : x + width] = blended.round().astype(np.uint8)
    return out


def camera_response(
    rgb: np.ndarray, conditions: CameraConditions, rng: np.random.Generator
) -> np.ndarray:
    """Blur, exposure and tone curve, sensor noise and JPEG, in the order a camera applies them."""
    image: np.ndarray = rgb.astype(np.float32)
    if conditions.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), conditions.blur_sigma)
    image = 255.0 * np.power(np.clip(image * conditions.gain / 255.0, 0, 1), conditions.gamma)
    if conditions.noise_sigma > 0:
        # Chroma noise is weaker than luma noise on real sensors.
        luma = rng.normal(0, conditions.noise_sigma, (*image.shape[:2], 1))
        chroma = rng.normal(0, conditions.noise_sigma / 3, image.shape)
        image = image + luma + chroma
    out: np.ndarray = np.clip(image, 0, 255).round().astype(np.uint8)
    if conditions.jpeg_quality:
        ok, encoded = cv2.imencode(
            ".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, conditions.jpeg_quality]
        )
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:
            out = decoded[..., ::-1]
    return np.ascontiguousarray(out)


def jittered(detection: Detection, rng: np.random.Generator, amount: float = 1.0) -> Detection:
    """The detection as a detector would report it on a small, noisy face."""
    x, y, w, h = detection.box
    shift = rng.normal(0, 0.04 * amount * w, 2)
    scale = float(np.exp(rng.normal(0, 0.06 * amount)))
    cx, cy = x + w / 2 + shift[0], y + h / 2 + shift[1]
    w, h = w * scale, h * scale
    points = detection.keypoints + rng.normal(0, 0.025 * amount * w, detection.keypoints.shape)
    return Detection((cx - w / 2, cy - h / 2, w, h), detection.score, points.astype(np.float32))


def degraded_crop(
    chip: np.ndarray,
    detection: Detection,
    donor: np.ndarray,
    conditions: CameraConditions,
    rng: np.random.Generator,
) -> np.ndarray:
    """The aligned crop serving would take of this face, seen through a store camera."""
    height, width = chip.shape[:2]
    # Surroundings 1.6 times the chip's size, the chip at a random place inside them.
    canvas_shape = (height * 8 // 5, width * 8 // 5)
    background = surroundings(canvas_shape, donor, rng)
    x0 = int(rng.integers(0, canvas_shape[1] - width + 1))
    y0 = int(rng.integers(0, canvas_shape[0] - height + 1))
    if conditions.body:  # shoulders in a clothing colour, from under the chin down
        cv2.ellipse(
            background,
            (x0 + width // 2, y0 + height + height // 2),
            (int(width * rng.uniform(0.9, 1.4)), int(height * rng.uniform(0.6, 0.9))),
            0,
            0,
            360,
            tuple(int(c) for c in rng.integers(0, 255, 3)),
            -1,
        )
    scene = paste(chip, background, (x0, y0), conditions.feather, conditions.oval)

    box_x, box_y, box_w, box_h = detection.box
    centre = np.array([box_x + box_w / 2 + x0, box_y + box_h / 2 + y0])
    scale = min(1.0, conditions.face_px / box_w)
    # Shrink with area averaging (what a lower-resolution sensor integrates), then roll.
    small = cv2.resize(
        scene,
        (max(8, round(scene.shape[1] * scale)), max(8, round(scene.shape[0] * scale))),
        interpolation=cv2.INTER_AREA,
    )
    centre_small = centre * scale
    rotation = cv2.getRotationMatrix2D(tuple(centre_small), conditions.rotation_deg, 1.0)
    small = cv2.warpAffine(
        small, rotation, (small.shape[1], small.shape[0]), flags=cv2.INTER_LINEAR
    )
    frame = camera_response(small, conditions, rng)

    points = (detection.keypoints + np.array([x0, y0], np.float32)) * scale
    points = points @ rotation[:, :2].T + rotation[:, 2]
    w, h = box_w * scale, box_h * scale
    seen = Detection(
        (centre_small[0] - w / 2, centre_small[1] - h / 2, w, h),
        detection.score,
        points.astype(np.float32),
    )
    return align_face(frame, jittered(seen, rng, amount=min(2.0, 40.0 / max(w, 1.0))))
