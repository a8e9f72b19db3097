"""Shared inputs for the backend tests."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from allinone_ros.model import build_model
from allinone_ros.tracker.postprocess import decode_box, hann2d


def graph_inputs(cfg, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(1, 3, cfg.template_size, cfg.template_size, generator=g)
    x = torch.randn(1, 3, cfg.search_size, cfg.search_size, generator=g)
    lang = F.normalize(torch.randn(1, cfg.embed_dim, generator=g), dim=-1)
    return z, x, lang


def decoded(score, size, offset):
    """Windowed argmax cell and decoded crop box, as the tracker computes them."""
    g = score.shape[-1]
    box, idx = decode_box(score * hann2d(g), size, offset)
    return int(idx[0]), box[0]


def peaky_model(cfg, state_dict=None, seed: int = 0):
    """A model whose attention and score map are far from uniform, so rankings have no near-ties.

    Random weights of std 0.02 give attention rows that are uniform to 1e-7, where the order of
    candidate tokens is decided by rounding; scaling qkv and the head's last convs spreads them.
    """
    model = build_model(cfg)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    torch.manual_seed(seed)
    with torch.no_grad():
        for blk in model.backbone.blocks:
            blk.attn.qkv.weight.normal_(0.0, 2.0 / cfg.embed_dim**0.5)
        for name in ("ctr", "size", "offset"):
            conv = getattr(model.box_head, f"conv5_{name}")
            conv.weight.mul_(20.0)
    return model.eval()
