"""Stage 5: people from the matched limbs, as groups of connections.

Greedy by limb score: a limb touching one person joins it, one joining two people merges them
when they share no keypoint type, else it is dropped; otherwise it starts a person. When a
connected group of limbs holds each keypoint type at most once, greedy assembly yields exactly
that group, so only groups with a conflict are assembled one limb at a time. Every limb is used,
the two redundant ear-shoulder limbs of COCO-18's 19 included.

The people stay groups of connections (:class:`Groups`) while fragments are merged
(:mod:`.fragments`, and on noisy maps :mod:`.noisy`); :meth:`Groups.keypoints` then gives each
person's keypoints and limb total.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import components, merge_disjoint
from .limbs import LimbCandidates
from .peaks import Peaks

__all__ = ["Groups", "assemble"]


@dataclass
class Groups:
    """People as groups of connections.

    Attributes:
        ends: (2C,) the candidates of the C connections kept, the a ends then the b ends.
        person: (C,) each connection's person, contiguous from 0.
        limb_person, limb_score: (M,) every limb score a person counts: the C connections',
            then those of the pairs that merged fragments.
    """

    ends: np.ndarray
    person: np.ndarray
    limb_person: np.ndarray
    limb_score: np.ndarray

    @property
    def num_people(self) -> int:
        return int(self.person.max(initial=-1)) + 1

    def end_person(self) -> np.ndarray:
        """(2C,) the person of each of ``ends``."""
        return np.concatenate([self.person, self.person])

    def merged(self, person: np.ndarray, bridge_person: np.ndarray, bridge_score: np.ndarray) -> Groups:
        """The groups renamed by ``person`` ((P,) new contiguous person of each), with the limb
        scores of the pairs that joined them (new persons, scores) added."""
        return Groups(ends=self.ends, person=person[self.person],
                      limb_person=np.concatenate([person[self.limb_person], bridge_person]),
                      limb_score=np.concatenate([self.limb_score, bridge_score]))

    def keypoints(self, peaks: Peaks, num_types: int) -> tuple[np.ndarray, np.ndarray]:
        """(P, K, 3) keypoints (x, y in map cells, peak score; 0 = missing) and (P,) the sum of
        each person's limb scores."""
        num_people = self.num_people
        keypoints = np.zeros((num_people, num_types, 3))
        person, kind = self.end_person(), peaks.kind[self.ends]
        keypoints[person, kind, :2] = peaks.xy[self.ends]
        keypoints[person, kind, 2] = peaks.score[self.ends]
        return keypoints, np.bincount(self.limb_person, weights=self.limb_score, minlength=num_people)


def _best_first(a: np.ndarray, b: np.ndarray, score: np.ndarray, kind: np.ndarray, num_types: int) -> np.ndarray:
    """Best-first assembly of connections (a_i, b_i) between candidates of types ``kind``;
    returns a person label per connection (-1 for dropped ones)."""
    nodes, node = np.unique(np.concatenate([a, b]), return_inverse=True)
    node_a, node_b = node[:len(a)], node[len(a):]
    types = np.zeros((len(nodes), num_types), dtype=bool)
    types[np.arange(len(nodes)), kind[nodes]] = True
    order = np.argsort(-score, kind="stable")
    root, _ = merge_disjoint(types, node_a[order], node_b[order])
    # A connection refused once is refused for good (groups only grow), so the connections kept
    # are exactly those whose ends end up together.
    return np.where(root[node_a] == root[node_b], root[node_a], -1)


def assemble(peaks: Peaks, connections: LimbCandidates, num_types: int) -> Groups:
    """People from the matched connections (at least one); see the module docstring."""
    a, b, score = connections.a, connections.b, connections.score
    num_candidates = len(peaks.score)
    _, group = components(a, b, num_candidates)
    used = np.zeros(num_candidates, dtype=bool)
    used[a] = used[b] = True
    per_type = np.bincount(group[used] * num_types + peaks.kind[used],
                           minlength=(group.max() + 1) * num_types).reshape(-1, num_types)
    conflict = (per_type > 1).any(axis=1)
    # Each connection's person: its group, unless the group has a conflict and needs best-first
    # assembly (labels above all group labels).
    label = group[a].copy()
    tangled = np.flatnonzero(conflict[label])
    if len(tangled):
        sub = _best_first(a[tangled], b[tangled], score[tangled], peaks.kind, num_types)
        label[tangled] = np.where(sub >= 0, sub + group.max() + 1, -1)
    kept = label >= 0
    _, person = np.unique(label[kept], return_inverse=True)
    return Groups(ends=np.concatenate([a[kept], b[kept]]), person=person, limb_person=person,
                  limb_score=score[kept])
