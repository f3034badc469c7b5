"""Keypoint layouts: COCO-17 (the dataset's) and OpenPose's COCO-18 (with a neck), limbs, flips.

This module is the one source of truth for keypoint order, limb order, left/right symmetry and
what a renderer draws (which limbs, in which colours). Everything else (targets, decoding, flip
augmentation, flip test, weight conversion, rendering, tracking) asks a :class:`Skeleton`
instead of hard-coding indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Skeleton",
    "OPENPOSE_COLOURS",
    "COCO17",
    "COCO18",
    "COCO17_TO_COCO18",
    "get_skeleton",
    "coco17_to_coco18",
    "coco18_to_coco17",
    "convert_keypoints",
    "flip_keypoints",
    "skeleton_of",
    "keypoint_sigmas",
]

#: OpenPose's colour table, BGR as the CMU Python demo draws it with OpenCV: row i colours both
#: COCO-18 keypoint i and COCO-18 limb i. Other skeletons take their colours from it by name.
OPENPOSE_COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
_COCO18_NAMES = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# The 19 limbs of the original CMU demo, in its order.
_COCO18_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
    (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17),
)
_KEYPOINT_COLOUR = dict(zip(_COCO18_NAMES, OPENPOSE_COLOURS))
_LIMB_COLOUR = {frozenset((_COCO18_NAMES[a], _COCO18_NAMES[b])): OPENPOSE_COLOURS[i]
                for i, (a, b) in enumerate(_COCO18_LIMBS[:len(OPENPOSE_COLOURS)])}
_GREY = (160, 160, 160)


def _flip_permutation(names: tuple[str, ...]) -> tuple[int, ...]:
    """Index of each keypoint's mirror image: ``l_x`` <-> ``r_x``; unpaired names map to themselves."""
    swap = {"l_": "r_", "r_": "l_"}
    index = {name: i for i, name in enumerate(names)}
    return tuple(index.get(swap.get(n[:2], n[:2]) + n[2:], i) for i, n in enumerate(names))


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    Attributes:
        name: short identifier ("coco17", "coco18").
        keypoint_names: names in channel order.
        limbs: (j1, j2) index pairs; a PAF points from j1 to j2.
        flip: ``flip[k]`` is the keypoint that k becomes in a horizontally mirrored image.
        hidden_limbs: limbs renderers leave out (OpenPose skips the ear-shoulder limbs, which
            exist only to make the grouping robust).
        flip: ``flip[k]`` is the keypoint that k becomes in a horizontally mirrored image.
        limb_flip: ``limb_flip[l]`` is the limb that l becomes in a mirrored image (same
            direction), or None when the limb list is not closed under mirroring (COCO-17's own
            skeleton has cross-body limbs that mirror onto themselves reversed; it carries no PAFs).
        keypoint_colours, limb_colours: BGR drawing colours, OpenPose's for the same keypoint
            names and limbs between the same names; a limb OpenPose does not have takes its
            first keypoint's colour.
    """

    name: str
    keypoint_names: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    hidden_limbs: tuple[int, ...] = ()
    flip: tuple[int, ...] = field(init=False)
    limb_flip: tuple[int, ...] | None = field(init=False)
    keypoint_colours: tuple[tuple[int, int, int], ...] = field(init=False)
    limb_colours: tuple[tuple[int, int, int], ...] = field(init=False)

    def __post_init__(self) -> None:
        flip = _flip_permutation(self.keypoint_names)
        limb_index = {limb: i for i, limb in enumerate(self.limbs)}
        mirrored = [limb_index.get((flip[a], flip[b])) for a, b in self.limbs]
        limb_flip = None if None in mirrored else tuple(mirrored)
        object.__setattr__(self, "flip", flip)
        object.__setattr__(self, "limb_flip", limb_flip)
        names = self.keypoint_names
        keypoint_colours = tuple(_KEYPOINT_COLOUR.get(n, _GREY) for n in names)
        limb_colours = tuple(_LIMB_COLOUR.get(frozenset((names[a], names[b])), keypoint_colours[a])
                             for a, b in self.limbs)
        object.__setattr__(self, "keypoint_colours", keypoint_colours)
        object.__setattr__(self, "limb_colours", limb_colours)

    @property
    def drawn_limbs(self) -> tuple[int, ...]:
        """Indices of the limbs a renderer draws, in limb order."""
        return tuple(i for i in range(self.num_limbs) if i not in self.hidden_limbs)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def num_limbs(self) -> int:
        return len(self.limbs)

    @property
    def paf_flip(self) -> np.ndarray:
        """Channel permutation of a stacked (2L, H, W) PAF under a horizontal flip.

        The x channels must additionally be negated (see :func:`pafpose.codec.targets.flip_pafs`).
        """
        if self.limb_flip is None:
            raise ValueError(f"skeleton {self.name!r} has no mirror-symmetric limb list for PAFs")
        perm = np.asarray(self.limb_flip)
        return np.stack([2 * perm, 2 * perm + 1], axis=1).reshape(-1)


COCO17 = Skeleton(
    name="coco17",
    keypoint_names=(
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
    ),
    # COCO's own skeleton (the dataset's "skeleton" field), 0-based.
    limbs=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
        (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
    ),
    hidden_limbs=(17, 18),  # ear-shoulder, as OpenPose draws COCO-18
)

COCO18 = Skeleton(
    name="coco18",
    keypoint_names=_COCO18_NAMES,
    limbs=_COCO18_LIMBS,
    hidden_limbs=(17, 18),  # ear-shoulder: not drawn, but they carry PAFs
)

_SKELETONS = {s.name: s for s in (COCO17, COCO18)}

#: For each COCO-18 keypoint, its COCO-17 index (-1 for the neck, which COCO does not label).
COCO17_TO_COCO18 = np.array(
    [COCO17.keypoint_names.index(n) if n in COCO17.keypoint_names else -1
     for n in COCO18.keypoint_names]
)
_NECK = COCO18.keypoint_names.index("neck")
_L_SHOULDER = COCO17.keypoint_names.index("l_shoulder")
_R_SHOULDER = COCO17.keypoint_names.index("r_shoulder")

#: Per-keypoint OKS sigmas of COCO keypoint evaluation, COCO-17 order.
COCO_SIGMAS = np.array(
    [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87,
     0.89, 0.89]
) / 10.0


def keypoint_sigmas(skeleton: str | Skeleton) -> np.ndarray:
    """(K,) COCO OKS sigmas in ``skeleton``'s order; the neck, which COCO does not label, takes
    the shoulders' (it sits between them)."""
    sk = get_skeleton(skeleton)
    by_name = dict(zip(COCO17.keypoint_names, COCO_SIGMAS))
    by_name["neck"] = by_name["l_shoulder"]
    return np.array([by_name[n] for n in sk.keypoint_names])


def skeleton_of(keypoints: np.ndarray) -> Skeleton:
    """The skeleton of (..., K, 3) keypoints, told apart by K (17: COCO-17, 18: COCO-18)."""
    count = np.shape(keypoints)[-2]
    for sk in _SKELETONS.values():
        if sk.num_keypoints == count:
            return sk
    raise ValueError(f"no skeleton has {count} keypoints (COCO-17: 17, COCO-18: 18)")


def get_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """Return the skeleton named ``skeleton`` ("coco17" or "coco18"), or ``skeleton`` itself."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    try:
        return _SKELETONS[skeleton]
    except KeyError:
        raise ValueError(
            f"unknown skeleton {skeleton!r}; expected one of {sorted(_SKELETONS)}"
        ) from None


def coco17_to_coco18(keypoints: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO keypoints -> (..., 18, 3) OpenPose order with the neck.

    The neck is the midpoint of the shoulders and exists only when both shoulders are labelled
    (v > 0); its visibility is the smaller of the two.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape[-2:] != (17, 3):
        raise ValueError(f"COCO-17 keypoints must have shape (..., 17, 3), got {kp.shape}")
    out = kp[..., np.maximum(COCO17_TO_COCO18, 0), :].copy()
    left, right = kp[..., _L_SHOULDER, :], kp[..., _R_SHOULDER, :]
    both = (left[..., 2] > 0) & (right[..., 2] > 0)
    neck = np.zeros_like(left)
    neck[..., :2] = (left[..., :2] + right[..., :2]) / 2
    neck[..., 2] = np.minimum(left[..., 2], right[..., 2])
    out[..., _NECK, :] = np.where(both[..., None], neck, 0.0)
    return out


def coco18_to_coco17(keypoints: np.ndarray) -> np.ndarray:
    """(..., 18, 3) OpenPose-order keypoints -> (..., 17, 3) COCO order (the neck is dropped)."""
    kp = np.asarray(keypoints)
    if kp.shape[-2:] != (18, 3):
        raise ValueError(f"COCO-18 keypoints must have shape (..., 18, 3), got {kp.shape}")
    order = np.argsort(COCO17_TO_COCO18)[1:]  # COCO-18 index of each COCO-17 keypoint
    return kp[..., order, :]


def convert_keypoints(keypoints: np.ndarray, target: str | Skeleton) -> np.ndarray:
    """(..., K, 3) COCO-17 or COCO-18 keypoints (told apart by K) in ``target``'s layout.

    The neck is added (see :func:`coco17_to_coco18`) or dropped as needed; keypoints already in
    ``target``'s layout come back as a copy.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    source = {COCO17.num_keypoints: COCO17, COCO18.num_keypoints: COCO18}.get(kp.shape[-2])
    target = get_skeleton(target)
    if source is None or kp.shape[-1] != 3 or target not in (COCO17, COCO18):
        raise ValueError(f"cannot convert keypoints of shape {kp.shape} to {target.name!r} "
                         "(COCO-17 or COCO-18 keypoints, (..., 17 or 18, 3), to either)")
    if source is target:
        return kp.copy()
    return coco17_to_coco18(kp) if target is COCO18 else coco18_to_coco17(kp)


def flip_keypoints(keypoints: np.ndarray, image_width: float, skeleton: str | Skeleton) -> np.ndarray:
    """Mirror (..., K, 3) keypoints in an image of ``image_width`` pixels; left/right are swapped.

    Pixel centres are at integer coordinates, so x maps to ``image_width - 1 - x``.
    """
    sk = get_skeleton(skeleton)
    kp = np.asarray(keypoints, dtype=np.float64)[..., list(sk.flip), :].copy()
    kp[..., 0] = np.where(kp[..., 2] > 0, image_width - 1 - kp[..., 0], kp[..., 0])
    return kp
