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

    def __call__(self, heatmaps: np.ndarray, pafs: np.ndarray, fx: float, fy: float) -> list[Person]:
        """People from (K[+1], h, w) heatmaps and (2L, h, w) PAFs of a network input resized by
        (fx, fy) from the original image, sorted by score (best first)."""
        if min(heatmaps.shape[1:]) < MIN_MAP_CELLS:
            return []
        people = decode(heatmaps, pafs, self.head, self.params)
        # The image's edges in original pixels, with half a map cell of slack: the network
        # input's last cell overhangs the image by up to a cell of padding.
        width, height = heatmaps.shape[2] * self.head.stride / fx, heatmaps.shape[1] * self.head.stride / fy
        slack_x, slack_y = self.head.stride / (2 * fx), self.head.stride / (2 * fy)
        kept = []
        for person in people:
            to_original_pixels(person.keypoints, fx, fy)
            x, y = person.keypoints[:, 0], person.keypoints[:, 1]
            outside = (x < -slack_x) | (x > width + slack_x) | (y < -slack_y) | (y > height + slack_y)
            person.keypoints[outside] = 0.0
            if (person.keypoints[:, 2] > 0).sum() >= self.params.min_parts:
                kept.append(person)
        return kept[:self.max_people]

    def timed(self, heatmaps: np.ndarray, pafs: np.ndarray, fx: float, fy: float) -> tuple[list[Person], float]:
        """(people, seconds spent)."""
        start = time.perf_counter()
        people = self(heatmaps, pafs, fx, fy)
        return people, time.perf_counter() - start
