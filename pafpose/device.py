"""Checking a device name a user typed, before anything is loaded onto it."""

from __future__ import annotations

import torch

from .errors import UserError

__all__ = ["check_device"]


def check_device(name: str | torch.device) -> torch.device:
    """``name`` as a torch.device; UserError in one line when it is malformed or absent here.

    torch itself only fails at the first tensor moved there, with a traceback several frames
    deep (and "tpu" is not even a torch device type).
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError(f"device {str(name)!r}: not a device name (use cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {str(name)!r}: CUDA is not available on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device {str(name)!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device {str(name)!r}: Apple MPS is not available on this machine (use --device cpu)")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"device {str(name)!r}: pafpose runs on cpu, cuda or mps")
    return device
