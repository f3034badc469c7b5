"""COCO keypoint evaluation wrapper and result conversion."""

from __future__ import annotations

import numpy as np
import pytest

from pafpose.codec.people import Person
from pafpose.codec.skeleton import coco17_to_coco18
from pafpose.inference.evaluate import METRIC_NAMES, evaluate_keypoints, people_to_coco_results
from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco


def _ground_truth_as_results(coco, shift: float = 0.0) -> list[dict]:
    results = []
    for ann in coco.dataset["annotations"]:
        if ann.get("num_keypoints", 0) == 0:
            continue
        kp17 = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        kp18 = coco17_to_coco18(kp17)
        kp18[:, :2] += np.where(kp18[:, 2:] > 0, shift, 0.0)
        kp18[:, 2] = (kp18[:, 2] > 0).astype(float)
        results += people_to_coco_results([Person(kp18, 1.0)], ann["image_id"])
    return results


def test_perfect_results_score_one_and_shifted_ones_less():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    perfect = evaluate_keypoints(coco, _ground_truth_as_results(coco))
    assert set(perfect) == set(METRIC_NAMES)
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AR"] == pytest.approx(1.0)
    shifted = evaluate_keypoints(coco, _ground_truth_as_results(coco, shift=6.0))
    assert 0.0 < shifted["AP"] < 0.95


def test_empty_results_give_zeros_and_missing_images_count_as_misses():
    coco = load_coco(SAMPLE_ANNOTATIONS)
    assert evaluate_keypoints(coco, []) == dict.fromkeys(METRIC_NAMES, 0.0)
    results = _ground_truth_as_results(coco)
    first_image = results[0]["image_id"]
    partial = [r for r in results if r["image_id"] == first_image]
    assert evaluate_keypoints(coco, partial)["AR"] < 1.0
    assert evaluate_keypoints(coco, partial, image_ids=[first_image])["AP"] == pytest.approx(1.0)


def test_result_layout():
    kp = np.zeros((18, 3))
    kp[0] = (10.5, 20.25, 0.9)  # nose
    kp[1] = (11.0, 30.0, 0.8)  # neck: dropped in COCO-17
    (result,) = people_to_coco_results([Person(kp, 0.7)], image_id=5)
    assert result["image_id"] == 5 and result["category_id"] == 1 and result["score"] == 0.7
    assert len(result["keypoints"]) == 51
    assert result["keypoints"][:3] == [10.5, 20.25, 1.0]
    assert result["keypoints"][3:] == [0.0] * 48


def test_area_ranges_without_ground_truth_are_nan_not_zero():
    """Image 785 holds one large person only: its medium-range statistics are undefined, and a
    0.0 there would read as a failure."""
    from pafpose.commands.eval import format_table

    coco = load_coco(SAMPLE_ANNOTATIONS)
    ours = [r for r in _ground_truth_as_results(coco) if r["image_id"] == 785]
    perfect = evaluate_keypoints(coco, ours, image_ids=[785])
    assert perfect["AP"] == pytest.approx(1.0) and perfect["APl"] == pytest.approx(1.0)
    assert np.isnan(perfect["APm"]) and np.isnan(perfect["ARm"])
    empty = evaluate_keypoints(coco, [], image_ids=[785])
    assert empty["AP"] == 0.0 and empty["APl"] == 0.0 and np.isnan(empty["APm"])
    table = format_table(perfect)
    assert "area=medium | maxDets= 20 ] = n/a" in table and "= 1.000" in table


def test_people_found_counts_matches_at_oks_half():
    from pafpose.inference.evaluate import annotated_people, people_found
    from pafpose.io.annotations import SAMPLE_ANNOTATIONS, load_coco

    coco = load_coco(SAMPLE_ANNOTATIONS)
    perfect = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
               for a in coco.dataset["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert annotated_people(coco) == len(perfect) == 12
    assert people_found(coco, perfect) == 12
    # Moving one person's detection far away loses exactly that person.
    moved = [dict(r) for r in perfect]
    moved[0]["keypoints"] = [v + 200.0 if i % 3 != 2 else v for i, v in enumerate(moved[0]["keypoints"])]
    assert people_found(coco, moved) == 11
    assert people_found(coco, []) == 0


def test_ground_truth_without_info_evaluates_and_is_left_as_it_was(monkeypatch):
    """COCO files need not hold 'info', yet pycocotools 2.0.10's ``loadRes`` reads
    ``dataset['info']`` (KeyError). Its loadRes is imitated here, so the test holds whichever
    pycocotools is installed; the caller's COCO must come back without an 'info' of ours."""
    import json

    from pycocotools.coco import COCO

    from pafpose.inference.evaluate import people_found
    from pafpose.io.annotations import coco_from_dict

    original = COCO.loadRes

    def load_res_2_0_10(self, results):
        _ = self.dataset["info"]  # as 2.0.10 does: copy.deepcopy(self.dataset["info"])
        return original(self, results)

    monkeypatch.setattr(COCO, "loadRes", load_res_2_0_10)
    data = json.loads(SAMPLE_ANNOTATIONS.read_text())
    del data["info"]
    coco = coco_from_dict(data)
    results = _ground_truth_as_results(coco)
    assert evaluate_keypoints(coco, results)["AP"] == pytest.approx(1.0)
    assert people_found(coco, results) == 12
    assert "info" not in coco.dataset and coco.dataset is data


def test_eval_with_flip_and_scales_finds_the_annotated_people(tmp_path):
    """``pafpose eval --flip --scales 1 0.5`` with the bundled network: the averaged maps still find
    the annotated people (11 of 12 at OKS 0.5, AP 0.64 here; 12 and 0.66 without flip and scales)."""
    import json

    from cli_helpers import run

    from pafpose.inference.evaluate import people_found
    from pafpose.io.annotations import SAMPLE_DIR

    code, out, err = run("eval", "--backend", "torch", "--images", SAMPLE_DIR, "--annotations",
                         SAMPLE_ANNOTATIONS, "--out", tmp_path / "results.json", "--flip",
                         "--scales", "1", "0.5", "--quiet")
    assert code == 0, err
    ap = float(out.split("(AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = ")[1].split()[0])
    results = json.loads((tmp_path / "results.json").read_text())
    coco = load_coco(SAMPLE_ANNOTATIONS)
    assert {r["image_id"] for r in results} == set(coco.getImgIds()) and len(results) >= 12
    assert people_found(coco, results) >= 11
    assert ap >= 0.55 and evaluate_keypoints(coco, results)["AP"] == pytest.approx(ap, abs=5e-4)
