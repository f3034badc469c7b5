"""Fixtures of the decoder tests."""

from __future__ import annotations

import pytest
from decode_helpers import real_sample_maps


@pytest.fixture(scope="session")
def sample():
    """The real COCO sample's ground-truth maps: (coco, [(image_id, heatmaps, pafs, keypoints)])."""
    return real_sample_maps()
