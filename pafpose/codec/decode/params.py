"""The decoder's settings, :class:`DecodeParams`, built once and shared by every decode."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ...errors import UserError

__all__ = ["DEFAULT_PARAMS", "DecodeParams"]


@dataclass(frozen=True)
class DecodeParams:
    """Decoder settings, validated when built; frozen, so one instance serves every image.

    Attributes:
        peak_threshold: lowest (smoothed) heatmap value of a peak. Low (0.03): a weak or blurred
            map's real peaks sink to ~0.1 after smoothing, and spurious ones die for want of PAF
            support.
        smooth_sigma: Gaussian smoothing (in map cells) of the heatmaps before non-maximum
            suppression and refinement (refinement within 2 sigma of the border uses the raw
            maps); 0 turns it off. Peak scores are read from the raw maps.
        refine: sub-cell refinement of a peak: "quadratic" (parabola through the log of the 3
            values along x and along y), "centroid" (3x3 weighted centroid) or "none" (cell
            centres).
        max_candidates: most peaks kept per keypoint type (the strongest).
        num_samples: PAF samples per candidate limb.
        paf_threshold: a sample counts as support when its PAF.direction exceeds this; half the
            paper's 0.05, so that the fields of short limbs that blur and attenuation weaken to
            0.03-0.08 still connect.
        min_inlier_fraction: fraction of samples that must be support.
        matching: one-to-one assignment per limb, "greedy" (best pair first) or "hungarian".
        min_parts: fewest keypoints a person may have.
        min_score: lowest mean score per keypoint of a person kept, as a fraction of the image's
            typical keypoint plus limb score (medians over all connections), so a weak map
            keeps its people and a clean one cuts as a fixed 0.4 would.
        person_score: "total" (sum of keypoint and limb scores) or "mean" (that sum over the
            number of keypoints) as ``Person.score``, the ranking COCO evaluation uses.
        noise_factor: the peak threshold rises to this many times the (smoothed) heatmaps'
            noise, measured from their negative values; 0 turns the rise off.
        signal_fraction: ... but never above this fraction of the maps' own strong-peak level
            (see :func:`~pafpose.codec.decode.peaks.peak_threshold`); 0 turns the rise off too.
        recover: find keypoints that left no peak where their limbs' PAFs end (see
            :func:`~pafpose.codec.decode.recovery.recover_keypoints`).
        recover_radius: in map cells, recovered ends closer than this to each other are one
            keypoint, and closer to an existing candidate of their type add nothing.
        join_torsos: join an upper-body fragment (shoulders, no hips) and a lower-body fragment
            (hips, no shoulders) of a person whose neck left no evidence at all, where the
            geometry allows (see :func:`~pafpose.codec.decode.torsos.join_torsos`).
        noisy_fields, noisy_heatmaps: the noisy-map passes (:mod:`~pafpose.codec.decode.noisy`)
            run only when the fields' measured noise
            (:func:`~pafpose.codec.decode.sampling.field_noise`) exceeds ``noisy_fields`` or the
            heatmaps' (:func:`~pafpose.codec.decode.peaks.noise_sigma`) exceeds
            ``noisy_heatmaps``. A trained network's maps measure about 0.001 (fields) and
            0.001-0.005 (heatmaps), so the passes leave them alone.
        bridge_inlier_fraction: noisy-map pass: fragments that share no keypoint type are joined
            by pairs scored with this ``min_inlier_fraction`` (0: the mean projection with the
            length penalty alone); None turns the pass off.
        placement_prior: noisy-map pass: weak keypoints move onto the centre lines of their
            limbs' fields, their own peak weighted by this times its score squared; None turns
            the pass off.

    A checkpoint may carry its own settings (its "inference" entry's "decode" dict), read with
    :func:`pafpose.config.from_dict`; one call's changes are :meth:`with_overrides`.
    """

    peak_threshold: float = 0.03
    smooth_sigma: float = 1.0
    refine: str = "quadratic"
    max_candidates: int = 100
    num_samples: int = 10
    paf_threshold: float = 0.025
    min_inlier_fraction: float = 0.8
    matching: str = "greedy"
    min_parts: int = 3
    min_score: float = 0.2
    person_score: str = "total"
    noise_factor: float = 4.0
    signal_fraction: float = 0.5
    recover: bool = True
    recover_radius: float = 3.0
    join_torsos: bool = True
    noisy_fields: float = 0.005
    noisy_heatmaps: float = 0.01
    bridge_inlier_fraction: float | None = 0.0
    placement_prior: float | None = 300.0

    def __post_init__(self) -> None:
        choices = {"refine": ("quadratic", "centroid", "none"), "matching": ("greedy", "hungarian"),
                   "person_score": ("total", "mean")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"decode: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.max_candidates < 1 or self.num_samples < 2 or self.min_parts < 1:
            raise UserError("decode: max_candidates and min_parts must be >= 1, num_samples >= 2")
        for name in ("min_inlier_fraction", "signal_fraction", "bridge_inlier_fraction"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise UserError(f"decode: {name} must lie in [0, 1], got {value}")
        for name in ("smooth_sigma", "noisy_fields", "noisy_heatmaps"):
            if not getattr(self, name) >= 0:
                raise UserError(f"decode: {name} must be >= 0, got {getattr(self, name)}")
        if not self.recover_radius > 0:
            raise UserError(f"decode: recover_radius must be positive, got {self.recover_radius}")
        if self.placement_prior is not None and not self.placement_prior > 0:
            raise UserError(f"decode: placement_prior must be positive or None, got {self.placement_prior}")

    def with_overrides(self, overrides: dict) -> DecodeParams:
        """These settings with some fields changed (validated again); ``self`` when none are.

        Raises:
            UserError: a name that is not a field (one line, naming the known ones), or a bad value.
        """
        if not overrides:
            return self
        unknown = sorted(set(overrides) - _FIELD_NAMES)
        if unknown:
            raise UserError(f"decode: unknown key '{unknown[0]}' (known: {', '.join(sorted(_FIELD_NAMES))})")
        return replace(self, **overrides)


_FIELD_NAMES = frozenset(f.name for f in fields(DecodeParams))

#: The defaults, built once.
DEFAULT_PARAMS = DecodeParams()
