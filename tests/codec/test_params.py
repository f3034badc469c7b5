"""Decoder settings: one frozen, validated DecodeParams, built once; per-call overrides; a
codec that carries its settings and pickles."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
from decode_helpers import degraded_maps, image_size, render_maps, synthetic_people

from pafpose.codec.decode import DecodeParams, decode
from pafpose.codec.decode.params import DEFAULT_PARAMS
from pafpose.codec.head import HeadSpec, PafCodec
from pafpose.config import from_dict
from pafpose.errors import UserError
from testkit.degrade import CORRELATED_NOISE


def _people(people) -> list:
    return [(p.keypoints.tolist(), p.score) for p in people]


@pytest.fixture(scope="module")
def maps():
    keypoints, size = synthetic_people(6, np.random.default_rng(11))
    return render_maps(keypoints, size)


def test_checkpoint_decode_params_are_validated():
    params = from_dict(DecodeParams, {"peak_threshold": 0.05, "recover_radius": 2.0, "min_score": 0.3})
    assert params.peak_threshold == 0.05 and params.recover
    assert from_dict(DecodeParams, {"bridge_inlier_fraction": None}).bridge_inlier_fraction is None
    assert from_dict(DecodeParams, {"placement_prior": None}).placement_prior is None
    for bad, name in [({"recover_radius": 0}, "recover_radius"), ({"bridge_inlier_fraction": 1.5}, "bridge_inlier_fraction"),
                      ({"noisy_fields": -0.1}, "noisy_fields"), ({"noisy_heatmaps": -1}, "noisy_heatmaps"),
                      ({"placement_prior": 0}, "placement_prior"), ({"matching": "magic"}, "matching must be one of"),
                      ({"input_height": 368}, "unknown key 'input_height'")]:
        with pytest.raises(ValueError, match=name):
            from_dict(DecodeParams, bad)


@pytest.mark.parametrize("removed", [{"image_height": 368.0}, {"peak_mode": "upsample"}, {"peak_mode": "refine"}])
def test_removed_settings_are_refused(maps, removed):
    with pytest.raises(UserError, match=f"unknown key '{next(iter(removed))}'"):
        decode(*maps, **removed)
    with pytest.raises(UserError, match="unknown key"):
        from_dict(DecodeParams, removed)
    with pytest.raises(TypeError):
        DecodeParams(**removed)


def test_params_are_frozen_and_built_once(maps, monkeypatch):
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PARAMS.peak_threshold = 0.5
    assert DEFAULT_PARAMS.with_overrides({}) is DEFAULT_PARAMS
    # No call without overrides builds or validates settings again.
    built = []
    original = DecodeParams.__post_init__
    monkeypatch.setattr(DecodeParams, "__post_init__", lambda self: (built.append(self), original(self)))
    params = DecodeParams(min_parts=4)
    decode(*maps)
    decode(*maps, params=params)
    PafCodec(decode_params=params).decode(*maps)
    assert built == [params]
    decode(*maps, params=params, min_score=0.3)
    assert len(built) == 2


def test_overrides_apply_to_the_given_params_for_one_call(maps):
    heatmaps, pafs = maps
    params = DecodeParams(refine="none")
    snapped = decode(heatmaps, pafs, None, params)
    assert _people(snapped) == _people(decode(heatmaps, pafs, refine="none"))
    assert _people(decode(heatmaps, pafs, None, params, refine="quadratic")) == _people(decode(heatmaps, pafs))
    assert _people(decode(heatmaps, pafs, params=params, min_parts=19)) == []
    assert params.refine == "none" and params.min_parts == 3  # unchanged


def test_an_unknown_or_bad_override_is_a_one_line_user_error(maps):
    with pytest.raises(UserError) as err:
        decode(*maps, peak_treshold=0.1)
    assert "unknown key 'peak_treshold'" in str(err.value) and "peak_threshold" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="unknown key 'stride'"):  # the head says it
        decode(*maps, stride=8)
    with pytest.raises(UserError, match="matching must be one of"):
        decode(*maps, matching="magic")
    with pytest.raises(UserError, match="unknown key 'peak_treshold'"):
        PafCodec().decode(*maps, peak_treshold=0.1)


def test_the_codec_decodes_with_its_own_params_and_pickles(sample):
    _, images = sample
    _, heatmaps, _, keypoints = images[0]
    h, p = degraded_maps(keypoints, image_size(heatmaps), CORRELATED_NOISE["moderate"], seed=0)
    params = DecodeParams(peak_threshold=0.05, matching="hungarian", person_score="mean")
    codec = PafCodec(HeadSpec(), params)
    assert codec.decode_params is params and PafCodec().decode_params == DecodeParams()
    assert "peak_threshold=0.05" in repr(codec)
    expected = _people(decode(h, p, HeadSpec(), params))
    assert _people(codec.decode(h, p)) == expected != _people(decode(h, p))
    clone = pickle.loads(pickle.dumps(codec))
    assert clone.spec == codec.spec and clone.decode_params == params
    assert _people(clone.decode(h, p)) == expected
    assert _people(clone.decode(h, p, peak_threshold=0.03)) == _people(
        decode(h, p, params=params, peak_threshold=0.03))
    with pytest.raises(UserError, match="decode_params must be a DecodeParams"):
        PafCodec(decode_params={"peak_threshold": 0.05})
