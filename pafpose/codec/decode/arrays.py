"""Small-array helpers where the library versions cost a decoder more than the work.

Connected components of the small graphs decoding builds (limbs between candidates, recovered
ends near each other): scipy's sparse set-up costs more than these graphs need, and importing
scipy.sparse costs a first decode a tenth of a second. Medians: ``np.median`` (like ``np.unique``
without ``return_inverse``) imports ``numpy.ma`` on first use, another tenth of a second that
no other part of a pose pipeline pays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["components", "median"]


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
