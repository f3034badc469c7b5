"""A second SIGTERM stops ``pafpose train`` at once, however the two arrive."""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from pathlib import Path

from cli_helpers import run
from train_helpers import PoseSamples

from pafpose import errors

TINY = str(Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml")


def test_two_sigterms_during_one_long_c_call_stop_training_at_once(tmp_path, monkeypatch):
    """Python runs one handler for signals of one number that arrive during one C call: the
    second SIGTERM used to be taken for the first, and the run saved and exited resumable."""
    main = threading.get_ident()
    sent = []

    def two_sigterms_soon(started: threading.Event):
        started.wait()
        time.sleep(0.1)
        signal.pthread_kill(main, signal.SIGTERM)
        time.sleep(0.05)
        signal.pthread_kill(main, signal.SIGTERM)
        sent.append(time.perf_counter())

    class SlowItem(PoseSamples):
        calls = 0

        def __getitem__(self, index):
            SlowItem.calls += 1
            if SlowItem.calls == 3:
                started = threading.Event()
                sender = threading.Thread(target=two_sigterms_soon, args=(started,))
                sender.start()
                started.set()
                # One C call that releases the GIL for about a second: both signals arrive in it.
                hashlib.pbkdf2_hmac("sha256", b"pafpose", b"salt", 3_000_000)
                ended = time.perf_counter()
                sender.join()
                assert sent[0] < ended, "the C call ended before the second signal came: lengthen it"
            return super().__getitem__(index)

    monkeypatch.setattr("pafpose.training.loop.build_train_dataset", lambda cfg: SlowItem(count=8))
    code, out, err = run("train", "--config", TINY, "--out", tmp_path / "run", "--iterations", "50",
                         "--no-progress", "--workers", "0")
    assert code == errors.EXIT_TERMINATED and err.strip() == "pafpose train: terminated", (code, err)
    assert "interrupted at iteration" not in out  # not the first signal's orderly stop
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and signal.set_wakeup_fd(-1) == -1
