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
        out = [self._smooth(p, now) if p.track_id >= 0 else p for p in people]
        # Forget tracks not seen for longer than a keypoint may be carried.
        stale = [i for i, s in self._states.items() if self._frame - s.frame > self.carry_frames]
        for track_id in stale:
            del self._states[track_id]
        self._frame += 1
        return out

    def _smooth(self, person: Person, now: float) -> Person:
        kp = np.asarray(person.keypoints, dtype=np.float64)
        xy, conf = kp[:, :2], kp[:, 2]
        found = conf > 0
        state = self._states.get(person.track_id)
        if state is None or now <= state.time:  # new track, or time did not advance: restart
            state = _State(xy.copy(), np.zeros_like(xy), np.zeros(len(kp)), conf.copy(), found.copy(),
                           np.zeros(len(kp), np.int64), now, self._frame)
            self._states[person.track_id] = state
            return dataclasses.replace(person, keypoints=kp.copy(), carried=np.zeros(len(kp), bool))
        dt = now - state.time
        # Found keypoints with a state are filtered; found ones without start from themselves.
        filt = found & state.live
        velocity = (xy - state.position) / dt
        a_d = one_euro_alpha(self.d_cutoff, dt)
        speed = a_d * np.hypot(*velocity.T) + (1 - a_d) * state.speed
        a = one_euro_alpha(self.min_cutoff + self.beta * speed, dt)[:, None]
        smoothed = a * xy + (1 - a) * state.position
        filtered_velocity = a_d * velocity + (1 - a_d) * state.velocity
        # Missing keypoints: carried at their filtered velocity while young enough.
        missing = np.where(found, 0, state.missing + 1)
        carry = ~found & state.live & (missing <= self.carry_frames)
        carried_xy = state.position + state.velocity * dt

        position = np.where(filt[:, None], smoothed, np.where(carry[:, None], carried_xy, xy))
        velocity_out = np.where(filt[:, None], filtered_velocity, np.where(carry[:, None], state.velocity, 0.0))
        confidence = np.where(carry, state.confidence * self.carry_confidence, conf)
        state.position, state.velocity = position, velocity_out
        state.speed = np.where(filt, speed, np.where(carry, state.speed, 0.0))
        state.confidence, state.live, state.missing = confidence, found | carry, missing
        state.time, state.frame = now, self._frame

        out = np.zeros_like(kp)
        shown = found | carry
        out[shown, :2] = position[shown]
        out[shown, 2] = confidence[shown]
        return dataclasses.replace(person, keypoints=out, carried=carry)
