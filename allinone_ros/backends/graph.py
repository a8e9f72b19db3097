"""The inference-only graph: (template, search, sentence vector) -> head maps + kept token indices.

Export-friendly by construction (static shapes, no data-dependent ops). The text encoder, the
sentence projection and the training-only alignment heads are not part of it, so exported
artifacts and torch.export programs carry only the weights inference needs.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..model import AllInOne, ModelConfig
from ..model.attention import ATTN_IMPLS, Attention
from ..model.backbone import InferenceTrunk, search_feature_map

INPUT_NAMES = ("template", "search", "lang")
OUTPUT_NAMES = ("score_map", "size_map", "offset_map", "kept_index")

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class InferenceGraph(nn.Module):
    """Inference forward of :class:`AllInOne` returning a plain tuple (export and compile friendly).

    Shares the weights of ``model`` (no copy) unless ``attn_impl`` asks for another attention path,
    in which case the graph owns a deep copy. ``compute_dtype`` casts inputs to that dtype inside
    the graph and float outputs back to float32, so callers always exchange float32 tensors;
    the graph's weights must already be in ``compute_dtype`` (see :meth:`to_precision`).
    """

    def __init__(self, model: AllInOne, attn_impl: str | None = None, compute_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if attn_impl is not None and attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}")
        self.cfg: ModelConfig = model.cfg
        backbone, box_head = InferenceTrunk(model.backbone), model.box_head  # shared weights
        if attn_impl is not None:  # another attention path: own copies, the model stays as it is
            backbone, box_head = copy.deepcopy(backbone), copy.deepcopy(box_head)
        self.backbone = backbone
        self.box_head = box_head
        self.compute_dtype = compute_dtype
        self.eval()
        if attn_impl is not None:
            self._use_attn_impl(attn_impl)

    def _use_attn_impl(self, attn_impl: str) -> None:
        """Switch every attention module of this graph (call only on modules the graph owns)."""
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTN_IMPLS}, got {attn_impl!r}")
        for module in self.modules():
            if isinstance(module, Attention):
                module.impl = attn_impl

    def with_attn_impl(self, attn_impl: str) -> "InferenceGraph":
        """A copy (own weights) using another attention path ('sdpa' fused, 'plain' explicit softmax(QK^T)V)."""
        other = copy.deepcopy(self)
        other._use_attn_impl(attn_impl)
        return other

    def to_precision(self, precision: str) -> "InferenceGraph":
        """A copy of this graph computing in ``precision`` (fp32/fp16/bf16), float32 in and out."""
        if precision not in DTYPES:
            raise ValueError(f"precision must be one of {tuple(DTYPES)}, got {precision!r}")
        dtype = DTYPES[precision]
        if dtype == torch.float32:
            return self
        other = copy.deepcopy(self).to(dtype)
        other.compute_dtype = dtype
        return other

    def example_inputs(
        self, batch: int = 1, device: torch.device | str = "cpu", seed: int = 0
    ) -> tuple[torch.Tensor, ...]:
        """Random float32 inputs of the graph's static shapes: template, search, normalised lang."""
        cfg = self.cfg
        g = torch.Generator().manual_seed(seed)
        template = torch.randn(batch, 3, cfg.template_size, cfg.template_size, generator=g)
        search = torch.randn(batch, 3, cfg.search_size, cfg.search_size, generator=g)
        lang = torch.nn.functional.normalize(torch.randn(batch, cfg.embed_dim, generator=g), dim=-1)
        return tuple(t.to(device) for t in (template, search, lang))

    def forward(
        self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """template (B,3,Ht,Wt), search (B,3,Hs,Ws), lang (B,C) -> score (B,1,G,G), size, offset, kept (B,K)."""
        if self.compute_dtype is not None:
            template, search, lang = (t.to(self.compute_dtype) for t in (template, search, lang))
        tokens, kept = self.backbone(template, search, lang)  # (B, S, C), (B, K)
        score, size, offset = self.box_head(search_feature_map(tokens, self.cfg.search_grid))  # (B, ., G, G)
        if self.compute_dtype is not None:
            score, size, offset = (t.float() for t in (score, size, offset))
        return score, size, offset, kept

