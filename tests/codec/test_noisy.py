"""The noisy-map passes: off on clean maps, on (and of use) on noisy ones."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from decode_helpers import CODEC, degraded_maps, image_size, render_maps, synthetic_people

from pafpose.codec.decode import DecodeParams, decode, field_noise, noisy
from pafpose.codec.decode.peaks import noise_sigma
from pafpose.codec.skeleton import COCO18
from pafpose.inference.evaluate import evaluate_keypoints, people_to_coco_results
from testkit.degrade import CORRELATED_HEATMAP_NOISE, CORRELATED_NOISE, RECIPES

OFF = {"bridge_inlier_fraction": None, "placement_prior": None}
LIMBS = np.asarray(CODEC.skeleton.limbs).reshape(-1, 2)


def _people(people) -> list:
    return [(p.keypoints.tolist(), p.score) for p in people]


def _counting(monkeypatch) -> dict:
    calls = {"bridge_fragments": 0, "place_on_limbs": 0}
    for name in calls:
        original = getattr(noisy, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(noisy, name, counted)
    return calls


def test_clean_maps_decode_identically_with_the_noisy_passes_on_or_off(sample, monkeypatch):
    calls = _counting(monkeypatch)
    _, images = sample
    for _, heatmaps, pafs, _ in images:
        assert not noisy.maps_are_noisy(heatmaps[:18], pafs, DecodeParams())
        assert _people(decode(heatmaps, pafs)) == _people(decode(heatmaps, pafs, **OFF))
    keypoints, size = synthetic_people(20, np.random.default_rng(0))
    heatmaps, pafs = render_maps(keypoints, size)
    assert _people(decode(heatmaps, pafs)) == _people(decode(heatmaps, pafs, **OFF))
    assert calls == {"bridge_fragments": 0, "place_on_limbs": 0}


def test_the_noisy_passes_run_on_noisy_maps_and_change_the_people(sample, monkeypatch):
    calls = _counting(monkeypatch)
    _, images = sample
    changed = 0
    for n, (_, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), CORRELATED_NOISE["moderate"], seed=n)
        assert noisy.maps_are_noisy(h[:18], p, DecodeParams())
        changed += _people(decode(h, p)) != _people(decode(h, p, **OFF))
    assert calls == {"bridge_fragments": len(images), "place_on_limbs": len(images)}
    assert changed >= len(images) - 1
    # Each pass is off on its own by its setting.
    decode(h, p, bridge_inlier_fraction=None)
    decode(h, p, placement_prior=None)
    assert calls == {"bridge_fragments": len(images) + 1, "place_on_limbs": len(images) + 1}


def test_fragments_joined_only_by_a_field_under_the_inlier_test_merge():
    # A person whose neck-hip fields sank under paf_threshold everywhere (a short limb on very
    # noisy maps): no pair passes the inlier test, so the upper body (with its neck) and each leg
    # come out as three people; their mean projection is positive and they share no keypoint
    # type, so the weak-bridge pass joins them.
    keypoints, size = synthetic_people(2, np.random.default_rng(3), drop_leaves=0.0)
    heatmaps, pafs = render_maps(keypoints, size)
    for limb, (a, b) in enumerate(COCO18.limbs):
        if (a, b) in ((1, 8), (1, 11)):
            pafs[2 * limb:2 * limb + 2] *= 0.02 / np.abs(pafs[2 * limb:2 * limb + 2]).max()
    split = decode(heatmaps, pafs, bridge_inlier_fraction=None)
    assert sorted(p.num_parts for p in split) == [3, 3, 3, 3, 12, 12]
    # The pass runs only on fields with measurable noise (clean and real maps: none).
    assert sorted(p.num_parts for p in decode(heatmaps, pafs)) == [3, 3, 3, 3, 12, 12]
    pafs += np.random.default_rng(0).normal(0.0, 0.01, pafs.shape).astype(np.float32)
    assert field_noise(pafs) == pytest.approx(0.01, rel=0.1)
    joined = decode(heatmaps, pafs)
    assert sorted(p.num_parts for p in joined) == [18, 18]
    for person in joined:  # each joined with its own legs, not its neighbour's
        error = np.hypot(*(person.keypoints[None, :, :2] - keypoints[:, :, :2]).transpose(2, 0, 1))
        assert (error.max(axis=1) < 2.0).any()


@pytest.mark.parametrize("recipe, level", [("white noise", "severe"), ("correlated noise", "moderate+0.50")])
def test_weak_bridges_lift_noisy_crowds(recipe, level):
    from pafpose.data.synth import SceneConfig, render_scene
    from pafpose.io.annotations import coco_from_dict

    cfg = SceneConfig(image_size=(368, 368), max_people=10, min_height=0.3, max_height=0.7,
                      max_overlap=0.5, crowd_prob=0.0, unannotated_prob=0.0, empty_prob=0.0)
    images, annotations, ours, without = [], [], [], []
    for i in range(4):
        _, anns = render_scene(np.random.default_rng([7, i]), cfg)
        images.append({"id": i + 1, "file_name": f"{i}.jpg", "width": 368, "height": 368})
        annotations += [{**ann, "image_id": i + 1, "id": len(annotations) + n + 1} for n, ann in enumerate(anns)]
        h, p = degraded_maps(CODEC.keypoints(anns), (368, 368), RECIPES[recipe][level], seed=i)
        ours += people_to_coco_results(decode(h, p), i + 1)
        without += people_to_coco_results(decode(h, p, bridge_inlier_fraction=None), i + 1)
    coco = coco_from_dict({"images": images, "annotations": annotations,
                           "categories": [{"id": 1, "name": "person"}]})
    assert evaluate_keypoints(coco, ours)["AP"] > evaluate_keypoints(coco, without)["AP"] + 0.01


def test_weak_keypoints_move_onto_their_limbs_lines_and_strong_ones_stay():
    keypoints, size = synthetic_people(4, np.random.default_rng(3), drop_leaves=0.0, cell=(200, 280))
    _, pafs = render_maps(keypoints, size)
    pafs = cv2.GaussianBlur(np.ascontiguousarray(pafs.transpose(1, 2, 0)), (0, 0), 1.0).transpose(2, 0, 1).copy()
    truth = CODEC.spec.pixels_to_cells(keypoints[..., :2])
    names = CODEC.skeleton.keypoint_names
    elbow, wrist = names.index("r_elbow"), names.index("r_wrist")
    placed = np.concatenate([truth, np.full(truth.shape[:2] + (1,), 0.1)], axis=2)  # weak peaks
    forearm = truth[:, wrist] - truth[:, elbow]
    along = forearm / np.hypot(*forearm.T)[:, None]
    across = np.stack([-along[:, 1], along[:, 0]], axis=1)
    # An arm hangs nearly straight, so its lines fix the elbow and wrist across it, not along it.
    placed[:, [elbow, wrist], :2] += 0.8 * across[:, None]
    moved = noisy.place_on_limbs(placed, pafs, LIMBS, prior=300.0)

    def error(points, kind):
        return np.hypot(*(points[:, kind, :2] - truth[:, kind]).T)

    # From 0.8 cells to under half that: a band rendered on the grid has its centre up to ~0.3
    # cells off the true line, depending on where the line crosses the cells.
    assert error(moved, elbow).max() < 0.4 and error(moved, wrist).max() < 0.4
    np.testing.assert_array_equal(moved[..., 2], placed[..., 2])  # scores are kept
    slid = placed.copy()
    slid[:, wrist, :2] = truth[:, wrist] + 0.8 * along
    moved = noisy.place_on_limbs(slid, pafs, LIMBS, prior=300.0)
    assert np.abs(((moved[:, wrist, :2] - truth[:, wrist]) * along).sum(axis=1) - 0.8).max() < 0.1
    # A strong peak (a clean map's) stays where it is.
    strong = placed.copy()
    strong[..., 2] = 1.0
    np.testing.assert_array_equal(noisy.place_on_limbs(strong, pafs, LIMBS, prior=300.0), strong)


def test_placement_lifts_noisy_maps(sample):
    coco, images = sample
    ours, without = [], []
    for n, (image_id, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), CORRELATED_NOISE["moderate+0.50"], seed=n)
        ours += people_to_coco_results(decode(h, p), image_id)
        without += people_to_coco_results(decode(h, p, placement_prior=None), image_id)
    assert evaluate_keypoints(coco, ours)["AP"] > evaluate_keypoints(coco, without)["AP"] + 0.01


def test_noisy_heatmaps_alone_call_for_the_noisy_map_passes(sample):
    # The correlated recipe's severe level with the noise on the heatmaps only: the fields' noise
    # test does not fire, the heatmaps' does, and placement and bridges lift AP.
    coco, images = sample
    ours, without = [], []
    for n, (image_id, heatmaps, _, keypoints) in enumerate(images):
        h, p = degraded_maps(keypoints, image_size(heatmaps), CORRELATED_HEATMAP_NOISE["severe"], seed=n)
        assert field_noise(p) < DecodeParams().noisy_fields < DecodeParams().noisy_heatmaps < noise_sigma(h[:18])
        ours += people_to_coco_results(decode(h, p), image_id)
        without += people_to_coco_results(decode(h, p, noisy_heatmaps=1.0), image_id)
    assert evaluate_keypoints(coco, ours)["AP"] > evaluate_keypoints(coco, without)["AP"] + 0.03
