"""Score-map post-processing: Hann window and box decoding."""
from __future__ import annotations

import math

import torch


def hann1d(n: int) -> torch.Tensor:
    """``0.5 * (1 - cos(2*pi*k/(n+1)))`` for k = 1..n (zero-free, centred)."""
    k = torch.arange(1, n + 1, dtype=torch.float64)
    return (0.5 * (1 - torch.cos(2 * math.pi * k / (n + 1)))).float()


def hann2d(n: int) -> torch.Tensor:
    """(n, n) outer product of :func:`hann1d`."""
    w = hann1d(n)
    return w[:, None] * w[None, :]


def decode_box(
    score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Box at the score peak, normalised to the search crop.

    score_map (B,1,G,G), size_map (B,2,G,G), offset_map (B,2,G,G) ->
    box_cxcywh (B,4) in [0,1] crop units and the flat argmax index (B,).
    """
    b, _, g, _ = score_map.shape
    idx = score_map.flatten(1).argmax(dim=1)  # (B,)
    iy = torch.div(idx, g, rounding_mode="floor")
    ix = idx % g
    gather = idx.view(b, 1, 1).expand(b, 2, 1)
    size = size_map.flatten(2).gather(2, gather).squeeze(-1)  # (B, 2)
    offset = offset_map.flatten(2).gather(2, gather).squeeze(-1)  # (B, 2)
    cx = (ix.to(offset.dtype) + offset[:, 0]) / g
    cy = (iy.to(offset.dtype) + offset[:, 1]) / g
    return torch.stack([cx, cy, size[:, 0], size[:, 1]], dim=1), idx
