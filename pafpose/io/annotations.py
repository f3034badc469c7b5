"""COCO person-keypoint annotation files: loading with clear errors, and per-image people.

pycocotools reads the files; this module only checks them first, so a malformed file fails with
one line naming it instead of an assertion deep inside pycocotools.

A malformed annotation does not spoil the file: it is left out, and the reason — file,
annotation id, image and field — is kept in ``coco.skipped_annotations`` for the caller to
report and count. Only a file with annotations of which none is usable is an error. An
annotation without ``area`` (which COCOeval needs for its area ranges and OKS) gets the area of
its segmentation, else of its box, when the file is read, before any image is.

An image's ``width`` and ``height`` are checked against the decoded image
(:func:`read_annotated_image`): the keypoints were drawn on pixels of that size. When they fit
only the stored pixels, before the EXIF rotation (annotated in a tool that ignored the tag), the
stored pixels are used, with a warning; any other mismatch is an error naming the image.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from ..errors import UserError
from .images import read_image

log = logging.getLogger(__name__)


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


def _numbers(value, count: int) -> np.ndarray | None:
    """``value`` as ``count`` finite floats, or None."""
    if not isinstance(value, list) or len(value) != count:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if np.isfinite(array).all() else None


def _annotation_problem(ann, image_ids: dict) -> str | None:
    """Why an annotation cannot be used (naming the field), or None."""
    if not isinstance(ann, dict):
        return f"not an object but {type(ann).__name__}"
    if "image_id" not in ann:
        return "no 'image_id'"
    if ann["image_id"] not in image_ids:
        return f"'image_id' {ann['image_id']!r} is not in 'images'"
    if "category_id" not in ann:
        return "no 'category_id'"
    if "keypoints" not in ann:
        return "no 'keypoints'"
    if _numbers(ann["keypoints"], 51) is None:
        length = len(ann["keypoints"]) if isinstance(ann["keypoints"], list) else "not a list"
        return f"'keypoints' must be 17 x (x, y, v) = 51 finite numbers (got {length})"
    if "bbox" not in ann:
        return "no 'bbox'"
    box = _numbers(ann["bbox"], 4)
    if box is None:
        return f"'bbox' must be 4 finite numbers [x, y, width, height], got {ann['bbox']!r}"
    if box[2] <= 0 or box[3] <= 0:
        return f"'bbox' {ann['bbox']!r} has a width or height <= 0"
    return None


def coco_from_dict(data: dict, name: str = "annotations") -> COCO:
    """Validate an in-memory COCO dictionary and index it with pycocotools.

    Malformed annotations are dropped; ``coco.skipped_annotations`` lists one line per
    annotation saying why (file, annotation id, image, field).
    """
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UserError(f"{name}: not a COCO annotation file (no 'images' list)")
    annotations = data.setdefault("annotations", [])
    if not isinstance(annotations, list):
        raise UserError(f"{name}: 'annotations' must be a list")
    image_files, images = {}, {}
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise UserError(f"{name}: images[{i}] needs 'id' and 'file_name'")
        image_files[image["id"]] = image["file_name"]
        images[image["id"]] = image
    kept, skipped = [], []
    for i, ann in enumerate(annotations):
        problem = _annotation_problem(ann, image_files)
        if problem is not None:
            label = f"id {ann['id']}" if isinstance(ann, dict) and "id" in ann else f"annotations[{i}]"
            image = image_files.get(ann.get("image_id")) if isinstance(ann, dict) else None
            skipped.append(f"{name}: annotation {label}{f' (image {image})' if image else ''}: {problem}")
            continue
        kps = ann["keypoints"]
        ann.setdefault("iscrowd", 0)
        ann.setdefault("id", i + 1)
        ann.setdefault("num_keypoints", int(np.count_nonzero(np.asarray(kps[2::3]) > 0)))
        if not _is_area(ann.get("area")):
            ann["area"] = annotation_area(ann, images[ann["image_id"]])
        kept.append(ann)
    if annotations and not kept:
        raise UserError(f"none of the {len(annotations)} annotations is usable; the first: {skipped[0]}")
    data["annotations"] = kept
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    coco.skipped_annotations = skipped
    return coco


def _is_area(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value >= 0)


def annotation_area(ann: dict, image: dict) -> float:
    """The pixel area of an annotation's segmentation (polygons or RLE; COCO's own ``area``),
    else of its box (width x height)."""
    segmentation = ann.get("segmentation")
    height, width = image.get("height"), image.get("width")
    with contextlib.suppress(TypeError, ValueError, KeyError, IndexError):
        if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
            return float(mask_utils.area(segmentation))
        if segmentation and isinstance(height, int) and isinstance(width, int):
            rles = mask_utils.frPyObjects(segmentation, height, width)
            return float(mask_utils.area(mask_utils.merge(rles if isinstance(rles, list) else [rles])))
    _, _, w, h = (float(v) for v in ann["bbox"])
    return w * h


def read_annotated_image(path: str | Path, width: int | None, height: int | None) -> np.ndarray:
    """The picture an annotation file describes as ``width`` x ``height`` pixels, as BGR uint8.

    That size (when given) must be the decoded size, EXIF rotation applied; when it is the size
    of the stored pixels instead, those are returned (the annotations were drawn on them) with a
    warning. Any other size is a UserError naming the file.
    """
    picture = read_image(path)
    if not isinstance(width, int) or not isinstance(height, int) or picture.shape[:2] == (height, width):
        return picture
    if picture.shape[:2] == (width, height):
        stored = read_image(path, orient=False)
        if stored.shape[:2] == (height, width):
            log.warning("%s: annotated as %dx%d, its stored size; using the stored pixels, not the "
                        "picture its EXIF orientation turns to %dx%d", path, width, height, height, width)
            return stored
    raise UserError(f"{path}: annotated as {width}x{height} pixels but the image is "
                    f"{picture.shape[1]}x{picture.shape[0]}; the keypoints would be misplaced "
                    "(wrong file, or resized after annotation?)")


#: Four real COCO val2017 images with their 14 annotated people (see assets/coco/ATTRIBUTION.md).
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "assets" / "coco"
SAMPLE_ANNOTATIONS = SAMPLE_DIR / "test_coco.json"


def default_image_folder(annotation_file: str | Path) -> Path:
    """``<dir>/images`` next to an annotation file when present (``pafpose synth``'s layout), else ``<dir>``."""
    folder = Path(annotation_file).parent
    return folder / "images" if (folder / "images").is_dir() else folder
