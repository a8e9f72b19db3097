"""The All-in-One tracking network: backbone + centre head + text encoder."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .backbone import VisionLanguageViT, encode_tokens, search_feature_map
from .config import ModelConfig
from .head import CenterHead
from .language import OfficialLanguageEmbedding, PretrainedTextEncoder


class HeadOutput(NamedTuple):
    score_map: torch.Tensor  # (B, 1, G, G)
    size_map: torch.Tensor  # (B, 2, G, G) normalised (w, h)
    offset_map: torch.Tensor  # (B, 2, G, G) sub-cell (dx, dy)
    kept_index: torch.Tensor  # (B, K) original positions of surviving search tokens


class AllInOne(nn.Module):
    """One ViT over [template; search] tokens with the sentence injected by modal mixup."""

    def __init__(self, cfg: ModelConfig, attn_impl: str = "sdpa", load_text_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = VisionLanguageViT(cfg, attn_impl=attn_impl)
        self.box_head = CenterHead(cfg.embed_dim, cfg.head_channels)
        if cfg.language_encoder == "official":
            self.language_embeddings = OfficialLanguageEmbedding(cfg.text_vocab_size, cfg.text_dim, cfg.text_max_len)
        else:
            self.text_encoder = PretrainedTextEncoder(cfg.text_model_dir, load_weights=load_text_weights)
            if self.text_encoder.out_dim != cfg.text_dim:
                raise ValueError(
                    f"text encoder in {cfg.text_model_dir or 'the packaged model'} gives "
                    f"{self.text_encoder.out_dim}-d vectors but config text_dim={cfg.text_dim}"
                )
            if cfg.freeze_text_encoder:
                self.text_encoder.requires_grad_(False)

    @property
    def text_module(self) -> nn.Module:
        return self.language_embeddings if self.cfg.language_encoder == "official" else self.text_encoder

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids (B, L) -> normalised sentence vector l (B, C). Run once per sentence."""
        frozen = self.cfg.language_encoder == "official" or self.cfg.freeze_text_encoder
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            feat = self.text_module(input_ids, attention_mask)  # (B, text_dim)
        return self.backbone.language_vector(feat)

    def forward_features(
        self, patches: tuple[torch.Tensor, torch.Tensor], lang: torch.Tensor, keep_ratio: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch tokens of template (B,T,C) and search (B,S,C) -> search features (B, C, G, G), kept indices (B, K)."""
        tokens, kept = encode_tokens(self.backbone, patches, lang, keep_ratio)  # (B, S, C)
        return search_feature_map(tokens, self.cfg.search_grid), kept

    def forward_head(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.box_head(feat)

    def forward(
        self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor, keep_ratio: float | None = None
    ) -> HeadOutput:
        feat, kept = self.forward_features(self.backbone.embed(template, search), lang, keep_ratio)
        score, size, offset = self.forward_head(feat)
        return HeadOutput(score, size, offset, kept)

    def forward_train(
        self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor, keep_ratio: float | None = None
    ) -> tuple[HeadOutput, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Training forward: head outputs plus the alignment embeddings (vision_x, vision_z, language)."""
        patches = self.backbone.embed(template, search)  # (B,T,C), (B,S,C)
        feat, kept = self.forward_features(patches, lang, keep_ratio)
        score, size, offset = self.forward_head(feat)
        return HeadOutput(score, size, offset, kept), self.backbone.forward_alignment(patches, lang)


def build_model(cfg: ModelConfig | None = None, attn_impl: str = "sdpa", load_text_weights: bool = True) -> AllInOne:
    """Build the network in eval mode (default: the released ViT-B/16-256 configuration)."""
    return AllInOne(cfg or ModelConfig(), attn_impl=attn_impl, load_text_weights=load_text_weights).eval()
