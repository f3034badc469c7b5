"""The OpenPose training loss: masked squared error on every stage's PAFs and heatmaps.

``f = sum_t sum_p W(p) * ||pred_t(p) - target(p)||^2`` over all pixels p, channels and stages
(deep supervision, paper eq. 3-6), where W(p) is 0 where labels are missing (crowds, unlabelled
people; :mod:`pafpose.codec.masks`). The mask (B, 1, h, w) broadcasts over channels.

Reductions:

* ``"batch"`` (default, as CMU trains): the sum divided by the batch size. Gradients keep the
  scale of one image's full error map, which is what Adam at lr 1e-4 was tuned for.
* ``"mean"``: the mean over every element of each stage's maps, summed over stages. It is
  46 * 46 * 57 times smaller, and since almost all target pixels are empty the network first
  learns to output zeros and then stalls there for a long time: documented, not recommended.

Online hard negative mining (``hnm_ratio > 0``): per sample, stage and map type, keep every
positive element (target differs from its empty value: 0 for keypoints and PAFs, 1 for the
background heatmap), the ``hnm_ratio * #positives`` negatives with the largest error, and
optionally ``rnm_ratio * #positives`` further random negatives; other negatives contribute 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import UserError

__all__ = ["LossConfig", "LossResult", "pose_loss", "masked_squared_error"]


@dataclass
class LossConfig:
    """reduction "batch" | "mean"; hnm_ratio 0 disables mining; rnm_ratio needs hnm_ratio > 0."""

    reduction: str = "batch"
    hnm_ratio: float = 0.0
    rnm_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.reduction not in ("batch", "mean"):
            raise UserError(f"loss config: unknown reduction {self.reduction!r} (choose 'batch' or 'mean')")
        if self.hnm_ratio < 0 or self.rnm_ratio < 0:
            raise UserError("loss config: hnm_ratio and rnm_ratio must be >= 0")
        if self.rnm_ratio > 0 and self.hnm_ratio == 0:
            raise UserError("loss config: rnm_ratio needs hard negative mining (hnm_ratio > 0)")


@dataclass
class LossResult:
    """``total`` (scalar, differentiable) and detached per-stage terms for logging."""

    total: torch.Tensor
    paf_stages: list[torch.Tensor]
    heatmap_stages: list[torch.Tensor]


def _kept_negatives(error: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                    hnm_ratio: float, rnm_ratio: float) -> torch.Tensor:
    """(B, N) bool: the hardest ``hnm_ratio * #pos`` and ``rnm_ratio * #pos`` random negatives."""
    n_pos = positive.sum(dim=1, keepdim=True)
    keep = _top_per_row(torch.where(negative, error, -1.0), negative, (n_pos * hnm_ratio).ceil())
    if rnm_ratio > 0:
        others = negative & ~keep
        scores = torch.where(others, torch.rand_like(error), -1.0)
        keep |= _top_per_row(scores, others, (n_pos * rnm_ratio).ceil())
    return keep


def _top_per_row(scores: torch.Tensor, eligible: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(B, N) bool: per row the ``counts[b]`` eligible elements with the largest scores."""
    order = scores.argsort(dim=1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order))
    return eligible & (rank < counts)


def masked_squared_error(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                         empty_value: torch.Tensor | None = None, hnm_ratio: float = 0.0,
                         rnm_ratio: float = 0.0) -> torch.Tensor:
    """Sum over the batch of ``mask * (pred - target)^2``; pred/target (B, C, h, w), mask (B, 1, h, w).

    ``empty_value`` (C,) is each channel's value where nothing is present (used by hard
    negative mining to tell positives from negatives; default 0).
    """
    error = (pred.float() - target) ** 2 * mask
    if hnm_ratio <= 0:
        return error.sum()
    with torch.no_grad():
        empty = torch.zeros(pred.shape[1], device=pred.device) if empty_value is None else empty_value
        valid = (mask > 0).expand_as(target)
        positive = (target != empty.view(1, -1, 1, 1)) & valid
        negative = valid & ~positive
        flat = (error.flatten(1), positive.flatten(1), negative.flatten(1))
        keep = flat[1] | _kept_negatives(*flat, hnm_ratio, rnm_ratio)
    return (error.flatten(1) * keep).sum()


def pose_loss(pafs_per_stage: list[torch.Tensor], heatmaps_per_stage: list[torch.Tensor],
              paf_target: torch.Tensor, heatmap_target: torch.Tensor, mask: torch.Tensor,
              cfg: LossConfig | None = None) -> LossResult:
    """Deep-supervision loss of a PoseNet's outputs against targets of one batch.

    Args:
        pafs_per_stage (list[torch.Tensor]): per PAF stage, (B, 2L, h, w) predicted PAFs.
        heatmaps_per_stage (list[torch.Tensor]): per heatmap stage, (B, K+1, h, w) predicted
            heatmaps, background channel last.
        paf_target (torch.Tensor): (B, 2L, h, w) ground-truth PAFs.
        heatmap_target (torch.Tensor): (B, K+1, h, w) ground-truth heatmaps, background last.
        mask (torch.Tensor): (B, 1, h, w) loss mask W(p) in [0, 1], broadcast over channels.
        cfg (LossConfig | None): reduction and hard negative mining; default ``LossConfig()``.

    Returns:
        LossResult: ``total`` (scalar, differentiable) and the detached per-stage terms.

    Raises:
        UserError: a mask that is not (B, 1, h, w), or predictions, targets and mask whose shapes
        disagree.
    """
    cfg = cfg or LossConfig()
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise UserError(f"loss mask must have shape (B, 1, h, w), got {tuple(mask.shape)}")
    for name, preds, target in (("PAF", pafs_per_stage, paf_target), ("heatmap", heatmaps_per_stage, heatmap_target)):
        for pred in preds:
            if pred.shape != target.shape or pred.shape[-2:] != mask.shape[-2:] or pred.shape[0] != mask.shape[0]:
                raise UserError(f"{name} prediction {tuple(pred.shape)} does not match target "
                                f"{tuple(target.shape)} and mask {tuple(mask.shape)}")
    mask = mask.float()
    heat_empty = torch.zeros(heatmap_target.shape[1], device=heatmap_target.device)
    heat_empty[-1] = 1.0  # the background channel is 1 away from people
    mining = (cfg.hnm_ratio, cfg.rnm_ratio)
    paf_terms = [masked_squared_error(p, paf_target, mask, None, *mining) for p in pafs_per_stage]
    heat_terms = [masked_squared_error(h, heatmap_target, mask, heat_empty, *mining) for h in heatmaps_per_stage]
    if cfg.reduction == "batch":
        scale = [1.0 / paf_target.shape[0]] * len(paf_terms) + [1.0 / heatmap_target.shape[0]] * len(heat_terms)
    else:
        scale = [1.0 / paf_target.numel()] * len(paf_terms) + [1.0 / heatmap_target.numel()] * len(heat_terms)
    terms = [t * s for t, s in zip(paf_terms + heat_terms, scale)]
    total = torch.stack(terms).sum()
    detached = [t.detach() for t in terms]
    return LossResult(total, detached[:len(paf_terms)], detached[len(paf_terms):])
