"""pafpose: OpenPose with Part Affinity Fields in PyTorch.

The everyday entry points are imported on first use, so that ``import pafpose`` (and every CLI
start-up) stays light:

- ``pafpose.Predictor``: images -> people (:mod:`pafpose.inference.predict`);
- ``pafpose.Person``: one detected person (:mod:`pafpose.codec.people`);
- ``pafpose.HeadSpec`` and ``pafpose.PafCodec``: what a network's maps mean, and encoding people
  into them and decoding them back (:mod:`pafpose.codec.head`).

The package follows the data flow: ``codec`` (skeleton, targets, masks, decoding) -> ``models``
-> ``data`` -> ``training``; ``io`` (images, annotations, checkpoints, converters) and
``inference`` (predictor, rendering, ONNX, evaluation) around them; ``commands`` is the CLI.
"""

from __future__ import annotations

__all__ = ["HeadSpec", "PafCodec", "Person", "Predictor"]

_LAZY = {"Predictor": ".inference.predict", "Person": ".codec.people", "HeadSpec": ".codec.head",
         "PafCodec": ".codec.head"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'pafpose' has no attribute {name!r}")
