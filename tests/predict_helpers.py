"""A "perfect network" for testing the inference pipeline without training a model.

``GroundTruthNet`` recognises the one image it was built for in whatever the predictor feeds it
(resized, grey-padded right/bottom, possibly mirrored inside the padded frame) and returns the
ground-truth heatmaps and PAFs of that input, encoded by the default head's PafCodec. It behaves like an
ideal network, mirror-equivariant included, so decoding its maps must give back the annotations.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from pafpose.codec.head import HeadSpec, PafCodec

GREY = 128 / 255


class GroundTruthNet(torch.nn.Module):
    """infer(x (B, 3, Hp, Wp)) -> GT heatmaps (B, 19, Hp/8, Wp/8), PAFs (B, 38, Hp/8, Wp/8).

    Built from (image, keypoints) pairs: (H0, W0, 3) BGR uint8 originals and their (P, 18, 3)
    COCO-18 keypoints in original pixels. Each input is matched to the most similar original.
    """

    def __init__(self, samples: list[tuple[np.ndarray, np.ndarray]], head: HeadSpec | None = None):
        super().__init__()
        self.samples = [(im, np.asarray(kp, dtype=np.float64)) for im, kp in samples]
        self.codec = PafCodec(head)
        self.head = self.codec.spec
        self.calls: list[tuple[int, ...]] = []

    def infer(self, x: torch.Tensor):
        self.calls.append(tuple(x.shape))
        heatmaps, pafs = zip(*(self._maps(sample.cpu().numpy()) for sample in x))
        return torch.from_numpy(np.stack(heatmaps)), torch.from_numpy(np.stack(pafs))

    def _maps(self, sample: np.ndarray):
        _, hp, wp = sample.shape
        content = ~np.all(sample == np.float32(GREY), axis=0)  # (Hp, Wp): not padding
        rows, cols = np.nonzero(content.any(1))[0], np.nonzero(content.any(0))[0]
        h, x0, x1 = rows[-1] + 1, cols[0], cols[-1] + 1
        w = x1 - x0
        seen = sample[:, :h, x0:x1]
        best = None
        for image, keypoints in self.samples:
            reference = cv2.resize(image, (int(w), int(h)), interpolation=cv2.INTER_AREA)
            reference = reference[..., ::-1].transpose(2, 0, 1) / 255.0
            for mirrored in (False, True):
                error = np.abs((seen[..., ::-1] if mirrored else seen) - reference).mean()
                if best is None or error < best[0]:
                    best = (error, image, keypoints, mirrored)
        _, image, keypoints, mirrored = best
        h0, w0 = image.shape[:2]
        kp = keypoints.copy()
        kp[..., 0] = (kp[..., 0] + 0.5) * w / w0 - 0.5
        kp[..., 1] = (kp[..., 1] + 0.5) * h / h0 - 0.5
        if mirrored:
            kp = self.codec.flip_keypoints(kp, w)
        kp[..., 0] += x0  # mirrored content sits right-aligned in the padded frame
        return self.codec.encode(kp, (wp, hp))


def sample_images() -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(image id, BGR image, (P, 18, 3) keypoints) of the bundled real COCO samples."""
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, SAMPLE_DIR, load_coco
    from pafpose.io.images import read_image

    coco = load_coco(SAMPLE_ANNOTATIONS)
    out = []
    for image_id in sorted(coco.getImgIds()):
        image = read_image(SAMPLE_DIR / coco.imgs[image_id]["file_name"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        out.append((image_id, image, PafCodec().keypoints(anns)))
    return out


def coco_ap(results: list[dict], image_ids: list[int] | None = None) -> float:
    """COCO keypoint AP of results against the bundled sample annotations."""
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        detections = coco.loadRes(results)
        evaluator = COCOeval(coco, detections, "keypoints")
        if image_ids is not None:
            evaluator.params.imgIds = image_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[0])
