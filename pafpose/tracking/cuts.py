"""Shot changes (cuts) in a video, from a cheap colour test on a downscaled frame.

At a cut, whoever stands where someone stood is someone else; no rule on positions can see
that, so :class:`SequenceTracking` asks :class:`CutDetector` about every frame and ends all tracks
at a cut. The test: the frame is shrunk to 32 x 24 pixels, split into 2 x 2 blocks, and each
block's hue / saturation / grey histogram is compared with the previous frame's (histogram
intersection). Camera motion, shake and people moving change the blocks' colours a little; a
new shot changes most of them. Flat frames (black, a fade, a blank stream) are not shots: they
are skipped, and the next picture is compared with the last one before them, so a few black
frames inside a shot are not a cut. About 0.1 ms a frame.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["CutDetector", "CameraShift", "frame_signature", "signature_distance", "shrink"]

_SIZE = (32, 24)
_BLOCKS = 2
_HUE, _SAT, _GREY = 8, 2, 4
_BINS = _HUE * _SAT + _GREY


def frame_signature(image: np.ndarray) -> tuple[np.ndarray, float]:
    """((blocks, bins) normalised colour histograms of a frame's 2 x 2 blocks, the small frame's
    grey-level standard deviation)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    small = shrink(image[..., :3], _SIZE)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.intp)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    coloured = (sat >= 50) & (val >= 40)
    bins = np.where(coloured, (hue * _HUE // 180) * _SAT + np.minimum(sat * _SAT // 256, _SAT - 1),
                    _HUE * _SAT + np.minimum(val * _GREY // 256, _GREY - 1))
    h, w = bins.shape
    block = (np.arange(h)[:, None] * _BLOCKS // h) * _BLOCKS + np.arange(w)[None] * _BLOCKS // w
    counts = np.bincount((block * _BINS + bins).ravel(), minlength=_BLOCKS * _BLOCKS * _BINS)
    counts = counts.reshape(_BLOCKS * _BLOCKS, _BINS).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True), float(val.std())


def shrink(image: np.ndarray, size: tuple[int, int], oversample: int = 4) -> np.ndarray:
    """``image`` (H, W[, C]) uint8 shrunk to ``size`` (width, height) by area averaging over every
    n-th pixel, n the largest step that leaves ``oversample`` x ``oversample`` samples per small
    pixel. A uniform step keeps the picture's geometry (sub-pixel shifts stay true); averaging
    every pixel of a large frame costs several times more for nothing these tests use."""
    width, height = size
    h, w = image.shape[:2]
    step = min(w // (oversample * width), h // (oversample * height))
    if step >= 2:
        image = image[::step, ::step]
    return cv2.resize(np.ascontiguousarray(image, np.uint8), size, interpolation=cv2.INTER_AREA)


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - the mean histogram intersection of two frames' blocks: 0 the same colours, 1 none shared."""
    return float(1.0 - np.minimum(a, b).sum(axis=1).mean())


class CutDetector:
    """Says whether each frame of a sequence starts a new shot.

    Args:
        threshold: least :func:`signature_distance` from the previous picture for a cut.
        flat: frames whose small grey image varies less than this (standard deviation, 0-255)
            are flat (black, blank) and skipped.
    """

    def __init__(self, threshold: float = 0.5, flat: float = 6.0):
        self.threshold, self.flat = threshold, flat
        self._previous: np.ndarray | None = None
        self.last_distance = 0.0

    def __call__(self, image: np.ndarray | None) -> bool:
        """True if ``image`` (BGR uint8) is the first picture of a new shot (never the first frame)."""
        if image is None or image.size == 0:
            return False
        signature, spread = frame_signature(image)
        if spread < self.flat:
            return False
        previous, self._previous = self._previous, signature
        self.last_distance = 0.0 if previous is None else signature_distance(previous, signature)
        return self.last_distance > self.threshold


class CameraShift:
    """How far the picture moved since the previous frame (a pan, a shake), by phase correlation
    of small grey frames (about 0.1 ms): so a track with no velocity yet (a person just seen)
    still follows a panning camera. A weak correlation peak (``least_response``: consecutive
    frames of one shot, shaken or zooming, score 0.55-1; two unrelated pictures 0.1-0.25) or a
    shift over ``max_step`` of the frame's size in one frame counts as none. The step allows
    fast pans at low frame rates (a third of the frame per frame at 10 fps): 0.15 lost the
    benchmark's pan at 10 fps (camera error up to 400 pixels, IDF1 0.51 against 0.74)."""

    def __init__(self, width: int = 96, least_response: float = 0.3, max_step: float = 0.45):
        self.width, self.least_response, self.max_step = width, least_response, max_step
        self._previous: np.ndarray | None = None
        self._window: np.ndarray | None = None

    def __call__(self, image: np.ndarray | None) -> np.ndarray:
        """(2,) shift in the image's pixels since the previous frame given (0 for the first)."""
        if image is None or image.size == 0:
            return np.zeros(2)
        h, w = image.shape[:2]
        scale = w / self.width
        small = shrink(image[..., :3] if image.ndim == 3 else image, (self.width, max(int(round(h / scale)), 8)), 2)
        small = (cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small).astype(np.float32)
        previous, self._previous = self._previous, small
        if previous is None or previous.shape != small.shape or small.std() < 6.0:
            return np.zeros(2)
        if self._window is None or self._window.shape != small.shape:
            self._window = cv2.createHanningWindow(small.shape[::-1], cv2.CV_32F)
        (dx, dy), response = cv2.phaseCorrelate(previous, small, self._window)
        if response < self.least_response or abs(dx) > self.max_step * small.shape[1] \
                or abs(dy) > self.max_step * small.shape[0]:
            return np.zeros(2)
        return np.array([dx, dy]) * scale
