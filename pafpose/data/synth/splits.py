"""The scenes the bundled ``synthetic-small`` weights were made from: one distribution for every
split, and each split's (seed, number of images).

256x256 images with 0..6 people between 0.3 and 0.6 of the image height whose bounding boxes
overlap by at most 30 %, plus the generator's crowd regions and unannotated figures (and, as in
COCO, no keypoints on people smaller than 32x32 pixels in area). Training, validation, the
synthetic demo, its tests and the decoder benchmarks all draw from it.
"""

from __future__ import annotations

__all__ = ["SCENES", "TRAIN_SCENES", "VAL_SCENES"]

#: Scene options shared by every synthetic split (:func:`~pafpose.data.synth.generate_dataset` kwargs).
SCENES = {"image_size": (256, 256), "max_people": 6, "min_height": 0.3, "max_height": 0.6,
          "max_overlap": 0.3}
#: (seed, number of images) of the training and held-out validation splits.
TRAIN_SCENES = (100, 4000)
VAL_SCENES = (200, 200)
