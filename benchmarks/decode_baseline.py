"""The decoder before the robustness work, read from git history, as the benchmarks' "before".

``pafpose/decode.py`` at commit 7f7e151 ("write_image: JPEG quality only for JPEG files"): the
decoder before recovery, fragment merging and noise-following thresholds. It is loaded from the
repository at run time (``git show``) with its three relative imports pointed at the modules'
current addresses and nothing else changed, so the benchmarks compare against exactly that
code without a frozen copy in the tree. Where git or that commit is not at hand (an export
without history, a shallow clone), :func:`load_baseline` says why and returns None, and the
benchmarks leave the "before" columns out.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "7f7e151"
PATH = "pafpose/decode.py"
_IMPORTS = {"from .errors import": "from pafpose.errors import",
            "from .people import": "from pafpose.codec.people import",
            "from .skeleton import": "from pafpose.codec.skeleton import"}


def load_baseline() -> types.ModuleType | None:
    """The module, whose ``decode(heatmaps, pafs, stride, skeleton, **params)`` is the old
    decoder; None (with a note on stderr) when it cannot be had."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{COMMIT}:{PATH}"], capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"(no {COMMIT}:{PATH} from git: {getattr(err, 'stderr', '') or err}; "
              "the 'before' columns are left out)", file=sys.stderr)
        return None
    for relative, absolute in _IMPORTS.items():
        source = source.replace(relative, absolute)
    name = f"decoder_{COMMIT}"
    module = types.ModuleType(name)
    module.__file__ = f"{COMMIT}:{PATH}"
    sys.modules[name] = module  # dataclasses look their module up
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    except Exception as err:  # the old code against today's modules
        del sys.modules[name]
        print(f"({COMMIT}:{PATH} no longer loads: {err!r}; the 'before' columns are left out)", file=sys.stderr)
        return None
    return module
