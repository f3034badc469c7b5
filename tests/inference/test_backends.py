"""Backends and precisions, the accuracy contract, the conversion cache, the network split."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_helpers import TINY_MOBILENET_CONFIG, tiny_model

from pafpose.errors import UserError
from pafpose.inference.backends import (
    CpuCapabilities,
    choose_precision,
    cpu_capabilities,
    open_network,
    supported_precisions,
)
from pafpose.inference.backends.cache import ModelCache
from pafpose.inference.predict import Predictor

torch.set_num_threads(1)
CPU = torch.device("cpu")
NO_BF16 = CpuCapabilities("plain", frozenset({"avx2"}))
BF16 = CpuCapabilities("bf16", frozenset({"avx512_bf16", "avx512_vnni"}))


# Parity of the onnx and openvino backends with torch: tests/inference/test_onnx.py.


def test_reduced_precisions_stay_close_to_fp32(mobilenet_checkpoint):
    pytest.importorskip("openvino")
    batch = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    reference = open_network(mobilenet_checkpoint, "torch", "fp32")(batch)
    scale = max(float(m.abs().max()) for m in reference)
    precisions = [("openvino", "int8")] + [(b, "bf16") for b in ("torch", "openvino")
                                          if "bf16" in supported_precisions(b, CPU)]
    for backend, precision in precisions:
        network = open_network(mobilenet_checkpoint, backend, precision)
        assert network.precision == precision
        for expected, got in zip(reference, network(batch)):
            error = float((got - expected).abs().max()) / scale
            assert error < 0.15, (backend, precision, error)  # close, not equal
            assert not torch.equal(got, expected) or precision == "bf16"


def test_auto_precision_keeps_the_accuracy_contract():
    record = {"openvino-fp32": 0.65, "openvino-bf16": 0.62, "openvino-int8": 0.20}
    assert choose_precision("auto", "openvino", CPU, record, BF16) == "fp32"
    record["openvino-bf16"] = 0.645  # within 0.01
    assert choose_precision("auto", "openvino", CPU, record, BF16) == "bf16"
    # Capabilities are detected: a CPU without bf16 never gets it, even when it kept the contract.
    assert choose_precision("auto", "openvino", CPU, record, NO_BF16) == "fp32"
    # int8 that keeps the contract is auto's choice only where VNNI makes it fast.
    record["openvino-int8"] = 0.649
    assert choose_precision("auto", "openvino", CPU, record, BF16) == "int8"
    assert choose_precision("auto", "openvino", CPU, record, NO_BF16) == "fp32"
    assert choose_precision("int8", "openvino", CPU, record, NO_BF16) == "int8"  # asked for: honoured
    assert choose_precision("auto", "torch", CPU, {}, BF16) == "fp32"  # nothing recorded: exact
    with pytest.raises(UserError, match="no bf16 instructions"):
        choose_precision("bf16", "torch", CPU, {}, NO_BF16)
    with pytest.raises(UserError, match="fp16"):
        choose_precision("fp16", "torch", CPU, {}, BF16)
    # On CUDA the record's "cuda-" entries decide, and bf16 (no faster than fp32 there) never does.
    cuda = torch.device("cuda")
    record = {"cuda-fp32": 0.6146, "cuda-fp16": 0.6082, "cuda-bf16": 0.6081, "torch-bf16": 0.62}
    assert choose_precision("auto", "torch", cuda, record, BF16) == "fp16"
    record["cuda-fp16"] = 0.60
    assert choose_precision("auto", "torch", cuda, record, BF16) == "fp32"
    caps = cpu_capabilities()
    assert caps.flags <= {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16",
                          "amx_int8", "amx_tile", "avx512_fp16"}


def test_a_model_object_stays_on_torch_and_bad_backends_are_named():
    model = tiny_model(TINY_MOBILENET_CONFIG)
    assert Predictor(model).backend == "torch"
    with pytest.raises(UserError, match="unknown backend 'tensorrt'"):
        open_network(model, "tensorrt")
    with pytest.raises(UserError, match="unknown precision"):
        open_network(model, "torch", "fp8")


def test_cache_hit_stale_and_corrupt_entries(tmp_path, capsys):
    cache = ModelCache(tmp_path)
    builds = []

    def build(folder: Path) -> None:
        builds.append(folder)
        (folder / "model.bin").write_bytes(b"weights" * 100)

    key = {"weights": "abc", "precision": "int8"}
    first = cache.get_or_build(key, ["model.bin"], build)
    assert cache.get_or_build(key, ["model.bin"], build) == first and len(builds) == 1  # hit
    # Another key (new weights, runtime or CPU) is another entry, never the old one.
    assert cache.get_or_build({**key, "weights": "abd"}, ["model.bin"], build) != first
    assert len(builds) == 2
    # A flipped byte is caught by the digest and the entry rebuilt.
    data = bytearray((first / "model.bin").read_bytes())
    data[3] ^= 0xFF
    (first / "model.bin").write_bytes(bytes(data))
    assert not cache.valid(key, ["model.bin"])
    assert cache.get_or_build(key, ["model.bin"], build) == first and len(builds) == 3
    assert "stale or damaged" in capsys.readouterr().err
    # A truncated entry file, and a build that dies half-way, leave nothing trusted behind.
    (first / "entry.json").write_text("{")
    assert not cache.valid(key, ["model.bin"])

    def crash(folder: Path) -> None:
        (folder / "model.bin").write_bytes(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        cache.get_or_build({"weights": "new"}, ["model.bin"], crash)
    assert not cache.folder({"weights": "new"}).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_openvino_conversion_is_cached_per_weights(mobilenet_checkpoint, tmp_path):
    pytest.importorskip("openvino")
    open_network(mobilenet_checkpoint, "openvino", "fp32", cache_dir=tmp_path)
    entries = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and (entries[0] / "model.xml").exists()
    modified = entries[0].stat().st_mtime_ns
    open_network(mobilenet_checkpoint, "openvino", "fp32", cache_dir=tmp_path)  # hit: not rebuilt
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == entries
    assert entries[0].stat().st_mtime_ns == modified


@pytest.mark.parametrize("arch", ["tpami", "cvpr2017", "mobilenet-thin"])
def test_inference_in_two_parts_equals_the_whole(arch):
    """bf16 runs the part after the first stage at another precision: the split must be exact."""
    from cli_helpers import TINY_CONFIG

    config = TINY_MOBILENET_CONFIG if arch == "mobilenet-thin" else {**TINY_CONFIG, "arch": arch}
    if arch == "cvpr2017":
        config = {**{k: v for k, v in config.items() if k != "stage_blocks"}, "heatmap_stages": 2}
    model = tiny_model(config)
    x = torch.rand(2, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        whole = model.infer(x)
        parts = model.infer_later_stages(model.infer_first_stage(x))
    for a, b in zip(whole, parts):
        assert torch.equal(a, b)


@pytest.mark.parametrize("source", ["traced", "onnx"])
def test_int8_quantizes_only_the_backbone_stride_8_layers(source, tmp_path):
    """The measured int8 scope (calibration.py): backbone conv6-conv11 in int8, conv0-conv5 and
    every stage in float, whether the graph was traced or read from an ONNX export."""
    pytest.importorskip("nncf")
    import re

    import openvino as ov

    from pafpose.inference.backends.calibration import quantize_int8
    from pafpose.inference.backends.openvino import convert_to_openvino
    from pafpose.inference.onnx_export import export_onnx

    model = tiny_model(TINY_MOBILENET_CONFIG)
    graph = (convert_to_openvino(model) if source == "traced"
             else ov.Core().read_model(str(export_onnx(model, tmp_path / "tiny.onnx"))))
    ir = quantize_int8(graph, model, 64, count=2)
    quantized, floating = set(), set()
    for op in ir.get_ordered_ops():
        if op.get_type_name() in ("Convolution", "GroupConvolution"):
            name = op.get_friendly_name().replace("/", ".")
            layer = re.search(r"(backbone\.conv\d+|stages\.\d+\.conv\d+)", name).group(1)
            fed_by = op.input_value(0).get_node().get_type_name()
            (quantized if fed_by == "FakeQuantize" else floating).add(layer)
    assert quantized == {f"backbone.conv{n}" for n in range(6, 12)}
    assert not quantized & floating and any("stages" in layer for layer in floating)
