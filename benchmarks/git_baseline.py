"""Earlier versions of pafpose's own modules, read from git history, as the benchmarks' "before".

A module is loaded from the repository at run time (``git show COMMIT:PATH``) with its relative
imports pointed at today's addresses and nothing else changed, so a benchmark compares against
exactly that code without a frozen copy in the tree. Where git or the commit is not at hand (an
export without history, a shallow clone), :func:`load_from_git` says why and returns None, and
the benchmark leaves its "before" rows or columns out.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_from_git(commit: str, path: str, imports: dict[str, str], what: str) -> types.ModuleType | None:
    """The module at ``commit:path`` with each ``imports`` key replaced by its value; None (with a
    note on stderr naming ``what`` is left out) when it cannot be had."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"(no {commit}:{path} from git: {getattr(err, 'stderr', '') or err}; {what} left out)",
              file=sys.stderr)
        return None
    for relative, absolute in imports.items():
        source = source.replace(relative, absolute)
    name = f"{Path(path).stem}_{commit}"
    module = types.ModuleType(name)
    module.__file__ = f"{commit}:{path}"
    sys.modules[name] = module  # dataclasses look their module up
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except Exception as err:  # the old code against today's modules
        del sys.modules[name]
        print(f"({commit}:{path} no longer loads: {err!r}; {what} left out)", file=sys.stderr)
        return None
    return module


def decoder_7f7e151() -> types.ModuleType | None:
    """``pafpose/decode.py`` at 7f7e151 ("write_image: JPEG quality only for JPEG files"): the
    decoder before recovery, fragment merging and noise-following thresholds; its
    ``decode(heatmaps, pafs, stride, skeleton, **params)`` is the old decoder."""
    return load_from_git("7f7e151", "pafpose/decode.py",
                         {"from .errors import": "from pafpose.errors import",
                          "from .people import": "from pafpose.codec.people import",
                          "from .skeleton import": "from pafpose.codec.skeleton import"},
                         "the 'before' columns are")


def tracker_7b30442() -> types.ModuleType | None:
    """``pafpose/tracking/tracker.py`` at 7b30442: the tracker before issue 26 (widening gates,
    frame counts, ids after confirmation); its ``PoseTracker`` is the "before" row."""
    return load_from_git("7b30442", "pafpose/tracking/tracker.py",
                         {"from ..codec.people import": "from pafpose.codec.people import",
                          "from ..codec.skeleton import": "from pafpose.codec.skeleton import"},
                         "the 'before' tracker is")
