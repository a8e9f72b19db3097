"""Transformer block with optional candidate elimination of search tokens."""
from __future__ import annotations

import math

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from .attention import Attention


def eliminate_candidates(
    tokens: torch.Tensor,
    search_index: torch.Tensor,
    rank_attn: torch.Tensor,
    num_template: int,
    keep_ratio: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the ``ceil(keep_ratio * n)`` search tokens most attended by the ranking template row.

    tokens: (B, T+S, C); search_index: (B, S) original positions; rank_attn: (B, heads, T+S).
    Returns tokens (B, T+K, C) with kept search tokens in descending-attention order and their
    original positions (B, K). Static shapes only: ``topk`` + ``gather``, no boolean masks.
    """
    num_search = tokens.shape[1] - num_template
    keep = math.ceil(keep_ratio * num_search)
    if keep >= num_search:
        return tokens, search_index
    score = rank_attn[:, :, num_template:].mean(dim=1)  # (B, S)
    top = score.topk(keep, dim=1, sorted=True).indices  # (B, K)
    kept_index = search_index.gather(1, top)  # (B, K)
    search = tokens[:, num_template:]
    kept = search.gather(1, top.unsqueeze(-1).expand(-1, -1, tokens.shape[2]))  # (B, K, C)
    return torch.cat([tokens[:, :num_template], kept], dim=1), kept_index


class Block(nn.Module):
    """Pre-norm ViT block; when ``eliminates`` is set, prunes search tokens after attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_path: float = 0.0,
        eliminates: bool = False,
        attn_impl: str = "sdpa",
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, impl=attn_impl)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)
        self.eliminates = eliminates

    def forward(
        self,
        x: torch.Tensor,
        search_index: torch.Tensor,
        num_template: int,
        rank_row: int,
        keep_ratio: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        prune = self.eliminates and keep_ratio < 1.0
        x_attn, row = self.attn(self.norm1(x), rank_row=rank_row if prune else None)
        x = x + self.drop_path(x_attn)
        if prune:
            assert row is not None
            x, search_index = eliminate_candidates(x, search_index, row, num_template, keep_ratio)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, search_index
