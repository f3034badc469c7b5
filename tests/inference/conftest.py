"""Fixtures of the inference tests."""

from __future__ import annotations

import pytest
from cli_helpers import TINY_MOBILENET_CONFIG, tiny_model

from pafpose.io.checkpoint import save_checkpoint


@pytest.fixture(scope="session")
def mobilenet_checkpoint(tmp_path_factory):
    """A tiny random mobilenet-thin checkpoint recommending input height 64."""
    path = tmp_path_factory.mktemp("w") / "tiny-mobilenet.pt"
    return save_checkpoint(path, {"model": tiny_model(TINY_MOBILENET_CONFIG).state_dict(),
                                  "model_config": TINY_MOBILENET_CONFIG, "inference": {"input_height": 64}})
