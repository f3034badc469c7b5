"""Fixtures several test files share."""

from __future__ import annotations

import pytest
from cli_helpers import tiny_checkpoint


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """A tiny random-weight checkpoint: the inference code paths in milliseconds per image."""
    return tiny_checkpoint(tmp_path_factory.mktemp("weights") / "tiny.pt")
