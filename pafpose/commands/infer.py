"""``pafpose infer``: people in images, folders and videos -> OpenPose/COCO JSON and renderings."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UserError

EXAMPLES = """\
examples:
  pafpose infer photo.jpg --weights model.pt --out out/ --render
  pafpose infer photos/ clip.mp4 --weights model.pt --out out/ --format coco
  pafpose infer photos/ --weights model.onnx --backend onnx --out out/
  pafpose infer crowd.jpg --weights model.pt --out out/ --scales 0.5 1 1.5 2 --flip

outputs (in --out):
  openpose  <name>_keypoints.json per image, <video>/<video>_<frame:012d>_keypoints.json per
            frame: {"version": 1.3, "people": [{"pose_keypoints_2d": [x, y, c] * 18}]}, COCO-18
  coco      results.json (image_id, category_id 1, keypoints [x, y, v] * 17, score) and
            images.json (the image_id of each input; numeric file names keep their number)
  --render  <name>_rendered.jpg / <video>_rendered.mp4 with the skeletons drawn
"""


def add_predictor_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs a Predictor."""
    parser.add_argument("--weights", required=True,
                        help="checkpoint (.pt), bundled weight name, or .onnx file with --backend onnx")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--input-height", type=int, default=None,
                        help="network input height at scale 1 in pixels (default: the height the "
                             "weights recommend, else 368)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0],
                        help="multi-scale search factors, averaged (the paper: 0.5 1 1.5 2)")
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
    parser.add_argument("--batch-size", type=int, default=8, help="images/frames per network call")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")


def build_predictor(args: argparse.Namespace):
    """A Predictor from the shared options (loads the weights: call after checking the inputs)."""
    import torch

    from ..predict import Predictor

    if args.batch_size < 1 or (args.input_height is not None and args.input_height < 8):
        raise UserError("--batch-size must be >= 1 and --input-height >= 8")
    if args.threads:
        torch.set_num_threads(args.threads)
    weights = args.weights
    if args.backend == "onnx":
        from ..onnx_export import OnnxSession

        weights = OnnxSession(weights, device=args.device, threads=args.threads)
    return Predictor(weights, device=args.device, input_height=args.input_height,
                     scales=args.scales, flip=args.flip, backend=args.backend,
                     batch_size=args.batch_size)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="detect people in images, folders or videos",
        description="Run a pose model on images, folders (searched recursively) and videos, and "
                    "write OpenPose-style or COCO-results JSON and, with --render, pictures. "
                    "Inputs that fail are reported and skipped; the exit code is 1 if any did.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder or video")
    add_predictor_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=("openpose", "coco", "none"), default="openpose",
                        help="keypoint output format (default: openpose)")
    parser.add_argument("--render", action="store_true", help="also write images/videos with skeletons")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..media import discover_inputs

    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: --out must be a folder, and this is a file")
    inputs, failures = discover_inputs(args.inputs)
    if not inputs:
        raise UserError("; ".join(failures) if failures else "no inputs")
    try:
        predictor = build_predictor(args)
    except UserError as err:  # say what was wrong with the inputs too, in the same line
        raise UserError("; ".join([str(err), *failures])) from None
    job = _Job(args, predictor, num_images=sum(item.kind == "image" for item in inputs))
    try:
        for item in inputs:
            try:
                (job.image if item.kind == "image" else job.video)(item)
            except UserError as err:
                failures.append(str(err))
            except (RuntimeError, MemoryError) as err:  # e.g. out of memory on one huge input
                failures.append(f"{item.path}: {type(err).__name__}: {str(err).splitlines()[0]}")
    finally:  # also on Ctrl-C: the COCO results gathered so far are written
        job.finish()
    if failures:
        print(f"pafpose infer: {len(failures)} input(s) failed:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


class _Job:
    """Writes each input's results as soon as it is done (COCO results: every 30 s and at the end)."""

    def __init__(self, args: argparse.Namespace, predictor, num_images: int):
        self.args = args
        self.predictor = predictor
        self.num_images = num_images
        self.coco_results: list[dict] = []
        self.coco_images: list[dict] = []
        self.coco_saved = time.monotonic()
        self.images_bar = None

    def _next_image_id(self, name: str) -> int:
        stem = Path(name).name
        used = {im["id"] for im in self.coco_images}
        image_id = int(stem) if stem.isdigit() and int(stem) not in used else \
            max(used | {0}) + 1
        self.coco_images.append({"id": image_id, "file_name": name})
        return image_id

    def _record(self, name: str, people, frame_dir: Path | None = None) -> None:
        from ..evaluate import people_to_coco_results
        from ..outputs import openpose_json, write_json

        if self.args.format == "openpose":
            folder = self.args.out / (frame_dir or Path(name).parent)
            write_json(folder / f"{Path(name).name}_keypoints.json", openpose_json(people))
        elif self.args.format == "coco":
            self.coco_results += people_to_coco_results(people, self._next_image_id(name))
            if time.monotonic() - self.coco_saved > 30:
                self._save_coco()

    def _save_coco(self) -> None:
        from ..outputs import write_json

        write_json(self.args.out / "results.json", self.coco_results)
        write_json(self.args.out / "images.json", self.coco_images)
        self.coco_saved = time.monotonic()

    def image(self, item) -> None:
        from ..images import read_image
        from ..outputs import write_image
        from ..render import draw_people

        if self.images_bar is None:
            from tqdm import tqdm

            self.images_bar = tqdm(desc="images", total=self.num_images, unit="img",
                                   disable=self.args.quiet, dynamic_ncols=True, file=sys.stderr)
        try:
            image = read_image(item.path)
            people = self.predictor.predict(image)
            self._record(item.name, people)
            if self.args.render:
                write_image(self.args.out / f"{item.name}_rendered.jpg", draw_people(image, people))
        finally:
            self.images_bar.update(1)

    def video(self, item) -> None:
        from tqdm import tqdm

        from ..media import VideoWriter, open_video, read_video
        from ..render import draw_people

        capture, info = open_video(item.path)  # fails early, before any output is created
        capture.release()
        writer = None
        frame_dir = Path(item.name)
        bar = tqdm(desc=item.path.name, total=info.frame_count or None, unit="frame",
                   disable=self.args.quiet, dynamic_ncols=True, file=sys.stderr)
        frames: list = []
        index = 0

        def flush():
            nonlocal index, writer
            for frame, people in zip(frames, self.predictor.predict_batch(frames)):
                self._record(f"{item.name}_{index:012d}", people, frame_dir)
                if self.args.render:
                    if writer is None:
                        writer = VideoWriter(self.args.out / f"{item.name}_rendered.mp4", info.fps,
                                             (frame.shape[1], frame.shape[0]))
                    writer.write(draw_people(frame, people))
                index += 1
            bar.update(len(frames))
            frames.clear()

        try:
            for frame in read_video(item.path):
                frames.append(frame)
                if len(frames) == self.args.batch_size:
                    flush()
        except UserError:
            flush()  # a truncated video: keep the frames read before the end was found short
            raise
        else:
            flush()
        finally:
            bar.close()
            if writer is not None:
                writer.close(keep=True)

    def finish(self) -> None:
        if self.images_bar is not None:
            self.images_bar.close()
        if self.args.format == "coco":
            self._save_coco()
