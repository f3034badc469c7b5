"""What every pose network offers the rest of pafpose, declared once.

:class:`PafNetwork` is the base of the networks built here (``PoseNet``, ``MobileNetThin``):
``forward`` gives every stage's maps for training; ``infer`` only the last stages' for inference;
and inference splits in two (:meth:`PafNetwork.infer_first_stage` then
:meth:`PafNetwork.infer_later_stages`) so a backend can run the parts at different precisions.

:class:`PoseNetwork` is the smaller contract a backend needs from any model object, a network of
the caller's own included: ``infer`` and, optionally, a ``head``. Backends ask
:func:`splits_in_two` whether the split is available instead of probing attribute names.
"""

from __future__ import annotations

import abc
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..codec.spec import HeadSpec

__all__ = ["PafNetwork", "PoseNetwork", "splits_in_two"]


@runtime_checkable
class PoseNetwork(Protocol):
    """Anything the torch backend can run: ``infer`` maps a (B, 3, H, W) float32 RGB [0, 1]
    batch to (heatmaps (B, K+1, h, w), pafs (B, 2L, h, w)) of the last stages."""

    def infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class PafNetwork(nn.Module, abc.ABC):
    """A backbone then PAF and heatmap stages, every stage supervised.

    Subclasses give :meth:`features`, :meth:`stages` and the two-part split; ``cfg`` is their
    :class:`~pafpose.models.network.ModelConfig`, whose ``head`` says what the maps mean.
    """

    cfg: object

    @property
    def head(self) -> HeadSpec:
        """What the outputs mean (skeleton, stride, target widths)."""
        return self.cfg.head

    @abc.abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [0, 1] -> backbone features (B, C, h, w)."""

    @abc.abstractmethod
    def stages(self, f: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Backbone features -> (PAFs of every PAF stage, heatmaps of every heatmap stage)."""

    @abc.abstractmethod
    def infer_first_stage(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> the second stage's input: features and the first stage's maps."""

    @abc.abstractmethod
    def infer_later_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The second stage's input -> (heatmaps, pafs) of the last stages;
        ``infer(x) == infer_later_stages(infer_first_stage(x))``."""

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(B, 3, H, W) -> (PAFs of every PAF stage, heatmaps of every heatmap stage)."""
        return self.stages(self.features(x))

    def infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> (heatmaps (B, K+1, h, w), pafs (B, 2L, h, w)) of the last stages."""
        pafs, heatmaps = self.forward(x)
        return heatmaps[-1], pafs[-1]


def splits_in_two(model: object) -> bool:
    """Whether ``model`` runs in two parts (a :class:`PafNetwork`, or a wrapper around one)."""
    return isinstance(getattr(model, "module", model), PafNetwork)
