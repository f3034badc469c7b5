"""pafpose: OpenPose with Part Affinity Fields in PyTorch.

``pafpose.Predictor`` and ``pafpose.Person`` are the everyday entry points; they are imported on
first use so that ``import pafpose`` (and every CLI start-up) stays light.
"""

from __future__ import annotations

__all__ = ["Predictor", "Person"]


def __getattr__(name: str):
    if name == "Predictor":
        from .inference.predict import Predictor

        return Predictor
    if name == "Person":
        from .codec.people import Person

        return Person
    raise AttributeError(f"module 'pafpose' has no attribute {name!r}")
