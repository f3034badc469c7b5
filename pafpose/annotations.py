"""COCO person-keypoint annotation files: loading with clear errors, and per-image people.

pycocotools reads the files; this module only checks them first, so a malformed file fails with
one line naming it instead of an assertion deep inside pycocotools.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO

from .errors import UserError
from .skeleton import coco17_to_coco18

_REQUIRED_ANNOTATION_KEYS = ("image_id", "category_id")


def load_coco(path: str | Path) -> COCO:
    """Load and validate a COCO keypoint annotation file (images, annotations, categories)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: annotation file not found")
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
    return coco_from_dict(data, name=str(path))


def coco_from_dict(data: dict, name: str = "annotations") -> COCO:
    """Validate an in-memory COCO dictionary and index it with pycocotools."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UserError(f"{name}: not a COCO annotation file (no 'images' list)")
    annotations = data.setdefault("annotations", [])
    if not isinstance(annotations, list):
        raise UserError(f"{name}: 'annotations' must be a list")
    image_ids = set()
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise UserError(f"{name}: images[{i}] needs 'id' and 'file_name'")
        image_ids.add(image["id"])
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or any(k not in ann for k in _REQUIRED_ANNOTATION_KEYS):
            raise UserError(f"{name}: annotations[{i}] needs 'image_id' and 'category_id'")
        if ann["image_id"] not in image_ids:
            raise UserError(f"{name}: annotations[{i}] refers to unknown image_id {ann['image_id']}")
        kps = ann.get("keypoints")
        if kps is not None and (not isinstance(kps, list) or len(kps) != 51):
            raise UserError(f"{name}: annotations[{i}] 'keypoints' must be 17 x (x, y, v) = 51 numbers")
        ann.setdefault("iscrowd", 0)
        ann.setdefault("id", i + 1)
        ann.setdefault("num_keypoints", int(np.count_nonzero(np.asarray(kps[2::3]) > 0)) if kps else 0)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    return coco


def person_keypoints(annotations: list[dict]) -> np.ndarray:
    """(P, 18, 3) COCO-18 keypoints of the non-crowd annotations that have any keypoints."""
    rows = [np.asarray(a["keypoints"], dtype=np.float64).reshape(17, 3)
            for a in annotations if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0]
    if not rows:
        return np.zeros((0, 18, 3))
    return coco17_to_coco18(np.stack(rows))


#: Four real COCO val2017 images with their 14 annotated people (see assets/coco/ATTRIBUTION.md).
SAMPLE_DIR = Path(__file__).parent / "assets" / "coco"
SAMPLE_ANNOTATIONS = SAMPLE_DIR / "test_coco.json"


def default_image_folder(annotation_file: str | Path) -> Path:
    """``<dir>/images`` next to an annotation file when present (``pafpose synth``'s layout), else ``<dir>``."""
    folder = Path(annotation_file).parent
    return folder / "images" if (folder / "images").is_dir() else folder
