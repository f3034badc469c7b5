"""What the Runner hands out: a :class:`Frame` per processed frame, a :class:`SourceEnd` per
finished source, and :class:`RunStats`, the throughput and per-stage time of a run so far."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field, fields

import numpy as np

from ..codec.people import Person
from ..io.media import MediaInput
from .stages import StageTimes

__all__ = ["Frame", "SourceEnd", "RunStats"]


@dataclass
class Frame:
    """One image or video frame and the people in it.

    ``index`` is the frame number in its source (0 for an image); ``time`` the seconds from the
    start of a video (``index / fps``), None for images; ``latency`` the seconds from reading
    the frame to its people being ready; ``times`` what each stage spent on it (the network's
    time shared among the frames of its batch).
    """

    source: MediaInput
    index: int
    time: float | None
    image: np.ndarray
    people: list[Person]
    latency: float = 0.0
    fps: float | None = None  # of the source video
    times: StageTimes = field(default_factory=StageTimes)


@dataclass
class SourceEnd:
    """A source is finished: ``frames`` processed, ``dropped`` stale live frames skipped,
    ``error`` what went wrong (None when it ended normally; the frames before it were yielded)."""

    source: MediaInput
    frames: int
    dropped: int = 0
    error: str | None = None


#: The stages in pipeline order, as :class:`RunStats` reports them: :class:`StageTimes`' fields.
STAGES = tuple(f.name for f in fields(StageTimes))


@dataclass
class RunStats:
    """Throughput, latency and per-stage time of the frames that came out so far.

    ``times`` sums every frame's :class:`StageTimes` (``write`` is added by whoever writes the
    outputs, e.g. ``pafpose infer``); ``parallel`` says how many frames a stage works on at once
    (decode worker processes, image readers), so :meth:`bottleneck` compares what each stage can
    deliver per second, not its summed time.
    """

    frames: int = 0
    dropped: int = 0
    seconds: float = 0.0
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    times: StageTimes = field(default_factory=StageTimes)
    parallel: dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def latency(self, quantile: float = 0.5) -> float:
        """Seconds from read to people, over the last 1000 frames."""
        return float(np.quantile(list(self.latencies), quantile)) if self.latencies else 0.0

    def per_frame(self) -> dict[str, float]:
        """Seconds per frame in each stage (:data:`STAGES`)."""
        n = max(self.frames, 1)
        return {stage: getattr(self.times, stage) / n for stage in STAGES}

    def bottleneck(self) -> str:
        """The stage that bounds the run: the most time per frame per parallel worker."""
        load = {stage: seconds / max(1, self.parallel.get(stage, 1)) for stage, seconds in self.per_frame().items()}
        return max(load, key=load.get)

    def describe(self) -> str:
        """One line: milliseconds per frame per stage and the bounding stage."""
        parts = []
        for stage, seconds in self.per_frame().items():
            workers = self.parallel.get(stage, 1)
            parts.append(f"{stage} {1e3 * seconds:.1f}" + (f"/{workers}" if workers > 1 else ""))
        return f"ms per frame: {', '.join(parts)}; bound by {self.bottleneck()}"
