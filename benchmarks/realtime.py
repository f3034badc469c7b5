"""Real time on this machine: every backend x precision of the bundled network, end to end.

Per backend and precision (those this machine supports): network ms per frame at the clip's
input (368 x 496 for 640 x 480), end-to-end fps through the pipelined ``Runner`` on a generated
640x480 clip (a bundled COCO photo panned and zoomed, so the people and the decoding are real),
the same clip delivered as a 30 fps camera would (``Runner(realtime=True)``: stale frames
dropped; fps processed, latency and drops), and COCO keypoint
AP on the 4 bundled annotated photos (12 people) and on 24 label-preserving views of them
(mirrored, x0.75 / x1 / x1.25, annotations moved along): the figure the precision contract uses.
Then the default settings over input heights, on a CUDA machine the torch backend per precision
(batch 1 end to end, batch 32 network throughput), and the default under a concurrent 2-thread
CPU load (another process multiplying matrices), against the unloaded fps in the same run.

    .venv/bin/python benchmarks/realtime.py            # ~5 minutes on 2 cores
    .venv/bin/python benchmarks/realtime.py --record   # also store each precision's AP in the
                                                       # bundled checkpoint (the auto contract)
    .venv/bin/python benchmarks/realtime.py --only openvino-int8 --record
        # measure only the named backend-precision rows and update only their AP in the record
        # (after a change to what one precision builds; the other entries and the weights stay)
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pafpose.inference.backends import supported_precisions  # noqa: E402
from pafpose.inference.evaluate import (  # noqa: E402
    evaluate_keypoints,
    people_found,
    people_to_coco_results,
)
from pafpose.inference.predict import Predictor  # noqa: E402
from pafpose.inference.runner import Runner, SourceEnd  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, coco_from_dict, load_coco  # noqa: E402
from pafpose.io.bundled import DEFAULT_WEIGHTS, WEIGHTS_DIR  # noqa: E402
from pafpose.io.images import read_image  # noqa: E402
from pafpose.io.media import MediaInput, VideoWriter  # noqa: E402


def make_clip(path: Path, frames: int, size=(640, 480)) -> Path:
    """A bundled photo panned and zoomed across ``frames`` frames (Motion-JPEG .avi, 30 fps)."""
    photo = read_image(sorted(SAMPLE_DIR.glob("*.jpg"))[1])
    h, w = photo.shape[:2]
    with VideoWriter(path, 30.0, size, "MJPG", cv2.CAP_OPENCV_MJPEG) as writer:
        for i in range(frames):
            t = i / max(frames - 1, 1)
            zoom = 1.0 + 0.25 * np.sin(np.pi * t)
            shift = 0.1 * w * np.sin(2 * np.pi * t)
            matrix = np.array([[zoom * size[0] / w, 0, -shift], [0, zoom * size[1] / h, 0]])
            writer.write(cv2.warpAffine(photo, matrix, size, borderMode=cv2.BORDER_REFLECT))
    return path


def network_ms(predictor: Predictor, shape=(1, 3, 368, 496), runs: int = 10) -> float:
    batch = torch.rand(shape, device=predictor.device)
    predictor.network(batch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        predictor.network(batch)
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def end_to_end(predictor: Predictor, clip: Path, live: bool = False):
    """(fps, median latency ms, dropped frames) of the runner over ``clip``; ``live``: the clip
    delivered at its 30 fps as a camera would, stale frames dropped."""
    source = MediaInput(clip, "video", "clip")
    runner = Runner(predictor, realtime=live)
    dropped = 0
    for event in runner.run([source]):
        if isinstance(event, SourceEnd):
            dropped = event.dropped
    return runner.stats.fps, 1e3 * runner.stats.latency(0.5), dropped


def annotated_views(coco, ids, photos, scales=(0.75, 1.0, 1.25)):
    """The bundled photos mirrored and rescaled with their annotations moved along: (COCO, images).

    Label-preserving views of real annotations: the same 12 people, but a reduced precision's
    changes meet the decoder's thresholds at other places, so the AP difference is measured
    over 6x the detections instead of resting on a dozen decisions.
    """
    from pafpose.codec.skeleton import COCO17

    images, annotations, out = [], [], []
    for image_id, photo in zip(ids, photos):
        h0, w0 = photo.shape[:2]
        for mirror in (False, True):
            for scale in scales:
                w, h = round(w0 * scale), round(h0 * scale)
                fx, fy = w / w0, h / h0
                view = cv2.resize(photo[:, ::-1] if mirror else photo, (w, h), interpolation=cv2.INTER_AREA)
                new_id = len(out) + 1
                out.append(np.ascontiguousarray(view))
                images.append({"id": new_id, "width": w, "height": h, "file_name": f"{new_id}.jpg"})
                for ann in coco.imgToAnns[image_id]:
                    kp = np.asarray(ann["keypoints"], dtype=float).reshape(17, 3)
                    bx, by, bw, bh = ann["bbox"]
                    if mirror:
                        kp = kp[list(COCO17.flip)]
                        kp[:, 0] = np.where(kp[:, 2] > 0, w0 - 1 - kp[:, 0], 0)
                        bx = w0 - bx - bw
                    kp[:, 0] = np.where(kp[:, 2] > 0, (kp[:, 0] + 0.5) * fx - 0.5, 0)
                    kp[:, 1] = np.where(kp[:, 2] > 0, (kp[:, 1] + 0.5) * fy - 0.5, 0)
                    annotations.append({**ann, "id": len(annotations) + 1, "image_id": new_id,
                                        "keypoints": kp.reshape(-1).tolist(),
                                        "bbox": [bx * fx, by * fy, bw * fx, bh * fy],
                                        "area": ann["area"] * fx * fy, "segmentation": []})
    data = {"images": images, "annotations": annotations, "categories": coco.dataset["categories"]}
    return coco_from_dict(data), out


def accuracy(predictor: Predictor, coco, ids, photos, views=None):
    """(AP on the 4 photos, people found of 12, AP on their 24 annotated views)."""
    results = []
    for image_id, image in zip(ids, photos):
        results += people_to_coco_results(predictor.predict(image), image_id)
    ap = evaluate_keypoints(coco, results)["AP"] if results else 0.0
    found = people_found(coco, results)
    if views is None:
        return ap, found, float("nan")
    view_coco, view_images = views
    results = [r for i, image in enumerate(view_images, start=1)
               for r in people_to_coco_results(predictor.predict(image), i)]
    return ap, found, evaluate_keypoints(view_coco, results)["AP"] if results else 0.0


def _burn(stop, threads: int) -> None:
    torch.set_num_threads(threads)
    a = torch.rand(512, 512)
    while not stop.is_set():
        a = (a @ a).clamp_(-1, 1)


@contextlib.contextmanager
def cpu_load(threads: int = 2):
    stop = multiprocessing.get_context("spawn").Event()
    process = multiprocessing.get_context("spawn").Process(target=_burn, args=(stop, threads), daemon=True)
    process.start()
    time.sleep(1.0)
    try:
        yield
    finally:
        stop.set()
        process.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--heights", type=int, nargs="+", default=[256, 320, 368, 432])
    parser.add_argument("--record", action="store_true",
                        help="store each precision's AP in the bundled checkpoint's inference entry")
    parser.add_argument("--only", nargs="+", metavar="BACKEND-PRECISION",
                        help="run only these rows (e.g. openvino-int8), skip the other tables; with "
                             "--record, update only their entries of the record")
    args = parser.parse_args()

    coco = load_coco(SAMPLE_ANNOTATIONS)
    ids = sorted(coco.getImgIds())
    photos = [read_image(SAMPLE_DIR / coco.imgs[i]["file_name"]) for i in ids]
    views = annotated_views(coco, ids, photos)
    cpu = torch.device("cpu")
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "clip.avi", args.frames)
        record = {}
        combos = [("torch", p) for p in supported_precisions("torch", cpu)] + \
                 [("onnx", "fp32")] + [("openvino", p) for p in supported_precisions("openvino", cpu)]
        if args.only:
            unknown = set(args.only) - {f"{b}-{p}" for b, p in combos}
            if unknown:
                parser.error(f"--only: {', '.join(sorted(unknown))} not run on this machine")
            combos = [(b, p) for b, p in combos if f"{b}-{p}" in args.only]
        print(f"{args.frames}-frame 640x480 clip, input height 368, {torch.get_num_threads()} threads\n")
        print("| backend | precision | network ms | fps (file) | fps (live) | live latency ms | live dropped "
              "| AP 4 photos (found/12) | AP 24 annotated views |")
        print("|---|---|---:|---:|---:|---:|---:|---|---:|")
        for backend, precision in combos:
            predictor = Predictor(backend=backend, precision=precision)
            ms = network_ms(predictor)
            fps, _, _ = end_to_end(predictor, clip)
            live_fps, latency, dropped = end_to_end(predictor, clip, live=True)
            ap, found, view_ap = accuracy(predictor, coco, ids, photos, views)
            record[f"{backend}-{precision}"] = round(view_ap, 4)
            print(f"| {backend} | {precision} | {ms:.1f} | {fps:.1f} | {live_fps:.1f} | {latency:.0f} | {dropped} "
                  f"| {ap:.3f} ({found}/12) | {view_ap:.3f} |", flush=True)

        if args.only:
            return _save_record(record, replace=False) if args.record else None
        default = Predictor()
        print(f"\ndefault: {default.backend} {default.precision}\n")
        print("| input height | AP bundled (found/12) | network ms | fps (file) |")
        print("|---:|---|---:|---:|")
        for height in args.heights:
            predictor = Predictor(input_height=height)
            ap, found, _ = accuracy(predictor, coco, ids, photos)
            shape = (1, 3, height, -(-round(640 * height / 480) // 8) * 8)
            print(f"| {height} | {ap:.3f} ({found}/12) | {network_ms(predictor, shape):.1f} | "
                  f"{end_to_end(predictor, clip)[0]:.1f} |", flush=True)

        if torch.cuda.is_available():
            cuda = torch.device("cuda")
            print(f"\n{torch.cuda.get_device_name()}\n")
            print("| precision | network ms (batch 1) | fps end to end (batch 1) | images/s network (batch 32) "
                  "| AP 4 photos | AP 24 views |")
            print("|---|---:|---:|---:|---:|---:|")
            for precision in supported_precisions("torch", cuda):
                predictor = Predictor(device="cuda", backend="torch", precision=precision, batch_size=1)
                ms = network_ms(predictor)
                fps = end_to_end(predictor, clip)[0]
                batch_ms = network_ms(predictor, (32, 3, 368, 496))
                ap, _, view_ap = accuracy(predictor, coco, ids, photos, views)
                print(f"| {precision} | {ms:.1f} | {fps:.1f} | {32e3 / batch_ms:.0f} | {ap:.3f} | {view_ap:.3f} |",
                      flush=True)

        print("\n| load | default fps | ratio |")
        print("|---|---:|---:|")
        unloaded = end_to_end(default, clip)[0]
        with cpu_load(2):
            loaded = end_to_end(default, clip)[0]
        print(f"| none | {unloaded:.1f} | 1.00 |\n| 2-thread matmul process | {loaded:.1f} | "
              f"{loaded / unloaded:.2f} |")
    if args.record:
        _save_record(record, replace=True)


def _save_record(record: dict, replace: bool) -> None:
    """Store ``record`` as the bundled checkpoint's precision AP (``replace``: the whole record;
    else only its keys), checking that the weights themselves are unchanged."""
    from pafpose.io.checkpoint import load_checkpoint, save_checkpoint

    path = WEIGHTS_DIR / f"{DEFAULT_WEIGHTS}.pt"
    state = load_checkpoint(path)
    before = {k: v.clone() for k, v in state["model"].items()}
    entry = state.setdefault("inference", {})
    entry["precision_ap"] = record if replace else {**entry.get("precision_ap", {}), **record}
    save_checkpoint(path, state)
    after = load_checkpoint(path)["model"]
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before), \
        "the weights changed while recording"
    print(f"\nrecorded {entry['precision_ap']} in {path}")


if __name__ == "__main__":
    main()
