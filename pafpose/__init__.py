"""pafpose: OpenPose with Part Affinity Fields in PyTorch."""
