"""The engine's stages and their composition, on this machine: where the time goes, and what
each of issue 25's levers buys.

CPU rows (every machine; figures are ratios against rows measured in the same run):
  - the plain torch fp32 network's own rate at the clip's input (368 x 496), the reference;
  - end to end through the Runner on a 640x480 clip (a bundled photo panned and zoomed) with the
    default backend and precision, decoding in-process vs in 1 and 2 worker processes, plain and
    with tracking and smoothing;
  - a folder of COCO-size JPEGs (the bundled photos at several sizes) to COCO results, with 1
    and 2 image readers;
  - preprocessing per frame: OpenCV vs torch (on the CPU here), and the AP on the 24 annotated
    views with each (the AP contract of device preprocessing).
GPU rows (when CUDA is available): the network eager vs as CUDA graphs per precision and batch,
each precision's AP on the 24 views (``--record`` stores them as "cuda-<precision>" in the
bundled checkpoint, the contract ``precision="auto"`` uses on CUDA), the clip end to end at batch
1 and 8 (graphs, device preprocessing, decode workers) plain and with --track --smooth, the clip
as MPEG-4 (one reader's bound: MJPEG decodes on one thread), live latency at batch 1, a folder of
1,000 JPEGs, and 8 videos at once.

    .venv/bin/python benchmarks/engine.py [--frames 120] [--photos 200] [--record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realtime import accuracy, annotated_views, make_clip, network_ms  # noqa: E402

from pafpose.inference.predict import Predictor  # noqa: E402
from pafpose.inference.runner import Frame, Runner  # noqa: E402
from pafpose.inference.stages import CpuPreprocessor, DevicePreprocessor  # noqa: E402
from pafpose.inference.writer import CocoResultsStream  # noqa: E402
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco  # noqa: E402
from pafpose.io.images import read_image  # noqa: E402
from pafpose.io.media import MediaInput  # noqa: E402
from pafpose.tracking import OneEuroSmoother, PoseTracker  # noqa: E402


def run_clip(predictor, clips, track: bool = False, repeats: int = 2, **options) -> tuple[float, Runner]:
    """Best fps of ``repeats`` runs of the Runner over ``clips`` (one or several videos at once)."""
    best, runner = 0.0, None
    extra = {"tracker": PoseTracker, "smoother": OneEuroSmoother} if track else {}
    for _ in range(repeats):
        runner = Runner(predictor, **extra, **options)
        frames = sum(isinstance(e, Frame) for e in runner.run([MediaInput(c, "video", c.stem) for c in clips]))
        best = max(best, frames / runner.stats.seconds)
    return best, runner


def make_folder(folder: Path, count: int) -> list[Path]:
    """``count`` COCO-size JPEGs: the bundled photos at widths 480-640."""
    photos = [read_image(p) for p in sorted(SAMPLE_DIR.glob("*.jpg"))]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        width = 480 + 40 * ((i // len(photos)) % 5)
        image = cv2.resize(photo, (width, round(photo.shape[0] * width / photo.shape[1])), interpolation=cv2.INTER_AREA)
        path = folder / f"{i:06d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def run_folder(predictor, paths: list[Path], out: Path, **options) -> float:
    """Images per second from reading to COCO results on disk."""
    runner = Runner(predictor, **options)
    out.mkdir(parents=True, exist_ok=True)
    stream = CocoResultsStream(out)
    start = time.perf_counter()
    for event in runner.run([MediaInput(p, "image", p.stem) for p in paths]):
        if isinstance(event, Frame):
            stream.add(event.source.name, str(event.source.path), None, event.people)
    stream.close()
    return len(paths) / (time.perf_counter() - start)


def preprocess_ms(preprocessor, frame: np.ndarray, predictor: Predictor, runs: int = 20) -> float:
    resize = predictor.resize(frame.shape[1::-1])
    preprocessor([frame], [resize])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        batch = preprocessor([frame], [resize])
        if batch.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def cpu_rows(args, folder: Path, coco, ids, photos, views) -> None:
    clip = make_clip(folder / "clip.avi", args.frames)
    reference = Predictor(backend="torch", precision="fp32")
    network_rate = 1e3 / network_ms(reference)
    default = Predictor()
    print(f"## CPU: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; default {default.backend} "
          f"{default.precision}\n")
    print(f"plain torch fp32 network at 368x496: {network_rate:.1f} frames/s (the reference)\n")
    print("| clip, 640x480 | decode workers | fps | x reference | bound by | ms per frame (read, pre, net, dec, track) |")
    print("|---|---:|---:|---:|---|---|")
    for track in (False, True):
        for workers in (0, 1, 2):
            fps, runner = run_clip(default, [clip], track=track, decode_workers=workers)
            t = runner.stats.per_frame()
            print(f"| {'--track --smooth' if track else 'plain'} | {workers} | {fps:.1f} | {fps / network_rate:.2f} "
                  f"| {runner.stats.bottleneck()} | {', '.join(f'{1e3 * t[s]:.1f}' for s in list(t)[:5])} |",
                  flush=True)

    paths = make_folder(folder / "photos", args.photos)
    print(f"\n| folder of {args.photos} COCO-size JPEGs -> COCO results | image readers | images/s |")
    print("|---|---:|---:|")
    for readers in (1, 2):
        rate = run_folder(default, paths, folder / f"out{readers}", image_readers=readers, decode_workers=0)
        print(f"| default | {readers} | {rate:.1f} |", flush=True)

    frame = cv2.resize(photos[1], (640, 480))
    cpu_pre, dev_pre = CpuPreprocessor(8, "cpu"), DevicePreprocessor(8, "cpu")
    print("\n| preprocessing | ms per 640x480 frame | AP 4 photos (found/12) | AP 24 views |")
    print("|---|---:|---|---:|")
    for name, kind, pre in (("OpenCV", "cpu", cpu_pre), ("torch (CPU here)", "device", dev_pre)):
        predictor = Predictor(preprocess=kind)
        ap, found, view_ap = accuracy(predictor, coco, ids, photos, views)
        print(f"| {name} | {preprocess_ms(pre, frame, default):.2f} | {ap:.3f} ({found}/12) | {view_ap:.3f} |",
              flush=True)


def guarded(name: str, row) -> None:
    """Run one GPU section; a failure prints its traceback and the next section still runs (a
    lent GPU's minutes are too scarce to lose every row to one fault)."""
    try:
        row()
    except Exception:  # noqa: BLE001 - reported, then the benchmark goes on
        print(f"\n!! {name} failed:\n{traceback.format_exc()}", flush=True)


def gpu_network_rows(coco, ids, photos, views, record: dict) -> None:
    print("| precision | eager ms b1 | graph ms b1 | eager ms/frame b8 | graph ms/frame b8 | graph ms/frame b32 "
          "| AP 4 photos | AP 24 views |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for precision in ("fp32", "fp16", "bf16"):
        eager = Predictor(device="cuda", backend="torch", precision=precision, cuda_graphs=False)
        graphed = Predictor(device="cuda", backend="torch", precision=precision)
        row = [network_ms(eager), network_ms(graphed, runs=30)]
        row += [network_ms(eager, (8, 3, 368, 496)) / 8, network_ms(graphed, (8, 3, 368, 496), 30) / 8,
                network_ms(graphed, (32, 3, 368, 496), 30) / 32]
        ap, _, view_ap = accuracy(graphed, coco, ids, photos, views)
        record[f"cuda-{precision}"] = round(view_ap, 4)
        print(f"| {precision} | " + " | ".join(f"{v:.2f}" for v in row) + f" | {ap:.3f} | {view_ap:.3f} |", flush=True)


def gpu_clip_rows(clip: Path) -> None:
    print("\n| clip 640x480, 300 frames | batch | graphs | preprocess | decode workers | fps | bound by "
          "| ms per frame (read, pre, net, dec, track) |")
    print("|---|---:|---|---|---:|---:|---|---|")
    for track in (False, True):
        for batch, graphs, preprocess, workers in ((1, False, "cpu", 0), (1, True, "device", None),
                                                   (8, True, "device", 0), (8, True, "device", None)):
            predictor = Predictor(device="cuda", backend="torch", batch_size=batch, cuda_graphs=graphs,
                                  preprocess=preprocess)
            fps, runner = run_clip(predictor, [clip], track=track, decode_workers=workers)
            t = runner.stats.per_frame()
            print(f"| {'--track --smooth' if track else 'plain'} | {batch} | {graphs} | {preprocess} | "
                  f"{runner.stats.parallel['decode']} | {fps:.0f} | {runner.stats.bottleneck()} "
                  f"| {', '.join(f'{1e3 * t[s]:.2f}' for s in list(t)[:5])} |", flush=True)


def transcode(clip: Path, fourcc: str = "mp4v") -> Path:
    """``clip`` re-encoded as MPEG-4 part 2, which OpenCV reads 2.4x faster than MJPEG here (0.7
    vs 1.6 ms a 640x480 frame on 2 cores): one reader per video bounds an MJPEG clip on a GPU
    machine (4-5.6 ms a frame on the H200 host)."""
    from pafpose.io.media import VideoReader, VideoWriter

    path = clip.with_name(f"{clip.stem}-{fourcc}.mp4")
    with VideoWriter(path, 30.0, (640, 480), fourcc) as writer:
        for frame in VideoReader(clip, 0, None, 1):
            writer.write(frame)
    return path


def gpu_codec_row(clip: Path) -> None:
    """The clip's one-reader bound: the same frames as MPEG-4 instead of MJPEG."""
    mp4 = transcode(clip)
    predictor = Predictor(device="cuda", backend="torch", batch_size=8)
    fps, runner = run_clip(predictor, [mp4])
    t = runner.stats.per_frame()
    print(f"\nthe clip as MPEG-4 (mp4v), batch 8, graphs, device preprocessing, default workers: {fps:.0f} fps, "
          f"bound by {runner.stats.bottleneck()} ({', '.join(f'{1e3 * t[s]:.2f}' for s in list(t)[:5])} ms)",
          flush=True)


def gpu_live_row(clip: Path) -> None:
    runner = Runner(Predictor(device="cuda", backend="torch", batch_size=1), realtime=True)
    list(runner.run([MediaInput(clip, "video", "clip")]))
    print(f"\nlive at 30 fps, batch 1: latency median {1e3 * runner.stats.latency(0.5):.1f} ms, "
          f"p95 {1e3 * runner.stats.latency(0.95):.1f} ms", flush=True)


def gpu_many_rows(folder: Path) -> None:
    paths = make_folder(folder / "photos", 1000)
    predictor = Predictor(device="cuda", backend="torch")
    rate = run_folder(predictor, paths, folder / "out")
    print(f"\nfolder of 1000 COCO-size JPEGs -> COCO results: {rate:.0f} images/s", flush=True)
    clips = [make_clip(folder / f"clip{i}.avi", 150) for i in range(8)]
    fps, _ = run_clip(predictor, clips, repeats=1, sources_at_once=8)
    print(f"8 videos at once: {fps:.0f} fps together", flush=True)


def gpu_rows(args, folder: Path, coco, ids, photos, views) -> dict:
    print(f"\n## GPU: {torch.cuda.get_device_name()}, {os.cpu_count()} host cores, torch {torch.__version__}\n")
    record: dict = {}
    guarded("network rows", lambda: gpu_network_rows(coco, ids, photos, views, record))
    clip = make_clip(folder / "clip.avi", max(args.frames, 300))
    guarded("clip rows", lambda: gpu_clip_rows(clip))
    guarded("MPEG-4 row", lambda: gpu_codec_row(clip))
    guarded("live row", lambda: gpu_live_row(clip))
    guarded("folder and 8 videos", lambda: gpu_many_rows(folder))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--no-cpu", action="store_true", help="GPU rows only")
    parser.add_argument("--record", action="store_true",
                        help="store each CUDA precision's AP in the bundled checkpoint (cuda-<precision>)")
    args = parser.parse_args()
    coco = load_coco(SAMPLE_ANNOTATIONS)
    ids = sorted(coco.getImgIds())
    photos = [read_image(SAMPLE_DIR / coco.imgs[i]["file_name"]) for i in ids]
    views = annotated_views(coco, ids, photos)
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_cpu:
            cpu_rows(args, Path(folder), coco, ids, photos, views)
        if torch.cuda.is_available():
            record = gpu_rows(args, Path(folder), coco, ids, photos, views)
            if args.record:
                from pafpose.io.bundled import DEFAULT_WEIGHTS, WEIGHTS_DIR
                from pafpose.io.checkpoint import load_checkpoint, save_checkpoint

                path = WEIGHTS_DIR / f"{DEFAULT_WEIGHTS}.pt"
                state = load_checkpoint(path)
                state.setdefault("inference", {}).setdefault("precision_ap", {}).update(record)
                save_checkpoint(path, state)
                print(f"\nrecorded {record} in {path}")
        else:
            print("\n(no CUDA here: GPU rows not measured)")


if __name__ == "__main__":
    main()
