"""Multi-head self-attention that can also return one query row of attention weights."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ATTN_IMPLS = ("sdpa", "plain")


class Attention(nn.Module):
    """ViT attention (``qkv`` / ``proj`` as in timm) with two numerically equivalent paths.

    ``sdpa`` uses fused ``scaled_dot_product_attention``; when a ranking row is requested it is
    computed beside it as ``softmax(q[row] @ k^T * scale)``. ``plain`` materialises the full
    attention matrix, as the released code does, and slices the row from it. In fp32 the two agree;
    in bf16/fp16 ``sdpa`` computes the ranking row in float32 while ``plain`` keeps the half-precision
    row of its matrix, so near-ties can rank differently between them.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, impl: str = "sdpa") -> None:
        super().__init__()
        if impl not in ATTN_IMPLS:
            raise ValueError(f"attention impl must be one of {ATTN_IMPLS}, got {impl!r}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.impl = impl
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rank_row: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (output (B,N,C), attention of query ``rank_row`` over all keys (B,heads,N) or None)."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        row = None
        if self.impl == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, head_dim)
            if rank_row is not None:
                # In float32 even when the graph computes in bf16/fp16: the row only ranks tokens, and
                # half-precision logits tie often enough to change which tokens are kept.
                q_row = q[:, :, rank_row : rank_row + 1].float()  # (B, heads, 1, head_dim)
                logits = (q_row * self.scale) @ k.float().transpose(-2, -1)  # (B, heads, 1, N)
                row = logits.softmax(dim=-1)[:, :, 0]  # (B, heads, N) float32
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, heads, N, N)
            out = attn @ v
            if rank_row is not None:
                row = attn[:, :, rank_row]  # (B, heads, N)
        out = out.transpose(1, 2).reshape(b, n, c)
        return self.proj(out), row
