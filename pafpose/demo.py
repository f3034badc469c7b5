"""The end-to-end demos: photos or synthetic scenes -> a bundled model -> rendered people, JSON, AP.

``run_demo`` is what ``pafpose demo`` does: the bundled COCO-trained network
(``mobilenet-thin-coco``) on the bundled real COCO val2017 photos (or any COCO-format keypoint
annotation file and its images), scored against their annotations. ``run_synthetic_demo`` is
``pafpose demo --synthetic``: fresh synthetic scenes through the bundled ``synthetic-small``
model. ``train_from_scratch`` is ``--train``: it regenerates the training and validation scenes
the bundled ``synthetic-small`` weights were made from and reruns that recipe (the training config
stored in the checkpoint, which is ``configs/synthetic-small.yaml``), then writes a release
checkpoint.

Training, validation and demo scenes come from one distribution, fixed in
:mod:`pafpose.data.synth.splits`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data.synth.splits import SCENES, TRAIN_SCENES, VAL_SCENES
from .io.bundled import DEFAULT_WEIGHTS, SYNTHETIC_WEIGHTS
from .inference.settings import InferenceSettings
from .io.checkpoint import load_checkpoint, resolve_weights, save_checkpoint

__all__ = ["DemoResult", "run_demo", "run_synthetic_demo", "train_from_scratch", "release_checkpoint",
           "contact_sheet"]

DESCRIPTION = ("pafpose synthetic-small: configs/synthetic-small.yaml trained from scratch on 4000 "
               "synthetic 256x256 scenes of drawn figures (pafpose synth), no real images. It has "
               "never seen a photograph and is not meant for real people; it demonstrates the "
               "pipeline end to end.")
#: Height of each picture in the tiled demo.jpg of photos of different sizes.
SHEET_TILE_HEIGHT = 360


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


def contact_sheet(images: list[np.ndarray], columns: int = 4, tile_height: int | None = None) -> np.ndarray:
    """Tile (H, W, 3) images into one picture, row by row, padding with black.

    Images of different sizes are scaled to ``tile_height`` (default: the first image's height)
    and centred in cells as wide as the widest of them.
    """
    import cv2

    height = tile_height or images[0].shape[0]
    tiles = [im if im.shape[0] == height else
             cv2.resize(im, (max(1, round(im.shape[1] * height / im.shape[0])), height),
                        interpolation=cv2.INTER_AREA) for im in images]
    w = max(t.shape[1] for t in tiles)
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * height, min(columns, len(tiles)) * w, 3), np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        left = c * w + (w - tile.shape[1]) // 2
        sheet[r * height:(r + 1) * height, left:left + tile.shape[1]] = tile
    return sheet


def _run_on_coco(predictor, annotation_file: Path, image_dir: Path, out: Path,
                 people_annotated: int | None = None, tile_height: int | None = None) -> DemoResult:
    """Every image of a COCO keypoint file through ``predictor``: renders, JSON, sheet, AP."""
    from .inference.evaluate import annotated_people, evaluate_keypoints, people_to_coco_results
    from .inference.render import draw_people
    from .io.annotations import load_coco
    from .io.images import read_image
    from .io.outputs import openpose_json, write_image, write_json

    coco = load_coco(annotation_file)
    images, rendered, json_files, tiles, results = [], [], [], [], []
    found = 0
    start = time.perf_counter()
    for image_id in sorted(coco.getImgIds()):
        path = image_dir / coco.imgs[image_id]["file_name"]
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
        write_image(sheet_path, contact_sheet(tiles, tile_height=tile_height))
    metrics = evaluate_keypoints(coco, results)
    if people_annotated is None:
        people_annotated = annotated_people(coco)
    return DemoResult(out, images, rendered, json_files, sheet_path, metrics, found, people_annotated, seconds)


def run_demo(out_dir: str | Path, weights: str | Path = DEFAULT_WEIGHTS, annotations: str | Path | None = None,
             images: str | Path | None = None, **predictor_options) -> DemoResult:
    """Detect the people of real photos with a COCO-trained model; write pictures + JSON; score AP.

    Defaults: the bundled ``mobilenet-thin-coco`` weights on the 4 bundled COCO val2017 images.
    ``annotations``: any COCO keypoint file; ``images``: its image folder (default: ``images/``
    beside it, else its own folder). Writes ``out/<name>_rendered.jpg``,
    ``out/<name>_keypoints.json`` (OpenPose layout) and ``out/demo.jpg`` (all renders tiled).
    ``predictor_options`` go to :class:`pafpose.Predictor` (``input_height``, ``device``, ...).
    """
    from .inference.predict import Predictor
    from .io.annotations import SAMPLE_ANNOTATIONS, default_image_folder

    annotation_file = Path(annotations) if annotations is not None else SAMPLE_ANNOTATIONS
    image_dir = Path(images) if images is not None else default_image_folder(annotation_file)
    predictor = Predictor(weights, **predictor_options)
    return _run_on_coco(predictor, annotation_file, image_dir, Path(out_dir), tile_height=SHEET_TILE_HEIGHT)


def run_synthetic_demo(out_dir: str | Path, weights: str | Path = SYNTHETIC_WEIGHTS, seed: int = 7,
                       num_images: int = 8) -> DemoResult:
    """Draw ``num_images`` new scenes (seeded), detect people, write pictures + JSON, score AP.

    Writes ``out/scenes/`` (images + COCO annotations), ``out/<name>_rendered.jpg``,
    ``out/<name>_keypoints.json`` (OpenPose layout) and ``out/demo.jpg`` (all renders tiled).
    """
    from .inference.predict import Predictor

    out = Path(out_dir)
    predictor = Predictor(weights)  # fails early, before drawing scenes, on bad weights
    stats = _generate(out / "scenes", seed, num_images)
    return _run_on_coco(predictor, stats.annotation_file, out / "scenes" / "images", out, stats.people)


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
        "inference": InferenceSettings(input_height=int(height)).to_entry(),
        "val_metrics": dict(val_metrics or {}),
    }
    return save_checkpoint(out_path, release)


def train_from_scratch(out_dir: str | Path, recipe: str | Path = SYNTHETIC_WEIGHTS, progress: bool = True,
                       **overrides) -> tuple[Path, dict]:
    """Regenerate the synthetic splits and retrain ``recipe``'s training config from scratch.

    ``recipe`` is a checkpoint (path or bundled name) whose stored training config is reused;
    ``overrides`` replace top-level training settings (e.g. ``iterations=200`` for a quick run).
    Returns (release checkpoint path, final validation metrics).
    """
    from .config import from_dict
    from .inference.evaluate import validate_coco
    from .training import TrainConfig, train

    out = Path(out_dir)
    recipe_state = load_checkpoint(resolve_weights(recipe))
    values = dict(recipe_state.get("train_config") or {})
    height = InferenceSettings.from_entry(recipe_state.get("inference")).input_height \
        if recipe_state.get("inference") else values.get("val_input_height")
    train_stats = _generate(out / "synth-train", *TRAIN_SCENES, progress=progress)
    val_stats = _generate(out / "synth-val", *VAL_SCENES, progress=progress)
    values.update(train_annotations=[str(train_stats.annotation_file)], train_images=[],
                  val_annotations=str(val_stats.annotation_file), val_images=None,
                  out_dir=str(out / "run"), progress=progress, backbone_weights=None,
                  val_input_height=height, val_max_images=VAL_SCENES[1], **overrides)
    cfg = from_dict(TrainConfig, values, source=str(recipe))
    result = train(cfg)
    metrics = result.final_val_metrics or validate_coco(
        result.model, cfg.val_annotations, cfg.val_images, max_images=cfg.val_max_images,
        input_height=cfg.validation_height)
    release = release_checkpoint(result.checkpoint, out / f"{SYNTHETIC_WEIGHTS}.pt", metrics,
                                 cfg.val_input_height)
    return release, metrics
