"""The networks: stage structure, output shapes, gradients, backbone loading, checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_config

from pafpose.config import from_dict, to_dict
from pafpose.errors import UserError
from pafpose.io.checkpoint import load_model, save_checkpoint
from pafpose.models import ModelConfig, build_model
from pafpose.models.backbone import TORCHVISION_VGG19_INDEX

torch.set_num_threads(1)


@pytest.mark.parametrize("arch, stages", [("tpami", (3, 2)), ("cvpr2017", (3, 3))])
@pytest.mark.parametrize("height, width", [(64, 96), (368, 368), (72, 40)])
def test_outputs_every_stage_at_ceil_eighth(arch, stages, height, width):
    model = build_model(tiny_config(arch=arch, paf_stages=stages[0], heatmap_stages=stages[1])).eval()
    x = torch.rand(2, 3, height, width)
    with torch.no_grad():
        pafs, heatmaps = model(x)
        last_heatmaps, last_pafs = model.infer(x)
    h, w = -(-height // 8), -(-width // 8)
    assert len(pafs) == stages[0] and len(heatmaps) == stages[1]
    assert all(p.shape == (2, 38, h, w) for p in pafs)
    assert all(s.shape == (2, 19, h, w) for s in heatmaps)
    assert torch.equal(last_heatmaps, heatmaps[-1]) and torch.equal(last_pafs, pafs[-1])


def test_tpami_stage_inputs_follow_the_paper():
    """PAF stage t>1 sees F + P^{t-1}; heatmap stages see F + P^{T_P} (+ S^{t-1})."""
    cfg = tiny_config(paf_stages=3, heatmap_stages=2)
    model = build_model(cfg)
    f = cfg.cpm_channels[1]
    first_conv = [stage.blocks[0].conv1.in_channels for stage in model.paf_stages]
    assert first_conv == [f, f + 38, f + 38]
    assert [stage.blocks[0].conv1.in_channels for stage in model.heatmap_stages] == [f + 38, f + 38 + 19]
    # The heatmap stages really depend on the last PAF stage: perturb its output layer.
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model.infer(x)[0]
        model.paf_stages[-1].conv7.bias.add_(1.0)
        after = model.infer(x)[0]
    assert not torch.allclose(before, after)


def test_cvpr2017_defaults_match_cmu_layer_shapes():
    model = build_model(ModelConfig(arch="cvpr2017"))
    state = model.state_dict()
    assert state["backbone.conv4_4_CPM.weight"].shape == (128, 256, 3, 3)
    assert state["paf_stages.0.conv4.weight"].shape == (512, 128, 1, 1)      # conv5_4_CPM_L1
    assert state["heatmap_stages.0.conv5.weight"].shape == (19, 512, 1, 1)  # conv5_5_CPM_L2
    assert state["paf_stages.5.conv1.weight"].shape == (128, 185, 7, 7)     # Mconv1_stage6_L1
    assert state["heatmap_stages.5.conv7.weight"].shape == (19, 128, 1, 1)  # Mconv7_stage6_L2
    n_params = sum(v.numel() for v in state.values())
    assert n_params == 52_311_446  # CMU's COCO model (pose_iter_440000)


def test_gradients_reach_every_stage_and_the_backbone():
    for arch in ("tpami", "cvpr2017"):
        model = build_model(tiny_config(arch=arch, paf_stages=2, heatmap_stages=2))
        pafs, heatmaps = model(torch.rand(2, 3, 64, 64))
        # Only the LAST outputs: gradients must flow back through the stage chain.
        (pafs[-1].square().sum() + heatmaps[-1].square().sum()).backward()
        for name, param in model.named_parameters():
            if name.startswith("paf_stages.1") and arch == "cvpr2017":
                continue  # cvpr2017's last PAF stage does not feed the last heatmap stage
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{arch}: no gradient in {name}"


def test_bad_input_shape_is_a_user_error():
    model = build_model(tiny_config())
    with pytest.raises(UserError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(1, 1, 64, 64))


def test_torchvision_vgg19_weights_load_into_the_first_ten_convs(tmp_path):
    model = build_model(ModelConfig(heatmap_stages=1, paf_stages=1, stage_blocks=1))
    convs = {i: getattr(model.backbone, name) for name, i in TORCHVISION_VGG19_INDEX.items()}
    # A torchvision-keyed file: convs at features.N plus classifier keys we must ignore.
    state = {f"features.{i}.weight": torch.randn_like(c.weight) for i, c in convs.items()}
    state |= {f"features.{i}.bias": torch.randn_like(c.bias) for i, c in convs.items()}
    state["classifier.6.weight"] = torch.zeros(1000, 8)
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    assert model.load_backbone_weights(path) == 20
    for i, conv in convs.items():
        assert torch.equal(conv.weight, state[f"features.{i}.weight"])
    narrow = build_model(tiny_config())
    with pytest.raises(UserError, match="backbone_width"):
        narrow.load_backbone_weights(path)
    with pytest.raises(UserError, match="no such"):
        narrow.load_backbone_weights(tmp_path / "missing.pth")


def test_load_model_round_trip_and_errors(tmp_path):
    cfg = tiny_config()
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "model_config": to_dict(cfg),
                                               "iteration": 3})
    loaded, loaded_cfg = load_model(path)
    assert loaded_cfg == cfg and not loaded.training
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.infer(x)[0], model.eval().infer(x)[0])
    wrong = save_checkpoint(tmp_path / "wrong.pt", {"model": model.state_dict(),
                                                    "model_config": to_dict(tiny_config(paf_stages=3))})
    with pytest.raises(UserError, match="wrong.pt.*do not match"):
        load_model(wrong)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(UserError, match="corrupt.pt"):
        load_model(corrupt)
    with pytest.raises(UserError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="no-such-name"):
        load_model("no-such-name")


def test_unknown_model_config_key_is_named():
    with pytest.raises(UserError, match="paf_stagez"):
        from_dict(ModelConfig, {"paf_stagez": 3})


def test_model_info_cli_prints_params_and_gflops(tmp_path):
    # The config is found from this file, and the command runs elsewhere, so the test does not
    # depend on pytest being started from the repository root. The machine's environment is kept
    # (a CUDA install may need its library paths); pafpose is found whether installed or not.
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "pafpose.cli", "model-info", "--config",
                           str(root / "configs" / "tiny.yaml"), "--size", "64", "96"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "parameters: 143,319" in out and "GFLOPs" in out and "(1, 38, 8, 12)" in out
