"""ImageNet normalisation of RGB pixels, as the released tracker's crops (and the grounder) expect.

Every path (tracker crops on the host, device-side crops, grounder inputs, training samples)
computes ``(x / 255 - mean) / std`` in float32 in that order, so all of them see bit-identical
network inputs for the same pixels.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

MEAN = (0.485, 0.456, 0.406)  # ImageNet RGB mean, in [0, 1]
STD = (0.229, 0.224, 0.225)  # ImageNet RGB standard deviation, in [0, 1]


@functools.lru_cache(maxsize=8)
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, 1, 1) float32 mean and std on ``device`` (made once per device, never modified)."""
    return torch.tensor(MEAN, device=device).view(3, 1, 1), torch.tensor(STD, device=device).view(3, 1, 1)


def normalize_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) float32 pixels in [0, 255] -> ``(x / 255 - mean) / std``, same shape."""
    mean, std = _mean_std(pixels.device)
    return (pixels / 255.0 - mean) / std  # (..., 3, H, W)


def image_to_tensor(image_rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> (3, H, W) float32 normalised on ``device`` (the uint8 pixels are moved)."""
    t = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device, non_blocking=True)  # (H, W, 3) uint8
    return normalize_pixels(t.permute(2, 0, 1).float())  # (3, H, W)
