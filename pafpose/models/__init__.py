"""The OpenPose networks: VGG-19 features, then PAF and heatmap refinement stages."""

from .mobilenet_thin import MobileNetThin
from .network import ModelConfig, PoseNet, build_model

__all__ = ["ModelConfig", "MobileNetThin", "PoseNet", "build_model"]
