"""Image -> network -> people: the Predictor, skeleton rendering, ONNX export and COCO evaluation."""
