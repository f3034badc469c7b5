"""What a PAF head's maps mean (:class:`HeadSpec`), and the geometry of map cells.

A map of stride ``s`` has cell (i, j) centred on input pixel ``(j*s + s/2 - 0.5, i*s + s/2 - 0.5)``;
with pixel centres at integer coordinates this makes the map an exact ``s``-times box
downsampling of the image, so flips and resizes of the image map to flips and resizes of the
maps. An input of W x H pixels has ``ceil(W / s) x ceil(H / s)`` cells. Everything that converts
between the two (targets, decoder, predictor, benchmarks, tests) uses the helpers here rather
than the formula.

This module imports nothing but the skeletons, so the encoder, the decoder and the models can
all depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from .skeleton import Skeleton, get_skeleton

__all__ = ["HeadSpec", "cells_to_pixels", "pixels_to_cells", "map_size_for"]


def cells_to_pixels(cells, stride: float):
    """Map-cell coordinates (cell j centred at j) -> input-pixel coordinates; numpy or torch, any
    shape."""
    return cells * stride + (stride / 2.0 - 0.5)


def pixels_to_cells(pixels, stride: float):
    """Input-pixel coordinates -> map-cell coordinates (cell j centred at j); numpy or torch, any
    shape."""
    return (pixels - (stride / 2.0 - 0.5)) / stride


def map_size_for(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """(W, H) of the maps for an input image of (W, H) pixels: ceil(side / stride)."""
    return (-(-int(image_size[0]) // stride), -(-int(image_size[1]) // stride))


@dataclass(frozen=True)
class HeadSpec:
    """What a PAF head's maps mean. Defaults: OpenPose's COCO head.

    Attributes:
        skeleton: keypoint layout ("coco18": OpenPose's COCO keypoints with a neck and 19 limbs).
            The head has K + 1 heatmaps (the background last) and 2 x limbs PAF channels.
        stride: input pixels per map cell; must equal the network's output stride.
        sigma: spread of the heatmap Gaussians, in input pixels.
        limb_width: PAF half-width sigma_c, in map cells.
    """

    skeleton: str = "coco18"
    stride: int = 8
    sigma: float = 7.0
    limb_width: float = 1.0

    def __post_init__(self) -> None:
        try:
            get_skeleton(self.skeleton)
        except ValueError as err:
            raise UserError(f"head: {err}") from None
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1:
            raise UserError(f"head: stride must be a positive integer, got {self.stride!r}")
        for name in ("sigma", "limb_width"):
            if not getattr(self, name) > 0:
                raise UserError(f"head: {name} must be positive, got {getattr(self, name)}")

    @property
    def keypoint_skeleton(self) -> Skeleton:
        return get_skeleton(self.skeleton)

    @property
    def num_heatmaps(self) -> int:
        """Heatmap channels: one per keypoint, then the background."""
        return self.keypoint_skeleton.num_keypoints + 1

    @property
    def num_pafs(self) -> int:
        """PAF channels: x and y per limb."""
        return 2 * self.keypoint_skeleton.num_limbs

    def describe(self) -> str:
        return (f"{self.skeleton}, stride {self.stride}, sigma {self.sigma:g}, "
                f"limb width {self.limb_width:g}")

    def cells_to_pixels(self, cells):
        """Map-cell coordinates -> input pixels (see :func:`cells_to_pixels`)."""
        return cells_to_pixels(cells, self.stride)

    def pixels_to_cells(self, pixels):
        """Input pixels -> map-cell coordinates (see :func:`pixels_to_cells`)."""
        return pixels_to_cells(pixels, self.stride)

    def map_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """(W, H) of the maps for an input of ``image_size`` = (W, H) pixels."""
        return map_size_for(image_size, self.stride)
