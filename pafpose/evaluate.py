"""COCO keypoint evaluation (pycocotools COCOeval, COCO-17 and the official OKS sigmas)."""

from __future__ import annotations

import contextlib
import io
from typing import Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .people import Person

__all__ = ["METRIC_NAMES", "evaluate_keypoints", "people_to_coco_results"]

#: The names of COCOeval's ten keypoint statistics, in its order.
METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def people_to_coco_results(people: Sequence[Person], image_id: int) -> list[dict]:
    """COCO keypoint results for one image: 17 x (x, y, v) and score per person.

    v is 1 for found keypoints and 0 (with x = y = 0) for missing ones; COCOeval ignores v.
    """
    results = []
    for person in people:
        kp = np.asarray(person.to_coco17(), dtype=np.float64)
        found = kp[:, 2] > 0
        triples = np.where(found[:, None], np.column_stack([kp[:, :2], np.ones(17)]), 0.0)
        results.append({"image_id": int(image_id), "category_id": 1,
                        "keypoints": triples.reshape(-1).tolist(), "score": float(person.score)})
    return results


def evaluate_keypoints(coco_gt: COCO, results: list[dict],
                       image_ids: Sequence[int] | None = None) -> dict[str, float]:
    """COCO keypoint AP/AR of ``results`` against ``coco_gt``.

    Args:
        coco_gt: ground truth with person keypoint annotations (each needs an 'area').
        results: COCO result dicts (see :func:`people_to_coco_results`).
        image_ids: images to evaluate on; default all images of ``coco_gt`` (images without
            results count as misses).

    Returns:
        {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}; all zeros when
        ``results`` is empty.
    """
    if not results:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco_dt = coco_gt.loadRes(list(results))
        evaluator = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        evaluator.params.imgIds = sorted(coco_gt.getImgIds() if image_ids is None else image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # COCOeval reports -1 where a statistic has no ground truth (e.g. no medium people).
    return {name: float(max(value, 0.0)) for name, value in zip(METRIC_NAMES, evaluator.stats)}
