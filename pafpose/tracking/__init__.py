"""People over time: stable person ids (:class:`PoseTracker`) and keypoint smoothing
(:class:`OneEuroSmoother`), one frame at a time, for videos, cameras and streams.

Typical use, per frame in order::

    tracker, smoother = PoseTracker(), OneEuroSmoother()
    people = smoother.update(tracker.update(predictor.predict(frame), time), time)
"""

from .smoothing import OneEuroSmoother
from .tracker import PoseTracker, TrackerConfig, pose_similarity

__all__ = ["PoseTracker", "TrackerConfig", "OneEuroSmoother", "pose_similarity"]
