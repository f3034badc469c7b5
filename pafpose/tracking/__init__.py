"""People over time: stable person ids (:class:`PoseTracker`), keypoint smoothing
(:class:`OneEuroSmoother`), and both per sequence with shot changes (:class:`SequenceTracking`),
one frame at a time, for videos, cameras and streams.

Typical use, per frame in order::

    tracker, smoother = PoseTracker(), OneEuroSmoother()
    people = smoother.update(tracker.update(predictor.predict(frame), time, frame), time)

Modules, by job: ``similarity`` (how alike a track and a detection are), ``state`` (what a
track remembers, how it moves), ``association`` (gated assignment, re-identification),
``lifecycle`` (birth, confirmation, duplicates, end), ``tracker`` (PoseTracker), ``cuts`` (shot
changes), ``sequences`` (one tracker per sequence), ``smoothing`` (One-Euro filtering).
"""

from .cuts import CutDetector
from .sequences import SequenceTracking
from .similarity import pose_similarity
from .smoothing import OneEuroSmoother
from .tracker import PoseTracker, TrackerConfig

__all__ = ["PoseTracker", "TrackerConfig", "OneEuroSmoother", "pose_similarity", "SequenceTracking",
           "CutDetector"]
