"""Stages 5-7: people assembled from limbs, fragments merged, split torsos joined; and the one
union of groups that refuses a merge on a shared keypoint type."""

from __future__ import annotations

import numpy as np
import pytest
from decode_helpers import CODEC, without_a_shoulder

from pafpose.codec.decode import DecodeParams, LimbCandidates, Peaks, assemble, decode, merge_fragments
from pafpose.codec.decode.arrays import merge_disjoint
from pafpose.codec.decode.output import people_kept

STRIDE = CODEC.stride


# ------------------------------------------------------------------------------------------
# the union with conflicts
# ------------------------------------------------------------------------------------------


def _one_hot(kinds, num_types: int = 4) -> np.ndarray:
    types = np.zeros((len(kinds), num_types), dtype=bool)
    types[np.arange(len(kinds)), kinds] = True
    return types


def test_groups_merge_in_order_unless_they_share_a_type():
    # Items of types 0, 1, 2, 1: item 3 may join 0 or 2 but not a group holding item 1.
    types = _one_hot([0, 1, 2, 1])
    root, merged = merge_disjoint(types, np.array([0, 2, 3, 0]), np.array([1, 1, 2, 3]))
    # 0+1; 2-1 joins them (the a side, 2, is the root); 3-2 would bring a second type 1: refused,
    # and so is 0-3.
    assert root.tolist() == [2, 2, 2, 3] and merged.tolist() == [True, True, False, False]
    # Another order, another result: best first means the order is the caller's ranking.
    root, merged = merge_disjoint(types, np.array([3, 0, 2]), np.array([2, 1, 1]))
    assert root.tolist() == [0, 0, 3, 3] and merged.tolist() == [True, True, False]


def test_an_edge_within_a_group_merges_nothing_and_groups_can_hold_many_types():
    types = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=bool)
    root, merged = merge_disjoint(types, np.array([0, 1, 0]), np.array([1, 0, 2]))
    assert root.tolist() == [0, 0, 2] and merged.tolist() == [True, False, False]
    root, merged = merge_disjoint(np.zeros((2, 70), dtype=bool), np.array([1]), np.array([0]))  # wide masks
    assert root.tolist() == [1, 1] and merged.tolist() == [True]


def _reference_merge(types: np.ndarray, a, b):
    """The plain loop the helper replaces (as assembly, fragments and torsos wrote it)."""
    types, root, merged = types.copy(), np.arange(len(types)), []
    for i, j in zip(a, b):
        ra, rb = root[i], root[j]
        if ra == rb or (types[ra] & types[rb]).any():
            merged.append(False)
            continue
        types[ra] |= types[rb]
        root[root == rb] = ra
        merged.append(True)
    return root, np.array(merged, dtype=bool)


@pytest.mark.parametrize("seed", range(20))
def test_the_union_matches_the_plain_loop(seed):
    rng = np.random.default_rng(seed)
    n, num_types = rng.integers(2, 40), rng.integers(1, 70)
    types = rng.random((n, num_types)) < 0.1
    a, b = rng.integers(0, n, size=(2, rng.integers(0, 80)))
    root, merged = merge_disjoint(types, a, b)
    expected_root, expected_merged = _reference_merge(types, a, b)
    np.testing.assert_array_equal(root, expected_root)
    np.testing.assert_array_equal(merged, expected_merged.reshape(-1))


# ------------------------------------------------------------------------------------------
# assembly and fragments
# ------------------------------------------------------------------------------------------


def test_fragments_joined_by_a_scored_pair_merge_unless_they_share_a_type():
    # Matching is one-to-one per limb, so a pair it left out can still join two fragments:
    # A = neck, r-shoulder, r-elbow; B = r-hip, r-knee; C = another neck, l-shoulder, l-elbow.
    kind = np.array([1, 2, 3, 8, 9, 1, 5, 6])
    xy = np.arange(16, dtype=np.float64).reshape(8, 2)
    order = np.argsort(kind, kind="stable")
    peaks = Peaks(xy=xy[order], score=np.ones(8), kind=kind[order],
                  start=np.searchsorted(kind[order], np.arange(18)),
                  count=np.bincount(kind, minlength=18))
    index = {node: int(np.flatnonzero(order == node)[0]) for node in range(8)}
    limbs = {(1, 2): 0, (2, 3): 2, (8, 9): 7, (1, 5): 1, (5, 6): 4, (1, 8): 6}

    def pairs(*nodes):
        return LimbCandidates(limb=np.array([limbs[(kind[a], kind[b])] for a, b in nodes]),
                              a=np.array([index[a] for a, _ in nodes]),
                              b=np.array([index[b] for _, b in nodes]), score=np.full(len(nodes), 0.9))

    def people(groups):
        keypoints, limb_total = groups.keypoints(peaks, 18)
        return people_kept(keypoints, limb_total, peaks.score[groups.ends], groups.limb_score, CODEC.spec,
                           DecodeParams())

    chosen = pairs((0, 1), (1, 2), (3, 4), (5, 6), (6, 7))
    scored = pairs((0, 1), (1, 2), (3, 4), (5, 6), (6, 7), (0, 3), (5, 3))
    groups = assemble(peaks, chosen, 18)
    assert groups.num_people == 3
    assert sorted(p.num_parts for p in people(groups)) == [3, 3]  # B (2 parts) is too small alone
    merged = merge_fragments(groups, scored, peaks.kind, 18)
    assert sorted(p.num_parts for p in people(merged)) == [3, 5]  # A + B; C shares the neck type with A+B
    assert max(p.score for p in people(merged)) == pytest.approx(5 + 4 * 0.9)  # the bridge counts as a limb


def test_conflicting_limbs_are_assembled_best_first():
    # Two necks (candidates 0 and 1) connected to one right shoulder (2): a group holding two
    # necks, so the stronger limb wins and the weaker is dropped.
    peaks = Peaks(xy=np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), score=np.ones(3), kind=np.array([1, 1, 2]),
                  start=np.array([0, 0, 2] + [3] * 15), count=np.array([0, 2, 1] + [0] * 15))
    connections = LimbCandidates(limb=np.array([0, 0]), a=np.array([0, 1]), b=np.array([2, 2]),
                                  score=np.array([0.5, 0.9]))
    groups = assemble(peaks, connections, 18)
    assert groups.num_people == 1 and groups.limb_score.tolist() == [0.9]
    assert sorted(groups.ends.tolist()) == [1, 2]  # the stronger neck keeps the shoulder


# ------------------------------------------------------------------------------------------
# torsos
# ------------------------------------------------------------------------------------------


def _torso(people, truth: np.ndarray) -> bool:
    """Whether one decoded person holds a shoulder and a hip of ``truth`` (18, 3), within 2 pixels."""
    for person in people:
        near = (person.keypoints[:, 2] > 0) & (np.abs(person.keypoints[:, :2] - truth[:, :2]).max(axis=1) < 2.0)
        if near[[2, 5]].any() and near[[8, 11]].any():
            return True
    return False


def test_people_without_any_neck_evidence_are_joined_at_the_torso(sample):
    # One shoulder hidden, so no neck either, and no neck fields at all (maps rendered from the
    # reduced people): nothing links shoulders to hips, and the person falls apart.
    _, images = sample
    joined, apart, mixed = [], [], 0
    for _, heatmaps, _, keypoints in images:
        reduced, both = without_a_shoulder(keypoints)
        hidden, pafs = CODEC.encode(reduced, (heatmaps.shape[2] * STRIDE, heatmaps.shape[1] * STRIDE))
        with_legs = [p for p in both if (reduced[p, [8, 11], 2] > 0).any()]
        people = decode(hidden, pafs)
        joined += [_torso(people, reduced[p]) for p in with_legs]
        apart += [_torso(decode(hidden, pafs, join_torsos=False), reduced[p]) for p in with_legs]
        for person in people:  # each decoded person is one annotated person's keypoints
            found = person.keypoints[:, 2] > 0
            error = np.abs(reduced[:, found, :2] - person.keypoints[None, found, :2]).max(axis=(1, 2))
            mixed += error.min() > 2.0
    assert len(joined) >= 10
    assert not any(apart)
    assert sum(joined) >= len(joined) - 1
    assert mixed == 0
