"""COCO keypoint evaluation (pycocotools COCOeval, COCO-17 and the official OKS sigmas), and
validation: a model's AP on a COCO annotation file."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..codec.people import Person

if TYPE_CHECKING:
    import torch

__all__ = ["METRIC_NAMES", "evaluate_keypoints", "people_to_coco_results", "people_found",
           "annotated_people", "validate_coco"]

#: The names of COCOeval's ten keypoint statistics, in its order.
METRIC_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def people_to_coco_results(people: Sequence[Person], image_id: int) -> list[dict]:
    """COCO keypoint results for one image: 17 x (x, y, v) and score per person.

    v is 1 for found keypoints and 0 (with x = y = 0) for missing ones; COCOeval ignores v.
    A tracked person's result also holds its ``track_id``.
    """
    results = []
    for person in people:
        kp = np.asarray(person.to_coco17(), dtype=np.float64)
        found = kp[:, 2] > 0
        triples = np.where(found[:, None], np.column_stack([kp[:, :2], np.ones(17)]), 0.0)
        result = {"image_id": int(image_id), "category_id": 1,
                  "keypoints": triples.reshape(-1).tolist(), "score": float(person.score)}
        if person.track_id >= 0:  # tracked: PoseTrack's field (COCO tools ignore it)
            result["track_id"] = int(person.track_id)
        results.append(result)
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
        {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"}. A statistic
        whose area range holds no ground truth (e.g. no person larger than 96x96 pixels) is NaN
        (COCOeval's -1); otherwise empty ``results`` give zeros.
    """
    if not results:
        has_gt = _ground_truth_by_area(coco_gt, image_ids)
        return {name: 0.0 if has_gt[name[-1] if name[-1] in "ml" else "all"] else float("nan")
                for name in METRIC_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        evaluator = COCOeval(coco_gt, _load_results(coco_gt, results), iouType="keypoints")
        evaluator.params.imgIds = sorted(coco_gt.getImgIds() if image_ids is None else image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) if value >= 0 else float("nan")
            for name, value in zip(METRIC_NAMES, evaluator.stats)}


def validate_coco(model: torch.nn.Module, annotations: str | Path, images: str | Path | None = None, *,
                  input_height: int, max_images: int | None = None,
                  device: torch.device | str | None = None) -> dict[str, float]:
    """COCO keypoint AP of ``model`` (a :class:`pafpose.models.PoseNet`) on a validation set.

    Args:
        annotations: COCO person-keypoint file; its first ``max_images`` images (by id; default
            all) are evaluated.
        images: their folder; default ``images/`` next to ``annotations`` if present, else its folder.
        input_height: the network input height the images are scaled to.
        device: where to run; default the model's device.

    Returns:
        :func:`evaluate_keypoints`' metrics. The model's train/eval mode is left as it was.
    """
    from ..io.annotations import default_image_folder, load_coco, read_annotated_image
    from .predict import Predictor

    coco = load_coco(annotations)
    root = Path(images or default_image_folder(annotations))
    image_ids = sorted(coco.getImgIds())[:max_images]
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    predictor = Predictor(model, device=device, input_height=input_height)
    results = []
    for image_id in image_ids:
        info = coco.imgs[image_id]
        image = read_annotated_image(root / info["file_name"], info.get("width"), info.get("height"))
        results += people_to_coco_results(predictor.predict(image), image_id)
    model.train(was_training)
    return evaluate_keypoints(coco, results, image_ids)


def people_found(coco_gt: COCO, results: list[dict], oks: float = 0.5) -> int:
    """Annotated people (with keypoints, not crowds) that a detection matches at OKS >= ``oks``.

    COCOeval's own greedy matching (detections best first, at most 20 per image), so the count
    agrees with the recall behind AP50; it tells "missed" apart from "found but imprecise".
    """
    if not results:
        return 0
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco_gt, _load_results(coco_gt, results), iouType="keypoints")
        evaluator.params.imgIds = sorted(coco_gt.getImgIds())
        evaluator.evaluate()
    threshold = int(np.argmin(np.abs(evaluator.params.iouThrs - oks)))
    everything = evaluator.params.areaRng[0]
    found = 0
    for entry in evaluator.evalImgs:
        if entry is not None and entry["aRng"] == everything:
            matched = np.asarray(entry["gtMatches"])[threshold] > 0
            found += int((matched & ~np.asarray(entry["gtIgnore"], dtype=bool)).sum())
    return found


def _load_results(coco_gt: COCO, results: Sequence[dict]) -> COCO:
    """``coco_gt.loadRes(results)`` for ground truth with or without an 'info' entry.

    Some pycocotools releases (2.0.10 among them) copy ``dataset['info']`` into the results
    and raise KeyError when it is missing (COCO files need not have one; 2.0.11 reads it with
    ``.get``). Without one, the results are loaded through a shallow copy of ``coco_gt`` whose
    dataset has an empty 'info' added: the caller's object and dictionary stay as they were.
    """
    if "info" not in coco_gt.dataset:
        view = copy.copy(coco_gt)  # shares the index (imgs, anns, ...), nothing is rebuilt
        view.dataset = {"info": {}, **coco_gt.dataset}
        coco_gt = view
    return coco_gt.loadRes(list(results))


def annotated_people(coco_gt: COCO) -> int:
    """People COCO evaluation counts: annotations with keypoints that are not crowds."""
    return sum(1 for a in coco_gt.dataset["annotations"] if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd", 0))


def _ground_truth_by_area(coco_gt: COCO, image_ids: Sequence[int] | None) -> dict[str, bool]:
    """Whether any evaluated person (not crowd, with keypoints) falls in COCOeval's keypoint
    area ranges: "all", "m" (32^2..96^2) and "l" (> 96^2)."""
    ids = coco_gt.getImgIds() if image_ids is None else image_ids
    areas = np.array([a["area"] for a in coco_gt.loadAnns(coco_gt.getAnnIds(imgIds=ids, iscrowd=False))
                      if a.get("num_keypoints", 0) > 0], dtype=np.float64)
    return {"all": bool(len(areas)), "m": bool(((areas >= 32**2) & (areas <= 96**2)).any()),
            "l": bool((areas > 96**2).any())}
