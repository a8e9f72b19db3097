"""The box of the network's score peak, decoded on the model's device (any torch device).

Same arithmetic as the host path (``tracker.postprocess.decode_box`` + ``ops.crop.map_box_back`` +
``ops.boxes.clip_box``), in float64 torch ops, so only [x, y, w, h, confidence] returns to the host.
"""
from __future__ import annotations

import torch

from ..model import HeadOutput
from ..ops.crop import CropGeometry


def decode_on_device(
    out: HeadOutput,
    window: torch.Tensor | None,
    geom: CropGeometry,
    image_hw: tuple[int, int],
    clip_margin: int,
) -> torch.Tensor:
    """Box of the (windowed) score peak mapped to the image and clipped, plus the raw score peak.

    Returns a float64 tensor [x, y, w, h, confidence] on the maps' device: one transfer to the host.
    Same arithmetic as ``decode_box`` + ``map_box_back`` + ``clip_box``.
    """
    score = out.score_map[0, 0]  # (G, G)
    g = score.shape[-1]
    ranked = score * window if window is not None else score
    idx = ranked.flatten().argmax()
    iy, ix = idx // g, idx % g
    offset = out.offset_map[0, :, iy, ix].double()  # (2,)
    size = out.size_map[0, :, iy, ix].double()  # (2,)
    scale = geom.out_size / geom.resize_factor  # crop side in image pixels
    cx = (ix.double() + offset[0]) / g * scale + geom.center_xy[0] - 0.5 * geom.side
    cy = (iy.double() + offset[1]) / g * scale + geom.center_xy[1] - 0.5 * geom.side
    w, h = size[0] * scale, size[1] * scale
    img_h, img_w = image_hw
    m = float(clip_margin)
    x1 = (cx - 0.5 * w).clamp(min=0.0).clamp(max=img_w - m)
    x2 = (cx + 0.5 * w).clamp(min=m).clamp(max=float(img_w))
    y1 = (cy - 0.5 * h).clamp(min=0.0).clamp(max=img_h - m)
    y2 = (cy + 0.5 * h).clamp(min=m).clamp(max=float(img_h))
    bw = (x2 - x1).clamp(min=m)
    bh = (y2 - y1).clamp(min=m)
    return torch.stack([x1, y1, bw, bh, score.max().double()])
