"""Small-array helpers where the library versions cost a decoder more than the work.

Connected components of the small graphs decoding builds (limbs between candidates, recovered
ends near each other): scipy's sparse set-up costs more than these graphs need, and importing
scipy.sparse costs a first decode a tenth of a second. Medians: ``np.median`` (like ``np.unique``
without ``return_inverse``) imports ``numpy.ma`` on first use, another tenth of a second that
no other part of a pose pipeline pays. :func:`merge_disjoint`: the one union of groups that
refuses a merge when the two groups hold a keypoint type each (assembly, fragments, torsos).
"""

from __future__ import annotations

import numpy as np

__all__ = ["components", "median", "merge_disjoint"]


def components(a: np.ndarray, b: np.ndarray, num_nodes: int) -> tuple[int, np.ndarray]:
    """Connected components of an undirected graph with edges (a_i, b_i).

    Args:
        a, b: (E,) int node indices of the edges; num_nodes: N, nodes without edges included.

    Returns:
        The number of components and (N,) labels numbered by each component's lowest node
        (as ``scipy.sparse.csgraph.connected_components`` numbers them).
    """
    label = np.arange(num_nodes)
    while True:
        # Each node takes the lowest label among its edges, then the label of that label's node,
        # which halves the remaining distance: about log(diameter) rounds.
        lower = label.copy()
        low = np.minimum(label[a], label[b])
        np.minimum.at(lower, a, low)
        np.minimum.at(lower, b, low)
        lower = lower[lower]
        if (lower == label).all():
            break
        label = lower
    _, group = np.unique(label, return_inverse=True)
    return group.max(initial=-1) + 1, group


def median(values: np.ndarray) -> float:
    """The median of (N,) values, N > 0."""
    ordered = np.sort(values)
    return 0.5 * float(ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2])


def merge_disjoint(types: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups merged along edges, in the given order, unless the two groups share a type.

    Every item starts as its own group holding its types. Edge i joins the groups of a_i and b_i
    when they differ and hold no type in common; the group of a_i keeps its root. Because groups
    only grow, an edge refused once stays refused: the result is that of best-first merging when
    the edges come best first.

    Args:
        types: (N, T) bool, the types each item holds (a candidate: its keypoint type; a
            fragment: every type it has).
        a, b: (E,) int items of each edge.

    Returns:
        (N,) the root item of each item's final group (an item index), and (E,) bool: the
        edge merged two groups.
    """
    num_types = types.shape[1]
    if num_types < 63:
        masks = (types.astype(np.int64) @ (np.int64(1) << np.arange(num_types, dtype=np.int64))).tolist()
    else:  # Python's ints have no width
        masks = [sum(1 << int(t) for t in np.flatnonzero(row)) for row in types]
    parent = list(range(len(masks)))

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    merged = np.zeros(len(a), dtype=bool)
    for i, (ea, eb) in enumerate(zip(a.tolist(), b.tolist())):
        ra, rb = find(ea), find(eb)
        if ra != rb and not masks[ra] & masks[rb]:
            masks[ra] |= masks[rb]
            parent[rb] = ra
            merged[i] = True
    return np.array([find(node) for node in range(len(parent))], dtype=np.int64), merged
