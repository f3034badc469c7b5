"""The tracker and smoother of each sequence of frames a pipeline reads: videos, streams and,
optionally, the images of one folder read in order.

:class:`SequenceTracking` keeps one tracker (and smoother) per sequence, gives frames without a
timestamp a 30 fps clock, ends every track at a shot change (:class:`CutDetector`), and forgets a
sequence when it ends, so memory follows the sequences open now.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np

from ..codec.people import Person
from .cuts import CutDetector
from .smoothing import OneEuroSmoother
from .tracker import DEFAULT_FPS, PoseTracker

__all__ = ["SequenceTracking"]


@dataclass
class _Sequence:
    tracker: Any
    smoother: Any
    cuts: CutDetector | None
    frames: int = 0


class SequenceTracking:
    """The tracker and smoother of each sequence (video, stream, or with ``image_sequences`` the
    images of one folder).

    Args:
        tracker: makes one tracker per sequence (e.g. :class:`PoseTracker`, or any object with
            ``update(people, time) -> people``); None: people pass through untouched.
        smoother: makes one smoother per sequence (e.g. :class:`OneEuroSmoother`), or None.
        image_sequences: the images of one folder are one sequence, in the order given
            (otherwise each image is on its own and keeps no state).
        cuts: end every track at a shot change (needs the frames' pixels).
    """

    #: Time between the frames of a sequence without timestamps (images of a folder).
    IMAGE_INTERVAL = 1 / DEFAULT_FPS

    def __init__(self, tracker: Callable[[], PoseTracker] | None,
                 smoother: Callable[[], OneEuroSmoother] | None = None,
                 image_sequences: bool = False, cuts: bool = True):
        self.tracker, self.smoother = tracker, smoother
        self.image_sequences, self.cuts = image_sequences, cuts
        self._sequences: dict[Hashable, _Sequence] = {}

    @property
    def num_sequences(self) -> int:
        """Sequences with state: what is held in memory."""
        return len(self._sequences)

    def _key(self, source) -> Hashable:
        if source.kind == "image" and self.image_sequences:
            return ("folder", Path(str(source.path)).parent)
        return source

    def update(self, source, time: float | None, image: np.ndarray | None,
               people: list[Person]) -> list[Person]:
        """Track (and smooth) one frame's people.

        Args:
            source: the frame's source: hashable, with ``.kind`` ("image", "video" or "stream")
                and ``.path`` (a :class:`pafpose.io.media.MediaInput`).
            time: the frame's timestamp in seconds, or None (then frame count / 30).
            image: the frame (BGR uint8) for cut detection and looks, or None.
            people: the frame's detections.

        Returns:
            The people to show, with ``track_id`` set (see :meth:`PoseTracker.update`).
        """
        if self.tracker is None:
            return people
        key = self._key(source)
        seq = self._sequences.get(key)
        if seq is None:
            seq = self._sequences[key] = _Sequence(self.tracker(), self.smoother() if self.smoother else None,
                                                   CutDetector() if self.cuts else None)
        now = seq.frames * self.IMAGE_INTERVAL if time is None else time
        seq.frames += 1
        if seq.cuts is not None and seq.cuts(image) and hasattr(seq.tracker, "end_all"):
            seq.tracker.end_all()
        if isinstance(seq.tracker, PoseTracker):
            people = seq.tracker.update(people, now, image)
        else:
            people = seq.tracker.update(people, now)
        return seq.smoother.update(people, now) if seq.smoother is not None else people

    def end(self, source) -> None:
        """The source ended: forget its sequence (a folder's images stay one sequence)."""
        if source.kind != "image" or not self.image_sequences:
            self._sequences.pop(self._key(source), None)
