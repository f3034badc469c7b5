"""Reading images: one place that turns any file a user hands us into a BGR uint8 array."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError

#: What folder discovery takes for an image. ``.jfif`` is JPEG; a ``.gif`` is read as its first
#: frame (an OpenCV without a GIF decoder reports it as unreadable, in one line).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


def read_image(path: str | Path, orient: bool = True) -> np.ndarray:
    """Load an image as (H, W, 3) BGR uint8, whatever its depth or channel count.

    Grayscale is replicated to three channels, alpha is dropped, 16-bit and float images are
    rescaled to 8 bits, and an EXIF orientation tag is applied (phone photos are stored sideways
    with a "rotate" tag; keypoints must be found in the picture as it is meant to be seen);
    ``orient=False`` keeps the stored pixels. Raises UserError naming the file when it is missing
    or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:  # unreadable like a corrupt file: that input fails, the others go on
        raise UserError(f"{path}: cannot read ({err.strerror or err})") from None
    # Not IMREAD_UNCHANGED: that flag also skips the EXIF orientation. ANYDEPTH keeps 16-bit
    # and float samples for to_bgr8 to rescale; ANYCOLOR keeps gray as gray and drops alpha.
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR | (0 if orient else cv2.IMREAD_IGNORE_ORIENTATION)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise UserError(f"{path}: not a readable image (corrupt or unsupported format)")
    return to_bgr8(image, name=str(path))


def to_bgr8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Any (H, W[, C]) image array with C in {1, 3, 4} -> (H, W, 3) BGR uint8."""
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) == 0:
        raise UserError(f"{name}: unsupported image shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = image.astype(np.float32)
        hi = 1.0 if float(np.nanmax(image)) <= 1.0 else 255.0
        image = np.clip(np.nan_to_num(image) * (255.0 / hi), 0, 255).astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    return image
