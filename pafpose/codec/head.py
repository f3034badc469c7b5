"""One description of a PAF head, and the codec built from it.

A :class:`HeadSpec` says what a network's two outputs mean: which skeleton the heatmap channels
and PAF limbs follow, how many input pixels a map cell covers, and the widths of the Gaussians
and limbs the targets were drawn with. It is a field of every model config
(``ModelConfig.head``), so it is saved in every checkpoint, and everything that makes or reads
maps takes it from there: the dataset's targets and masks, the loss, the Predictor's resampling
and flip test, the decoder, the converters and the benchmarks.

A :class:`PafCodec` is the spec's behaviour: ``encode`` turns keypoints into heatmaps and PAFs,
``encode_mask`` an input-resolution loss mask into map cells, ``decode`` maps into people (with
the decoder settings it was built with), and ``flip_*`` mirror keypoints and maps with the
skeleton's left/right permutations. A codec holds only its spec and settings, so it pickles
(decoding can run in worker processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import UserError
from . import decode as decoder
from .decode.params import DEFAULT_PARAMS, DecodeParams
from .masks import mask_to_map
from .people import Person
from .skeleton import convert_keypoints, flip_keypoints
from .spec import HeadSpec
from .targets import flip_heatmaps, flip_pafs, render_heatmaps, render_pafs

if TYPE_CHECKING:  # encoding numpy arrays never needs torch
    import torch

__all__ = ["HeadSpec", "PafCodec", "check_same_head"]


def check_same_head(expected: HeadSpec, given: HeadSpec, expected_name: str, given_name: str) -> None:
    """Raise UserError when two parts of a pipeline disagree on what the maps mean."""
    if expected != given:
        raise UserError(f"{given_name} has head ({given.describe()}) but {expected_name} has head "
                        f"({expected.describe()}); they must be the same")


class PafCodec:
    """Encoding people into a head's maps, and decoding the maps into people.

    Args:
        spec: the head; default :class:`HeadSpec`'s COCO-18, stride 8, sigma 7, limb width 1.
        decode_params: the decoder's settings (:class:`~pafpose.codec.decode.DecodeParams`);
            default ``DecodeParams()``.
    """

    def __init__(self, spec: HeadSpec | None = None, decode_params: DecodeParams | None = None):
        self.spec = spec or HeadSpec()
        self.decode_params = decode_params or DEFAULT_PARAMS
        if not isinstance(self.decode_params, DecodeParams):
            raise UserError(f"PafCodec: decode_params must be a DecodeParams, got {type(decode_params).__name__}")
        self.skeleton = self.spec.keypoint_skeleton

    def __repr__(self) -> str:
        changed = ", ".join(f"{name}={value!r}" for name, value in vars(self.decode_params).items()
                            if value != getattr(DEFAULT_PARAMS, name))
        return f"PafCodec({self.spec.describe()}" + (f"; decode {changed})" if changed else ")")

    @property
    def stride(self) -> int:
        return self.spec.stride

    def map_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(W, H) of the maps for an input of ``image_size`` = (W, H) pixels."""
        return self.spec.map_size(image_size)

    # ---- encoding --------------------------------------------------------------------------

    def keypoints(self, annotations: Sequence[dict]) -> np.ndarray:
        """(P, K, 3) keypoints in this head's layout from COCO person annotations.

        Crowd annotations and people without keypoints are left out (the loss mask covers them).

        Args:
            annotations (Sequence[dict]): COCO annotations with 17-keypoint ``keypoints`` lists.

        Returns:
            np.ndarray: float64 (P, K, 3) x, y, v in the annotations' pixels.
        """
        rows = [np.asarray(a["keypoints"], dtype=np.float64).reshape(17, 3)
                for a in annotations if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0]
        try:
            return convert_keypoints(np.stack(rows) if rows else np.zeros((0, 17, 3)), self.skeleton)
        except ValueError as err:
            raise UserError(f"head: {err}") from None

    def encode(self, keypoints: np.ndarray | torch.Tensor, image_size: tuple[int, int],
               background: bool = True) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
        """Target heatmaps and PAFs of people in an input of ``image_size`` pixels.

        Args:
            keypoints (np.ndarray | torch.Tensor): (P, K, 3) numpy array of x, y, v in input
                pixels (v > 0 = labelled), or a batched (B, P, K, 3) tensor on any device.
            image_size (tuple[int, int]): (W, H) of the input, in pixels.
            background (bool): append the background heatmap channel.

        Returns:
            tuple: float32 heatmaps (K[+1], h, w) and PAFs (2L, h, w), with (h, w) =
            ceil((H, W) / stride); a leading batch axis for tensor input.
        """
        if keypoints.shape[-2] != self.skeleton.num_keypoints:
            raise UserError(f"encode: keypoints have {keypoints.shape[-2]} joints but the head's skeleton "
                            f"{self.skeleton.name!r} has {self.skeleton.num_keypoints}")
        size = self.map_size(image_size)
        spec = self.spec
        return (render_heatmaps(keypoints, size, spec.stride, spec.sigma, background=background),
                render_pafs(keypoints, self.skeleton.limbs, size, spec.stride, spec.limb_width))

    def encode_mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) input-resolution loss mask (nonzero = counts) -> (h, w) float32 map mask."""
        return mask_to_map(mask, self.spec.stride)

    # ---- decoding --------------------------------------------------------------------------

    def decode(self, heatmaps: np.ndarray | torch.Tensor, pafs: np.ndarray | torch.Tensor,
               **overrides) -> list[Person]:
        """People from one image's (K[+1], h, w) heatmaps and (2L, h, w) PAFs, in input pixels,
        decoded with this codec's ``decode_params``; ``overrides`` (fields of
        :class:`~pafpose.codec.decode.DecodeParams`) change them for this call only."""
        return decoder.decode(heatmaps, pafs, self.spec, self.decode_params, **overrides)

    # ---- flips -----------------------------------------------------------------------------

    def flip_keypoints(self, keypoints: np.ndarray, image_width: float) -> np.ndarray:
        """(..., K, 3) keypoints of the horizontally mirrored image (left/right swapped)."""
        return flip_keypoints(keypoints, image_width, self.skeleton)

    def flip_maps(self, heatmaps: np.ndarray | torch.Tensor, pafs: np.ndarray | torch.Tensor):
        """Heatmaps and PAFs ((C, h, w) or (B, C, h, w)) of the mirrored image."""
        return flip_heatmaps(heatmaps, self.skeleton), flip_pafs(pafs, self.skeleton)
