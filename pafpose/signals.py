"""SIGTERM taken the way Ctrl-C is, so long jobs keep their finished work when killed.

``timeout``, schedulers and ``kill`` send SIGTERM, whose default action ends the process on the
spot: no ``finally``, no ``except KeyboardInterrupt`` cleanup, temporaries left behind. Inside
:func:`terminate_as_interrupt` SIGTERM raises :class:`Terminated`, a ``KeyboardInterrupt``, so the
cleanup written for Ctrl-C runs for both, and the CLI still tells the two apart in its exit status.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

__all__ = ["Terminated", "terminate_as_interrupt", "raise_for_signal"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: handled like Ctrl-C (``except KeyboardInterrupt`` catches it)."""


def raise_for_signal(signum: int) -> None:
    """Raise what ``signum`` means: :class:`Terminated` for SIGTERM, else KeyboardInterrupt."""
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` wherever the main thread is.

    Signal handlers belong to the main thread; elsewhere (a worker thread running a command)
    this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: raise_for_signal(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
