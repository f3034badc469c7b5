"""The decoder's settings, :class:`DecodeParams`."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import UserError

__all__ = ["DecodeParams"]


@dataclass(frozen=True)
class DecodeParams:
    """Decoder settings; ``decode(..., **params)`` takes these as keyword arguments.

    Attributes:
        peak_threshold: minimum heatmap value of a peak.
        peak_mode: "refine" (NMS at map resolution + sub-cell refinement) or "upsample" (the
            original: resize to input size, Gaussian smoothing, NMS on the pixel grid).
        smooth_sigma: in "refine" mode, Gaussian smoothing (in map cells) of the heatmaps before
            NMS and refinement (refinement within 2 sigma of the border uses the raw maps); 0
            turns it off. Peak scores are read from the raw maps.
        refine: sub-cell refinement in "refine" mode: "quadratic" (parabola through the log of
            the 3 values along x and along y), "centroid" (3x3 weighted centroid) or "none"
            (cell centres).
        max_candidates: most peaks kept per keypoint type (the strongest).
        num_samples: PAF samples per candidate limb.
        paf_threshold: a sample counts as support when its PAF.direction exceeds this. 0.025,
            half the paper's 0.05: blur and attenuation bring short limbs' fields to 0.03-0.08,
            and at 0.05 those limbs failed the inlier test and people fell apart (issue 12's
            severe level 0.587 -> 0.673 AP on the bundled images); real network maps gain too
            (mobilenet-thin-coco at height 656: 0.461 -> 0.485), clean maps are unchanged.
        min_inlier_fraction: fraction of samples that must be support.
        image_height: input height in pixels for the length penalty; None means maps' height
            times stride.
        matching: "greedy" or "hungarian".
        min_parts: fewest keypoints a person may have.
        min_score: lowest mean score per keypoint of a person kept, as a fraction of the image's
            typical keypoint plus limb score (medians over all connections), so a weak map
            keeps its people and a clean one cuts as a fixed 0.4 did.
        person_score: "total" (sum of keypoint and limb scores) or "mean" (that sum over the
            number of keypoints) as ``Person.score``, the ranking used by COCO evaluation.
        noise_factor: in "refine" mode the peak threshold rises to this many times the
            (smoothed) heatmaps' noise, measured from their negative values; 0 turns it off.
        signal_fraction: ... but never above this fraction of the strength of the maps' own
            strong peaks (see :func:`~pafpose.codec.decode.peaks.peak_threshold`), so noise
            cannot push the threshold over the signal; 0 turns the noise rise off too.
        recover: find keypoints that left no peak where their limbs' PAFs end (see
            :func:`~pafpose.codec.decode.recovery.recover_keypoints`).
        recover_radius: in map cells, recovered ends closer than this to each other are one
            keypoint, and closer to an existing candidate of their type add nothing.
        bridge_inlier_fraction: after the fragments a scored pair joins are merged, pairs
            among the rest are scored again with this ``min_inlier_fraction`` (0: the mean
            projection with the length penalty alone) and the fragments they join merged too,
            when they share no keypoint type (see
            :func:`~pafpose.codec.decode.assembly.assemble`); None turns that pass off.
        noisy_fields, noisy_heatmaps: the passes that only noisy maps need (the weak bridges
            above, and placement below) run only when the fields' measured noise
            (:func:`~pafpose.codec.decode.sampling.field_noise`) exceeds ``noisy_fields`` or
            the heatmaps' (:func:`~pafpose.codec.decode.peaks.noise_sigma`) exceeds
            ``noisy_heatmaps``. Real network maps measure 0.0006-0.0014 (fields) and
            0.0008-0.0047 (heatmaps; mobilenet-thin-coco at heights 256-656, synthetic-small);
            on them a positive mean between two fragments is more often a neighbour's field
            (ground truth of a crowded image at input height 184 put a neighbour's head on a
            person), and placement changes the real network's AP by -0.001 to +0.003 on 40
            annotated views of the bundled photos at four input heights while costing 0.3 ms.
            Noisy heatmaps alone call for both passes: with issue 20's severe level on the
            heatmaps and clean fields they lift the bundled photos from 0.404 to 0.482 AP.
        join_torsos: join an upper-body fragment (shoulders, no hips) and lower-body fragments
            (hips, no shoulders) of a person whose neck left no evidence at all, where the
            geometry allows (see :func:`~pafpose.codec.decode.assembly.join_torsos`).

    A checkpoint may carry its own settings (its "inference" entry's "decode" dict), read with
    :func:`pafpose.config.from_dict`. The defaults were chosen on benchmarks/decode_robustness.py:
    ground truth under two degradation recipes at many levels and a real network's maps at
    several input heights, not one model or one image set.
    """

    peak_threshold: float = 0.03
    peak_mode: str = "refine"
    smooth_sigma: float = 1.0
    refine: str = "quadratic"
    max_candidates: int = 100
    num_samples: int = 10
    paf_threshold: float = 0.025
    min_inlier_fraction: float = 0.8
    image_height: float | None = None
    matching: str = "greedy"
    min_parts: int = 3
    min_score: float = 0.2
    person_score: str = "total"
    noise_factor: float = 4.0
    signal_fraction: float = 0.5
    recover: bool = True
    recover_radius: float = 3.0
    bridge_inlier_fraction: float | None = 0.0
    noisy_fields: float = 0.005
    noisy_heatmaps: float = 0.01
    join_torsos: bool = True
    placement_prior: float | None = 300.0

    def __post_init__(self) -> None:
        choices = {"peak_mode": ("refine", "upsample"), "refine": ("quadratic", "centroid", "none"),
                   "matching": ("greedy", "hungarian"), "person_score": ("total", "mean")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"decode: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.max_candidates < 1 or self.num_samples < 2 or self.min_parts < 1:
            raise UserError("decode: max_candidates and min_parts must be >= 1, num_samples >= 2")
        if not 0.0 <= self.min_inlier_fraction <= 1.0:
            raise UserError(f"decode: min_inlier_fraction must lie in [0, 1], got {self.min_inlier_fraction}")
        if self.bridge_inlier_fraction is not None and not 0.0 <= self.bridge_inlier_fraction <= 1.0:
            raise UserError("decode: bridge_inlier_fraction must lie in [0, 1] or be None, "
                            f"got {self.bridge_inlier_fraction}")
        for name in ("noisy_fields", "noisy_heatmaps"):
            if not getattr(self, name) >= 0:
                raise UserError(f"decode: {name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.signal_fraction <= 1.0:
            raise UserError(f"decode: signal_fraction must lie in [0, 1], got {self.signal_fraction}")
        if not self.smooth_sigma >= 0:
            raise UserError(f"decode: smooth_sigma must be >= 0, got {self.smooth_sigma}")
        if not self.recover_radius > 0:
            raise UserError(f"decode: recover_radius must be positive, got {self.recover_radius}")
        if self.placement_prior is not None and not self.placement_prior > 0:
            raise UserError(f"decode: placement_prior must be positive or None, got {self.placement_prior}")
        if self.image_height is not None and not self.image_height > 0:
            raise UserError(f"decode: image_height must be positive, got {self.image_height}")
