"""Synthetic multi-person scenes with exact COCO keypoint annotations.

Each image is a textured background (gradients, colour clouds, stripes, clutter shapes, noise)
with 0..N articulated figures drawn back to front. A figure comes from a small 2D kinematic model:

- a hip centre, a body height H, a body lean and a yaw angle (facing the camera, away from it, or
  side-on); shoulder and hip widths are foreshortened by the yaw, so in a front view the person's
  left is on the image's right and in a back view on its left;
- arms and legs as two segments each, with joint angles drawn from plausible ranges (mostly hanging
  and walking poses, sometimes raised arms or kicks) and random depth foreshortening;
- a head whose eyes, nose and ears sit on a circle turned by the head's yaw: features on the far
  side of the head are hidden (nose/eyes then unlabelled, ears occluded), a face is drawn only when
  it looks towards the camera and hair covers the back of the head, which is what tells front from
  back (and so left from right).

Parts are filled polygons (capsule-like ellipses for limbs, a quadrilateral torso) with per-person
clothing and skin colours (left and right in the same colours, so colour never names a joint),
dark outlines and round joint knobs. Drawing order follows depth, within and between figures
(people lower in the image are nearer).

Annotations follow COCO: 17 keypoints with v=2 visible, v=1 occluded (the pixel is covered by
another part or person) and v=0 outside the image or turned away; the segmentation is the outline
of the union of the figure's parts inside the image (its full, amodal extent: parts hidden behind
other people are included), traced and simplified to ~1 pixel like annotators' polygons; area and
bbox are those of that segmentation. Each scene may also hold a crowd (a cluster of small
figures annotated as one iscrowd=1 region, uncompressed RLE) and unannotated people (segmentation
only, num_keypoints=0), which the loss masks switch off.

Every image is generated from its own ``numpy`` generator seeded with (seed, image index), so a
dataset is reproducible whatever the order or number of images generated.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..codec.skeleton import COCO17
from ..errors import UserError
from ..io.outputs import ensure_folder, write_image, write_json

__all__ = ["SceneConfig", "SynthStats", "render_scene", "generate_dataset", "COCO_CATEGORY"]

#: The COCO person category with its keypoint names and (1-based) skeleton, as in COCO files.
COCO_CATEGORY = {
    "supercategory": "person",
    "id": 1,
    "name": "person",
    "keypoints": [n.replace("l_", "left_").replace("r_", "right_") for n in COCO17.keypoint_names],
    "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs],
}

_K = {name: i for i, name in enumerate(COCO17.keypoint_names)}
# Body parts; a keypoint counts as visible when the topmost part at its pixel is one of its own.
_TORSO, _HEAD, _L_UARM, _L_FARM, _R_UARM, _R_FARM, _L_THIGH, _L_SHIN, _R_THIGH, _R_SHIN = range(10)
_OWNERS = {
    "nose": (_HEAD,), "l_eye": (_HEAD,), "r_eye": (_HEAD,), "l_ear": (_HEAD,), "r_ear": (_HEAD,),
    "l_shoulder": (_TORSO, _L_UARM), "r_shoulder": (_TORSO, _R_UARM),
    "l_elbow": (_L_UARM, _L_FARM), "r_elbow": (_R_UARM, _R_FARM),
    "l_wrist": (_L_FARM,), "r_wrist": (_R_FARM,),
    "l_hip": (_TORSO, _L_THIGH), "r_hip": (_TORSO, _R_THIGH),
    "l_knee": (_L_THIGH, _L_SHIN), "r_knee": (_R_THIGH, _R_SHIN),
    "l_ankle": (_L_SHIN,), "r_ankle": (_R_SHIN,),
}
_OWNER_TABLE = np.array([[part in _OWNERS[name] for part in range(10)] for name in COCO17.keypoint_names])
_PARTS_PER_PERSON = 16  # label = person * 16 + part + 1 in the occlusion label image


@dataclass(frozen=True)
class SceneConfig:
    """What a synthetic scene may contain.

    Attributes:
        image_size: (W, H) in pixels.
        max_people: most annotated people per image (uniform in 1..max_people; see empty_prob).
        min_height, max_height: annotated people's body height as a fraction of the image height
            (log-uniform).
        min_keypoint_area: people whose segmentation area (inside the image) is below this get no
            keypoints (num_keypoints = 0), as in COCO, where small people are not keypoint-labelled;
            the loss mask then covers them and COCO evaluation ignores them.
        max_overlap: None, or the largest fraction of an annotated person's bounding box that
            another annotated person's box may cover; a person is re-placed (up to 20 tries) and
            left out when no place is free, so busy scenes hold fewer people.
        empty_prob: probability of an image without annotated people.
        crowd_prob: probability of a crowd region (iscrowd=1) in an image.
        unannotated_prob: probability of each of up to two unannotated people.
        clutter: most background distractor shapes.
    """

    image_size: tuple[int, int] = (368, 368)
    max_people: int = 4
    min_height: float = 0.2
    max_height: float = 0.95
    min_keypoint_area: float = 32 * 32
    max_overlap: float | None = None
    empty_prob: float = 0.05
    crowd_prob: float = 0.15
    unannotated_prob: float = 0.15
    clutter: int = 8

    def __post_init__(self) -> None:
        w, h = self.image_size
        if w < 32 or h < 32:
            raise UserError(f"synthetic image size must be at least 32x32, got {w}x{h}")
        if self.max_people < 0:
            raise UserError(f"max_people must be >= 0, got {self.max_people}")
        if not 0 < self.min_height <= self.max_height:
            raise UserError(f"need 0 < min_height <= max_height, got {self.min_height}, {self.max_height}")
        if self.max_overlap is not None and not 0 <= self.max_overlap <= 1:
            raise UserError(f"max_overlap must lie in [0, 1], got {self.max_overlap}")


# --------------------------------------------------------------------------------------------
# backgrounds
# --------------------------------------------------------------------------------------------


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> np.ndarray:
    return rng.integers(lo, hi, size=3).astype(np.float32)


def _background(rng: np.random.Generator, w: int, h: int, clutter: int) -> np.ndarray:
    """(H, W, 3) float32 texture: a blend of gradient, colour clouds and stripes, plus clutter."""
    # Gradient: four random corner colours, bilinearly interpolated.
    corners = rng.uniform(0, 255, size=(2, 2, 3)).astype(np.float32)
    image = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.7:  # smooth colour clouds: random low-resolution noise, upsampled
        cells = int(rng.integers(2, 12))
        clouds = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
        clouds = cv2.resize(clouds, (w, h), interpolation=cv2.INTER_CUBIC)
        image = cv2.addWeighted(image, 1 - (alpha := rng.uniform(0.3, 0.9)), clouds, alpha, 0)
    if rng.random() < 0.35:  # stripes or checks
        period = rng.uniform(6, 60)
        a = rng.uniform(0, np.pi)
        x = np.arange(w, dtype=np.float32)[None, :]
        y = np.arange(h, dtype=np.float32)[:, None]
        wave = np.sin((x * np.cos(a) + y * np.sin(a)) * (2 * np.pi / period) + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.3:
            wave = wave * np.sin((y * np.cos(a) - x * np.sin(a)) * (2 * np.pi / period))
        stripe = (wave > 0).astype(np.float32) if rng.random() < 0.5 else (wave + 1) / 2
        stripe = (stripe * rng.uniform(0.2, 0.7))[..., None]
        image = image * (1 - stripe) + _colour(rng) * stripe
    image = np.ascontiguousarray(np.clip(image, 0, 255), dtype=np.float32)
    for _ in range(int(rng.integers(0, clutter + 1))):
        _clutter_shape(rng, image, w, h)
    return image


def _clutter_shape(rng: np.random.Generator, image: np.ndarray, w: int, h: int) -> None:
    """A random rectangle, disc, line or capsule: distractors that are not people."""
    colour = tuple(float(c) for c in _colour(rng))
    centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
    size = int(rng.uniform(0.03, 0.25) * min(w, h)) + 2
    kind = rng.integers(4)
    if kind == 0:
        cv2.rectangle(image, centre, (centre[0] + size, centre[1] + int(size * rng.uniform(0.3, 2))),
                      colour, -1)
    elif kind == 1:
        cv2.circle(image, centre, size // 2, colour, -1, cv2.LINE_AA)
    elif kind == 2:
        end = (centre[0] + int(rng.normal(0, size)), centre[1] + int(rng.normal(0, size)))
        cv2.line(image, centre, end, colour, int(rng.integers(1, 6)), cv2.LINE_AA)
    else:
        cv2.ellipse(image, centre, (size, max(size // 5, 2)), float(rng.uniform(0, 180)), 0, 360,
                    colour, -1, cv2.LINE_AA)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


@dataclass
class _Figure:
    keypoints: np.ndarray  # (17, 2) float64 image pixels
    labelled: np.ndarray  # (17,) bool: False for features turned away from the camera
    hidden: np.ndarray  # (17,) bool: behind the figure's own head (v=1 even where uncovered)
    parts: list  # (depth, part id, polygon (N, 2) float64, colour) in any order
    decorations: list  # (polygon, colour) drawn on top of the head: eyes, nose, hair


def _ellipse_polygon(centre, axis_u, a: float, b: float, points: int = 20) -> np.ndarray:
    """(points, 2) polygon of an ellipse with semi-axis a along unit vector axis_u and b across."""
    cos, sin = _unit_circle(points)
    u = np.asarray(axis_u, dtype=np.float64)
    v = np.array([-u[1], u[0]])
    return np.asarray(centre) + np.outer(a * cos, u) + np.outer(b * sin, v)


@functools.lru_cache(maxsize=None)
def _unit_circle(points: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    return np.cos(t), np.sin(t)


def _capsule(p1: np.ndarray, p2: np.ndarray, width: float) -> np.ndarray:
    """A limb from p1 to p2: an ellipse whose tips reach just past both joints."""
    d = p2 - p1
    length = float(np.hypot(*d))
    u = d / length if length > 1e-6 else np.array([1.0, 0.0])
    return _ellipse_polygon((p1 + p2) / 2, u, length / 2 + width * 0.45, width / 2)


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _sample_figure(rng: np.random.Generator, hip: np.ndarray, height: float) -> _Figure:
    """One person from the kinematic model (see module docstring)."""
    lean = rng.normal(0, 0.12)
    up = np.array([np.sin(lean), -np.cos(lean)])
    right = np.array([-up[1], up[0]])  # image-right direction of the body frame
    view = rng.random()
    yaw = rng.normal(0, 0.35) if view < 0.6 else (np.pi + rng.normal(0, 0.35) if view < 0.8
                                                   else rng.choice([-1, 1]) * np.pi / 2 + rng.normal(0, 0.3))
    facing = np.cos(yaw)  # > 0: towards the camera, person's left on the image's right
    build = rng.uniform(0.8, 1.25)  # width multiplier
    H = height

    kp = np.zeros((17, 2))
    neck = hip + up * 0.30 * H
    # Lateral offsets shrink with yaw, but never below a sliver, so torsos do not vanish side-on.
    shoulder_off = right * 0.12 * H * build * facing
    hip_off = right * 0.075 * H * build * facing
    kp[_K["l_shoulder"]], kp[_K["r_shoulder"]] = neck + shoulder_off, neck - shoulder_off
    kp[_K["l_hip"]], kp[_K["r_hip"]] = hip + hip_off, hip - hip_off
    side_depth = -np.sin(yaw)  # depth (towards camera) of the person's left side

    parts: list = []
    shirt, skin, pants = _colour(rng, 20, 240), _skin(rng), _colour(rng, 10, 220)
    sleeves = rng.random() < 0.5
    shoes = _colour(rng, 0, 90)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        # "Outward" for this side in the image; side-on, limbs swing to either side.
        out = sign * np.sign(facing) if abs(facing) > 0.3 else rng.choice([-1.0, 1.0])
        sho, hp = kp[_K[f"{side}_shoulder"]], kp[_K[f"{side}_hip"]]
        down = -up
        raised = rng.random() < 0.2
        a1 = rng.uniform(0.6, 2.8) if raised else rng.uniform(-0.35, 0.8)
        a2 = a1 + rng.choice([-1, 1]) * rng.uniform(0, 2.4 if raised else 1.6)
        upper, fore = 0.17 * H * rng.uniform(0.7, 1.0), 0.15 * H * rng.uniform(0.7, 1.0)
        elbow = sho + upper * _rotate(down, -out * a1)
        wrist = elbow + fore * _rotate(down, -out * a2)
        kicked = rng.random() < 0.1
        t1 = rng.uniform(0.5, 1.6) if kicked else rng.uniform(-0.3, 0.45)
        t2 = t1 - rng.uniform(0, 1.8 if kicked else 0.9) * rng.choice([-1, 1], p=[0.3, 0.7])
        thigh, shin = 0.24 * H * rng.uniform(0.8, 1.0), 0.23 * H * rng.uniform(0.8, 1.0)
        knee = hp + thigh * _rotate(down, -out * t1)
        ankle = knee + shin * _rotate(down, -out * t2)
        kp[_K[f"{side}_elbow"]], kp[_K[f"{side}_wrist"]] = elbow, wrist
        kp[_K[f"{side}_knee"]], kp[_K[f"{side}_ankle"]] = knee, ankle
        depth = side_depth * sign
        uarm, farm = (_L_UARM, _L_FARM) if side == "l" else (_R_UARM, _R_FARM)
        thigh_id, shin_id = (_L_THIGH, _L_SHIN) if side == "l" else (_R_THIGH, _R_SHIN)
        arm_w, leg_w = 0.055 * H * build, 0.08 * H * build
        arm_depth = depth + 0.3 * (rng.random() < 0.5 or abs(facing) > 0.3)  # arms often in front
        parts.append((arm_depth, uarm, _capsule(sho, elbow, arm_w), shirt))
        parts.append((arm_depth + 0.01, farm, _capsule(elbow, wrist, arm_w * 0.85),
                      shirt if sleeves else skin))
        parts.append((arm_depth + 0.02, farm, _ellipse_polygon(wrist, up, arm_w * 0.6, arm_w * 0.6, 12), skin))
        parts.append((depth, thigh_id, _capsule(hp, knee, leg_w), pants))
        parts.append((depth + 0.01, shin_id, _capsule(knee, ankle, leg_w * 0.8), pants))
        parts.append((depth + 0.02, shin_id, _ellipse_polygon(ankle + right * out * 0.02 * H, right,
                                                               leg_w * 0.7, leg_w * 0.45, 12), shoes))
    torso_w = max(abs(facing), 0.45) * 0.13 * H * build
    hip_w = max(abs(facing), 0.5) * 0.10 * H * build
    torso = np.array([neck + right * torso_w, neck - right * torso_w, hip - right * hip_w, hip + right * hip_w])
    torso = torso + np.array([up * 0.02 * H, up * 0.02 * H, -up * 0.03 * H, -up * 0.03 * H])
    parts.append((0.0, _TORSO, torso, shirt))

    # Head: features on a circle turned by the head's yaw (depth > 0 faces the camera).
    head_yaw = yaw + rng.normal(0, 0.3)
    head_up = _rotate(up, rng.normal(0, 0.2))
    head_right = np.array([-head_up[1], head_up[0]])
    r = 0.062 * H
    centre = neck + head_up * 0.11 * H
    parts.append((0.05, _HEAD, _ellipse_polygon(centre, head_up, r * 1.18, r, 24), skin))
    labelled = np.ones(17, dtype=bool)
    hidden = np.zeros(17, dtype=bool)
    decorations: list = []
    hair = _colour(rng, 0, 120)
    if np.cos(head_yaw) < 0:  # seen from behind: hair covers the head
        decorations.append((_ellipse_polygon(centre - head_up * 0.05 * r, head_up, r * 1.12, r * 0.95, 24), hair))
    else:
        cap = _ellipse_polygon(centre + head_up * 0.55 * r, head_up, r * 0.6, r * 0.95, 24)
        decorations.append((cap, hair))
    features = {"nose": (0.0, -0.25), "l_eye": (0.45, 0.12), "r_eye": (-0.45, 0.12),
                "l_ear": (np.pi / 2, 0.0), "r_ear": (-np.pi / 2, 0.0)}
    for name, (angle, rise) in features.items():
        lateral, depth = np.sin(angle + head_yaw), np.cos(angle + head_yaw)
        kp[_K[name]] = centre + head_right * (lateral * r * 0.95) + head_up * (rise * r)
        if name.endswith("ear"):
            ear = _ellipse_polygon(kp[_K[name]], head_up, r * 0.3, r * 0.18, 12)
            # An ear on the far side is drawn behind the head (part of the head for occlusion).
            parts.append((0.05 + 0.01 * np.sign(depth), _HEAD, ear, skin * 0.9))
            hidden[_K[name]] = depth < -0.2
        elif depth < -0.15:
            labelled[_K[name]] = False  # turned away: COCO leaves it unlabelled
        elif depth <= 0.1:
            hidden[_K[name]] = True  # on the head's silhouette edge: not drawn, labelled as occluded
        else:
            dark = np.array([30.0, 25.0, 20.0]) if name != "nose" else skin * 0.6
            size = r * (0.16 if name != "nose" else 0.13)
            decorations.append((_ellipse_polygon(kp[_K[name]], head_up, size, size * 0.8, 10), dark))
    return _Figure(kp, labelled, hidden, parts, decorations)


def _skin(rng: np.random.Generator) -> np.ndarray:
    tone = rng.uniform(0.25, 1.0)
    return np.array([90 + 110 * tone, 120 + 95 * tone, 150 + 90 * tone], dtype=np.float32)


def _draw(image: np.ndarray, labels: np.ndarray, figure: _Figure, person: int) -> list:
    """Draw a figure back to front into the image and the occlusion label map; return its polygons."""
    polygons = []
    order = sorted(range(len(figure.parts)), key=lambda i: figure.parts[i][0])
    for i in order:
        _, part, poly, colour = figure.parts[i]
        pts = np.round(poly * 16).astype(np.int32)[None]
        cv2.fillPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, shift=4)
        cv2.polylines(image, pts, True, tuple(float(c) * 0.55 for c in colour), 1, cv2.LINE_AA, shift=4)
        cv2.fillPoly(labels, pts, person * _PARTS_PER_PERSON + part + 1, cv2.LINE_8, shift=4)
        polygons.append(poly)
    for poly, colour in figure.decorations:
        pts = np.round(poly * 16).astype(np.int32)[None]
        cv2.fillPoly(image, pts, tuple(float(c) for c in colour), cv2.LINE_AA, shift=4)
    # Round joint knobs make every joint locatable without naming it.
    knob = max(1.0, 0.012 * float(np.ptp(figure.keypoints[:, 1])))
    for k in (_K["l_elbow"], _K["r_elbow"], _K["l_knee"], _K["r_knee"], _K["l_shoulder"], _K["r_shoulder"]):
        x, y = np.round(figure.keypoints[k] * 16).astype(int)
        part_colour = image[min(max(int(y) >> 4, 0), image.shape[0] - 1), min(max(int(x) >> 4, 0), image.shape[1] - 1)]
        cv2.circle(image, (int(x), int(y)), int(knob * 16), tuple(float(c) * 0.7 for c in part_colour),
                   -1, cv2.LINE_AA, shift=4)
    return polygons


def _region_rle(polygons: list, h: int, w: int) -> dict:
    return mask_utils.merge(mask_utils.frPyObjects([p.reshape(-1).tolist() for p in polygons], h, w))


def _outline(region: np.ndarray) -> list[list[float]]:
    """COCO polygons tracing the outer boundary of an (H, W) 0/1 region, simplified to ~1 pixel.

    Like annotators' outlines: compact (tens of vertices per person rather than the hundreds of
    all part polygons), which keeps annotation files small and fast to parse.
    """
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        points = cv2.approxPolyDP(contour, 1.0, True).reshape(-1, 2)
        if len(points) >= 3:
            polygons.append(points.astype(float).reshape(-1).tolist())
    return polygons


def _uncompressed_rle(binary: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major run lengths, starting with zeros) of an (H, W) mask."""
    flat = np.asfortranarray(binary).reshape(-1, order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"counts": counts, "size": list(binary.shape)}


def _place(rng: np.random.Generator, w: int, h: int, height: float) -> np.ndarray:
    """A hip position that keeps most of a person of this height inside the image."""
    lo, hi = 0.55 * height - 0.1 * height, h - 0.45 * height + 0.1 * height
    y = rng.uniform(lo, hi) if hi > lo else h / 2
    return np.array([rng.uniform(0.05 * w, 0.95 * w), y])


_PLACEMENT_TRIES = 20


def _extent(figure: _Figure) -> np.ndarray:
    """(x0, y0, x1, y1) around all of a figure's part polygons."""
    points = np.concatenate([polygon for _, _, polygon, _ in figure.parts])
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of boxes a and b over the smaller one's area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / max(smaller, 1e-9))


def render_scene(rng: np.random.Generator, cfg: SceneConfig = SceneConfig()) -> tuple[np.ndarray, list[dict]]:
    """One synthetic scene.

    Returns:
        (H, W, 3) BGR uint8 image and its COCO person annotations (without "id"/"image_id"):
        keypoints (51 numbers, COCO-17), num_keypoints, iscrowd, segmentation, area, bbox,
        category_id.
    """
    w, h = cfg.image_size
    image = _background(rng, w, h, cfg.clutter)
    labels = np.zeros((h, w), dtype=np.uint16)
    annotations: list[dict] = []

    if rng.random() < cfg.crowd_prob:  # a distant cluster of small figures, annotated as one region
        centre = rng.uniform([0.1 * w, 0.2 * h], [0.9 * w, 0.7 * h])
        crowd = []
        for _ in range(int(rng.integers(4, 11))):
            height = rng.uniform(0.06, 0.14) * h
            hip = centre + rng.normal(0, [0.08 * w, 0.04 * h])
            crowd.extend(_draw(image, labels, _sample_figure(rng, hip, height), 0))
        region = mask_utils.decode(_region_rle(crowd, h, w))
        if region.any():
            annotations.append(_annotation(np.zeros((17, 3)), _uncompressed_rle(region), region, iscrowd=1))

    if rng.random() < cfg.empty_prob or cfg.max_people == 0:
        count = 0
    else:
        count = int(rng.integers(1, cfg.max_people + 1))
    people, boxes = [], []
    for _ in range(count):
        height = float(np.exp(rng.uniform(np.log(cfg.min_height), np.log(cfg.max_height)))) * h
        for _ in range(1 if cfg.max_overlap is None else _PLACEMENT_TRIES):
            figure = _sample_figure(rng, _place(rng, w, h, height), height)
            box = _extent(figure)
            if cfg.max_overlap is None or all(_overlap(box, other) <= cfg.max_overlap for other in boxes):
                people.append((figure, True))
                boxes.append(box)
                break
    for _ in range(2):
        if rng.random() < cfg.unannotated_prob:
            height = rng.uniform(0.12, 0.4) * h
            people.append((_sample_figure(rng, _place(rng, w, h, height), height), False))
    # Nearer people (feet lower in the image) are drawn later.
    people.sort(key=lambda item: item[0].keypoints[[_K["l_ankle"], _K["r_ankle"]], 1].max())
    drawn = [(fig, annotated, _draw(image, labels, fig, i + 1)) for i, (fig, annotated) in enumerate(people)]

    image = _finish(rng, image)
    for i, (figure, annotated, polygons) in enumerate(drawn):
        segmentation = _outline(mask_utils.decode(_region_rle(polygons, h, w)))
        if not segmentation:  # entirely outside the image
            continue
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, h, w))
        if mask_utils.area(rle) == 0:
            continue
        keypoints = np.zeros((17, 3))
        if annotated and mask_utils.area(rle) >= cfg.min_keypoint_area:
            keypoints = _visibility(figure, labels, i + 1, w, h)
        annotations.append(_annotation(keypoints, segmentation, rle, iscrowd=0))
    return image, annotations


def _visibility(figure: _Figure, labels: np.ndarray, person: int, w: int, h: int) -> np.ndarray:
    """(17, 3) COCO keypoints: v=0 outside the image or turned away, 1 occluded, 2 visible."""
    xy = figure.keypoints
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
    col = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    row = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    top = labels[row, col].astype(np.int64) - 1
    own = (top // _PARTS_PER_PERSON == person) & _OWNER_TABLE[np.arange(17), np.clip(top % _PARTS_PER_PERSON, 0, 9)]
    v = np.where(own & ~figure.hidden, 2, 1)
    v = np.where(inside & figure.labelled, v, 0)
    out = np.zeros((17, 3))
    out[:, :2] = np.where(v[:, None] > 0, np.round(xy, 2), 0)
    out[:, 2] = v
    return out


def _annotation(keypoints: np.ndarray, segmentation, rle_or_mask, iscrowd: int) -> dict:
    if isinstance(rle_or_mask, np.ndarray):
        rle_or_mask = mask_utils.encode(np.asfortranarray(rle_or_mask))
    return {
        "category_id": 1,
        "iscrowd": iscrowd,
        "keypoints": [float(v) if i % 3 < 2 else int(v) for i, v in enumerate(keypoints.reshape(-1))],
        "num_keypoints": int(np.count_nonzero(keypoints[:, 2] > 0)),
        "segmentation": segmentation,
        "area": float(mask_utils.area(rle_or_mask)),
        "bbox": [round(float(v), 2) for v in mask_utils.toBbox(rle_or_mask)],
    }


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Camera-like finish: slight blur and sensor noise, then 8 bits."""
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    noise = rng.uniform(0, 12)  # uniform sensor noise: as good as Gaussian here, and cheaper
    if noise > 1:
        image = image + (rng.random(image.shape, dtype=np.float32) - 0.5) * noise
    return np.clip(image, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# datasets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthStats:
    """What :func:`generate_dataset` wrote."""

    annotation_file: Path
    images: int
    people: int  # annotated people (with keypoints)
    crowd_regions: int
    unannotated: int  # segmented people without keypoints
    seconds: float


def generate_dataset(out_dir: str | Path, num_images: int, max_people: int = 4, seed: int = 0,
                     image_size: tuple[int, int] = (368, 368), progress: bool = False,
                     **scene_options) -> SynthStats:
    """Write ``<out_dir>/images/NNNNNN.jpg`` and ``<out_dir>/annotations.json`` (COCO format).

    Image i is generated from ``np.random.default_rng([seed, i])``. The JSON is written last and
    atomically, so an interrupted run never leaves a file that looks complete.
    """
    if num_images < 0:
        raise UserError(f"num_images must be >= 0, got {num_images}")
    cfg = SceneConfig(image_size=tuple(int(v) for v in image_size), max_people=max_people, **scene_options)
    out = Path(out_dir)
    image_dir = out / "images"
    ensure_folder(image_dir)
    start = time.perf_counter()
    images, annotations = [], []
    indices = range(num_images)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="synth", unit="img")
    for i in indices:
        image, anns = render_scene(np.random.default_rng([seed, i]), cfg)
        name = f"{i:06d}.jpg"
        write_image(image_dir / name, image, jpeg_quality=92)  # cv2.imwrite hides why it failed
        images.append({"id": i + 1, "file_name": name, "width": cfg.image_size[0], "height": cfg.image_size[1]})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **ann})
    data = {
        "info": {"description": f"pafpose synthetic scenes (seed {seed}, {num_images} images, "
                                f"max {max_people} people, {cfg.image_size[0]}x{cfg.image_size[1]})"},
        "licenses": [],
        "categories": [COCO_CATEGORY],
        "images": images,
        "annotations": annotations,
    }
    path = out / "annotations.json"
    write_json(path, data)
    return SynthStats(
        annotation_file=path,
        images=num_images,
        people=sum(1 for a in annotations if a["num_keypoints"] > 0),
        crowd_regions=sum(1 for a in annotations if a["iscrowd"]),
        unannotated=sum(1 for a in annotations if not a["iscrowd"] and a["num_keypoints"] == 0),
        seconds=time.perf_counter() - start,
    )
