"""The OpenPose networks: a feature backbone (VGG-19 for ``tpami`` and ``cvpr2017``, MobileNet-v1
for ``mobilenet-thin``), then PAF and heatmap refinement stages whose output channels the head decides."""

from .base import PafNetwork, PoseNetwork, splits_in_two
from .mobilenet_thin import MobileNetThin
from .network import ModelConfig, PoseNet, build_model

__all__ = ["ModelConfig", "MobileNetThin", "PafNetwork", "PoseNet", "PoseNetwork", "build_model", "splits_in_two"]
