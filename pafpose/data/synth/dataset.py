"""Writing a synthetic COCO keypoint dataset: :func:`generate_dataset` (``pafpose synth``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import UserError
from ...io.outputs import ensure_folder, write_image, write_json
from .annotations import COCO_CATEGORY
from .scenes import SceneConfig, render_scene

__all__ = ["SynthStats", "generate_dataset"]


@dataclass(frozen=True)
class SynthStats:
    """What :func:`generate_dataset` wrote."""

    annotation_file: Path
    images: int
    people: int  # annotated people (with keypoints)
    crowd_regions: int
    unannotated: int  # segmented people without keypoints
    seconds: float


def generate_dataset(out_dir: str | Path, num_images: int, max_people: int = 4, seed: int = 0,
                     image_size: tuple[int, int] = (368, 368), progress: bool = False,
                     **scene_options) -> SynthStats:
    """Write ``<out_dir>/images/NNNNNN.jpg`` and ``<out_dir>/annotations.json`` (COCO format).

    Image i is generated from ``np.random.default_rng([seed, i])``. The JSON is written last and
    atomically, so an interrupted run never leaves a file that looks complete.
    """
    if num_images < 0:
        raise UserError(f"num_images must be >= 0, got {num_images}")
    cfg = SceneConfig(image_size=tuple(int(v) for v in image_size), max_people=max_people, **scene_options)
    out = Path(out_dir)
    image_dir = out / "images"
    ensure_folder(image_dir)
    start = time.perf_counter()
    images, annotations = [], []
    indices = range(num_images)
    if progress:
        from tqdm import tqdm

        indices = tqdm(indices, desc="synth", unit="img")
    for i in indices:
        image, anns = render_scene(np.random.default_rng([seed, i]), cfg)
        name = f"{i:06d}.jpg"
        write_image(image_dir / name, image, jpeg_quality=92)  # cv2.imwrite hides why it failed
        images.append({"id": i + 1, "file_name": name, "width": cfg.image_size[0], "height": cfg.image_size[1]})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, **ann})
    data = {
        "info": {"description": f"pafpose synthetic scenes (seed {seed}, {num_images} images, "
                                f"max {max_people} people, {cfg.image_size[0]}x{cfg.image_size[1]})"},
        "licenses": [],
        "categories": [COCO_CATEGORY],
        "images": images,
        "annotations": annotations,
    }
    path = out / "annotations.json"
    write_json(path, data)
    return SynthStats(
        annotation_file=path,
        images=num_images,
        people=sum(1 for a in annotations if a["num_keypoints"] > 0),
        crowd_regions=sum(1 for a in annotations if a["iscrowd"]),
        unannotated=sum(1 for a in annotations if not a["iscrowd"] and a["num_keypoints"] == 0),
        seconds=time.perf_counter() - start,
    )
