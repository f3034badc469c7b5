"""One training process: its device and process group, its AMP precision, its RNG state, its signals.

Under ``torchrun`` (WORLD_SIZE > 1) every process joins a process group (nccl on CUDA, gloo on
CPU) on the device of its LOCAL_RANK; alone, it is rank 0 of 1 and no group is created. On CUDA
each process takes a GPU of its own: a node started with more processes than it has GPUs is
refused in one line (NCCL cannot run two ranks on one GPU), naming the two ways out.
"""

from __future__ import annotations

import datetime
import os
import random
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist

from ..device import check_device
from ..errors import UserError
from ..signals import raise_for_signal

__all__ = ["ProcessContext", "amp_dtype", "end_process_group", "rng_state", "set_rng_state",
           "setup_process", "stop_on_signals"]


@dataclass
class ProcessContext:
    """This process's rank among ``world_size`` and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_process(device_name: str) -> ProcessContext:
    """Pick this process's device ("auto": its LOCAL_RANK's GPU, else the CPU; "cuda": its
    LOCAL_RANK's GPU) and, under ``torchrun``, join the process group. UserError where LOCAL_RANK
    has no GPU of its own."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = check_device(device_name)
    if device.type == "cuda" and device.index is None:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"LOCAL_RANK {local_rank} has no GPU of its own: this process sees "
                            f"{torch.cuda.device_count()} CUDA device(s), one per process; start at "
                            f"most that many processes per node (torchrun --nproc_per_node) or train "
                            f"on the CPU (--device cpu)")
        device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        # Long validation passes on rank 0 must not trip the collective timeout of the others.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(hours=2))
    rank = dist.get_rank() if dist.is_initialized() else 0
    return ProcessContext(rank, dist.get_world_size() if dist.is_initialized() else 1, device)


def end_process_group() -> None:
    """Leave the process group, if this process is in one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the config's ``amp`` on ``device``; None: full precision."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if amp == "fp16":
        return torch.float16
    if amp == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def rng_state() -> dict:
    """This process's torch, CUDA, numpy and ``random`` generator states (checkpointable)."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


@contextmanager
def stop_on_signals() -> Iterator[dict]:
    """Turn the first SIGINT/SIGTERM into a flag (``["stop"]``) the loop checks after each step.

    A second one raises at once (KeyboardInterrupt, or :class:`pafpose.signals.Terminated`): a
    long validation pass or a stuck data loader would otherwise ignore the user's insistence.
    Python runs a handler only between bytecodes, once per signal *number*: two signals that
    arrive during one long C call (a backward pass, a large convolution) would reach it as one,
    and the run would save and exit as after the first. So every delivery is also counted
    through :func:`signal.set_wakeup_fd`, where the interpreter writes one byte per signal.
    """
    requested = {"stop": False}
    stops = (signal.SIGINT, signal.SIGTERM)
    reader, writer = os.pipe()
    for fd in (reader, writer):
        os.set_blocking(fd, False)
    delivered = 0

    def handler(signum, frame):
        nonlocal delivered
        try:
            delivered += sum(byte in stops for byte in os.read(reader, 1024))
        except OSError:  # nothing written (the interpreter could not): count this call alone
            pass
        delivered = max(delivered, 1 + requested["stop"])
        if delivered > 1:
            raise_for_signal(signum)
        requested["stop"] = True

    previous = {s: signal.signal(s, handler) for s in stops}
    previous_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    try:
        yield requested
    finally:
        signal.set_wakeup_fd(previous_fd)
        for s, h in previous.items():
            signal.signal(s, h)
        os.close(reader)
        os.close(writer)
