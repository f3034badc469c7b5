"""Optional dependencies: imported when first needed, with a one-line install hint when missing.

Inference needs only the core dependencies; training logs need ``pafpose[train]`` (TensorBoard,
matplotlib for the learning-curve script) and ONNX export/runtime ``pafpose[onnx]``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import UserError

__all__ = ["require"]


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise UserError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise UserError(f"{purpose} needs {package}, which is not installed: "
                        f"pip install 'pafpose[{extra}]'") from None
