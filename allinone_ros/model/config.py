"""Typed configuration of the All-in-One network."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

LANGUAGE_ENCODERS = ("official", "pretrained")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network; saved inside every checkpoint we write.

    The defaults are the released ViT-B/16-256 model (``vitb_256_mae_ce_32x4_ep300``).
    """

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    template_size: int = 128
    search_size: int = 256
    ce_layers: tuple[int, ...] = (3, 6, 9)
    ce_keep_ratio: float = 0.7
    head_channels: int = 256
    align_dim: int = 256
    qkv_bias: bool = True
    drop_path_rate: float = 0.0
    # Language: "official" = BERT embedding layer, [CLS] vector (text-independent, as released);
    # "pretrained" = a BERT-family encoder from ``text_model_dir`` ("" = the packaged MiniLM-L6).
    language_encoder: str = "official"
    text_dim: int = 768
    text_vocab_size: int = 30522
    text_max_len: int = 40
    text_model_dir: str = ""
    freeze_text_encoder: bool = True

    def __post_init__(self) -> None:
        if self.language_encoder not in LANGUAGE_ENCODERS:
            raise ValueError(
                f"language_encoder must be one of {LANGUAGE_ENCODERS}, got {self.language_encoder!r}"
            )
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        for name in ("template_size", "search_size"):
            size = getattr(self, name)
            if size % self.patch_size:
                raise ValueError(f"{name} {size} is not a multiple of patch_size {self.patch_size}")
        bad = [i for i in self.ce_layers if not 0 <= i < self.depth]
        if bad:
            raise ValueError(f"ce_layers {bad} outside 0..{self.depth - 1}")
        if not 0.0 < self.ce_keep_ratio <= 1.0:
            raise ValueError(f"ce_keep_ratio must be in (0, 1], got {self.ce_keep_ratio}")
        if self.head_channels % 8:
            raise ValueError(f"head_channels must be a multiple of 8, got {self.head_channels}")

    @property
    def template_grid(self) -> int:
        return self.template_size // self.patch_size

    @property
    def search_grid(self) -> int:
        return self.search_size // self.patch_size

    @property
    def num_template_tokens(self) -> int:
        return self.template_grid**2

    @property
    def num_search_tokens(self) -> int:
        return self.search_grid**2

    @property
    def template_center_index(self) -> int:
        """Template token whose attention ranks search tokens (``CTR_POINT``: 27 for an 8x8 grid)."""
        c = (self.template_grid - 1) // 2
        return c * self.template_grid + c

    @property
    def legacy_pos_len(self) -> int:
        """Length of the unused ImageNet ``pos_embed`` kept for checkpoint compatibility (197)."""
        return (224 // self.patch_size) ** 2 + 1

    def kept_counts(self, keep_ratio: float | None = None) -> list[int]:
        """Search tokens alive after each elimination layer, e.g. [180, 126, 89]."""
        ratio = self.ce_keep_ratio if keep_ratio is None else keep_ratio
        n, out = self.num_search_tokens, []
        for _ in self.ce_layers:
            n = math.ceil(ratio * n)
            out.append(n)
        return out

    def with_updates(self, **changes: object) -> "ModelConfig":
        return replace(self, **changes)


def tiny_config(**changes: object) -> ModelConfig:
    """A small config for tests: width 64, 4 blocks, CE after blocks 1 and 2."""
    base = ModelConfig(
        embed_dim=64, depth=4, num_heads=4, ce_layers=(1, 2), head_channels=32, align_dim=32,
        text_dim=64, text_vocab_size=30522,
    )
    return replace(base, **changes)
