"""``pafpose infer``: people in images, folders and videos -> OpenPose/COCO JSON and renderings."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UserError
from .arguments import add_command, add_predictor_arguments, build_predictor, report_failures

EXAMPLES = """\
examples:
  pafpose infer photo.jpg --out out/ --render                  # the bundled COCO-trained network
  pafpose infer photo.jpg --weights model.pt --out out/ --render
  pafpose infer photos/ clip.mp4 --weights model.pt --out out/ --format coco
  pafpose infer photos/ --weights model.onnx --out out/         # .onnx: the onnx backend
  pafpose infer crowd.jpg --weights model.pt --out out/ --scales 0.5 1 1.5 2 --flip
  pafpose infer clip.mp4 --out out/ --start-frame 100 --end-frame 400 --frame-step 5
  pafpose infer 0 --out out/ --format none --display          # webcam 0, live window
  pafpose infer rtsp://camera.local/stream --out out/ --render

outputs (in --out):
  openpose  <name>_keypoints.json per image, <video>/<video>_<frame:012d>_keypoints.json per
            frame: {"version": 1.3, "people": [{"pose_keypoints_2d": [x, y, c] * 18}]}, COCO-18
  coco      results.json (image_id, category_id 1, keypoints [x, y, v] * 17, score) and
            images.json (the image_id, name and source path of each image or frame; numeric
            file names keep their number)
  --render  <name>_rendered.jpg / <video>_rendered.mp4 with the skeletons drawn (H.264 where
            OpenCV can, else mp4v; odd frame sizes: Motion-JPEG <video>_rendered.avi)
  manifest.json  each input's path and the outputs written for it (names get -1, -2 when
            two inputs share one, e.g. clip.mp4 and clip.avi)

One run at a time per --out: a second one is refused while the first is writing.
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "infer", run,
        help="detect people in images, folders or videos",
        description="Run a pose model on images, folders (searched recursively), videos, cameras "
                    "and streams, and write OpenPose-style or COCO-results JSON and, with --render, "
                    "pictures. Inputs that fail are reported and skipped; the exit code is 1 if any "
                    "did, 130 after Ctrl-C (finished outputs are kept, a partial video is not).",
        epilog=EXAMPLES,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image, folder, video, camera index (0, 1, ...) or stream URL (rtsp://, http://)")
    add_predictor_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", choices=("openpose", "coco", "none"), default="openpose",
                        help="keypoint output format (default: openpose)")
    parser.add_argument("--render", action="store_true", help="also write images/videos with skeletons")
    parser.add_argument("--render-threshold", type=float, default=0.05,
                        help="lowest keypoint confidence drawn (default 0.05)")
    parser.add_argument("--render-opacity", type=float, default=1.0,
                        help="opacity of the drawn skeletons, 0-1 (default 1: as confident as the keypoints)")
    parser.add_argument("--display", action="store_true",
                        help="show the rendered frames in a window (q or Esc stops; needs an OpenCV "
                             "with a GUI, i.e. opencv-python rather than opencv-python-headless)")
    parser.add_argument("--start-frame", type=int, default=0, help="first video frame to process (default 0)")
    parser.add_argument("--end-frame", type=int, default=None,
                        help="stop before this video frame (default: the end)")
    parser.add_argument("--frame-step", type=int, default=1,
                        help="process every N-th video frame (default 1: all)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..io.media import discover_inputs
    from ..io.outputs import lock_folder

    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: --out must be a folder, and this is a file")
    if args.format == "none" and not (args.render or args.display):
        raise UserError("--format none writes no keypoints: add --render or --display, or choose "
                        "--format openpose or coco")
    if not 0 <= args.render_opacity <= 1 or args.max_people is not None and args.max_people < 1:
        raise UserError("--render-opacity must be within 0-1 and --max-people at least 1")
    if args.display:
        _open_window()
    inputs, failures = discover_inputs(args.inputs, exclude=args.out)
    if not inputs:
        raise UserError("; ".join(failures) if failures else "no inputs")
    with lock_folder(args.out):
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
                    job.done(item, error=str(err))
                except (RuntimeError, MemoryError) as err:  # e.g. out of memory on one huge input
                    failures.append(f"{item.path}: {type(err).__name__}: {str(err).splitlines()[0]}")
                    job.done(item, error=failures[-1])
                except _Stopped:
                    job.done(item)
                    break
                except KeyboardInterrupt:  # the frames finished so far stay mapped in the manifest
                    job.done(item, error="interrupted")
                    raise
                else:
                    job.done(item)
        finally:  # also on Ctrl-C: the COCO results and the manifest so far are written
            job.finish()
    return report_failures("infer", failures, "input")


WINDOW = "pafpose"


class _Stopped(Exception):
    """The user closed the --display window with q or Esc: finish normally."""


def _open_window() -> None:
    import cv2

    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise UserError("--display: this OpenCV has no GUI backend (opencv-python-headless, or no "
                        "display); install opencv-python, or drop --display") from None


def _show(picture) -> None:
    import cv2

    cv2.imshow(WINDOW, picture)
    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
        raise _Stopped


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
        self.manifest: list[dict] = []
        self.outputs: list[str] = []  # of the input in progress, relative to --out
        self.coco_mark = 0  # len(coco_images) when the input in progress started

    def _next_image_id(self, name: str, source: str, frame: int | None) -> int:
        stem = Path(name).name
        used = {im["id"] for im in self.coco_images}
        image_id = int(stem) if stem.isdigit() and int(stem) not in used else \
            max(used | {0}) + 1
        self.coco_images.append({"id": image_id, "file_name": name, "source": source,
                                 **({"frame": frame} if frame is not None else {})})
        return image_id

    def _record(self, name: str, people, source: str, frame: int | None = None,
                frame_dir: Path | None = None) -> None:
        from ..inference.evaluate import people_to_coco_results
        from ..io.outputs import openpose_json, write_json

        if self.args.format == "openpose":
            relative = (frame_dir or Path(name).parent) / f"{Path(name).name}_keypoints.json"
            write_json(self.args.out / relative, openpose_json(people))
            if frame_dir is None:
                self.outputs.append(relative.as_posix())
        elif self.args.format == "coco":
            self.coco_results += people_to_coco_results(people, self._next_image_id(name, source, frame))
            if time.monotonic() - self.coco_saved > 30:
                self._save_coco()

    def _save_coco(self) -> None:
        from ..io.outputs import write_json

        write_json(self.args.out / "results.json", self.coco_results)
        write_json(self.args.out / "images.json", self.coco_images)
        self.coco_saved = time.monotonic()

    def _draw(self, image, people):
        from ..inference.render import draw_people

        return draw_people(image, people, min_score=self.args.render_threshold,
                           opacity=self.args.render_opacity)

    def done(self, item, error: str | None = None) -> None:
        """Note in the manifest what ``item`` produced."""
        if len(self.coco_images) > self.coco_mark:
            self.outputs += ["results.json", "images.json"]
        self.manifest.append({"input": str(item.path), "kind": item.kind, "name": item.name,
                              "outputs": self.outputs, **({"error": error} if error else {})})
        self.outputs, self.coco_mark = [], len(self.coco_images)

    def image(self, item) -> None:
        from ..io.images import read_image
        from ..io.outputs import write_image

        if self.images_bar is None:
            from tqdm import tqdm

            self.images_bar = tqdm(desc="images", total=self.num_images, unit="img",
                                   disable=self.args.quiet, dynamic_ncols=True, file=sys.stderr)
        try:
            image = read_image(item.path)
            people = self.predictor.predict(image)
            self._record(item.name, people, str(item.path))
            if self.args.render or self.args.display:
                picture = self._draw(image, people)
                if self.args.render:
                    write_image(self.args.out / f"{item.name}_rendered.jpg", picture)
                    self.outputs.append(f"{item.name}_rendered.jpg")
                if self.args.display:
                    _show(picture)
        finally:
            self.images_bar.update(1)

    def video(self, item) -> None:
        from tqdm import tqdm

        from ..io.media import VideoReader, open_render_writer

        args = self.args
        # Opens the file, camera or stream now: fails before any output is created.
        reader = VideoReader(item.path, args.start_frame, args.end_frame, args.frame_step)
        total = reader.info.frame_count
        if total:
            total = len(range(args.start_frame, min(total, args.end_frame or total), args.frame_step))
        writer = None
        frame_dir = Path(item.name)
        bar = tqdm(desc=Path(item.name).name, total=total or None, unit="frame",
                   disable=args.quiet, dynamic_ncols=True, file=sys.stderr)
        frames: list = []
        index = args.start_frame

        def flush():
            nonlocal index, writer
            batch = frames[:]
            frames.clear()  # before drawing: a window closed mid-batch must not redo the batch
            for frame, people in zip(batch, self.predictor.predict_batch(batch)):
                self._record(f"{item.name}_{index:012d}", people, str(item.path), index, frame_dir)
                if args.render or args.display:
                    picture = self._draw(frame, people)
                    if args.render:
                        if writer is None:
                            writer, note = open_render_writer(args.out / f"{item.name}_rendered",
                                                              reader.info.fps, (frame.shape[1], frame.shape[0]))
                            if note:
                                print(f"pafpose infer: note: {note}", file=sys.stderr)
                        writer.write(picture)
                    if args.display:
                        _show(picture)
                index += args.frame_step
                bar.update(1)

        # Live input is shown frame by frame, not a batch late.
        batch_size = 1 if item.kind == "stream" else args.batch_size
        complete = False  # only a finished (or knowingly cut) video goes under its final name
        try:
            try:
                for frame in reader:
                    frames.append(frame)
                    if len(frames) == batch_size:
                        flush()
            except (UserError, _Stopped):
                flush()  # a truncated video or a closed window: keep the frames read so far
                complete = True
                raise
            flush()
            complete = True
        finally:
            bar.close()
            if writer is not None:
                writer.close(keep=complete)
                if complete:
                    self.outputs.append(writer.path.relative_to(args.out).as_posix())
            if args.format == "openpose" and index > args.start_frame:
                self.outputs.append(f"{frame_dir.as_posix()}/")

    def finish(self) -> None:
        from ..io.outputs import write_json

        if self.images_bar is not None:
            self.images_bar.close()
        if self.args.format == "coco":
            self._save_coco()
        if self.manifest:
            write_json(self.args.out / "manifest.json", {"inputs": self.manifest})
