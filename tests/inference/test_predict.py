"""Predictor: resize / pad / un-pad geometry, multi-scale, flip test, batches, odd images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from predict_helpers import GroundTruthNet, coco_ap, sample_images

from pafpose.codec.head import HeadSpec
from pafpose.codec.skeleton import COCO18, flip_keypoints
from pafpose.errors import UserError
from pafpose.inference.evaluate import people_to_coco_results as coco_results
from pafpose.inference.predict import NetworkInput, Predictor, resample_maps

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def samples():
    return sample_images()


def _matched_error(people, keypoints: np.ndarray) -> np.ndarray:
    """Distances (pixels) of each labelled GT keypoint to the same keypoint of its nearest person."""
    found = np.stack([p.keypoints for p in people])  # (N, 18, 3)
    errors = []
    for person in keypoints:
        seen = (person[:, 2] > 0)
        both = seen[None] & (found[:, :, 2] > 0)
        dist = np.linalg.norm(found[:, :, :2] - person[None, :, :2], axis=-1)
        mean = np.where(both, dist, 0).sum(1) / np.maximum(both.sum(1), 1)
        best = np.argmin(np.where(both.any(1), mean, np.inf))
        errors += list(dist[best][both[best]])
    return np.asarray(errors)


# At height 184 the smallest people are a few map cells tall and some are lost (AP ~0.74);
# the people found must still land exactly.
@pytest.mark.parametrize("height, scales, flip, median_px, min_ap", [
    (368, (1.0,), False, 0.03, 0.9), (184, (1.0,), False, 0.05, 0.7),
    (368, (0.5, 1.0, 1.5), True, 0.2, 0.9)])
def test_round_trip_real_images_in_original_pixels(samples, height, scales, flip, median_px, min_ap):
    net = GroundTruthNet([(image, kp) for _, image, kp in samples])
    predictor = Predictor(net, input_height=height, scales=scales, flip=flip)
    results, errors = [], []
    for image_id, image, keypoints in samples:
        people = predictor.predict(image)
        results += coco_results(people, image_id)
        errors.append(_matched_error(people, keypoints))
    errors = np.concatenate(errors)
    # Inputs really were resized to height 368 * scale (padded to a multiple of 8).
    heights = {shape[2] for shape in net.calls}
    assert heights == {-(-round(height * s) // 8) * 8 for s in scales}
    assert coco_ap(results) >= min_ap
    # One map cell is 8 / (height / 425) ~ 10-20 original pixels; the exact geometry puts the
    # keypoints back to a small fraction of a pixel (a half-pixel slip in the un-scaling shows
    # up as a median of 0.07-0.9 px). Mixing scales blends Gaussians of different widths.
    assert np.median(errors) < median_px, np.median(errors)
    assert np.percentile(errors, 90) < 10 * median_px


def test_flip_test_on_symmetric_input(samples):
    _, image, keypoints = samples[0]
    width = image.shape[1]
    symmetric = np.concatenate([image, image[:, ::-1]], axis=1)
    people_kp = np.concatenate([keypoints, flip_keypoints(keypoints, 2 * width, COCO18)])
    net = GroundTruthNet([(symmetric, people_kp)])
    plain = Predictor(net).predict(symmetric)
    flipped = Predictor(net, flip=True).predict(symmetric)
    assert len(plain) == len(flipped) >= len(keypoints)
    for a, b in zip(sorted(plain, key=lambda p: p.score), sorted(flipped, key=lambda p: p.score)):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=0.05)
    # Each person's mirror image was found too, with left and right labelled correctly.
    found = np.stack([p.keypoints for p in flipped])
    for person in found:
        mirror = flip_keypoints(person, symmetric.shape[1], COCO18)
        seen = person[:, 2] > 0
        distance = np.abs(found[:, seen, :2] - mirror[None, seen, :2]).max(axis=(1, 2))
        assert distance.min() < 1.0


def test_maps_are_cropped_to_the_image_in_reference_geometry(samples):
    _, image, keypoints = samples[1]
    net = GroundTruthNet([(image, keypoints)])
    predictor = Predictor(net, input_height=200)
    heatmaps, pafs = predictor.maps(image)
    fx, fy = predictor.resize_factors(image.shape[1::-1])
    h, w = round(image.shape[0] * fy), round(image.shape[1] * fx)
    assert h == 200 and heatmaps.shape == (19, 25, -(-w // 8)) and pafs.shape == (38, 25, -(-w // 8))
    kp = keypoints.copy()
    kp[..., 0] = (kp[..., 0] + 0.5) * fx - 0.5
    kp[..., 1] = (kp[..., 1] + 0.5) * fy - 0.5
    expected = predictor.codec.encode(kp, (w, h))[0]
    np.testing.assert_allclose(heatmaps, expected, atol=1e-6)


def test_predictor_reads_the_maps_with_the_networks_head(samples):
    # A stride-4 network: the input is padded to a multiple of 4 (not 8) and the maps are
    # decoded at 4 pixels per cell. A Predictor that restated stride 8 anywhere would misplace
    # every keypoint by a factor of two.
    net = GroundTruthNet([(image, kp) for _, image, kp in samples], head=HeadSpec(stride=4, sigma=3.5))
    predictor = Predictor(net, input_height=372)
    assert predictor.codec.spec == net.head
    results, errors = [], []
    for image_id, image, keypoints in samples:
        people = predictor.predict(image)
        results += coco_results(people, image_id)
        errors.append(_matched_error(people, keypoints))
    assert {shape[2] for shape in net.calls} == {372}  # a multiple of 4 but not of 8
    assert coco_ap(results) >= 0.9
    assert np.median(np.concatenate(errors)) < 0.05


def test_resampling_between_scales_keeps_cell_centres():
    # A field linear in original-image coordinates must survive resampling from one scale's
    # grid to another's exactly (away from the clamped border cells).
    s = 8  # an original of 301 x 187 pixels, seen at x2 and at height 93
    src, dst = NetworkInput(602, 374, 2.0, 2.0), NetworkInput(150, 93, 150 / 301, 93 / 187)

    def field(r: NetworkInput):
        rows, cols = -(-r.height // s), -(-r.width // s)
        x = (np.arange(cols) * s + s / 2) / r.fx - 0.5
        y = (np.arange(rows) * s + s / 2) / r.fy - 0.5
        return np.stack([np.broadcast_to(x, (rows, cols)), np.broadcast_to(y[:, None], (rows, cols))])

    out = resample_maps(torch.from_numpy(field(src)).float(), src, dst, s).numpy()
    expected = field(dst)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-3)


def test_predict_batch_matches_predict_and_batches_equal_sizes(samples):
    images = [image for _, image, _ in samples]
    net = GroundTruthNet([(image, kp) for _, image, kp in samples])
    predictor = Predictor(net, batch_size=4)
    batch = predictor.predict_batch(images + images[:1])
    assert max(shape[0] for shape in net.calls) >= 2  # the repeated image shared a call
    for image, people in zip(images, batch):
        single = predictor.predict(image)
        assert len(single) == len(people)
        for a, b in zip(single, people):
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
    assert predictor.images_done == 2 * len(images) + 1
    assert predictor.timings.network > 0 and predictor.timings.decode > 0


class _ShapeRecorder(torch.nn.Module):
    """Returns empty maps and records the input shapes it was given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def infer(self, x):
        self.calls.append(tuple(x.shape))
        b, _, h, w = x.shape
        heatmaps = torch.zeros(b, 19, h // 8, w // 8)
        heatmaps[:, 18] = 1
        return heatmaps, torch.zeros(b, 38, h // 8, w // 8)


@pytest.mark.parametrize("image", [
    np.full((50, 70), 90, np.uint8),  # grayscale
    np.full((50, 70, 4), 90, np.uint8),  # RGBA
    np.full((50, 70, 3), 40000, np.uint16),  # 16-bit
    np.full((50, 70, 1), 90, np.uint8),
])
def test_odd_image_types(image):
    net = _ShapeRecorder()
    assert Predictor(net, input_height=64).predict(image) == []
    assert net.calls == [(1, 3, 64, 96)]


def test_huge_and_panoramic_images_are_downscaled():
    net = _ShapeRecorder()
    predictor = Predictor(net, input_height=368, max_width=1024)
    predictor.predict(np.zeros((5000, 4000, 3), np.uint8))
    predictor.predict(np.zeros((300, 20000, 3), np.uint8))
    assert net.calls[0][2:] == (368, 296)
    assert net.calls[1][3] == 1024 and net.calls[1][2] <= 368


def test_bad_arguments():
    with pytest.raises(UserError, match="scales"):
        Predictor(_ShapeRecorder(), scales=(1.0, -1.0))
    with pytest.raises(UserError, match="backend"):
        Predictor(_ShapeRecorder(), backend="tensorrt")
    with pytest.raises(UserError, match="infer"):
        Predictor(object())
    with pytest.raises(UserError, match="unsupported image shape"):
        Predictor(_ShapeRecorder()).predict(np.zeros((10, 10, 2), np.uint8))


def test_flip_test_undoes_the_mirror_exactly(samples):
    # The stub is mirror-equivariant like an ideal network, so un-flipping the mirrored
    # image's maps (columns, left/right channels, PAF x sign) must reproduce the plain maps.
    net = GroundTruthNet([(image, kp) for _, image, kp in samples])
    for _, image, _ in samples:
        plain = Predictor(net).maps(image)
        flipped = Predictor(net, flip=True).maps(image)
        for a, b in zip(plain, flipped):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_size_buckets_let_nearby_sizes_share_one_network_call(samples):
    net = GroundTruthNet([(image, kp) for _, image, kp in samples])
    images = [image for _, image, _ in samples]
    plain, bucketed = Predictor(net, batch_size=8), Predictor(net, batch_size=8, bucket=64)
    net.calls.clear()
    plain.predict_batch(images)
    plain_calls = len(net.calls)
    net.calls.clear()
    people = bucketed.predict_batch(images)
    assert len(net.calls) < plain_calls and all(w % 64 == 0 and h % 64 == 0 for _, _, h, w in net.calls)
    # The extra grey is cropped off: the ideal network's people are the same as without buckets.
    for expected, got in zip(plain.predict_batch(images), people):
        assert len(expected) == len(got)
        for a, b in zip(expected, got):
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    with pytest.raises(UserError, match="bucket"):
        Predictor(net, bucket=12)
