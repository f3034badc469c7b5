"""What a checkpoint recommends for inference, typed: :class:`InferenceSettings`.

Released weights carry an "inference" entry (the input height they were tuned for, the decoder
settings tuned on their maps, and each backend/precision's measured AP on the bundled annotated
photos); ONNX exports carry the same in their metadata. It is read once, into this frozen
dataclass, with the generic config reader: an unknown or misspelt key is an error naming it,
not a setting silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..codec.decode import DecodeParams
from ..config import from_dict

__all__ = ["InferenceSettings"]


@dataclass(frozen=True)
class InferenceSettings:
    """Attributes:
        input_height: network input height at scale 1.0, in pixels.
        decode: the decoder settings.
        precision_ap: measured COCO keypoint AP per "<backend>-<precision>" (or "<device>-<precision>"
            for CUDA), the record that ``precision="auto"`` keeps the accuracy contract with
            (:func:`pafpose.inference.backends.choose_precision`).
    """

    input_height: int = 368
    decode: DecodeParams = field(default_factory=DecodeParams)
    precision_ap: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry: dict | None, source: str = "checkpoint") -> "InferenceSettings":
        """Read a checkpoint's "inference" entry (None or {}: the defaults)."""
        return from_dict(cls, dict(entry or {}), f"{source}: inference")

    def to_entry(self) -> dict:
        """The entry to store: decoder settings only where they differ from the defaults, so
        later improvements of the defaults reach old checkpoints."""
        defaults = DecodeParams()
        decode = {f.name: getattr(self.decode, f.name) for f in dataclasses.fields(DecodeParams)
                  if getattr(self.decode, f.name) != getattr(defaults, f.name)}
        entry = {"input_height": self.input_height, "decode": decode}
        if self.precision_ap:
            entry["precision_ap"] = dict(self.precision_ap)
        return entry
