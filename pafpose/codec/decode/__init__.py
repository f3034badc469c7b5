"""Bottom-up parsing: from confidence maps and Part Affinity Fields to people.

The algorithm of Cao et al. (CVPR 2017, TPAMI 2019), vectorised, one module per stage, in the
order :func:`decode` runs them:

1. :mod:`.peaks`: keypoint candidates, sub-cell refined, above a threshold that follows the
   maps' noise but never overtakes their signal.
2. :mod:`.limbs`: every candidate pair of every limb scored by its PAF line integral (sampled by
   the one bilinear sampler, :mod:`.sampling`).
3. :mod:`.matching`: a one-to-one assignment of the scored pairs per limb.
4. :mod:`.recovery`: keypoints the heatmaps lost found at the ends of their limbs' fields; only
   the pairs they form are scored, and matching runs again.
5. :mod:`.assembly`: people from the matched limbs, greedy by limb score.
6. :mod:`.fragments`: fragments of one person that a scored pair joins merged.
7. :mod:`.torsos`: the upper and lower body of a person without any neck evidence joined.
8. and 9. :mod:`.output`: keypoints in input pixels, weak people dropped, best first.

On noisy maps only (the measured gate of :mod:`.noisy`), :mod:`.noisy` bridges fragments by
weaker pairs after step 6 and places weak keypoints on their limbs' lines after step 7.

Settings are one frozen :class:`DecodeParams` (:mod:`.params`), built once and passed along;
positions are in map cells until step 8 converts them with the head's geometry
(:class:`~pafpose.codec.spec.HeadSpec`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import UserError
from ..people import Person
from ..skeleton import Skeleton
from ..spec import HeadSpec
from . import noisy
from .assembly import Groups, assemble
from .fragments import merge_fragments
from .limbs import LimbCandidates, merged_candidates, score_limbs, score_pairs
from .matching import match_limbs
from .noisy import place_on_limbs
from .output import people_kept
from .params import DEFAULT_PARAMS, DecodeParams
from .peaks import Peaks, find_peaks, peak_threshold
from .recovery import recover_keypoints
from .sampling import field_noise, sample_fields
from .torsos import join_torsos, joined_torsos

if TYPE_CHECKING:  # for annotations only: decoding itself runs on numpy
    import torch

__all__ = ["DecodeParams", "Groups", "LimbCandidates", "Peaks", "assemble", "decode", "field_noise", "find_peaks",
           "join_torsos", "match_limbs", "merge_fragments", "peak_threshold", "place_on_limbs",
           "recover_keypoints", "sample_fields", "score_limbs", "score_pairs"]

_DEFAULT_HEAD = HeadSpec()


def _as_numpy(maps, name: str) -> np.ndarray:
    if hasattr(maps, "detach"):  # torch tensor on any device
        maps = maps.detach().to("cpu").float().numpy()
    try:
        maps = np.asarray(maps, dtype=np.float32)
    except (TypeError, ValueError):
        raise UserError(f"decode: {name} must be a numeric array, got {type(maps).__name__}") from None
    if maps.ndim != 3:
        raise UserError(f"decode: {name} must have shape (C, H, W) for one image, got {maps.shape}")
    if not np.isfinite(maps).all():
        raise UserError(f"decode: {name} contain NaN or inf")
    return maps


def _check_inputs(heatmaps, pafs, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    heatmaps, pafs = _as_numpy(heatmaps, "heatmaps"), _as_numpy(pafs, "pafs")
    k, num_limbs = sk.num_keypoints, sk.num_limbs
    if heatmaps.shape[0] not in (k, k + 1):
        raise UserError(f"decode: heatmaps need {k} or {k + 1} channels for skeleton {sk.name!r}, "
                        f"got {heatmaps.shape[0]}")
    if pafs.shape[0] != 2 * num_limbs:
        raise UserError(f"decode: pafs need {2 * num_limbs} channels ({num_limbs} limbs x 2) for "
                        f"skeleton {sk.name!r}, got {pafs.shape[0]}")
    if heatmaps.shape[1:] != pafs.shape[1:] or 0 in heatmaps.shape[1:]:
        raise UserError(f"decode: heatmaps {heatmaps.shape} and pafs {pafs.shape} must share a "
                        f"non-empty (H, W)")
    # The fields are sampled through a flat view, which a strided array (a network's channels-last
    # output) would copy on every sampling round.
    return heatmaps[:k], np.ascontiguousarray(pafs)


def decode(heatmaps: np.ndarray | torch.Tensor, pafs: np.ndarray | torch.Tensor,
           head: HeadSpec | None = None, params: DecodeParams | None = None, **overrides) -> list[Person]:
    """People in one image from its network maps.

    Args:
        heatmaps (np.ndarray | torch.Tensor): (K or K+1, H, W); a trailing background channel is
            ignored. K = 18 for COCO-18.
        pafs (np.ndarray | torch.Tensor): (2L, H, W); channel 2l = x and 2l+1 = y of the
            skeleton's limb l (L = 19 for COCO-18).
        head (HeadSpec): what the maps mean (skeleton, stride); default :class:`HeadSpec`'s
            COCO-18 at stride 8. :meth:`PafCodec.decode <pafpose.codec.head.PafCodec.decode>`
            passes its own.
        params (DecodeParams): the settings; default ``DecodeParams()``.
        **overrides: fields of :class:`DecodeParams` changed for this call only.

    Returns:
        list[Person]: people sorted by score (best first), each with (K, 3) keypoints x, y in
        input-image pixels and confidence (0 = missing).

    Raises:
        UserError (a ValueError): wrong shapes or channel counts, NaN/inf, unknown or bad settings.
    """
    params = (params or DEFAULT_PARAMS).with_overrides(overrides)
    head = head or _DEFAULT_HEAD
    skeleton = head.keypoint_skeleton
    heatmaps, pafs = _check_inputs(heatmaps, pafs, skeleton)
    num_types = skeleton.num_keypoints
    limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)

    peaks = find_peaks(heatmaps, params)
    candidates = score_limbs(peaks, pafs, limbs, params)
    connections = match_limbs(candidates, len(peaks.score), params.matching)
    if params.recover:
        recovered = recover_keypoints(peaks, connections, pafs, limbs, params)
        if recovered is not None:
            peaks, candidates = _with_recovered(peaks, candidates, recovered, pafs, limbs, params)
            connections = match_limbs(candidates, len(peaks.score), params.matching)
    if not len(connections.score):
        return []
    noisy_maps = noisy.maps_are_noisy(heatmaps, pafs, params)

    groups = assemble(peaks, connections, num_types)
    groups = merge_fragments(groups, candidates, peaks.kind, num_types)
    if noisy_maps and params.bridge_inlier_fraction is not None:
        groups = noisy.bridge_fragments(groups, peaks, pafs, limbs, params)
    keypoints, limb_total = groups.keypoints(peaks, num_types)
    if params.join_torsos:
        keypoints, limb_total = joined_torsos(keypoints, limb_total, skeleton)
    if noisy_maps and params.placement_prior is not None:
        keypoints = noisy.place_on_limbs(keypoints, pafs, limbs, params.placement_prior)
    return people_kept(keypoints, limb_total, peaks.score[groups.ends], groups.limb_score, head, params)


def _with_recovered(peaks: Peaks, candidates: LimbCandidates, recovered: tuple[Peaks, np.ndarray],
                    pafs: np.ndarray, limbs: np.ndarray, params: DecodeParams) -> tuple[Peaks, LimbCandidates]:
    """The candidates with the recovered ones, and the scored pairs with theirs (only the pairs
    with a recovered end are scored)."""
    before = len(peaks.score)
    peaks, source = recovered
    fresh = source >= before
    remap = np.full(before, -1)
    remap[source[~fresh]] = np.flatnonzero(~fresh)
    added = score_limbs(peaks, pafs, limbs, params, fresh=fresh)
    return peaks, merged_candidates(candidates, added, remap)
