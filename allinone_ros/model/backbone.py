"""Vision-language ViT backbone with modal mixup and candidate elimination."""
from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Block
from .config import ModelConfig


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.proj(img).flatten(2).transpose(1, 2)  # (B, G*G, C)


class VisionLanguageViT(nn.Module):
    """Template and search tokens, mixed with the sentence vector, through one ViT."""

    def __init__(self, cfg: ModelConfig, attn_impl: str = "sdpa") -> None:
        super().__init__()
        self.cfg = cfg
        dim = cfg.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))  # unused; kept for checkpoints
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.legacy_pos_len, dim))  # unused; idem
        self.pos_embed_z = nn.Parameter(torch.zeros(1, cfg.num_template_tokens, dim))
        self.pos_embed_x = nn.Parameter(torch.zeros(1, cfg.num_search_tokens, dim))
        self.patch_embed = PatchEmbed(cfg.patch_size, dim)
        dpr = torch.linspace(0, cfg.drop_path_rate, cfg.depth).tolist()
        self.blocks = nn.ModuleList(
            Block(dim, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias, dpr[i], i in cfg.ce_layers, attn_impl)
            for i in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.language_proj = nn.Linear(cfg.text_dim, dim)
        # Training-only multi-modal alignment projections (never run at inference).
        self.language_xz_proj = nn.Linear(dim, cfg.align_dim)
        self.vision_x_proj = nn.Linear(cfg.num_search_tokens * dim, cfg.align_dim)
        self.vision_z_proj = nn.Linear(cfg.num_template_tokens * dim, cfg.align_dim)
        nn.init.trunc_normal_(self.pos_embed_z, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_x, std=0.02)

    def language_vector(self, text_feat: torch.Tensor) -> torch.Tensor:
        """text_feat (B, text_dim) -> l (B, dim), L2-normalised."""
        return F.normalize(self.language_proj(text_feat), dim=-1)

    def embed(self, template: torch.Tensor, search: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.patch_embed(template), self.patch_embed(search)  # (B,T,C), (B,S,C)

    def forward(
        self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor, keep_ratio: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (search feature tokens (B, S, C) restored to their positions, kept indices (B, K)).

        template (B,3,Ht,Wt), search (B,3,Hs,Ws), lang (B,C) normalised sentence vector.
        """
        return encode_tokens(self, self.embed(template, search), lang, keep_ratio)

    def forward_alignment(
        self, patches: tuple[torch.Tensor, torch.Tensor], lang: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training-only embeddings for CMA/IMA: (vision_x, vision_z, language), each (B, align_dim)."""
        z, x = patches
        vx = F.normalize(self.vision_x_proj(x.flatten(1)), dim=-1)
        vz = F.normalize(self.vision_z_proj(z.flatten(1)), dim=-1)
        vl = F.normalize(self.language_xz_proj(lang), dim=-1)
        return vx, vz, vl


class TokenTrunk(Protocol):
    """The members of the backbone that inference runs (:class:`VisionLanguageViT` and
    :class:`InferenceTrunk` both have them)."""

    cfg: ModelConfig
    pos_embed_z: nn.Parameter
    pos_embed_x: nn.Parameter
    blocks: nn.ModuleList
    norm: nn.LayerNorm


def encode_tokens(
    trunk: TokenTrunk, patches: tuple[torch.Tensor, torch.Tensor], lang: torch.Tensor, keep_ratio: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Modal mixup, the ViT blocks with candidate elimination and the final norm.

    patches: template (B,T,C) and search (B,S,C) patch tokens; lang (B,C) normalised sentence vector.
    Returns the search feature tokens (B, S, C) restored to their positions (zeros where
    eliminated) and the kept indices (B, K).
    """
    cfg = trunk.cfg
    ratio = cfg.ce_keep_ratio if keep_ratio is None else keep_ratio
    z, x = patches
    l = lang.unsqueeze(1)  # (B, 1, C)
    z = z * l + z + trunk.pos_embed_z  # modal mixup, then position
    x = x * l + x + trunk.pos_embed_x
    tokens = torch.cat([z, x], dim=1)  # (B, T+S, C)
    b, num_t = tokens.shape[0], z.shape[1]
    search_index = torch.arange(x.shape[1], device=x.device).unsqueeze(0).expand(b, -1)  # (B, S)
    for blk in trunk.blocks:
        tokens, search_index = blk(tokens, search_index, num_t, cfg.template_center_index, ratio)
    tokens = trunk.norm(tokens)
    kept = tokens[:, num_t:]  # (B, K, C)
    restored = torch.zeros_like(x).scatter(
        1, search_index.unsqueeze(-1).expand(-1, -1, kept.shape[2]), kept
    )  # (B, S, C), zeros where tokens were eliminated
    return restored, search_index


def search_feature_map(tokens: torch.Tensor, grid: int) -> torch.Tensor:
    """Search tokens (B, G*G, C) in row-major order -> feature map (B, C, G, G)."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], grid, grid)  # (B, C, G, G)


class InferenceTrunk(nn.Module):
    """The inference part of a :class:`VisionLanguageViT`, sharing its weights (no copy).

    Holds only what inference runs (patch embedding, position embeddings, blocks, final norm)
    under the backbone's own names, so its state-dict keys are the backbone's minus the
    training-only projections and the unused legacy ``cls_token`` / ``pos_embed``.
    """

    def __init__(self, backbone: VisionLanguageViT) -> None:
        super().__init__()
        self.cfg = backbone.cfg
        self.pos_embed_z = backbone.pos_embed_z
        self.pos_embed_x = backbone.pos_embed_x
        self.patch_embed = backbone.patch_embed
        self.blocks = backbone.blocks
        self.norm = backbone.norm

    def forward(
        self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as :meth:`VisionLanguageViT.forward` (default keep ratio)."""
        patches = self.patch_embed(template), self.patch_embed(search)  # (B,T,C), (B,S,C)
        return encode_tokens(self, patches, lang)
