"""People for the synthetic scenes: a small 2D kinematic model of a person and its parts.

A figure comes from the model:

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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ...codec.skeleton import COCO17

__all__ = ["Figure", "sample_figure", "random_colour", "KEYPOINT", "OWNER_TABLE", "PARTS_PER_PERSON",
           "ellipse_polygon"]

#: COCO-17 keypoint name -> index.
KEYPOINT = {name: i for i, name in enumerate(COCO17.keypoint_names)}
# Body parts; a keypoint counts as visible when the topmost part at its pixel is one of its own.
TORSO, HEAD, L_UARM, L_FARM, R_UARM, R_FARM, L_THIGH, L_SHIN, R_THIGH, R_SHIN = range(10)
OWNERS = {
    "nose": (HEAD,), "l_eye": (HEAD,), "r_eye": (HEAD,), "l_ear": (HEAD,), "r_ear": (HEAD,),
    "l_shoulder": (TORSO, L_UARM), "r_shoulder": (TORSO, R_UARM),
    "l_elbow": (L_UARM, L_FARM), "r_elbow": (R_UARM, R_FARM),
    "l_wrist": (L_FARM,), "r_wrist": (R_FARM,),
    "l_hip": (TORSO, L_THIGH), "r_hip": (TORSO, R_THIGH),
    "l_knee": (L_THIGH, L_SHIN), "r_knee": (R_THIGH, R_SHIN),
    "l_ankle": (L_SHIN,), "r_ankle": (R_SHIN,),
}
OWNER_TABLE = np.array([[part in OWNERS[name] for part in range(10)] for name in COCO17.keypoint_names])
PARTS_PER_PERSON = 16  # label = person * 16 + part + 1 in the occlusion label image


def random_colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> np.ndarray:
    return rng.integers(lo, hi, size=3).astype(np.float32)


@dataclass
class Figure:
    keypoints: np.ndarray  # (17, 2) float64 image pixels
    labelled: np.ndarray  # (17,) bool: False for features turned away from the camera
    hidden: np.ndarray  # (17,) bool: behind the figure's own head (v=1 even where uncovered)
    parts: list  # (depth, part id, polygon (N, 2) float64, colour) in any order
    decorations: list  # (polygon, colour) drawn on top of the head: eyes, nose, hair


def ellipse_polygon(centre, axis_u, a: float, b: float, points: int = 20) -> np.ndarray:
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
    return ellipse_polygon((p1 + p2) / 2, u, length / 2 + width * 0.45, width / 2)


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def sample_figure(rng: np.random.Generator, hip: np.ndarray, height: float) -> Figure:
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
    kp[KEYPOINT["l_shoulder"]], kp[KEYPOINT["r_shoulder"]] = neck + shoulder_off, neck - shoulder_off
    kp[KEYPOINT["l_hip"]], kp[KEYPOINT["r_hip"]] = hip + hip_off, hip - hip_off
    side_depth = -np.sin(yaw)  # depth (towards camera) of the person's left side

    parts: list = []
    shirt, skin, pants = random_colour(rng, 20, 240), _skin(rng), random_colour(rng, 10, 220)
    sleeves = rng.random() < 0.5
    shoes = random_colour(rng, 0, 90)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        # "Outward" for this side in the image; side-on, limbs swing to either side.
        out = sign * np.sign(facing) if abs(facing) > 0.3 else rng.choice([-1.0, 1.0])
        sho, hp = kp[KEYPOINT[f"{side}_shoulder"]], kp[KEYPOINT[f"{side}_hip"]]
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
        kp[KEYPOINT[f"{side}_elbow"]], kp[KEYPOINT[f"{side}_wrist"]] = elbow, wrist
        kp[KEYPOINT[f"{side}_knee"]], kp[KEYPOINT[f"{side}_ankle"]] = knee, ankle
        depth = side_depth * sign
        uarm, farm = (L_UARM, L_FARM) if side == "l" else (R_UARM, R_FARM)
        thigh_id, shin_id = (L_THIGH, L_SHIN) if side == "l" else (R_THIGH, R_SHIN)
        arm_w, leg_w = 0.055 * H * build, 0.08 * H * build
        arm_depth = depth + 0.3 * (rng.random() < 0.5 or abs(facing) > 0.3)  # arms often in front
        parts.append((arm_depth, uarm, _capsule(sho, elbow, arm_w), shirt))
        parts.append((arm_depth + 0.01, farm, _capsule(elbow, wrist, arm_w * 0.85),
                      shirt if sleeves else skin))
        parts.append((arm_depth + 0.02, farm, ellipse_polygon(wrist, up, arm_w * 0.6, arm_w * 0.6, 12), skin))
        parts.append((depth, thigh_id, _capsule(hp, knee, leg_w), pants))
        parts.append((depth + 0.01, shin_id, _capsule(knee, ankle, leg_w * 0.8), pants))
        parts.append((depth + 0.02, shin_id, ellipse_polygon(ankle + right * out * 0.02 * H, right,
                                                               leg_w * 0.7, leg_w * 0.45, 12), shoes))
    torso_w = max(abs(facing), 0.45) * 0.13 * H * build
    hip_w = max(abs(facing), 0.5) * 0.10 * H * build
    torso = np.array([neck + right * torso_w, neck - right * torso_w, hip - right * hip_w, hip + right * hip_w])
    torso = torso + np.array([up * 0.02 * H, up * 0.02 * H, -up * 0.03 * H, -up * 0.03 * H])
    parts.append((0.0, TORSO, torso, shirt))

    # Head: features on a circle turned by the head's yaw (depth > 0 faces the camera).
    head_yaw = yaw + rng.normal(0, 0.3)
    head_up = _rotate(up, rng.normal(0, 0.2))
    head_right = np.array([-head_up[1], head_up[0]])
    r = 0.062 * H
    centre = neck + head_up * 0.11 * H
    parts.append((0.05, HEAD, ellipse_polygon(centre, head_up, r * 1.18, r, 24), skin))
    labelled = np.ones(17, dtype=bool)
    hidden = np.zeros(17, dtype=bool)
    decorations: list = []
    hair = random_colour(rng, 0, 120)
    if np.cos(head_yaw) < 0:  # seen from behind: hair covers the head
        decorations.append((ellipse_polygon(centre - head_up * 0.05 * r, head_up, r * 1.12, r * 0.95, 24), hair))
    else:
        cap = ellipse_polygon(centre + head_up * 0.55 * r, head_up, r * 0.6, r * 0.95, 24)
        decorations.append((cap, hair))
    features = {"nose": (0.0, -0.25), "l_eye": (0.45, 0.12), "r_eye": (-0.45, 0.12),
                "l_ear": (np.pi / 2, 0.0), "r_ear": (-np.pi / 2, 0.0)}
    for name, (angle, rise) in features.items():
        lateral, depth = np.sin(angle + head_yaw), np.cos(angle + head_yaw)
        kp[KEYPOINT[name]] = centre + head_right * (lateral * r * 0.95) + head_up * (rise * r)
        if name.endswith("ear"):
            ear = ellipse_polygon(kp[KEYPOINT[name]], head_up, r * 0.3, r * 0.18, 12)
            # An ear on the far side is drawn behind the head (part of the head for occlusion).
            parts.append((0.05 + 0.01 * np.sign(depth), HEAD, ear, skin * 0.9))
            hidden[KEYPOINT[name]] = depth < -0.2
        elif depth < -0.15:
            labelled[KEYPOINT[name]] = False  # turned away: COCO leaves it unlabelled
        elif depth <= 0.1:
            hidden[KEYPOINT[name]] = True  # on the head's silhouette edge: not drawn, labelled as occluded
        else:
            dark = np.array([30.0, 25.0, 20.0]) if name != "nose" else skin * 0.6
            size = r * (0.16 if name != "nose" else 0.13)
            decorations.append((ellipse_polygon(kp[KEYPOINT[name]], head_up, size, size * 0.8, 10), dark))
    return Figure(kp, labelled, hidden, parts, decorations)


def _skin(rng: np.random.Generator) -> np.ndarray:
    tone = rng.uniform(0.25, 1.0)
    return np.array([90 + 110 * tone, 120 + 95 * tone, 150 + 90 * tone], dtype=np.float32)
