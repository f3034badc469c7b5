"""What infer writes as frames arrive: COCO results streamed to disk."""

from __future__ import annotations

import json

import numpy as np
import torch

from pafpose.inference.backends import (
    CpuCapabilities,
)
from pafpose.inference.runner import Frame, SourceEnd
from pafpose.inference.writer import ResultWriter
from pafpose.io.media import MediaInput

torch.set_num_threads(1)
CPU = torch.device("cpu")
NO_BF16 = CpuCapabilities("plain", frozenset({"avx2"}))
BF16 = CpuCapabilities("bf16", frozenset({"avx512_bf16", "avx512_vnni"}))


def test_coco_results_stream_to_disk(tmp_path):
    from pafpose.codec.people import Person

    person = Person(np.tile([10.0, 20.0, 0.9], (18, 1)), 2.0)
    source = MediaInput(tmp_path / "v.avi", "video", "v")
    writer = ResultWriter(tmp_path, "coco")
    for index in range(5):
        writer.write(Frame(source, index, index / 10, np.zeros((8, 8, 3), np.uint8), [person]))
    # Written as they come (bounded memory), valid JSON only once closed.
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".results.json")]
    assert partial and partial[0].stat().st_size > 0 and not (tmp_path / "results.json").exists()
    writer.write(SourceEnd(source, 5))
    writer.close()
    results = json.loads((tmp_path / "results.json").read_text())
    images = json.loads((tmp_path / "images.json").read_text())
    assert [r["image_id"] for r in results] == [im["id"] for im in images] == [1, 2, 3, 4, 5]
    assert [im["frame"] for im in images] == list(range(5))
    assert json.loads((tmp_path / "manifest.json").read_text())["inputs"][0]["frames"] == 5


def test_coco_ids_cost_constant_memory_on_a_long_stream(tmp_path):
    import tracemalloc

    from pafpose.inference.writer import CocoResultsStream

    stream = CocoResultsStream(tmp_path)
    for index in range(2000):
        stream.add(f"cam_{index:012d}", "0", index, [])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for index in range(2000, 22000):
        stream.add(f"cam_{index:012d}", "0", index, [])
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    stream.close()
    assert grown < 64 * 1024, grown  # nothing kept per frame
    images = json.loads((tmp_path / "images.json").read_text())
    assert len(images) == 22000 and len({im["id"] for im in images}) == 22000
