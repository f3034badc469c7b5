"""The end-to-end demo: fresh synthetic scenes -> the bundled model -> rendered people, JSON, AP.

``run_demo`` is what ``pafpose demo`` does without ``--train``; ``train_from_scratch`` is its
``--train``: it regenerates the training and validation scenes the bundled ``synthetic-small``
weights were made from and reruns that recipe (the training config stored in the checkpoint,
which is ``configs/synthetic-small.yaml``), then writes a release checkpoint.

Scene settings are fixed here so that training, validation and demo scenes come from one
distribution: 256x256 images with 0..6 people between 0.3 and 0.6 of the image height whose
bounding boxes overlap by at most 30 %, plus the generator's crowd regions and unannotated
figures (and, as in COCO, no keypoints on people smaller than 32x32 pixels in area).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint, resolve_weights, save_checkpoint

__all__ = ["SCENES", "TRAIN_SCENES", "VAL_SCENES", "BUNDLED", "DemoResult", "run_demo",
           "train_from_scratch", "release_checkpoint", "contact_sheet"]

#: Scene options shared by every synthetic split (``pafpose.data.synth.generate_dataset`` kwargs).
SCENES = {"image_size": (256, 256), "max_people": 6, "min_height": 0.3, "max_height": 0.6,
          "max_overlap": 0.3}
#: (seed, number of images) of the training and held-out validation splits.
TRAIN_SCENES = (100, 4000)
VAL_SCENES = (200, 200)
#: The bundled weights this demo runs by default.
BUNDLED = "synthetic-small"
DESCRIPTION = ("pafpose synthetic-small: configs/synthetic-small.yaml trained from scratch on 4000 "
               "synthetic 256x256 scenes of drawn figures (pafpose synth), no real images. It has "
               "never seen a photograph and is not meant for real people; it demonstrates the "
               "pipeline end to end.")


@dataclass
class DemoResult:
    """Where a demo run wrote its files and how well the model did on its scenes."""

    out_dir: Path
    images: list[Path]
    rendered: list[Path]
    json_files: list[Path]
    contact_sheet: Path
    metrics: dict[str, float]
    people_found: int
    people_annotated: int
    seconds_per_image: float


def _generate(out_dir: Path, seed: int, num_images: int, progress: bool = False):
    from .data.synth import generate_dataset

    return generate_dataset(out_dir, num_images, seed=seed, progress=progress, **SCENES)


def contact_sheet(images: list[np.ndarray], columns: int = 4) -> np.ndarray:
    """Tile equally sized (H, W, 3) images into one picture, row by row, padding with black."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    sheet = np.zeros((rows * h, min(columns, len(images)) * w, 3), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
    return sheet


def run_demo(out_dir: str | Path, weights: str | Path = BUNDLED, seed: int = 7, num_images: int = 8,
             progress: bool = False) -> DemoResult:
    """Draw ``num_images`` new scenes (seeded), detect people, write pictures + JSON, score AP.

    Writes ``out/scenes/`` (images + COCO annotations), ``out/<name>_rendered.jpg``,
    ``out/<name>_keypoints.json`` (OpenPose layout) and ``out/demo.jpg`` (all renders tiled).
    """
    from .annotations import load_coco
    from .evaluate import evaluate_keypoints, people_to_coco_results
    from .images import read_image
    from .outputs import openpose_json, write_image, write_json
    from .predict import Predictor
    from .render import draw_people

    out = Path(out_dir)
    predictor = Predictor(weights)  # fails early, before drawing scenes, on bad weights
    stats = _generate(out / "scenes", seed, num_images)
    coco = load_coco(stats.annotation_file)
    images, rendered, json_files, tiles, results = [], [], [], [], []
    found = 0
    start = time.perf_counter()
    for image_id in sorted(coco.getImgIds()):
        path = out / "scenes" / "images" / coco.imgs[image_id]["file_name"]
        image = read_image(path)
        people = predictor.predict(image)
        found += len(people)
        results += people_to_coco_results(people, image_id)
        picture = draw_people(image, people)
        rendered_path = out / f"{path.stem}_rendered.jpg"
        write_image(rendered_path, picture)
        json_path = out / f"{path.stem}_keypoints.json"
        write_json(json_path, openpose_json(people))
        images.append(path)
        rendered.append(rendered_path)
        json_files.append(json_path)
        tiles.append(picture)
    seconds = (time.perf_counter() - start) / max(len(images), 1)
    sheet_path = out / "demo.jpg"
    if tiles:
        write_image(sheet_path, contact_sheet(tiles))
    metrics = evaluate_keypoints(coco, results)
    return DemoResult(out, images, rendered, json_files, sheet_path, metrics, found, stats.people, seconds)


def release_checkpoint(training_checkpoint: str | Path, out_path: str | Path, val_metrics: dict | None = None,
                       input_height: int | None = None) -> Path:
    """A small inference checkpoint from a training one: weights (fp32), configs, iteration,
    description, validation metrics and the recommended input height; no optimizer state."""
    state = load_checkpoint(training_checkpoint)
    train_cfg = state.get("train_config") or {}
    height = input_height or train_cfg.get("val_input_height") or SCENES["image_size"][1]
    release = {
        "model": {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()},
        "model_config": state["model_config"],
        "train_config": train_cfg,
        "iteration": state.get("iteration", 0),
        "description": DESCRIPTION,
        "scenes": {"train": list(TRAIN_SCENES), "val": list(VAL_SCENES),
                   **{k: list(v) if isinstance(v, tuple) else v for k, v in SCENES.items()}},
        "inference": {"input_height": int(height)},
        "val_metrics": dict(val_metrics or {}),
    }
    return save_checkpoint(out_path, release)


def train_from_scratch(out_dir: str | Path, recipe: str | Path = BUNDLED, progress: bool = True,
                       **overrides) -> tuple[Path, dict]:
    """Regenerate the synthetic splits and retrain ``recipe``'s training config from scratch.

    ``recipe`` is a checkpoint (path or bundled name) whose stored training config is reused;
    ``overrides`` replace top-level training settings (e.g. ``iterations=200`` for a quick run).
    Returns (release checkpoint path, final validation metrics).
    """
    from .config import from_dict
    from .train import TrainConfig, train, validate_coco

    out = Path(out_dir)
    recipe_state = load_checkpoint(resolve_weights(recipe))
    values = dict(recipe_state.get("train_config") or {})
    height = (recipe_state.get("inference") or {}).get("input_height") or values.get("val_input_height")
    train_stats = _generate(out / "synth-train", *TRAIN_SCENES, progress=progress)
    val_stats = _generate(out / "synth-val", *VAL_SCENES, progress=progress)
    values.update(train_annotations=[str(train_stats.annotation_file)], train_images=[],
                  val_annotations=str(val_stats.annotation_file), val_images=None,
                  out_dir=str(out / "run"), progress=progress, backbone_weights=None,
                  val_input_height=height, val_max_images=VAL_SCENES[1], **overrides)
    cfg = from_dict(TrainConfig, values, source=str(recipe))
    result = train(cfg)
    metrics = result.final_val_metrics or validate_coco(result.model, cfg, result.model.mean.device)
    release = release_checkpoint(result.checkpoint, out / f"{BUNDLED}.pt", metrics, cfg.val_input_height)
    return release, metrics
