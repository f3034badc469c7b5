"""Fixtures several test files share, and the ``requires`` marker.

``@pytest.mark.requires("onnx")`` skips a test, with the reason named, where an optional extra
(or another package that only some installs have) is missing: the suite passes with the base
install alone, with only ``[onnx]``, and with everything (as CI installs it). Capabilities of the
machine (CUDA, its device count) are checked by the tests themselves, so that they are tested
where they exist rather than skipped.
"""

from __future__ import annotations

import importlib.util
import os

import pytest
from cli_helpers import tiny_checkpoint

#: What each ``requires`` name needs importable, and what installs it.
OPTIONAL = {
    "onnx": (("onnx", "onnxscript", "onnxruntime"), "pip install 'pafpose[onnx]'"),
    "onnxruntime": (("onnxruntime",), "pip install 'pafpose[onnx]'"),
    "openvino": (("openvino",), "pip install 'pafpose[openvino]'"),
    "nncf": (("nncf",), "pip install 'pafpose[openvino]'"),
    "tensorboard": (("tensorboard",), "pip install 'pafpose[train]'"),
    "pillow": (("PIL",), "pip install pillow (pafpose[train] brings it)"),
}


def missing(*names: str) -> list[str]:
    """The modules of the ``requires`` names ``names`` that are not installed."""
    return [module for name in names for module in OPTIONAL[name][0]
            if importlib.util.find_spec(module) is None]


def pytest_configure(config):
    config.addinivalue_line("markers", "requires(*extras): skip, naming what is missing, unless the "
                                       f"optional packages are installed ({', '.join(OPTIONAL)})")


@pytest.hookimpl(tryfirst=True)  # before any fixture of the test is set up
def pytest_runtest_setup(item):
    for mark in item.iter_markers("requires"):
        unknown = [name for name in mark.args if name not in OPTIONAL]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid}: unknown requires({', '.join(unknown)})")
        absent = missing(*mark.args)
        if absent:
            hints = sorted({OPTIONAL[name][1] for name in mark.args})
            pytest.skip(f"needs {', '.join(absent)}, not installed ({'; '.join(hints)})")


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
