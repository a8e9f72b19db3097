"""Low-level helpers at the bottom of the package: box geometry and crops, the one IoU, ImageNet
normalisation, box text files, device strings. Imports only the standard library, numpy, torch and OpenCV
(never another allinone_ros sub-package; test/test_layering.py enforces it).

* :mod:`.boxes`      clipping, the part inside the image, the centre offset, non-empty masks
* :mod:`.crop`       square crops around a box and the map back to the image
* :mod:`.iou`        intersection over union of ``box_xywh`` boxes
* :mod:`.normalize`  ImageNet mean/std and ``(x / 255 - mean) / std``
* :mod:`.box_files`  strict reading and atomic writing of ``x,y,w,h`` text files
* :mod:`.devices`    the one check of a device string (``'cpu'``, ``'cuda'``, ``'cuda:N'``)
"""
