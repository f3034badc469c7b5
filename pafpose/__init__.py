"""pafpose: OpenPose with Part Affinity Fields in PyTorch.

The everyday entry points are imported on first use, so that ``import pafpose`` (and every CLI
start-up) stays light:

- ``pafpose.Predictor``: images -> people (:mod:`pafpose.inference.predict`);
- ``pafpose.Runner``: people per frame of files, folders, videos, cameras and streams, through
  a pipeline (:mod:`pafpose.inference.runner`), and ``pafpose.ResultWriter``: the outputs
  ``pafpose infer`` writes from its frames (:mod:`pafpose.inference.writer`);
- ``pafpose.Person``: one detected person (:mod:`pafpose.codec.people`);
- ``pafpose.HeadSpec`` and ``pafpose.PafCodec``: what a network's maps mean, and encoding people
  into them and decoding them back (:mod:`pafpose.codec.head`).

The package has one folder per stage, in the order the data flows, each importing only the
ones before it (``tests/test_layout.py`` checks it): ``codec`` (skeleton, targets, masks,
decoding) -> ``models`` -> ``io`` (images, media, annotations, checkpoints, converters) ->
``data`` (datasets, augmentation, synthetic scenes) and ``tracking`` (person ids and smoothing
over time; it needs only ``codec``) -> ``inference`` (the engine's stages, predictor, runner,
backends, rendering, ONNX, evaluation) -> ``training`` -> ``demo`` -> ``commands`` (the CLI).
Below them all sit the shared modules ``errors``, ``config``, ``device``, ``extras`` and
``signals``.

``pafpose.__version__`` is the installed distribution's version (the source tree's
``pyproject.toml`` when it is not installed).
"""

from __future__ import annotations

__all__ = ["HeadSpec", "PafCodec", "Person", "Predictor", "Runner", "ResultWriter", "__version__"]

_LAZY = {"Predictor": ".inference.predict", "Person": ".codec.people", "HeadSpec": ".codec.head",
         "PafCodec": ".codec.head", "Runner": ".inference.runner", "ResultWriter": ".inference.writer"}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(__name__)
    except PackageNotFoundError:  # run from a source tree that pip never installed
        import re
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE) \
            if pyproject.is_file() else None
        return match.group(1) if match else "unknown"


def __getattr__(name: str):
    if name == "__version__":
        return _version()
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'pafpose' has no attribute {name!r}")
