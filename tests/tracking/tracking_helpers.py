"""People, frames and detections the tracking tests share."""

from __future__ import annotations

import numpy as np

from pafpose.codec.head import PafCodec
from pafpose.codec.people import Person
from pafpose.codec.skeleton import COCO17, COCO18, convert_keypoints

CODEC = PafCodec()

# A person facing the camera, hip centre at the origin, in body heights (y down).
_BODY = {"nose": (0, -0.62), "l_eye": (0.03, -0.65), "r_eye": (-0.03, -0.65), "l_ear": (0.06, -0.63),
         "r_ear": (-0.06, -0.63), "l_shoulder": (0.12, -0.45), "r_shoulder": (-0.12, -0.45),
         "l_hip": (0.08, 0.0), "r_hip": (-0.08, 0.0)}


def body(centre, height=200.0, arms=1.0, legs=1.0, score=1.0) -> Person:
    """A COCO-18 person standing at ``centre`` (hip), ``height`` pixels tall; ``arms`` and
    ``legs`` scale those bones (a different build)."""
    points = dict(_BODY)
    for side, sign in (("l", 1), ("r", -1)):
        points[f"{side}_elbow"] = (sign * 0.15, -0.45 + 0.17 * arms)
        points[f"{side}_wrist"] = (sign * 0.16, -0.45 + 0.32 * arms)
        points[f"{side}_knee"] = (sign * 0.09, 0.24 * legs)
        points[f"{side}_ankle"] = (sign * 0.09, 0.47 * legs)
    kp = np.array([[*points[n], 1.0] for n in COCO17.keypoint_names])
    kp[:, :2] = kp[:, :2] * height + np.asarray(centre, float)
    return Person(convert_keypoints(kp, COCO18), score)


def frame(people: list[Person], colours: list[tuple[int, int, int]], size=(640, 480), background=110,
          seed=0, trousers: list[tuple[int, int, int]] | None = None) -> np.ndarray:
    """A BGR frame: textured grey background, each person's torso box filled with a colour (and
    their thighs' box with one of ``trousers``, if given)."""
    w, h = size
    image = np.random.default_rng(seed).integers(background - 20, background + 20, (h, w, 3)).astype(np.uint8)
    for i, (person, colour) in enumerate(zip(people, colours)):
        kp = person.keypoints
        for at, fill in (([2, 5, 8, 11], colour), ([8, 11, 9, 12], trousers[i] if trousers else None)):
            if fill is None:  # COCO-18 shoulders and hips; hips and knees
                continue
            (x0, y0), (x1, y1) = kp[at, :2].min(axis=0).astype(int), kp[at, :2].max(axis=0).astype(int)
            image[max(y0, 0):max(y1, 0), max(x0 - 5, 0):max(x1 + 5, 0)] = fill
    return image


def decoded(keypoints: np.ndarray, size) -> list[Person]:
    """People decoded from maps of (P, 17, 3) COCO-17 keypoints' visible (v=2) ones."""
    kp = keypoints.copy()
    kp[..., 2] = (kp[..., 2] > 1).astype(float)
    heatmaps, pafs = CODEC.encode(convert_keypoints(kp, COCO18), size)
    return CODEC.decode(heatmaps, pafs)


def fragment(person: Person, keep=(8, 9, 10)) -> Person:
    """Only some keypoints of a person (default a leg: hip, knee, ankle)."""
    kp = np.zeros_like(person.keypoints)
    kp[list(keep)] = person.keypoints[list(keep)]
    return Person(kp, 0.3)
