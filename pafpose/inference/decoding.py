"""The people decoder stage: one image's maps in, its people in original-image pixels out.

:class:`PeopleDecoder` holds only the head and the typed decoder settings, built once, so it
pickles into worker processes (:mod:`pafpose.inference.decode_pool`) and decodes there exactly as
in the caller's process. It imports numpy and the codec, not the network's libraries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..codec.decode import DecodeParams, decode
from ..codec.people import Person
from ..codec.spec import HeadSpec
from .geometry import NetworkInput

__all__ = ["PeopleDecoder", "to_original_pixels", "MIN_MAP_CELLS"]

#: Maps narrower or lower than this many cells hold no person: the decoder's smoothing and
#: limb sampling need a few cells, and on one- or two-cell maps (images a few pixels wide)
#: they placed phantom keypoints far outside the picture. Keypoints found outside the picture
#: on larger maps are dropped as well (a person left with too few is dropped).
MIN_MAP_CELLS = 3


def to_original_pixels(keypoints: np.ndarray, fx: float, fy: float) -> None:
    """In place: (K, 3) network-input x, y of found keypoints (score > 0) -> original pixels.

    ``fx``, ``fy``: the resize factors from the original image to the network input
    (:meth:`Predictor.resize_factors`); pixel centres are at integer coordinates on both sides.
    """
    found = keypoints[:, 2] > 0
    keypoints[found, 0] = (keypoints[found, 0] + 0.5) / fx - 0.5
    keypoints[found, 1] = (keypoints[found, 1] + 0.5) / fy - 0.5


@dataclass(frozen=True)
class PeopleDecoder:
    """Maps -> people, in original-image pixels.

    Attributes:
        head: what the maps mean.
        params: the decoder settings.
        max_people: keep at most this many people, the highest scored (None: all).
    """

    head: HeadSpec
    params: DecodeParams
    max_people: int | None = None

    def __call__(self, heatmaps: np.ndarray, pafs: np.ndarray, resize: NetworkInput) -> list[Person]:
        """People from (K[+1], h, w) heatmaps and (2L, h, w) PAFs of an image fed to the network
        as ``resize`` says, sorted by score (best first), every keypoint inside the picture."""
        if min(heatmaps.shape[1:]) < MIN_MAP_CELLS:
            return []
        people = decode(heatmaps, pafs, self.head, self.params)
        # The picture's edges in original pixels (pixel centres at integers); keypoints beyond
        # them by more than half a map cell are not in the picture, nearer ones are moved onto it.
        width, height = resize.width / resize.fx, resize.height / resize.fy
        slack_x, slack_y = self.head.stride / (2 * resize.fx), self.head.stride / (2 * resize.fy)
        kept = []
        for person in people:
            to_original_pixels(person.keypoints, resize.fx, resize.fy)
            keypoints = person.keypoints
            x, y = keypoints[:, 0], keypoints[:, 1]
            outside = (x < -slack_x) | (x > width - 1 + slack_x) | (y < -slack_y) | (y > height - 1 + slack_y)
            keypoints[outside] = 0.0
            found = keypoints[:, 2] > 0
            keypoints[found, 0] = np.clip(x[found], 0, width - 1)
            keypoints[found, 1] = np.clip(y[found], 0, height - 1)
            if found.sum() >= self.params.min_parts:
                kept.append(person)
        return kept[:self.max_people]

    def timed(self, heatmaps: np.ndarray, pafs: np.ndarray, resize: NetworkInput) -> tuple[list[Person], float]:
        """(people, seconds spent)."""
        start = time.perf_counter()
        people = self(heatmaps, pafs, resize)
        return people, time.perf_counter() - start
