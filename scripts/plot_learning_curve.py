"""Plot a training run's learning curve (loss and validation AP against iterations).

Reads the ``metrics.jsonl`` that ``pafpose train`` writes into its output folder and prints the
numbers as a Markdown table as well.

    .venv/bin/python scripts/plot_learning_curve.py runs/x/metrics.jsonl docs/learning_curve.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import sys

import numpy as np

from pafpose.errors import UserError
from pafpose.extras import require

try:
    matplotlib = require("matplotlib", "train", "plotting the learning curve")
except UserError as err:
    sys.exit(f"plot_learning_curve.py: {err}")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(path: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    """(training records, validation records) by iteration; a resumed run's later lines win."""
    train, val = {}, {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if "val" in record:
                val[record["iteration"]] = record
            elif "loss" in record:  # not the one-off records such as skipped annotations
                train[record["iteration"]] = record
    return train, val


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over ``window`` points (shorter at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    ends = np.arange(1, len(values) + 1)
    return (cumulative[ends] - cumulative[ends - counts]) / counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--title", default="synthetic-small: training from scratch on a 2-core CPU")
    args = parser.parse_args()
    train, val = read_metrics(args.metrics)
    its = np.array(sorted(train))
    loss = np.array([train[i]["loss"] for i in its])
    minutes = np.array([train[i].get("elapsed_s", np.nan) for i in its]) / 60

    fig, ax_loss = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax_loss.plot(its, loss, color="0.75", lw=0.8, label="loss (one batch)")
    ax_loss.plot(its, smooth(loss, 10), color="tab:blue", lw=1.8, label="loss (running mean of 10)")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss (sum over pixels, channels, stages / batch)", color="tab:blue")
    ax_ap = ax_loss.twinx()
    if val:
        v_its = np.array(sorted(val))
        ax_ap.plot(v_its, [val[i]["val"]["AP"] for i in v_its], "o-", color="tab:red", label="val AP")
        ax_ap.plot(v_its, [val[i]["val"]["AP50"] for i in v_its], "s--", color="tab:orange", ms=4,
                   label="val AP50")
    ax_ap.set_ylim(0, 1)
    ax_ap.set_ylabel("COCO keypoint AP (held-out scenes)", color="tab:red")
    lines = ax_loss.get_legend_handles_labels()
    more = ax_ap.get_legend_handles_labels()
    ax_loss.legend(lines[0] + more[0], lines[1] + more[1], loc="center right", fontsize=8)
    ax_loss.set_title(args.title, fontsize=10)
    fig.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png)

    print("| iteration | minutes | loss (mean of last 10 logged) | val AP | val AP50 |")
    print("|---|---|---|---|---|")
    for i in sorted(val):
        k = int(np.searchsorted(its, i, side="right"))
        recent = loss[max(0, k - 10):k]
        elapsed = minutes[k - 1] if k else float("nan")
        print(f"| {i} | {elapsed:.1f} | {recent.mean():.1f} | {val[i]['val']['AP']:.3f} | "
              f"{val[i]['val']['AP50']:.3f} |")
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
