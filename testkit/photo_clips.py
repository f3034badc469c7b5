"""Video clips made from real photos, with ground-truth ids, for measuring trackers on real pixels.

- :func:`camera_over_photo`: a camera panning and zooming over a photo along keyframes (it can
  leave people out of view for seconds and come back to them), with hand-held shake.
- :func:`people_over_background`: real people cut out of COCO photos (their segmentation masks)
  walking along paths over a photo whose own people are painted out, crossing in front of one
  another (the nearer hides the farther), leaving the frame and coming back.
- :func:`join_shots`: shots one after another (hard cuts), with black frames where asked.
- :func:`bundled_clips`: the tracking benchmark's five clips from the bundled photos, and
  held-out variants of them (``seed``).

The people's ids are their COCO annotation ids; keypoints are COCO-17 x, y, v with v=2 visible,
v=1 hidden behind a nearer person, v=0 out of view (as in :mod:`testkit.motion`). People the
photo's annotations have without keypoints (too small to label) are the clip's ``ignore`` boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .motion import MotionSequence

__all__ = ["camera_over_photo", "CutOut", "cut_out_people", "people_over_background", "join_shots",
           "paint_out_people", "bundled_clips"]


def _ease(t: np.ndarray) -> np.ndarray:
    return (1 - np.cos(np.pi * np.clip(t, 0, 1))) / 2


def camera_over_photo(image: np.ndarray, annotations: list[dict], keyframes: list[tuple[float, float, float, float]],
                      frames: int, output_size: tuple[int, int] = (432, 368), shake: float = 0.0,
                      seed: int = 0, name: str = "camera over photo") -> MotionSequence:
    """A camera moving over a photo.

    Args:
        keyframes: (time fraction 0-1, centre x, centre y as fractions of the photo, window
            height as a fraction of the photo's height), eased between.
        shake: standard deviation (output pixels) of the hand-held jitter, each frame.
    """
    rng = np.random.default_rng(seed)
    ih, iw = image.shape[:2]
    ow, oh = output_size
    people = [a for a in annotations if a.get("num_keypoints", 0) > 0 and not a.get("iscrowd")]
    unlabelled = np.array([a["bbox"] for a in annotations if a not in people], np.float64).reshape(-1, 4)
    unlabelled[:, 2:] += unlabelled[:, :2]  # x0, y0, x1, y1
    ids = np.array([a["id"] for a in people], dtype=np.int64)
    kp = np.array([np.reshape(a["keypoints"], (17, 3)) for a in people], dtype=np.float64).reshape(-1, 17, 3)
    key = np.array(keyframes, dtype=np.float64)
    out_ids, out_kp, images, ignore = [], [], [], []
    for f in range(frames):
        t = f / max(frames - 1, 1)
        i = int(np.clip(np.searchsorted(key[:, 0], t, side="right") - 1, 0, len(key) - 2))
        u = _ease((t - key[i, 0]) / max(key[i + 1, 0] - key[i, 0], 1e-9))
        _, cx, cy, hf = key[i] + u * (key[i + 1] - key[i])
        win_h = min(hf * ih, iw * oh / ow)
        zoom = oh / win_h
        x0 = cx * iw - ow / zoom / 2 + rng.normal(0, shake) / zoom
        y0 = cy * ih - oh / zoom / 2 + rng.normal(0, shake) / zoom
        affine = np.array([[zoom, 0, -x0 * zoom], [0, zoom, -y0 * zoom]])
        images.append(cv2.warpAffine(image, affine, (ow, oh), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
        moved = kp.copy()
        moved[..., 0], moved[..., 1] = (kp[..., 0] - x0) * zoom, (kp[..., 1] - y0) * zoom
        inside = (moved[..., 0] >= 0) & (moved[..., 0] <= ow - 1) & (moved[..., 1] >= 0) & (moved[..., 1] <= oh - 1)
        moved[..., 2] = np.where(inside, kp[..., 2], 0)
        keep = (moved[..., 2] > 0).any(axis=1)
        out_ids.append(ids[keep])
        out_kp.append(moved[keep])
        ignore.append((unlabelled - np.array([x0, y0, x0, y0])) * zoom)
    return MotionSequence(name, (ow, oh), 30.0, out_ids, out_kp, images, ignore)


@dataclass
class CutOut:
    """A person cut out of a photo: (h, w, 3) BGR pixels, (h, w) bool mask, (17, 3) keypoints in
    the cut-out's pixels, and the annotation id."""

    pixels: np.ndarray
    mask: np.ndarray
    keypoints: np.ndarray
    person_id: int


def cut_out_people(image: np.ndarray, annotations: list[dict], min_keypoints: int = 12) -> list[CutOut]:
    """The well-annotated people of a photo, cut out along their segmentation polygons."""
    people = []
    for a in annotations:
        if a.get("num_keypoints", 0) < min_keypoints or a.get("iscrowd") or not isinstance(a.get("segmentation"), list):
            continue
        mask = np.zeros(image.shape[:2], np.uint8)
        for poly in a["segmentation"]:
            cv2.fillPoly(mask, [np.round(np.reshape(poly, (-1, 2))).astype(np.int32)], 1)
        x, y, w, h = (int(round(v)) for v in a["bbox"])
        kp = np.reshape(a["keypoints"], (17, 3)).astype(np.float64)
        kp[:, 0] -= x
        kp[:, 1] -= y
        people.append(CutOut(image[y:y + h, x:x + w].copy(), mask[y:y + h, x:x + w].astype(bool), kp, int(a["id"])))
    return people


def paint_out_people(image: np.ndarray, annotations: list[dict]) -> np.ndarray:
    """The photo with its annotated people painted out (OpenCV inpainting), as a background."""
    mask = np.zeros(image.shape[:2], np.uint8)
    for a in annotations:
        if isinstance(a.get("segmentation"), list):
            for poly in a["segmentation"]:
                cv2.fillPoly(mask, [np.round(np.reshape(poly, (-1, 2))).astype(np.int32)], 255)
    mask = cv2.dilate(mask, np.ones((9, 9), np.uint8))
    return cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)


def people_over_background(background: np.ndarray, people: list[CutOut], paths: list[list[tuple[float, float, float]]],
                           frames: int, heights: list[float], output_size: tuple[int, int] = (432, 368),
                           shake: float = 0.0, seed: int = 0, name: str = "people over a photo") -> MotionSequence:
    """Cut-out people moving over a background.

    Args:
        people: who (see :func:`cut_out_people`); paths: per person, (time fraction, x, y)
            keyframes of the feet (bottom centre of the cut-out) in output pixels, linear between
            (outside the frame = out of view); heights: per person, the height in output pixels.
            A lower y is farther: nearer people (larger y) are drawn over and hide farther ones.
    """
    rng = np.random.default_rng(seed)
    ow, oh = output_size
    base = cv2.resize(background, output_size, interpolation=cv2.INTER_AREA)
    scaled = []
    for person, height in zip(people, heights):
        s = height / person.pixels.shape[0]
        size = (max(int(round(person.pixels.shape[1] * s)), 1), max(int(round(height)), 1))
        kp = person.keypoints.copy()
        kp[:, :2] *= s
        scaled.append((cv2.resize(person.pixels, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(person.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool), kp))
    ids = np.array([p.person_id for p in people], np.int64)
    out_ids, out_kp, images = [], [], []
    for f in range(frames):
        t = f / max(frames - 1, 1)
        dx, dy = rng.normal(0, shake, 2)
        frame = np.roll(base, (int(round(dy)), int(round(dx))), axis=(0, 1)).copy()
        cover = np.full((oh, ow), -1, np.int64)  # who is drawn at each pixel
        feet = []
        for path in paths:
            key = np.array(path, np.float64)
            feet.append([np.interp(t, key[:, 0], key[:, 1]) + dx, np.interp(t, key[:, 0], key[:, 2]) + dy])
        kps = np.zeros((len(people), 17, 3))
        for j in np.argsort([y for _, y in feet]):  # far to near
            pixels, mask, kp = scaled[j]
            h, w = mask.shape
            x0, y0 = int(round(feet[j][0] - w / 2)), int(round(feet[j][1] - h))
            xs, ys = slice(max(x0, 0), min(x0 + w, ow)), slice(max(y0, 0), min(y0 + h, oh))
            if xs.start < xs.stop and ys.start < ys.stop:
                sub = mask[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
                frame[ys, xs][sub] = pixels[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0][sub]
                cover[ys, xs][sub] = j
            kps[j] = kp
            kps[j, :, 0] += x0
            kps[j, :, 1] += y0
        for j in range(len(people)):
            x, y, v = kps[j].T
            inside = (x >= 0) & (x <= ow - 1) & (y >= 0) & (y <= oh - 1) & (v > 0)
            xi, yi = np.clip(x.astype(int), 0, ow - 1), np.clip(y.astype(int), 0, oh - 1)
            hidden = inside & (cover[yi, xi] >= 0) & (cover[yi, xi] != j)
            kps[j, :, 2] = np.where(inside, np.where(hidden, 1, v), 0)
        keep = (kps[..., 2] > 0).any(axis=1)
        out_ids.append(ids[keep])
        out_kp.append(kps[keep])
        images.append(frame)
    return MotionSequence(name, output_size, 30.0, out_ids, out_kp, images)


def join_shots(shots: list[MotionSequence], black: dict[int, tuple[int, int]] | None = None,
               name: str = "shots") -> MotionSequence:
    """Shots one after another (a hard cut between each); ``black``: shot index -> (first frame,
    count) of black frames replacing that shot's frames (nothing seen in them)."""
    ids, kps, images, ignore = [], [], [], []
    for s, shot in enumerate(shots):
        first, count = (black or {}).get(s, (0, 0))
        for f in range(len(shot)):
            dark = first <= f < first + count
            ids.append(shot.ids[f][:0] if dark else shot.ids[f])
            kps.append(shot.keypoints[f][:0] if dark else shot.keypoints[f])
            images.append(np.zeros_like(shot.images[f]) if dark else shot.images[f])
            boxes = shot.ignore[f] if shot.ignore else np.zeros((0, 4))
            ignore.append(boxes[:0] if dark else boxes)
    return MotionSequence(name, shots[0].image_size, shots[0].fps, ids, kps, images, ignore)


def bundled_clips(scale: float = 1.0, seed: int = 0) -> list[MotionSequence]:
    """The benchmark's five clips from the 4 bundled photos (432x368, 30 fps; ``scale`` their
    length): "pan away and back", "cuts and black frames", "crossing (people over a photo)",
    "exit and re-entry (people over a photo)", "shake and zoom". ``seed`` 0 gives the clips the
    README's table is measured on; other seeds are held-out variants: other shake, the camera's
    keyframes moved by up to ~3 % of the photo, people's paths by ~15 px and sizes by ~5 %."""
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    photo = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        photo[image_id] = (cv2.imread(str(SAMPLE_DIR / info["file_name"])),
                           coco.loadAnns(coco.getAnnIds(imgIds=image_id)))
    rng = np.random.default_rng(seed)
    n = lambda frames: max(int(frames * scale), 10)  # noqa: E731
    s = lambda k: k + 100 * seed  # noqa: E731  (shake seeds)

    def keys(k):  # camera keyframes, moved for seed > 0
        k = np.array(k, np.float64)
        if seed:
            k[:, 1:3] += rng.normal(0, 0.015, (len(k), 2))
        return [tuple(row) for row in k]

    def paths(ps):  # people's paths, moved for seed > 0
        return [[(t, x + (rng.normal(0, 15) if seed else 0), y) for t, x, y in p] for p in ps]

    def heights(hs):
        return [h * (rng.uniform(0.95, 1.05) if seed else 1) for h in hs]

    clips = [camera_over_photo(*photo[197388], keys([(0, .3, .5, .6), (.25, .3, .5, .6), (.45, .82, .5, .5),
                                                      (.65, .82, .5, .5), (.85, .3, .5, .6), (1, .3, .5, .6)]),
                               n(150), shake=2.0, seed=s(1), name="pan away and back")]
    shots = [camera_over_photo(*photo[785], keys([(0, .55, .5, .95), (1, .6, .5, .85)]), n(40), shake=1.5, seed=s(2)),
             camera_over_photo(*photo[40083], keys([(0, .45, .55, .95), (1, .5, .55, .9)]), n(40), shake=1.5, seed=s(3)),
             camera_over_photo(*photo[196141], keys([(0, .5, .5, .95), (1, .45, .5, .9)]), n(40), shake=1.5, seed=s(4)),
             camera_over_photo(*photo[785], keys([(0, .6, .45, .8), (1, .55, .45, .8)]), n(30), shake=1.5, seed=s(5))]
    clips.append(join_shots(shots, black={1: (n(15), 4)}, name="cuts and black frames"))
    cutouts = {c.person_id: c for image_id in (197388, 196141, 785) for c in cut_out_people(*photo[image_id])}
    background = paint_out_people(*photo[40083])
    a, b, c, d = (cutouts[i] for i in (437295, 460541, 442619, 533949))
    clips.append(people_over_background(
        background, [a, b, c, d],
        paths([[(0, 40, 250), (1, 400, 250)], [(0, 400, 254), (1, 40, 254)],
               [(0, 60, 350), (1, 380, 350)], [(0, 380, 345), (1, 60, 345)]]),
        n(120), heights([170, 175, 200, 190]), shake=1.0, seed=s(6), name="crossing (people over a photo)"))
    clips.append(people_over_background(
        background, [a, b, c],
        paths([[(0, 120, 300), (.25, 330, 300), (.4, 520, 300), (.62, 520, 300), (.8, 330, 300), (1, 250, 300)],
               [(0, 300, 330), (.3, -90, 330), (.6, -90, 330), (1, 150, 330)],
               [(0, 210, 260), (1, 230, 260)]]),
        n(180), heights([180, 200, 150]), shake=1.0, seed=s(7), name="exit and re-entry (people over a photo)"))
    clips.append(camera_over_photo(*photo[196141], keys([(0, .5, .5, .95), (.5, .45, .45, .55), (1, .5, .5, .95)]),
                                   n(120), shake=6.0, seed=s(8), name="shake and zoom"))
    return clips
