"""Inference speed: images/s of the default model at 368 input, split into stages.

Runs the Predictor on the bundled real COCO images (640 px wide -> 368 x 552 network input) with
randomly initialised default-config weights (speed does not depend on the values), on CPU with
1 and 2 threads, with the torch and the onnxruntime backend, and on CUDA when available.
Prints per-image milliseconds of preprocess / network / decode (median over repeats) and
images/s, plus the ONNX/torch ratio measured in the same run. A random network's maps are noise,
so decoding is also timed on the ground-truth maps of the same images (real people, the
structure a trained network produces).

    .venv/bin/python benchmarks/infer.py [--repeats 3] [--config tpami|cvpr2017]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pafpose.annotations import SAMPLE_DIR
from pafpose.images import read_image
from pafpose.models import ModelConfig, build_model
from pafpose.onnx_export import OnnxSession, export_onnx
from pafpose.predict import Predictor, StageTimes


def measure(predictor: Predictor, images, repeats: int) -> StageTimes:
    """Median per-image stage times over ``repeats`` passes (after one warm-up image)."""
    predictor.predict(images[0])
    runs = []
    for _ in range(repeats):
        predictor.timings = StageTimes()
        for image in images:
            predictor.predict(image)
        t = predictor.timings
        runs.append((t.preprocess / t.images, t.network / t.images, t.decode / t.images))
    pre, net, dec = (statistics.median(r[i] for r in runs) for i in range(3))
    return StageTimes(pre, net, dec, 1)


def decode_ground_truth(images, repeats: int) -> float:
    """Median seconds to decode the ground-truth maps of the bundled images at height 368."""
    from pafpose.annotations import SAMPLE_ANNOTATIONS, load_coco, person_keypoints
    from pafpose.decode import decode
    from pafpose.skeleton import COCO18
    from pafpose.targets import render_heatmaps, render_pafs

    torch.set_num_threads(1)
    coco = load_coco(SAMPLE_ANNOTATIONS)
    maps = []
    for image_id in sorted(coco.getImgIds())[: len(images)]:
        info = coco.imgs[image_id]
        f = 368 / info["height"]
        kp = person_keypoints(coco.loadAnns(coco.getAnnIds(imgIds=[image_id])))
        kp[..., :2] = (kp[..., :2] + 0.5) * f - 0.5
        size = (-(-round(info["width"] * f) // 8), 46)
        maps.append((render_heatmaps(kp, size), render_pafs(kp, COCO18.limbs, size)))
    runs = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for heatmaps, pafs in maps:
            decode(heatmaps, pafs)
        runs.append((time.perf_counter() - start) / len(maps))
    return statistics.median(runs[1:])


def row(name: str, t: StageTimes) -> str:
    total = t.preprocess + t.network + t.decode
    return (f"| {name:<28} | {1e3 * t.preprocess:8.1f} | {1e3 * t.network:9.1f} | "
            f"{1e3 * t.decode:8.1f} | {1 / total:8.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--arch", default=None, help="model arch (default: ModelConfig's default)")
    parser.add_argument("--images", type=int, default=2, help="how many bundled images per pass")
    args = parser.parse_args()

    cfg = ModelConfig() if args.arch is None else ModelConfig(arch=args.arch)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    images = [read_image(p) for p in sorted(SAMPLE_DIR.glob("*.jpg"))[: args.images]]
    sizes = sorted({im.shape[:2] for im in images})
    print(f"model: {cfg.arch}, {params:.1f} M parameters; images {sizes} -> height 368; "
          f"{args.repeats} repeats, median per image\n")
    print("| backend                      | pre (ms) | net (ms)  | dec (ms) | images/s |")
    print("|------------------------------|---------:|----------:|---------:|---------:|")
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results[f"torch {threads}"] = t = measure(Predictor(model), images, args.repeats)
        print(row(f"torch CPU, {threads} thread(s)", t), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / "model.onnx")
        for threads in (1, 2):
            torch.set_num_threads(threads)
            session = OnnxSession(path, threads=threads)
            results[f"onnx {threads}"] = t = measure(Predictor(session, backend="onnx"), images, args.repeats)
            print(row(f"onnxruntime CPU, {threads} thread(s)", t), flush=True)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        gpu = Predictor(model, device="cuda")
        results["cuda"] = t = measure(gpu, images, args.repeats)
        print(row(f"torch {torch.cuda.get_device_name()}", t))
    else:
        print("| (no CUDA device on this machine)                                           |")
    print(f"\ndecode on ground-truth maps of the same images (1 thread): "
          f"{1e3 * decode_ground_truth(images, args.repeats):.1f} ms per image", end="")
    for threads in (1, 2):
        torch_net, onnx_net = results[f"torch {threads}"].network, results[f"onnx {threads}"].network
        print(f"\n{threads} thread(s): network onnxruntime / torch time = {onnx_net / torch_net:.2f}", end="")
    one, two = results["torch 1"], results["torch 2"]
    print(f"\ntorch 2 threads vs 1: network speed-up {one.network / two.network:.2f}x")


if __name__ == "__main__":
    main()
