"""``pafpose infer``: people in images, folders and videos -> OpenPose/COCO JSON and renderings."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import UserError
from .arguments import add_command, add_predictor_arguments, build_predictor, nonempty_path, report_failures

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
  pafpose infer clip.mp4 --out out/ --track --smooth --render --tracks csv   # ids, smoothing, a table
  pafpose infer clip.mp4 --out out/ --render --render-style controlnet --format none  # ControlNet poses
  pafpose infer photos/ --out out/ --precision bf16 --threads 2              # see the README's "Real time"
  torchrun --nproc_per_node 4 -m pafpose.cli infer big/ --out out/ --format coco --resume

outputs (in --out):
  openpose  <name>_keypoints.json per image, <video>/<video>_<frame:012d>_keypoints.json per
            frame: {"version": 1.3, "people": [{"pose_keypoints_2d": [x, y, c] * 18}]}, COCO-18
  coco      results.json (image_id, category_id 1, keypoints [x, y, v] * 17, score) and
            images.json (the image_id, name and source path of each image or frame; numeric
            file names keep their number)
  --render  <name>_rendered.jpg / <video>_rendered.mp4 with the skeletons drawn (H.264 where
            OpenCV can, else mp4v; odd frame sizes: Motion-JPEG <video>_rendered.avi)
  --tracks  <video>_tracks.csv|jsonl: frame, time, id, score, <keypoint>_x/_y/_c per person
            (with --sequence also <folder>_tracks.csv per folder of images)
  --posetrack  <video>_posetrack.json (PoseTrack 2018 layout, track ids; per folder with --sequence)
  manifest.json  each input's path, frame count and the outputs written for it (a second input
            of one name takes its suffix along: clip.mp4 -> clip, clip.avi -> clip.avi)

The summary line gives fps, latency, the network and decoder time per frame and the backend.
Live sources (cameras, URLs) drop stale frames to keep latency bounded; files never drop frames.

One run at a time per --out: a second one is refused while the first is writing.
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "infer", run,
        help="detect people in images, folders or videos",
        description="Run a pose model on images, folders (searched recursively), videos, cameras "
                    "and streams, and write OpenPose-style or COCO-results JSON and, with --render, "
                    "pictures. Inputs that fail are reported and skipped; the exit code is 1 if any "
                    "did, 130 after Ctrl-C and 143 after SIGTERM (finished outputs, COCO results and the "
                    "manifest are kept, a partial video is not). Frames flow through a pipeline "
                    "(reading, network, decoding, writing overlap) and the run ends with its fps.",
        epilog=EXAMPLES,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image, folder, video, camera index (0, 1, ...) or stream URL (rtsp://, http://)")
    add_predictor_arguments(parser)
    parser.add_argument("--out", required=True, help="output folder")
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
    track = parser.add_argument_group("people over time (videos, cameras, streams; image folders with --sequence)")
    track.add_argument("--track", action="store_true",
                       help="give each person an id kept while they are in view (OpenPose JSON "
                            "person_id, COCO results track_id; rendered in one colour per id)")
    track.add_argument("--smooth", action="store_true",
                       help="smooth tracked keypoints over time (One-Euro filter; implies --track)")
    track.add_argument("--smooth-min-cutoff", type=float, default=1.0,
                       help="One-Euro minimum cutoff in Hz: lower = smoother when still (default 1.0)")
    track.add_argument("--smooth-beta", type=float, default=0.01,
                       help="One-Euro speed coefficient per pixel/s: higher = less lag in fast moves (default 0.01)")
    track.add_argument("--smooth-carry", type=int, default=2,
                       help="frames a lost keypoint is carried forward, at lower confidence (default 2)")
    track.add_argument("--sequence", action="store_true",
                       help="with --track, the images of each folder are frames of one sequence (name order)")
    track.add_argument("--tracks", choices=("csv", "jsonl"), default=None,
                       help="also write <video>_tracks.csv/.jsonl: one row per frame and person (with "
                            "--sequence, <folder>_tracks.csv/.jsonl per folder of images)")
    track.add_argument("--posetrack", action="store_true",
                       help="also write <video>_posetrack.json (PoseTrack layout) per video (with "
                            "--sequence, per folder of images)")
    parser.add_argument("--render-style", choices=("openpose", "track", "controlnet"), default=None,
                        help="openpose: OpenPose's colours over the picture; track: a colour and label "
                             "per person id (the default with --track); controlnet: skeletons on black, "
                             "the pose image ControlNet takes")
    parser.add_argument("--resume", action="store_true",
                        help="skip the inputs the manifest in --out lists as done (e.g. after a killed, "
                             "sharded or partly failed run); their COCO results are kept and an input "
                             "run again replaces its earlier ones. Refused when --format, --render, "
                             "--tracks, --posetrack or the frame range differ from the earlier run's")
    parser.add_argument("--decode-workers", type=int, default=None,
                        help="processes decoding people in parallel (default: the cores the network leaves: "
                             "none on a CPU, all but two beside a GPU; 0: decode in-process)")
    parser.add_argument("--sources-at-once", type=int, default=None,
                        help="videos/streams read at the same time, their frames batched together "
                             "(default: 1 on a CPU, 8 on a GPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars and no summary")


def run(args: argparse.Namespace) -> int:
    from ..inference.runner import Frame, Runner
    from ..inference.sharding import Shard
    from ..inference.writer import ResultWriter, output_options
    from ..io.discovery import discover_inputs
    from ..io.media import check_frame_range
    from ..io.outputs import lock_folder

    args.out = nonempty_path(args.out, "--out")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: --out must be a folder, and this is a file")
    if args.format == "none" and not (args.render or args.display):
        raise UserError("--format none writes no keypoints: add --render or --display, or choose "
                        "--format openpose or coco")
    if not 0 <= args.render_opacity <= 1 or args.max_people is not None and args.max_people < 1:
        raise UserError("--render-opacity must be within 0-1 and --max-people at least 1")
    args.track = args.track or args.smooth
    if (args.tracks or args.posetrack or args.sequence) and not args.track:
        raise UserError("--tracks, --posetrack and --sequence need --track (or --smooth)")
    if args.smooth and not (args.smooth_min_cutoff > 0 and args.smooth_beta >= 0 and args.smooth_carry >= 0):
        raise UserError("--smooth-min-cutoff must be > 0, --smooth-beta and --smooth-carry >= 0")
    check_frame_range(args.start_frame, args.end_frame, args.frame_step)  # once, not per video
    runner_options = dict(start_frame=args.start_frame, end_frame=args.end_frame, frame_step=args.frame_step,
                          image_sequences=args.sequence, decode_workers=args.decode_workers,
                          sources_at_once=args.sources_at_once, **_over_time(args))
    if args.display:
        _open_window()
    inputs, failures = discover_inputs(args.inputs, exclude=args.out)
    if not inputs:
        raise UserError("; ".join(failures) if failures else "no inputs")
    shard = Shard.from_environment(args.out, resume=args.resume)
    options = output_options(args.format, args.render, args.tracks, args.posetrack, args.start_frame,
                             args.end_frame, args.frame_step)
    # With --sequence a folder of images is one sequence: resumed and sharded as a whole.
    sequence = (lambda item: Path(str(item.path)).parent if item.kind == "image" else item) if args.sequence else None
    with lock_folder(args.out, name=shard.lock_name):
        shard.start()  # parts a killed run left: merged with --resume, else removed
        if args.resume:
            shard.check_options(options)
            inputs = shard.skip_done(inputs, group=sequence)
        inputs = shard.select(inputs, group=sequence)
        try:
            predictor = build_predictor(args)
        except UserError as err:  # say what was wrong with the inputs too, in the same line
            raise UserError("; ".join([str(err), *failures])) from None
        runner = Runner(predictor, **runner_options)
        style = args.render_style or ("track" if args.track else "openpose")
        writer = ResultWriter(args.out, args.format, args.render, args.render_threshold,
                              args.render_opacity, args.frame_step, render_style=style,
                              tracks=args.tracks, posetrack=args.posetrack, results_dir=shard.part,
                              sequences=args.sequence, start_frame=args.start_frame, end_frame=args.end_frame)
        progress = _Progress(inputs, args.quiet)
        interrupted = False
        try:
            for event in runner.run(inputs):
                started = time.perf_counter()
                picture = writer.write(event)
                runner.stats.times.write += time.perf_counter() - started
                progress.update(event)
                if args.display and isinstance(event, Frame):
                    if picture is None:
                        picture = writer.draw(event.image, event.people)
                    if _show(picture):
                        break
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:  # also on Ctrl-C and SIGTERM: finished outputs, COCO results and the manifest are written
            writer.close(interrupted=interrupted)
            progress.close()
            if not interrupted:
                _summary(runner, predictor, args.quiet)
    shard.finish()
    return report_failures("infer", failures + writer.errors, "input")


def _over_time(args: argparse.Namespace) -> dict:
    """The Runner's tracker and smoother factories for --track and --smooth."""
    if not args.track:
        return {}
    from ..tracking import OneEuroSmoother, PoseTracker

    options = {"tracker": PoseTracker}
    if args.smooth:
        options["smoother"] = lambda: OneEuroSmoother(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta,
                                                      carry_frames=args.smooth_carry)
    return options


def _summary(runner, predictor, quiet: bool) -> None:
    stats = runner.stats
    if quiet or not stats.frames:
        return
    dropped = f", {stats.dropped} stale live frames dropped" if stats.dropped else ""
    print(f"pafpose infer: {stats.frames} frames in {stats.seconds:.1f} s: {stats.fps:.1f} fps, latency "
          f"{1e3 * stats.latency(0.5):.0f} ms (p95 {1e3 * stats.latency(0.95):.0f}){dropped} "
          f"({predictor.backend} {predictor.precision} on {predictor.device.type}); {stats.describe()}",
          file=sys.stderr)


class _Progress:
    """One bar for the images, one per video or stream."""

    def __init__(self, inputs, quiet: bool):
        self.quiet = quiet
        self.num_images = sum(item.kind == "image" for item in inputs)
        self.images = None
        self.videos: dict = {}

    def _bar(self, **kw):
        from tqdm import tqdm

        return tqdm(disable=self.quiet, dynamic_ncols=True, file=sys.stderr, **kw)

    def update(self, event) -> None:
        from ..inference.runner import SourceEnd

        source = event.source
        if source.kind == "image":
            if isinstance(event, SourceEnd):
                if self.images is None:
                    self.images = self._bar(desc="images", total=self.num_images, unit="img")
                self.images.update(1)
            return
        if isinstance(event, SourceEnd):
            bar = self.videos.pop(source, None)
            if bar is not None:
                bar.close()
            return
        if source not in self.videos:
            self.videos[source] = self._bar(desc=Path(source.name).name, unit="frame")
        self.videos[source].update(1)

    def close(self) -> None:
        for bar in [self.images, *self.videos.values()]:
            if bar is not None:
                bar.close()


WINDOW = "pafpose"


def _open_window() -> None:
    import cv2

    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        raise UserError("--display: this OpenCV has no GUI backend (opencv-python-headless, or no "
                        "display); install opencv-python, or drop --display") from None


def _show(picture) -> bool:
    """Show a frame; True when the user closed the window with q or Esc."""
    import cv2

    cv2.imshow(WINDOW, picture)
    return cv2.waitKey(1) & 0xFF in (ord("q"), 27)
