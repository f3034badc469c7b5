#!/usr/bin/env bash
# Creates .venv/ at the repository root and installs pafpose with every optional extra.
# Torch is pinned to 2.13.0 here because that CPU wheel is on this machine's local disk; the
# package itself only asks for torch>=2.2. Re-running is cheap: a stamp skips a finished install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stamp=".venv/.pafpose-installed"
want="$(sha256sum pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev,train,onnx,openvino]"  # every extra: the tests use them all
echo "$want" > "$stamp"
echo "pafpose installed into $root/.venv" >&2
