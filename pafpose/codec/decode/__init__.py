"""Bottom-up parsing: from confidence maps and Part Affinity Fields to people.

The algorithm of Cao et al. (CVPR 2017, TPAMI 2019), vectorised, one module per job:

1. :mod:`.peaks`: keypoint candidates, sub-cell refined, above a threshold that follows the
   maps' noise but never overtakes their signal.
2. :mod:`.limbs`: every candidate pair of every limb scored by its PAF line integral (sampled by
   the one bilinear sampler, :mod:`.sampling`), then matched one-to-one per limb.
3. :mod:`.recovery`: keypoints the heatmaps lost found at the ends of their limbs' fields; only
   the pairs they form are scored, and matching runs again.
4. :mod:`.assembly`: people from the matched limbs, fragments merged, split torsos joined,
   weak people filtered; before the filter, 5. :mod:`.placement` moves each keypoint onto the
   centre lines of its limbs' fields, which place it more precisely than a weak peak does.

Settings are :class:`DecodeParams` (:mod:`.params`). Positions are in map cells until assembly,
which converts them to input pixels with the head's geometry (:class:`~pafpose.codec.spec.HeadSpec`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...config import from_dict
from ...errors import UserError
from ..people import Person
from ..skeleton import Skeleton
from ..spec import HeadSpec
from .assembly import assemble, join_torsos
from .limbs import LimbCandidates, match_limbs, merged_candidates, score_limbs, score_pairs
from .params import DecodeParams
from .peaks import Peaks, find_peaks, noise_sigma, peak_threshold
from .placement import place_on_limbs
from .recovery import recover_keypoints
from .sampling import field_noise, fields_noisier_than, sample_fields

if TYPE_CHECKING:  # for annotations only: decoding itself runs on numpy
    import torch

__all__ = ["DecodeParams", "Peaks", "LimbCandidates", "decode", "find_peaks", "peak_threshold", "score_limbs",
           "match_limbs", "recover_keypoints", "assemble", "join_torsos", "place_on_limbs", "sample_fields", "field_noise"]


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
           head: HeadSpec | None = None, **params) -> list[Person]:
    """People in one image from its network maps.

    Args:
        heatmaps (np.ndarray | torch.Tensor): (K or K+1, H, W); a trailing background channel is
            ignored. K = 18 for COCO-18.
        pafs (np.ndarray | torch.Tensor): (2L, H, W); channel 2l = x and 2l+1 = y of the
            skeleton's limb l (L = 19 for COCO-18).
        head (HeadSpec): what the maps mean (skeleton, stride); default :class:`HeadSpec`'s
            COCO-18 at stride 8. :meth:`PafCodec.decode <pafpose.codec.head.PafCodec.decode>`
            passes its own.
        **params: fields of :class:`DecodeParams`.

    Returns:
        list[Person]: people sorted by score (best first), each with (K, 3) keypoints x, y in
        input-image pixels and confidence (0 = missing).

    Raises:
        UserError (a ValueError): wrong shapes or channel counts, NaN/inf, unknown parameters.
    """
    config = from_dict(DecodeParams, params, "decode")
    head = head or HeadSpec()
    skeleton = head.keypoint_skeleton
    heatmaps, pafs = _check_inputs(heatmaps, pafs, skeleton)
    stride = float(head.stride)
    image_height = config.image_height or heatmaps.shape[1] * stride
    peaks = find_peaks(heatmaps, stride, config)
    limbs = np.asarray(skeleton.limbs, dtype=np.int64).reshape(-1, 2)
    candidates = score_limbs(peaks, pafs, limbs, stride, image_height, config)
    connections = match_limbs(candidates, len(peaks.score), config.matching)
    if config.recover:
        recovered = recover_keypoints(peaks, connections, pafs, limbs, config)
        if recovered is not None:
            before = len(peaks.score)
            peaks, source = recovered
            fresh = source >= before
            remap = np.full(before, -1)
            remap[source[~fresh]] = np.flatnonzero(~fresh)
            added = score_limbs(peaks, pafs, limbs, stride, image_height, config, fresh=fresh)
            candidates = merged_candidates(candidates, added, remap)
            connections = match_limbs(candidates, len(peaks.score), config.matching)
    # The passes for noisy maps only: on clean and real maps a positive mean between two
    # fragments is more often a neighbour's field than a limb lost to the noise, and placing
    # keypoints on their limbs gains nothing there.
    noisy = fields_noisier_than(pafs, config.noisy_fields) or noise_sigma(heatmaps) > config.noisy_heatmaps
    rescore = place = None
    if noisy and config.bridge_inlier_fraction is not None:
        relaxed = replace(config, min_inlier_fraction=config.bridge_inlier_fraction)

        def rescore(limb: np.ndarray, a: np.ndarray, b: np.ndarray) -> LimbCandidates:
            return score_pairs(peaks, limb, a, b, pafs, stride, image_height, relaxed)
    if noisy and config.placement_prior is not None:
        def place(keypoints: np.ndarray) -> np.ndarray:
            return place_on_limbs(keypoints, pafs, limbs, config.placement_prior)
    return assemble(peaks, connections, head, config, candidates, rescore, place)
