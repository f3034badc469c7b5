"""Shared test setup."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory):
    """Converted networks (OpenVINO IR, ONNX exports) go to a per-session folder, not ~/.cache."""
    import os

    folder = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("PAFPOSE_CACHE")
    os.environ["PAFPOSE_CACHE"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("PAFPOSE_CACHE", None)
    else:
        os.environ["PAFPOSE_CACHE"] = previous
