"""The masked multi-stage squared-error loss and its hard negative mining."""

from __future__ import annotations

import pytest
import torch

from pafpose.errors import UserError
from pafpose.training.loss import LossConfig, masked_squared_error, pose_loss

torch.manual_seed(0)


def _targets(batch=2, h=6, w=5):
    pafs = torch.zeros(batch, 38, h, w)
    pafs[:, 4:6, 2:4, 1:3] = 0.7
    heat = torch.zeros(batch, 19, h, w)
    heat[:, 3, 1:3, 2:4] = 0.9
    heat[:, -1] = 1 - heat[:, :-1].amax(1)
    return pafs, heat


def test_value_is_sum_over_pixels_channels_stages_over_batch():
    pafs_t, heat_t = _targets()
    mask = torch.ones(2, 1, 6, 5)
    pafs = [torch.randn_like(pafs_t) for _ in range(3)]
    heats = [torch.randn_like(heat_t) for _ in range(2)]
    result = pose_loss(pafs, heats, pafs_t, heat_t, mask)
    expected = (sum(((p - pafs_t) ** 2).sum() for p in pafs) + sum(((s - heat_t) ** 2).sum() for s in heats)) / 2
    assert torch.allclose(result.total, expected)
    assert len(result.paf_stages) == 3 and len(result.heatmap_stages) == 2
    assert torch.allclose(sum(result.paf_stages) + sum(result.heatmap_stages), result.total)
    mean = pose_loss(pafs, heats, pafs_t, heat_t, mask, LossConfig(reduction="mean"))
    expected_mean = sum(((p - pafs_t) ** 2).mean() for p in pafs) + sum(((s - heat_t) ** 2).mean() for s in heats)
    assert torch.allclose(mean.total, expected_mean)


@pytest.mark.parametrize("mining", [LossConfig(), LossConfig(hnm_ratio=2.0, rnm_ratio=1.0)])
def test_zero_where_masked_whatever_the_prediction(mining):
    pafs_t, heat_t = _targets()
    mask = torch.ones(2, 1, 6, 5)
    mask[0, :, :3] = 0
    mask[1] = 0
    base_p, base_h = torch.randn_like(pafs_t), torch.randn_like(heat_t)
    wild_p, wild_h = base_p.clone(), base_h.clone()
    masked = (mask == 0).expand_as(pafs_t)
    wild_p[masked] = 1e4 * torch.randn(int(masked.sum()))
    wild_h[(mask == 0).expand_as(heat_t)] = -1e4
    # Mined: the masked entries' huge errors must not even be selected as hard negatives.
    a = pose_loss([base_p], [base_h], pafs_t, heat_t, mask, mining).total
    b = pose_loss([wild_p], [wild_h], pafs_t, heat_t, mask, mining).total
    if mining.rnm_ratio == 0:
        assert torch.allclose(a, b)
    assert b < 1e3  # not a single 1e8 term leaked in
    # Gradients through masked cells are exactly zero.
    pred = wild_p.clone().requires_grad_(True)
    pose_loss([pred], [base_h], pafs_t, heat_t, mask, mining).total.backward()
    assert torch.all(pred.grad[masked] == 0)
    # An all-zero mask gives exactly zero.
    zero = pose_loss([wild_p], [wild_h], pafs_t, heat_t, torch.zeros_like(mask), mining).total
    assert zero.item() == 0.0


def test_hard_negative_mining_keeps_positives_and_the_hardest_negatives():
    target = torch.zeros(1, 1, 1, 10)
    target[..., :2] = 1.0  # 2 positives
    pred = torch.zeros(1, 1, 1, 10)
    pred[..., :2] = 0.5  # positive errors 0.25 each
    pred[..., 2:] = torch.tensor([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6])  # negatives
    mask = torch.ones(1, 1, 1, 10)
    kept = masked_squared_error(pred, target, mask, hnm_ratio=1.5)  # ceil(3) hardest: .9 .8 .7
    assert torch.isclose(kept, torch.tensor(2 * 0.25 + 0.81 + 0.64 + 0.49))
    everything = masked_squared_error(pred, target, mask)
    assert kept < everything
    # Random negatives add ceil(rnm * #pos) more, none of them the hard ones already kept.
    with_random = masked_squared_error(pred, target, mask, hnm_ratio=1.5, rnm_ratio=1.0)
    extra = with_random - kept
    assert 0.01 + 0.04 - 1e-6 <= extra <= 0.36 + 0.16 + 1e-6


def test_background_channel_counts_as_positive_where_below_one():
    pafs_t, heat_t = _targets(batch=1)
    mask = torch.ones(1, 1, 6, 5)
    # Predict the targets exactly except a huge error on the background near the keypoint.
    heat = heat_t.clone()
    heat[0, -1, 1, 2] += 10.0
    loss = pose_loss([pafs_t.clone()], [heat], pafs_t, heat_t, mask, LossConfig(hnm_ratio=0.5)).total
    assert torch.isclose(loss, torch.tensor(100.0))


def test_mismatched_shapes_and_bad_config_are_user_errors():
    pafs_t, heat_t = _targets()
    with pytest.raises(UserError, match="does not match"):
        pose_loss([pafs_t[:, :, :4]], [heat_t], pafs_t, heat_t, torch.ones(2, 1, 6, 5))
    with pytest.raises(UserError, match=r"\(B, 1, h, w\)"):
        pose_loss([pafs_t], [heat_t], pafs_t, heat_t, torch.ones(2, 6, 5))
    with pytest.raises(UserError, match="reduction"):
        LossConfig(reduction="sum")
    with pytest.raises(UserError, match="rnm_ratio"):
        LossConfig(rnm_ratio=1.0)
