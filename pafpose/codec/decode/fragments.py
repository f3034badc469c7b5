"""Stage 6: fragments of one person merged by the scored pairs that join them.

Matching is one-to-one per limb, so a pair whose ends went to two fragments of one person (a
neck lost to a spurious rival, a limb taken by a neighbour) is left out, yet it is PAF evidence
that the fragments belong together. Fragments such a pair joins are merged when they share no
keypoint type, best pair first, and the pair's score counts as one of the person's limbs.
"""

from __future__ import annotations

import numpy as np

from .arrays import merge_disjoint
from .assembly import Groups
from .limbs import LimbCandidates

__all__ = ["merge_fragments"]


def merge_fragments(groups: Groups, pairs: LimbCandidates, kind: np.ndarray, num_types: int) -> Groups:
    """``groups`` with the fragments that ``pairs`` join merged where they share no keypoint type.

    Args:
        groups: the people so far; pairs: scored pairs of candidates (any order);
        kind: (N,) keypoint type of every candidate.

    Returns:
        The merged groups (persons renumbered contiguously), the pairs that merged two of them
        counted as limbs.
    """
    if not len(groups.person):
        return groups
    ends, end_person = groups.ends, groups.end_person()
    owner = np.full(len(kind), -1)
    owner[ends] = end_person
    pa, pb = owner[pairs.a], owner[pairs.b]
    types = np.zeros((groups.num_people, num_types), dtype=bool)
    types[end_person, kind[ends]] = True
    bridge = np.flatnonzero((pa >= 0) & (pb >= 0) & (pa != pb))
    bridge = bridge[~(types[pa[bridge]] & types[pb[bridge]]).any(axis=1)]
    bridge = bridge[np.argsort(-pairs.score[bridge], kind="stable")]
    root, took = merge_disjoint(types, pa[bridge], pb[bridge])
    used = bridge[took]
    _, person = np.unique(root, return_inverse=True)
    return groups.merged(person, person[pa[used]], pairs.score[used])
