"""Square crops cut, padded, resized and normalised on the model's device (any torch device).

The frame is uploaded once (uint8), every crop is cut, zero-padded and resized with torch ops
(``F.interpolate`` bilinear, ``align_corners=False``: the same sampling positions as OpenCV's
INTER_LINEAR, which the host path :func:`allinone_ros.ops.crop.extract_crop` uses). Works on CPU
tensors too, which is how it is tested against the OpenCV path. The box decoding that follows on
the device is :mod:`.device_decode`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..ops.crop import CropGeometry
from ..ops.normalize import normalize_pixels


class DeviceCropper:
    """Square crops of a device-resident uint8 frame, normalised for the network.

    ``round_like_cv2`` rounds the resized pixels to integers as OpenCV's uint8 resize does, so the
    network sees the same quantised values as on the CPU path (differences stay within one level,
    from OpenCV's 11-bit fixed-point interpolation weights).
    """

    def __init__(self, device: torch.device | str, round_like_cv2: bool = True) -> None:
        self.device = torch.device(device)
        self.round_like_cv2 = round_like_cv2

    def upload(self, image_rgb: np.ndarray) -> torch.Tensor:
        """HxWx3 uint8 host frame -> (H, W, 3) uint8 tensor on the device (one copy)."""
        t = torch.from_numpy(np.ascontiguousarray(image_rgb))
        if self.device.type == "cuda":
            t = t.pin_memory().to(self.device, non_blocking=True)
        return t

    def crop_uint8_scale(self, frame: torch.Tensor, geom: CropGeometry) -> torch.Tensor:
        """(1, 3, S, S) float crop in pixel units [0, 255], same geometry rules as ``extract_crop``."""
        img_h, img_w = int(frame.shape[0]), int(frame.shape[1])
        x1, y1, side = geom.x1, geom.y1, geom.side
        x2, y2 = x1 + side, y1 + side
        # Far edge stops at W-1 / H-1 once the crop reaches the border (the release's +1 padding).
        sx1, sy1 = max(x1, 0), max(y1, 0)
        sx2, sy2 = min(x2, img_w - 1), min(y2, img_h - 1)
        if sx2 > sx1 and sy2 > sy1:
            patch = frame[sy1:sy2, sx1:sx2].permute(2, 0, 1).unsqueeze(0).float()  # (1, 3, h, w)
            pad = (sx1 - x1, x2 - sx2, sy1 - y1, y2 - sy2)  # left, right, top, bottom
            if any(pad):
                patch = F.pad(patch, pad, mode="constant", value=0.0)
        else:
            patch = torch.zeros(1, 3, side, side, device=frame.device)
        size = geom.out_size
        if patch.shape[-1] != size:
            patch = F.interpolate(patch, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
            if self.round_like_cv2:
                patch = patch.round_()
        return patch

    def crop(self, frame: torch.Tensor, geom: CropGeometry) -> torch.Tensor:
        """(1, 3, S, S) float32 ``(x/255 - mean)/std`` crop (the host path's normalisation, :mod:`allinone_ros.ops.normalize`)."""
        return normalize_pixels(self.crop_uint8_scale(frame, geom))  # (1, 3, S, S)
