"""The built-in grounding network: a small text-conditioned fully convolutional detector.

Given the whole frame (letterboxed to ``input_width x input_height``) and a sentence, it predicts
a CenterNet-style centre heat map, box sizes and sub-cell offsets at stride ``2 ** num_stages``
(the All-in-One head's outputs, so the same losses and decoding apply). The sentence enters as
the token features of the frozen packaged MiniLM encoder (the All-in-One ``pretrained``
language path, before its mean pooling): ``num_text_queries`` learned queries attend over the
tokens -- so a query can pick out the head noun phrase of "the red car left of the blue car" --
and an MLP turns them into a per-channel scale and shift (FiLM) for every residual block. Two
coordinate channels let position phrases ("in the top left") be learned.

Score head (``score_head``): ``"film"`` scores each cell with a 1x1 convolution of the
conditioned features; ``"match"`` scores it by the cosine similarity of a per-cell embedding
(``embed_dim``) with an embedding of the sentence, scaled and shifted by two learned scalars,
as open-vocabulary detectors do. A cell then scores high only when what it shows agrees with
every part of the description (colour *and* shape), which FiLM alone learns slowly.

Trained by ``allinone-train-grounder`` (:mod:`allinone_ros.training.grounding`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F


SCORE_HEADS = ("film", "match")


@dataclass(frozen=True)
class TextGrounderConfig:
    input_width: int = 320  # letterbox size of the frame, pixels
    input_height: int = 192
    num_stages: int = 3  # stride-2 stem convolutions -> output stride 2 ** num_stages
    stem_channels: tuple[int, ...] = (32, 64, 96)  # one per stage
    num_blocks: int = 4  # FiLM residual blocks at the output stride
    block_dilations: tuple[int, ...] = (1, 2, 4, 1)
    head_channels: int = 96
    text_dim: int = 384  # token feature width of the text encoder
    text_model_dir: str = ""  # '' = the packaged MiniLM-L6
    text_max_len: int = 40
    num_text_queries: int = 4
    text_hidden: int = 128
    score_head: str = "film"  # "film" | "match" (see the module docstring)
    text_positions: bool = False  # position embeddings on the text keys (TextQueries)
    embed_dim: int = 64  # "match": width of the cell and sentence embeddings

    def __post_init__(self) -> None:
        if self.score_head not in SCORE_HEADS:
            raise ValueError(f"score_head must be one of {SCORE_HEADS}, got {self.score_head!r}")
        for name in ("input_width", "input_height", "num_stages", "num_blocks", "head_channels", "text_dim",
                     "text_max_len", "num_text_queries", "text_hidden", "embed_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if len(self.stem_channels) != self.num_stages or any(c < 1 for c in self.stem_channels):
            raise ValueError(f"stem_channels needs {self.num_stages} positive widths (num_stages), "
                             f"got {self.stem_channels!r}")
        if len(self.block_dilations) != self.num_blocks or any(d < 1 for d in self.block_dilations):
            raise ValueError(f"block_dilations needs {self.num_blocks} dilations >= 1 (num_blocks), "
                             f"got {self.block_dilations!r}")
        stride = self.stride
        if self.input_width % stride or self.input_height % stride:
            raise ValueError(f"input size {self.input_width}x{self.input_height} must be divisible by the output "
                             f"stride {stride}")

    @property
    def stride(self) -> int:
        return 2 ** self.num_stages

    @property
    def grid_hw(self) -> tuple[int, int]:
        return self.input_height // self.stride, self.input_width // self.stride


class GrounderOutput(NamedTuple):
    score_map: torch.Tensor  # (B, 1, h, w) probabilities
    size_map: torch.Tensor  # (B, 2, h, w) box width / input width, box height / input height
    offset_map: torch.Tensor  # (B, 2, h, w) sub-cell offset of the centre, cells, in [0, 1]


class TextQueries(nn.Module):
    """Token features (B, L, D) + mask -> (B, Q * H): learned queries attending over the tokens.

    With ``max_len > 0`` a learned embedding of the token's position is added to the keys the
    queries are compared with (not to what they pool), so a query can prefer the first colour word
    -- the object's own -- over the one of a related object ("the white diamond left of the black
    diamond").
    """

    def __init__(self, text_dim: int, hidden: int, num_queries: int, max_len: int = 0) -> None:
        super().__init__()
        self.proj = nn.Linear(text_dim, hidden)
        self.queries = nn.Parameter(torch.randn(num_queries, hidden) * hidden ** -0.5)
        self.positions = nn.Parameter(torch.zeros(max_len, hidden)) if max_len > 0 else None

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keys = self.proj(tokens)  # (B, L, H)
        match = keys if self.positions is None else keys + self.positions[: keys.shape[1]]  # (B, L, H)
        logits = torch.einsum("qh,blh->bql", self.queries, match) / math.sqrt(keys.shape[-1])  # (B, Q, L)
        logits = logits.masked_fill(~mask.bool()[:, None, :], float("-inf"))
        pooled = torch.einsum("bql,blh->bqh", logits.softmax(-1), keys)  # (B, Q, H)
        return pooled.flatten(1)  # (B, Q*H)


class FiLMBlock(nn.Module):
    """x + relu(gamma * norm(conv(x)) + beta)."""

    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm2d(channels, affine=False)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.conv(x))  # (B, C, h, w)
        return x + F.relu((1.0 + gamma[:, :, None, None]) * y + beta[:, :, None, None])


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class TextGrounderNet(nn.Module):
    """``forward(image, tokens, mask)``: image (B, 3, H, W) normalised like the tracker's crops."""

    def __init__(self, cfg: TextGrounderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        chans = (3, *cfg.stem_channels)
        self.stem = nn.Sequential(*[_conv_bn_relu(chans[i], chans[i + 1], 2) for i in range(cfg.num_stages)])
        width = cfg.stem_channels[-1]
        self.coord = nn.Conv2d(width + 2, width, 1)
        self.text = TextQueries(cfg.text_dim, cfg.text_hidden, cfg.num_text_queries,
                                cfg.text_max_len if cfg.text_positions else 0)
        self.film = nn.Sequential(
            nn.Linear(cfg.num_text_queries * cfg.text_hidden, 2 * cfg.text_hidden), nn.ReLU(inplace=True),
            nn.Linear(2 * cfg.text_hidden, cfg.num_blocks * 2 * width),
        )
        nn.init.zeros_(self.film[-1].weight)
        nn.init.zeros_(self.film[-1].bias)
        self.blocks = nn.ModuleList(FiLMBlock(width, d) for d in cfg.block_dilations)
        self.trunk = nn.Sequential(nn.Conv2d(width, cfg.head_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.size = nn.Conv2d(cfg.head_channels, 2, 1)
        self.offset = nn.Conv2d(cfg.head_channels, 2, 1)
        for conv in (self.size, self.offset):  # start flat: sizes/offsets 0.5
            nn.init.zeros_(conv.weight)
        if cfg.score_head == "film":
            self.score = nn.Conv2d(cfg.head_channels, 1, 1)
            nn.init.zeros_(self.score.weight)
            nn.init.constant_(self.score.bias, -4.6)  # score 0.01 everywhere at the start
        else:
            self.cell_embed = nn.Conv2d(cfg.head_channels, cfg.embed_dim, 1)
            self.text_embed = nn.Sequential(
                nn.Linear(cfg.num_text_queries * cfg.text_hidden, 2 * cfg.text_hidden), nn.ReLU(inplace=True),
                nn.Linear(2 * cfg.text_hidden, cfg.embed_dim),
            )
            self.match_scale = nn.Parameter(torch.tensor(math.log(10.0)))  # logit = e^scale * cos + bias
            self.match_bias = nn.Parameter(torch.tensor(-4.6))

    def forward(self, image: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> GrounderOutput:
        return self.forward_head(self.forward_features(image), tokens, mask)

    def forward_features(self, image: torch.Tensor) -> torch.Tensor:
        """The sentence-independent features (B, C, h, w) at the output stride, position channels mixed in."""
        b = image.shape[0]
        x = self.stem(image)  # (B, C, h, w)
        h, w = x.shape[-2:]
        ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))[None].expand(b, 2, h, w)  # (B, 2, h, w)
        return self.coord(torch.cat([x, grid], 1))

    def forward_head(self, x: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> GrounderOutput:
        """Features (B, C, h, w) + sentence tokens -> score, size and offset maps."""
        b = x.shape[0]
        text = self.text(tokens, mask)  # (B, Q*H)
        film = self.film(text).view(b, len(self.blocks), 2, -1)  # (B, N, 2, C)
        for i, block in enumerate(self.blocks):
            x = block(x, film[:, i, 0], film[:, i, 1])
        t = self.trunk(x)  # (B, Ch, h, w)
        if self.cfg.score_head == "film":
            logit = self.score(t)  # (B, 1, h, w)
        else:
            cells = F.normalize(self.cell_embed(t), dim=1)  # (B, E, h, w)
            sentence = F.normalize(self.text_embed(text), dim=1)  # (B, E)
            cos = torch.einsum("behw,be->bhw", cells, sentence)[:, None]  # (B, 1, h, w)
            logit = self.match_scale.exp() * cos + self.match_bias
        score = torch.sigmoid(logit).clamp(1e-4, 1.0 - 1e-4)
        return GrounderOutput(score, torch.sigmoid(self.size(t)), torch.sigmoid(self.offset(t)))


class TokenEncoder(nn.Module):
    """Frozen BERT-family encoder from a local directory: token features (B, L, D) and the mask."""

    def __init__(self, model_dir: str = "", max_len: int = 40) -> None:
        super().__init__()
        from ..model.language import SentenceTokenizer, resolve_text_model_dir
        from ..model.language import PretrainedTextEncoder

        self.tokenizer = SentenceTokenizer(str(resolve_text_model_dir(model_dir)), max_len=max_len)
        self.encoder = PretrainedTextEncoder(model_dir).model.eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.dim = int(self.encoder.config.hidden_size)

    @torch.no_grad()
    def forward(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self.tokenizer(sentences)
        device = next(self.encoder.parameters()).device
        hidden = self.encoder(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
        return hidden.float(), mask.to(device)  # (B, L, D), (B, L)
