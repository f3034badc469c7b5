"""The OpenPose networks: VGG-19 features, then PAF and heatmap refinement stages."""

from .network import ModelConfig, PoseNet, build_model

__all__ = ["ModelConfig", "PoseNet", "build_model"]
