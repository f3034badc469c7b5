"""Stage 4: people from the matched limbs.

Greedy by limb score: a limb touching one person joins it, one joining two people merges them
when they share no keypoint type, else it is dropped; otherwise it starts a person. When a
connected group of limbs holds each keypoint type at most once, greedy assembly yields exactly
that group, so only groups with a conflict are assembled one limb at a time. Every limb is used,
the two redundant ear-shoulder limbs of COCO-18's 19 included. Fragments that a scored pair left
out by the one-to-one matching joins are then merged when they share no keypoint type (best pair
first), then those a pair joins whose mean projection alone is positive (``bridge_inlier_fraction``:
on noisy maps a short limb's field sinks to the noise, fails the inlier test, and its person
falls apart into fragments that fit together), and an upper and lower body that a person without any neck evidence splits into are
joined where the geometry allows (:func:`join_torsos`).

People with fewer than ``min_parts`` keypoints, or whose mean score per keypoint (sum of
keypoint scores + sum of limb scores, over the number of keypoints: the original's test) is below
``min_score`` times the image's typical keypoint plus limb score, are dropped. The ranking score
``Person.score`` is by default the sum itself (``person_score="total"``), which ranks complete
people above fragments of equal quality: on ground-truth maps of busy synthetic scenes, where
overlapping limbs split some people into fragments, it gives COCO AP 0.860 against 0.823 for the
per-keypoint mean (``person_score="mean"``, the original's value), and the same on the real
COCO samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..people import Person
from ..skeleton import Skeleton
from ..spec import HeadSpec
from .arrays import components, median
from .limbs import LimbCandidates
from .params import DecodeParams
from .peaks import Peaks

__all__ = ["assemble", "join_torsos"]

# Torso length (shoulders to hips) over the longest limb of the two fragments: an upper arm, a
# thigh or a shin is 0.5-0.8 of a torso, an ear-shoulder limb about 0.3.
_TORSO_RANGE = (0.6, 4.0)


def _assemble_greedily(a: np.ndarray, b: np.ndarray, score: np.ndarray, kind: np.ndarray):
    """Best-first assembly of connections (a_i, b_i); returns a person label per connection
    (-1 for dropped ones)."""
    owner: dict[int, int] = {}
    members: list[dict[int, int]] = []  # person -> {keypoint type: candidate}
    label = np.full(len(a), -1)
    for i in np.argsort(-score, kind="stable"):
        ca, cb = int(a[i]), int(b[i])
        pa, pb = owner.get(ca), owner.get(cb)
        if pa is None and pb is None:
            members.append({int(kind[ca]): ca, int(kind[cb]): cb})
            owner[ca] = owner[cb] = label[i] = len(members) - 1
        elif pa is not None and pb is not None:
            if pa != pb:
                if members[pa].keys() & members[pb].keys():
                    continue
                members[pa].update(members[pb])
                for node in members[pb].values():
                    owner[node] = pa
                members[pb] = {}
                label[label == pb] = pa
            label[i] = pa
        else:
            person, new = (pa, cb) if pa is not None else (pb, ca)
            if int(kind[new]) in members[person]:
                continue
            members[person][int(kind[new])] = new
            owner[new] = label[i] = person
    return label


def _merge_fragments(label: np.ndarray, ends: np.ndarray, candidates: LimbCandidates,
                     kind: np.ndarray, num_candidates: int, num_types: int):
    """Merge people that a scored pair joins when they share no keypoint type, best pair first.

    Matching is one-to-one per limb, so a pair whose ends went to two fragments of one person
    (a neck lost to a spurious rival, a limb taken by a neighbour) is left out, yet it is PAF
    evidence that the fragments belong together.

    Args:
        label: (C,) person of each kept connection; ends: (2C,) its candidates a then b.

    Returns:
        (C,) merged, contiguous labels and the bridging pairs as a small record with ``label``
        and ``score`` arrays (their limb scores count for the merged person).
    """
    owner = np.full(num_candidates, -1)
    owner[ends] = np.concatenate([label, label])
    pa, pb = owner[candidates.a], owner[candidates.b]
    num_people = label.max() + 1
    types = np.zeros((num_people, num_types), dtype=bool)
    types[owner[ends], kind[ends]] = True
    bridge = np.flatnonzero((pa >= 0) & (pb >= 0) & (pa != pb))
    bridge = bridge[~(types[pa[bridge]] & types[pb[bridge]]).any(axis=1)]
    root = np.arange(num_people)
    used = []
    for i in bridge[np.argsort(-candidates.score[bridge], kind="stable")]:
        ra, rb = root[pa[i]], root[pb[i]]
        if ra == rb or (types[ra] & types[rb]).any():
            continue
        types[ra] |= types[rb]
        root[root == rb] = ra
        used.append(i)
    _, merged = np.unique(root, return_inverse=True)
    used = np.asarray(used, dtype=np.int64)
    return merged[label], _Bridges(label=merged[pa[used]], score=candidates.score[used])


@dataclass
class _Bridges:
    label: np.ndarray
    score: np.ndarray


def _bridge_weakly(label: np.ndarray, ends: np.ndarray, limb_scores: np.ndarray,
                   rescore: Callable[[np.ndarray, np.ndarray, np.ndarray], LimbCandidates], kind: np.ndarray,
                   limbs: np.ndarray, num_candidates: int, num_types: int) -> tuple[np.ndarray, np.ndarray]:
    """A second fragment merge, on pairs scored with a relaxed test (``rescore``).

    On noisy maps a short limb's field sinks to the noise and fails the inlier test, and its
    person falls apart into fragments that share no keypoint type; that they fit together is
    evidence enough for a pair between them whose mean projection (with the length penalty) is
    positive. Only the pairs a limb between two people that share no type could form are
    scored, so maps of whole people cost nothing.

    Args:
        label: (C + B,) person of each kept connection, then of the bridges of the first merge;
            ends: (2C,) the connections' candidates, a then b; limb_scores: (C + B,).
        rescore: scores given pairs (limb, candidate a, candidate b) (see
            :func:`~pafpose.codec.decode.limbs.score_pairs`).

    Returns:
        The labels and limb scores, extended by the bridges taken.
    """
    n = len(ends) // 2
    person = np.concatenate([label[:n], label[:n]])
    types = np.zeros((label.max() + 1, num_types), dtype=bool)
    types[person, kind[ends]] = True
    apart = types.astype(np.int64) @ types.T.astype(np.int64) == 0  # people sharing no type
    # Every limb that could join two such people: person p's end a, person q's end b.
    p, q, limb = np.nonzero(apart[:, :, None] & types[:, None, limbs[:, 0]] & types[None, :, limbs[:, 1]])
    if not len(limb):
        return label, limb_scores
    candidate = np.zeros(types.shape, dtype=np.int64)
    candidate[person, kind[ends]] = ends
    weak = rescore(limb, candidate[p, limbs[limb, 0]], candidate[q, limbs[limb, 1]])
    if not len(weak.score):
        return label, limb_scores
    merged, bridges = _merge_fragments(label[:n], ends, weak, kind, num_candidates, num_types)
    renamed = np.zeros(len(types), dtype=np.int64)
    renamed[label[:n]] = merged
    return (np.concatenate([merged, renamed[label[n:]], bridges.label]),
            np.concatenate([limb_scores, bridges.score]))


def join_torsos(keypoints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Which person each of P people becomes once split torsos are joined.

    A person whose neck left no evidence at all (no neck peak and no neck fields) falls apart
    into an upper body (head, shoulders, arms) and one or two legs: nothing else links shoulders
    to hips. An upper fragment (a shoulder, no hip, no neck) and a lower one (a hip, no shoulder,
    no neck) that share no keypoint type are joined when the hips lie below the shoulders
    (within 45 degrees of straight down) at a plausible scale: the shoulder-hip distance between
    ``_TORSO_RANGE`` times the longest limb of the two fragments. Closest pairs go first and a
    type is never taken twice, so a nearer torso claims a pair of legs before a farther one can.

    Args:
        keypoints: (P, K, 3) x, y (any unit), score (0 = missing).
        skeleton: names the shoulders, hips and neck; without shoulders or hips nothing joins.

    Returns:
        (P,) int, contiguous person labels from 0.
    """
    names = skeleton.keypoint_names
    shoulders = [names.index(n) for n in ("r_shoulder", "l_shoulder") if n in names]
    hips = [names.index(n) for n in ("r_hip", "l_hip") if n in names]
    root = np.arange(len(keypoints))
    if not shoulders or not hips or len(keypoints) < 2:
        return root
    present = keypoints[:, :, 2] > 0
    necked = present[:, names.index("neck")] if "neck" in names else np.zeros(len(root), dtype=bool)
    has_shoulder, has_hip = present[:, shoulders].any(axis=1), present[:, hips].any(axis=1)
    upper = np.flatnonzero(has_shoulder & ~has_hip & ~necked)
    lower = np.flatnonzero(has_hip & ~has_shoulder & ~necked)
    if not len(upper) or not len(lower):
        return root

    def centre(people: np.ndarray, types: list[int]) -> np.ndarray:  # (n, 2) mean of those present
        weight = present[people][:, types]
        return (keypoints[people][:, types, :2] * weight[:, :, None]).sum(axis=1) / weight.sum(axis=1)[:, None]

    limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)
    ends = keypoints[:, limbs, :2]  # (P, L, 2, 2)
    length = np.where(present[:, limbs].all(axis=2), np.hypot(*(ends[:, :, 1] - ends[:, :, 0]).transpose(2, 0, 1)), 0.0)
    longest = length.max(axis=1)
    gap = centre(lower, hips)[None] - centre(upper, shoulders)[:, None]  # (U, D, 2)
    distance = np.hypot(gap[..., 0], gap[..., 1])
    scale = np.maximum(longest[upper][:, None], longest[lower][None])
    plausible = ((gap[..., 1] > 0) & (np.abs(gap[..., 0]) <= gap[..., 1])
                 & (distance >= _TORSO_RANGE[0] * scale) & (distance <= _TORSO_RANGE[1] * scale)
                 & ~(present[upper][:, None] & present[lower][None]).any(axis=2))
    pair_u, pair_d = np.nonzero(plausible)
    types = present.copy()
    for n in np.argsort(distance[pair_u, pair_d], kind="stable"):
        ru, rd = root[upper[pair_u[n]]], root[lower[pair_d[n]]]
        if ru == rd or (types[ru] & types[rd]).any():
            continue
        types[ru] |= types[rd]
        root[root == rd] = ru
    return np.unique(root, return_inverse=True)[1]


def assemble(peaks: Peaks, connections: LimbCandidates, head: HeadSpec, params: DecodeParams,
             candidates: LimbCandidates | None = None,
             rescore: Callable[[np.ndarray, np.ndarray, np.ndarray], LimbCandidates] | None = None,
             place: Callable[[np.ndarray], np.ndarray] | None = None) -> list[Person]:
    """People from the chosen connections; see the module docstring.

    Args:
        peaks: the candidates (positions in map cells); connections: the matched pairs.
        head: the maps' head (skeleton, and stride for pixel positions).
        candidates: all scored pairs, before matching; fragments they join are merged.
        rescore: scores given pairs (limb, candidate a, candidate b) with a relaxed test;
            fragments those pairs join are merged next (:func:`_bridge_weakly`).
        place: moves the assembled people's (P, K, 3) keypoints (map cells, scores), before
            they are filtered (see :func:`~pafpose.codec.decode.placement.place_on_limbs`).

    Returns:
        People sorted by score (best first), keypoints in input pixels.
    """
    if not len(connections.score):
        return []
    skeleton = head.keypoint_skeleton
    num_types, num_candidates = skeleton.num_keypoints, len(peaks.score)
    _, group = components(connections.a, connections.b, num_candidates)
    used = np.zeros(num_candidates, dtype=bool)
    used[connections.a] = used[connections.b] = True
    per_type = np.bincount(group[used] * num_types + peaks.kind[used],
                           minlength=(group.max() + 1) * num_types).reshape(-1, num_types)
    conflict = (per_type > 1).any(axis=1)

    # Each connection's person: its group, unless the group has a conflict and needs best-first
    # assembly (labels above all group labels).
    label = group[connections.a].copy()
    tangled = np.flatnonzero(conflict[label])
    if len(tangled):
        sub = _assemble_greedily(connections.a[tangled], connections.b[tangled],
                                 connections.score[tangled], peaks.kind)
        label[tangled] = np.where(sub >= 0, sub + group.max() + 1, -1)
    kept = label >= 0
    label, ends = label[kept], np.concatenate([connections.a[kept], connections.b[kept]])
    _, label = np.unique(label, return_inverse=True)
    limb_scores = connections.score[kept]
    if candidates is not None and len(label):
        label, bridges = _merge_fragments(label, ends, candidates, peaks.kind, num_candidates, num_types)
        limb_scores = np.concatenate([limb_scores, bridges.score])
        label = np.concatenate([label, bridges.label])
        if rescore is not None:
            limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)
            label, limb_scores = _bridge_weakly(label, ends, limb_scores, rescore, peaks.kind,
                                                limbs, num_candidates, num_types)
    num_people = label.max(initial=-1) + 1

    keypoints = np.zeros((num_people, num_types, 3))
    node_person = np.concatenate([label[:len(ends) // 2]] * 2)
    keypoints[node_person, peaks.kind[ends], :2] = peaks.xy[ends]
    keypoints[node_person, peaks.kind[ends], 2] = peaks.score[ends]
    limb_total = np.bincount(label, weights=limb_scores, minlength=num_people)
    if params.join_torsos:
        person = join_torsos(keypoints, skeleton)
        joined = np.zeros((person.max() + 1, num_types, 3))
        np.add.at(joined, person, keypoints)  # the people joined share no keypoint type
        keypoints, limb_total = joined, np.bincount(person, weights=limb_total)
    if place is not None:
        keypoints = place(keypoints)
    found = keypoints[:, :, 2] > 0
    keypoints[:, :, :2] = np.where(found[:, :, None], head.cells_to_pixels(keypoints[:, :, :2]), 0.0)
    parts = np.count_nonzero(found, axis=1)
    total = keypoints[:, :, 2].sum(axis=1) + limb_total
    mean = total / np.maximum(parts, 1)
    score = total if params.person_score == "total" else mean
    # A weak map makes every person weak: judge each against this image's typical keypoint and
    # limb (medians, which the few strong spurious peaks and limbs do not move).
    typical = median(peaks.score[ends]) + median(limb_scores)
    good = np.flatnonzero((parts >= params.min_parts) & (mean >= params.min_score * typical))
    good = good[np.argsort(-score[good], kind="stable")]
    return [Person(keypoints=keypoints[p], score=float(score[p])) for p in good]
