"""One-Euro filtering of tracked keypoints (Casiez, Roussel and Vogel, CHI 2012).

A One-Euro filter is a low-pass filter whose cutoff frequency rises with speed: a still keypoint
is smoothed hard (its jitter removed), a moving one lightly (little lag). Per keypoint, with
``dt`` the time since its previous frame and ``alpha(f) = 1 / (1 + 1 / (2 pi f dt))``:

    speed  = alpha(d_cutoff) * |x - x_prev| / dt + (1 - alpha(d_cutoff)) * speed_prev   (filtered)
    cutoff = min_cutoff + beta * speed
    x_hat  = alpha(cutoff) * x + (1 - alpha(cutoff)) * x_hat_prev

x and y of a keypoint share one speed (the length of its velocity), so a keypoint moving along
one axis is not smoothed harder on the other. Cutoffs are in cycles per time unit of the
``time`` passed to :meth:`OneEuroSmoother.update` (Hz for seconds); ``beta`` is per pixel of
speed.

A keypoint of a tracked person that is missing in a frame but was there at most
``carry_frames`` frames ago is carried forward at its filtered velocity, marked in
``person.carried``, with its confidence multiplied by ``carry_confidence`` per missing frame.
The filter state is per track id; an id not seen for more than ``carry_frames`` frames is
forgotten (a person back after a longer gap starts afresh, which is also right: a jump after an
occlusion is real motion, not jitter), so memory is bounded by the people in recent frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..codec.people import Person

__all__ = ["OneEuroSmoother", "one_euro_alpha"]


def one_euro_alpha(cutoff: np.ndarray | float, dt: np.ndarray | float) -> np.ndarray:
    """Smoothing factor of a first-order low-pass filter at ``cutoff`` for a step of ``dt``."""
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * np.asarray(cutoff) * np.asarray(dt)))


@dataclass
class _State:
    """One track's filter: (K, 2) filtered positions and velocities, (K,) per-keypoint fields."""

    position: np.ndarray
    velocity: np.ndarray
    speed: np.ndarray  # filtered |velocity|
    confidence: np.ndarray  # last output confidence
    live: np.ndarray  # bool: the keypoint has a filter state
    missing: np.ndarray  # int: consecutive frames the keypoint was missing
    time: float
    frame: int  # last frame the track was seen


class OneEuroSmoother:
    """Per-keypoint One-Euro filtering of tracked people (see the module docstring).

    Args:
        min_cutoff: cutoff at rest, cycles per time unit; lower = smoother, more lag.
        beta: cutoff increase per pixel per time unit of speed; higher = less lag when moving.
            The defaults (time in seconds, 30 fps, people ~100-400 pixels tall) cut a still
            keypoint's 2-pixel jitter to 0.8 pixels and follow a 60-pixel jump to 90 % within
            3-4 frames; a keypoint moving at 150 pixels/s trails by ~5 pixels.
        d_cutoff: cutoff of the speed estimate.
        carry_frames: a keypoint missing for at most this many frames is carried forward (0: never).
        carry_confidence: confidence factor per frame a keypoint is carried.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.01, d_cutoff: float = 1.0,
                 carry_frames: int = 2, carry_confidence: float = 0.5):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0 or carry_frames < 0:
            raise ValueError("need min_cutoff > 0, d_cutoff > 0, beta >= 0, carry_frames >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.carry_frames, self.carry_confidence = carry_frames, carry_confidence
        self._states: dict[int, _State] = {}
        self._frame = 0

    @property
    def num_states(self) -> int:
        """Track ids with a filter state: what the smoother holds in memory."""
        return len(self._states)

    def update(self, people: Sequence[Person], time: float | None = None) -> list[Person]:
        """Smooth one frame's tracked people.

        Args:
            people: the frame's people after :meth:`PoseTracker.update`; those with
                ``track_id`` -1 pass through unchanged.
            time: the frame's timestamp (default: the frame count).

        Returns:
            New Person objects (the inputs are left as they are), in the same order, with
            filtered keypoints and, for tracked people, ``carried`` set.
        """
        now = float(self._frame if time is None else time)
        out = list(people)
        tracked = [i for i, p in enumerate(people) if p.track_id >= 0]
        if tracked:
            for i, smoothed in zip(tracked, self._smooth([people[i] for i in tracked], now)):
                out[i] = smoothed
        # Forget tracks not seen for longer than a keypoint may be carried.
        stale = [i for i, s in self._states.items() if self._frame - s.frame > self.carry_frames]
        for track_id in stale:
            del self._states[track_id]
        self._frame += 1
        return out

    def _smooth(self, people: list[Person], now: float) -> list[Person]:
        """Filter P tracked people at once: their states are stacked into (P, K, ...) arrays."""
        kp = np.stack([np.asarray(p.keypoints, dtype=np.float64) for p in people])  # (P, K, 3)
        # NaN or infinite keypoints (an outside detector's) are missing, like confidence 0.
        found = np.isfinite(kp).all(axis=-1) & (np.nan_to_num(kp[..., 2], nan=0.0) > 0)
        xy, conf = np.where(found[..., None], kp[..., :2], 0.0), np.where(found, kp[..., 2], 0.0)
        n, k = found.shape
        states = [self._states.get(p.track_id) for p in people]
        # A new track, or one whose time did not advance, starts afresh from its keypoints.
        going = np.array([s is not None and now > s.time for s in states])
        blank = _State(np.zeros((k, 2)), np.zeros((k, 2)), np.zeros(k), np.zeros(k), np.zeros(k, bool),
                       np.zeros(k, np.int64), now - 1.0, self._frame)
        states = [s if g else blank for s, g in zip(states, going)]
        position, velocity = (np.stack([getattr(s, f) for s in states]) for f in ("position", "velocity"))
        speed, confidence, live, missing = (np.stack([getattr(s, f) for s in states])
                                            for f in ("speed", "confidence", "live", "missing"))
        dt = now - np.array([s.time for s in states])[:, None]  # (P, 1)
        live &= going[:, None]

        filt = found & live  # found keypoints with a state are filtered; the others start anew
        raw_velocity = (xy - position) / dt[..., None]
        a_d = one_euro_alpha(self.d_cutoff, dt)
        new_speed = a_d * np.hypot(raw_velocity[..., 0], raw_velocity[..., 1]) + (1 - a_d) * speed
        a = one_euro_alpha(self.min_cutoff + self.beta * new_speed, dt)[..., None]
        smoothed = a * xy + (1 - a) * position
        new_velocity = a_d[..., None] * raw_velocity + (1 - a_d[..., None]) * velocity
        # Missing keypoints: carried at their filtered velocity while young enough.
        missing = np.where(found, 0, missing + 1)
        carry = ~found & live & (missing <= self.carry_frames)
        carried_xy = position + velocity * dt[..., None]

        position = np.where(filt[..., None], smoothed, np.where(carry[..., None], carried_xy, xy))
        velocity = np.where(filt[..., None], new_velocity, np.where(carry[..., None], velocity, 0.0))
        speed = np.where(filt, new_speed, np.where(carry, speed, 0.0))
        confidence = np.where(carry, confidence * self.carry_confidence, conf)
        shown = found | carry
        out = np.where(shown[..., None], np.concatenate([position, confidence[..., None]], axis=-1), 0.0)
        result = []
        for j, person in enumerate(people):
            self._states[person.track_id] = _State(position[j], velocity[j], speed[j], confidence[j],
                                                   shown[j], missing[j], now, self._frame)
            result.append(dataclasses.replace(person, keypoints=out[j], carried=carry[j]))
        return result
