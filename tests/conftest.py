"""Fixtures several test files share."""

from __future__ import annotations

import os

import pytest
from cli_helpers import tiny_checkpoint


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory):
    """Converted networks (OpenVINO IR, ONNX exports) go to a per-session folder, not ~/.cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("PAFPOSE_CACHE")
    os.environ["PAFPOSE_CACHE"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("PAFPOSE_CACHE", None)
    else:
        os.environ["PAFPOSE_CACHE"] = previous


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """A tiny random-weight checkpoint: the inference code paths in milliseconds per image."""
    return tiny_checkpoint(tmp_path_factory.mktemp("weights") / "tiny.pt")
