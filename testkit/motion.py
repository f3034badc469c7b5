"""Motion to test trackers on: keypoint sequences of walking people with ground-truth ids.

Two sources:

- :func:`walking_sequence` and the named :data:`SCENARIOS`: people from a small walking model
  (COCO-17 keypoints: legs and arms swinging with a gait phase that advances with the distance
  walked, shoulders and hips foreshortened by the walking direction, the face labelled only when
  it looks towards the camera) moving along piecewise-linear paths at 30 frames per second.
  Scenes hold people walking and turning, crossing at the same depth (similar size) so that one
  hides the other, wholly hidden for a few frames (total occlusion), leaving and re-entering
  the frame, whole blank frames, and camera pans and zooms. Keypoint visibility follows COCO: v=2 visible,
  v=1 hidden by a nearer person or wholly hidden, v=0 outside the image, turned away, or in a blank
  frame. No images are drawn: trackers are evaluated on maps rendered from the visible
  keypoints (``PafCodec.encode``), decoded like a network's.
- :func:`photo_sequence`: a real photo seen through a camera that pans and zooms over it, with
  the annotations' keypoints moved along, so a network's people can be tracked against ids
  that are COCO annotation ids.

Everything is seeded: the same arguments give the same sequence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from pafpose.codec.skeleton import COCO17

__all__ = ["MotionSequence", "Walker", "walking_sequence", "SCENARIOS", "make_scenario", "photo_sequence"]

_K = {name: i for i, name in enumerate(COCO17.keypoint_names)}


@dataclass
class MotionSequence:
    """Ground truth of a video, frame by frame.

    Attributes:
        name: what the sequence shows.
        image_size: (W, H) of the frames.
        fps: frames per second (frame i is at time i / fps).
        ids: per frame, (P,) int ground-truth ids of the people in the scene.
        keypoints: per frame, (P, 17, 3) COCO-17 x, y, v (v: 2 visible, 1 hidden, 0 not seen).
        images: per frame, the (H, W, 3) BGR image, when the sequence has images
            (:func:`photo_sequence`); empty otherwise.
        ignore: per frame, (N, 4) x0, y0, x1, y1 boxes of people who are in the picture but
            not annotated (COCO people without keypoints): a tracker showing them is not wrong.
            Empty: none.
    """

    name: str
    image_size: tuple[int, int]
    fps: float
    ids: list[np.ndarray]
    keypoints: list[np.ndarray]
    images: list[np.ndarray] = field(default_factory=list)
    ignore: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Walker:
    """One person's path through the world (pixels of an unmoved camera).

    Attributes:
        person_id: ground-truth id.
        waypoints: (N, 2) hip positions the person walks through, in order, at ``speed``.
        height: body height in pixels at the path's first point.
        speed: body heights per second.
        start: frame the person starts walking at the first waypoint (absent before).
        depth_scaled: the height grows with the hip's y (further down = nearer the camera).
        hidden: (first, last) frame ranges (inclusive) in which the person is wholly hidden
            (behind something; all keypoints v=1).
    """

    person_id: int
    waypoints: tuple[tuple[float, float], ...]
    height: float
    speed: float = 0.8
    start: int = 0
    depth_scaled: bool = True
    hidden: tuple[tuple[int, int], ...] = ()


def _walker_pose(hip: np.ndarray, height: np.ndarray, heading: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """(P, 17, 2) COCO-17 keypoints of P walkers.

    Args:
        hip: (P, 2) hip centres; height: (P,) body heights in pixels.
        heading: (P, 2) unit walking directions (image x, depth: +1 towards the camera).
        phase: (P,) gait phase in radians.
    """
    h = height[:, None]
    facing = heading[:, 1]  # 1: walks towards the camera (faces it), -1: away
    side = heading[:, 0]  # +-1: walks right / left (seen side-on)
    # The person's left is on the image's right when facing the camera; side-on, it is on the
    # far side: left when walking right.
    left = np.where(np.abs(facing) > 0.2, np.sign(facing), -np.sign(side) + (side == 0))
    width = 0.35 + 0.65 * np.abs(facing)  # shoulders and hips foreshortened side-on
    right = np.stack([left, np.zeros_like(left)], axis=1)  # image direction of the person's left
    up = np.array([0.0, -1.0])
    kp = np.zeros((len(hip), 17, 2))
    neck = hip + up * 0.30 * h
    for name, base, w in (("shoulder", neck, 0.12), ("hip", hip, 0.075)):
        off = right * (w * width)[:, None] * h
        kp[:, _K[f"l_{name}"]], kp[:, _K[f"r_{name}"]] = base + off, base - off
    forward = np.stack([np.where(np.abs(side) > 0.3, np.sign(side), 0.0), np.zeros_like(side)], axis=1)
    # Walking towards or away from the camera, the swing is seen end-on: it foreshortens away.
    swing = forward * np.abs(side)[:, None]

    def bone(start: np.ndarray, length: float, angle: np.ndarray) -> np.ndarray:
        """The end of a bone hanging from ``start``, swung forward by ``angle``."""
        return start + length * h * (np.sin(angle)[:, None] * swing - up * np.cos(angle)[:, None])

    for sign, name in ((1.0, "l"), (-1.0, "r")):
        thigh = 0.45 * sign * np.sin(phase)
        shin = thigh - 0.35 * (1 + np.cos(phase + (sign < 0) * np.pi)) / 2
        arm = -0.5 * sign * np.sin(phase)
        kp[:, _K[f"{name}_knee"]] = knee = bone(kp[:, _K[f"{name}_hip"]], 0.24, thigh)
        kp[:, _K[f"{name}_ankle"]] = bone(knee, 0.23, shin)
        kp[:, _K[f"{name}_elbow"]] = elbow = bone(kp[:, _K[f"{name}_shoulder"]], 0.17, arm)
        kp[:, _K[f"{name}_wrist"]] = bone(elbow, 0.15, arm + 0.3)
    head = neck + up * 0.12 * h + forward * 0.02 * h
    kp[:, _K["nose"]] = head + forward * 0.04 * h - up * 0.01 * h
    for name, sign in (("l", 1.0), ("r", -1.0)):
        eye = right * (sign * 0.03 * np.abs(facing))[:, None] + up * 0.02 + forward * 0.03
        kp[:, _K[f"{name}_eye"]] = head + eye * h
        kp[:, _K[f"{name}_ear"]] = head + right * (sign * 0.06 * width)[:, None] * h - forward * 0.01 * h
    return kp


def _face_labelled(heading: np.ndarray) -> np.ndarray:
    """(P, 17) bool: False for face keypoints turned away from the camera."""
    labelled = np.ones((len(heading), 17), bool)
    away = heading[:, 1] < -0.3
    for name in ("nose", "l_eye", "r_eye"):
        labelled[:, _K[name]] = ~away
    return labelled


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, S) distance from (N, 2) points to (S, 2)-(S, 2) segments."""
    ab = b - a
    t = np.clip(((points[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.hypot(*(points[:, None] - closest).transpose(2, 0, 1))


# Segments that make up a body for occlusion: COCO's limbs plus torso diagonals.
_BODY = np.array(list(COCO17.limbs) + [(5, 12), (6, 11)])


def _occluded(kp: np.ndarray, nearness: np.ndarray, heights: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(P, 17) bool: keypoint covered by a nearer present person's body (limbs ~0.07 H thick)."""
    hidden = np.zeros(kp.shape[:2], bool)
    for j in np.flatnonzero(present):
        a, b = kp[j, _BODY[:, 0]], kp[j, _BODY[:, 1]]
        others = np.flatnonzero(present & (nearness < nearness[j]))
        if len(others):
            d = _segment_distance(kp[others].reshape(-1, 2), a, b).min(axis=1)
            hidden[others] |= (d < 0.07 * heights[j]).reshape(len(others), 17)
    return hidden


def walking_sequence(walkers: list[Walker], frames: int, image_size: tuple[int, int] = (640, 480),
                     fps: float = 30.0, blank: tuple[tuple[int, int], ...] = (),
                     camera: Callable[[float], tuple[float, float, float]] | None = None,
                     name: str = "walking") -> MotionSequence:
    """Ground truth of walkers along their paths.

    Args:
        walkers: the people.
        frames: sequence length.
        image_size: (W, H) of the frames.
        blank: (first, last) frame ranges (inclusive) in which nothing is seen.
        camera: time (s) -> (pan x, pan y, zoom): the image shows world point p at
            ``(p - centre - pan) * zoom + centre``; default a still camera.
    """
    w, h = image_size
    centre = np.array([w / 2, h / 2])
    ids = np.array([wk.person_id for wk in walkers])
    # Arc length along each path, to place the walkers by distance walked.
    paths = [np.asarray(wk.waypoints, dtype=np.float64) for wk in walkers]
    cum = [np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))]) for p in paths]
    out_ids, out_kp = [], []
    for f in range(frames):
        t = f / fps
        hip, heading, height, phase, present = [], [], [], [], []
        for wk, path, c in zip(walkers, paths, cum):
            walked = max(0.0, (f - wk.start) / fps) * wk.speed * wk.height
            present.append(f >= wk.start and walked <= c[-1])
            s = min(walked, c[-1])
            seg = int(np.clip(np.searchsorted(c, s, side="right") - 1, 0, len(path) - 2))
            frac = (s - c[seg]) / max(c[seg + 1] - c[seg], 1e-9)
            p = path[seg] + frac * (path[seg + 1] - path[seg])
            d = path[seg + 1] - path[seg]
            d = d / max(np.hypot(*d), 1e-9)
            scale = (0.5 + p[1] / h) / (0.5 + path[0][1] / h) if wk.depth_scaled else 1.0
            hip.append(p)
            heading.append(d)
            height.append(wk.height * scale)
            phase.append(2 * np.pi * walked / (0.9 * wk.height))
        hip, heading, height, phase, present = map(np.asarray, (hip, heading, height, phase, present))
        kp = _walker_pose(hip, height, heading, phase)
        nearness = hip[:, 1]  # lower in the image = nearer: hides the others
        if camera is not None:
            px, py, zoom = camera(t)
            kp = (kp - centre - np.array([px, py])) * zoom + centre
            height = height * zoom
        hidden = _occluded(kp, nearness, height, present)
        hidden[[any(a <= f <= b for a, b in wk.hidden) for wk in walkers]] = True
        inside = (kp[..., 0] >= 0) & (kp[..., 0] <= w - 1) & (kp[..., 1] >= 0) & (kp[..., 1] <= h - 1)
        v = np.where(hidden, 1, 2) * (inside & _face_labelled(heading))
        if any(a <= f <= b for a, b in blank):
            v[:] = 0
        keep = present & (v > 0).any(axis=1)
        out_ids.append(ids[keep])
        out_kp.append(np.concatenate([kp, v[..., None]], axis=-1)[keep])
    return MotionSequence(name, (w, h), fps, out_ids, out_kp)


def _lanes(rng: np.random.Generator, count: int, w: int, h: int, laps: int) -> list[Walker]:
    """People walking back and forth on horizontal lanes at different depths, turning at the ends."""
    walkers = []
    # Lanes a head apart in depth: people pass in front of one another only partly.
    ys = np.linspace(0.4 * h, 0.9 * h, count)
    for i, y in enumerate(rng.permutation(ys)):
        x0, x1 = sorted(rng.uniform([0.05 * w, 0.6 * w], [0.4 * w, 0.95 * w]))
        y0, y1 = y + rng.uniform(-0.02, 0.02, 2) * h
        points = [(x0, y0), (x1, y1)] * laps
        if rng.random() < 0.5:
            points = points[::-1]
        walkers.append(Walker(i + 1, tuple(points), height=float(0.22 * h * (0.6 + y / h)),
                              speed=float(rng.uniform(0.6, 1.0))))
    return walkers


def _scenario_walking(rng, w, h, frames):
    return walking_sequence(_lanes(rng, 4, w, h, laps=8), frames, (w, h), name="walking")


def _scenario_crossing(rng, w, h, frames):
    """Pairs at (nearly) the same depth walking at each other and crossing, again and again."""
    walkers = []
    for pair, y in enumerate((0.5 * h, 0.8 * h)):
        height = float(0.3 * h * (0.6 + y / h))
        dy = rng.uniform(2, 6)  # the pair's lanes differ slightly: one passes in front
        lo, hi = 0.1 * w, 0.9 * w
        walkers.append(Walker(2 * pair + 1, ((lo, y), (hi, y)) * 6, height, speed=0.8, depth_scaled=False))
        walkers.append(Walker(2 * pair + 2, ((hi, y + dy), (lo, y + dy)) * 6, height, speed=0.8,
                              start=int(rng.integers(0, 10)), depth_scaled=False))
    return walking_sequence(walkers, frames, (w, h), name="crossing")


def _scenario_occlusion(rng, w, h, frames):
    """Each walker wholly hidden for 5 frames every 40-70 frames, and 5-frame blank gaps."""
    walkers = []
    for wk in _lanes(rng, 4, w, h, laps=8):
        starts = np.cumsum(rng.integers(40, 70, size=frames // 40 + 1)) + int(rng.integers(0, 20))
        walkers.append(dataclasses.replace(wk, hidden=tuple((int(s), int(s) + 4) for s in starts if s < frames)))
    blank = tuple((s, s + 4) for s in range(75, frames, 90))
    return walking_sequence(walkers, frames, (w, h), blank=blank, name="occlusion")


def _scenario_leave_reenter(rng, w, h, frames):
    """People walk out of the frame, turn outside and come back, out of sight for up to ~1 s."""
    walkers = []
    for i, y in enumerate(np.linspace(0.5 * h, 0.85 * h, 4)):
        height = float(0.3 * h * (0.6 + y / h))
        beyond = rng.uniform(0.05, 0.25) * height  # how far beyond the edge the body goes
        inside = rng.uniform(0.3, 0.7) * w
        exit_x = -beyond - 0.2 * height if i % 2 else w + beyond + 0.2 * height
        points = ((inside, y), (exit_x, y)) * 6
        walkers.append(Walker(i + 1, points, height, speed=float(rng.uniform(0.6, 0.9)), depth_scaled=False))
    return walking_sequence(walkers, frames, (w, h), name="leave/re-enter")


def _scenario_pan_zoom(rng, w, h, frames):
    """The walking scene filmed by a camera that pans and zooms (0.8-1.3x) smoothly."""
    walkers = _lanes(rng, 4, w, h, laps=8)
    a, b = rng.uniform(0.1, 0.2, 2) * w

    def camera(t):
        return a * np.sin(0.5 * t), 0.05 * h * np.sin(0.7 * t), 1.05 + 0.25 * np.sin(0.4 * t + 1)

    return walking_sequence(walkers, frames, (w, h), camera=camera, name="pan/zoom")


#: Scenario name -> generator(rng, width, height, frames) -> MotionSequence.
SCENARIOS: dict[str, Callable[..., MotionSequence]] = {
    "walking": _scenario_walking,
    "crossing": _scenario_crossing,
    "occlusion": _scenario_occlusion,
    "leave/re-enter": _scenario_leave_reenter,
    "pan/zoom": _scenario_pan_zoom,
}


def make_scenario(name: str, frames: int = 300, seed: int = 0,
                  image_size: tuple[int, int] = (640, 480)) -> MotionSequence:
    """The named scenario of :data:`SCENARIOS`, generated from ``seed``."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; expected one of {sorted(SCENARIOS)}")
    return SCENARIOS[name](np.random.default_rng(seed), *image_size, frames)


def photo_sequence(image: np.ndarray, annotations: list[dict], frames: int = 20,
                   output_size: tuple[int, int] = (432, 368), seed: int = 0) -> MotionSequence:
    """A camera panning and zooming over a real photo, with its people's keypoints moved along.

    The view is a window of the photo (about 60-95 % of its shorter side, drifting and zooming
    smoothly on a random path), resized to ``output_size``; ids are the annotations' ``id``.

    Args:
        image: (H, W, 3) BGR photo.
        annotations: its COCO person annotations (with ``id`` and 17-keypoint ``keypoints``;
            people without keypoints are left out).
    """
    rng = np.random.default_rng(seed)
    ih, iw = image.shape[:2]
    ow, oh = output_size
    people = [a for a in annotations if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd")]
    ids = np.array([a["id"] for a in people], dtype=np.int64)
    kp = np.array([np.reshape(a["keypoints"], (17, 3)) for a in people], dtype=np.float64).reshape(-1, 17, 3)
    # Window: height as a fraction of the photo's, centre moving between two random points.
    fraction = rng.uniform(0.6, 0.95, 2)
    aspect = ow / oh
    win_h = np.minimum(ih, iw / aspect) * np.linspace(*fraction, frames)
    win_w = win_h * aspect
    start, end = rng.uniform(0.3, 0.7, (2, 2)) * [iw, ih]
    t = (1 - np.cos(np.linspace(0, np.pi, frames))) / 2  # ease in and out
    cx = np.clip(start[0] + t * (end[0] - start[0]), win_w / 2, iw - win_w / 2)
    cy = np.clip(start[1] + t * (end[1] - start[1]), win_h / 2, ih - win_h / 2)
    out_ids, out_kp, images = [], [], []
    for f in range(frames):
        zoom = oh / win_h[f]
        x0, y0 = cx[f] - win_w[f] / 2, cy[f] - win_h[f] / 2
        affine = np.array([[zoom, 0, -x0 * zoom], [0, zoom, -y0 * zoom]])
        images.append(cv2.warpAffine(image, affine, (ow, oh), flags=cv2.INTER_AREA
                                     if zoom < 1 else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
        moved = kp.copy()
        moved[..., 0] = (kp[..., 0] - x0) * zoom
        moved[..., 1] = (kp[..., 1] - y0) * zoom
        inside = (moved[..., 0] >= 0) & (moved[..., 0] <= ow - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= oh - 1)
        moved[..., 2] = np.where(inside, kp[..., 2], 0)
        keep = (moved[..., 2] > 0).any(axis=1)
        out_ids.append(ids[keep])
        out_kp.append(moved[keep])
    return MotionSequence("photo pan/zoom", (ow, oh), 30.0, out_ids, out_kp, images)
