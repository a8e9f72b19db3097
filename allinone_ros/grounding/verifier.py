"""The built-in grounder's second stage: does the object in a candidate box have the sentence's colour and shape?

The detector (:class:`~allinone_ros.grounding.net.TextGrounderNet`) sees the frame at half
resolution and an output stride of 8, where a 20 px object covers two or three cells: it finds
the named colour well but tells shapes of one colour apart poorly, and it cannot say "nothing
of that kind is here" reliably. The verifier looks at each candidate again at full resolution:

* image side: the square crop around the candidate box (``context`` times its longer side,
  resized to ``crop_size``) -> colour logits, shape logits and an object logit (is an object
  centred in the crop at all);
* text side: the frozen encoder's token features -> a few learned queries (with token-position
  keys, so "the red car left of the blue circle" is about the red car) -> colour and shape logits.

``match = P(object) * sum_c P_img(c) P_txt(c) * sum_s P_img(s) P_txt(s)``: the probability that
the crop shows an object whose colour *and* shape are the ones the sentence names. The vocabulary
is closed (``colours`` x ``shapes``, those of the synthetic generator): like the detector, the
verifier knows only the synthetic drone-view domain.

Trained by ``allinone-train-verifier`` (:mod:`allinone_ros.training.verifier`); stored in the
grounder's ``.safetensors`` file (keys ``verifier.*``, metadata ``verifier_config``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..ops.normalize import image_to_tensor
from .net import TextQueries


@dataclass(frozen=True)
class VerifierConfig:
    colours: tuple[str, ...]  # the colour words it knows (the training experiment gives the generator's)
    shapes: tuple[str, ...]  # the shape words it knows
    crop_size: int = 32  # side of the network input, pixels
    context: float = 1.6  # crop side = context * the candidate box's longer side
    channels: tuple[int, ...] = (32, 64, 96)  # one stride-2 stage each
    hidden: int = 128
    text_dim: int = 384  # token feature width of the grounder's text encoder
    text_max_len: int = 40
    num_text_queries: int = 2
    text_hidden: int = 96
    # How the grounder uses it: the detector's best ``proposals`` peaks scoring above
    # ``proposal_floor`` are verified; a candidate's score is sqrt(detector score * match).
    proposals: int = 10
    proposal_floor: float = 0.02

    def __post_init__(self) -> None:
        for name in ("crop_size", "hidden", "text_dim", "text_max_len", "num_text_queries", "text_hidden",
                     "proposals"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive integers, got {self.channels!r}")
        if self.crop_size % 2 ** len(self.channels):
            raise ValueError(f"crop_size {self.crop_size} must be divisible by 2 ** len(channels) = "
                             f"{2 ** len(self.channels)}")
        if not (isinstance(self.context, (int, float)) and 1.0 <= self.context <= 4.0):
            raise ValueError(f"context must be a number in [1, 4], got {self.context!r}")
        if not (isinstance(self.proposal_floor, (int, float)) and 0.0 <= self.proposal_floor < 1.0):
            raise ValueError(f"proposal_floor must be a number in [0, 1), got {self.proposal_floor!r}")
        for name in ("colours", "shapes"):
            words = getattr(self, name)
            if len(words) < 2 or len(set(words)) != len(words):
                raise ValueError(f"{name} needs at least two distinct words, got {words!r}")


class VerifierNet(nn.Module):
    """Crops (B, 3, S, S) and sentence tokens -> attribute logits; :meth:`match` -> (B,) probabilities."""

    def __init__(self, cfg: VerifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        chans = (3, *cfg.channels)
        for i in range(len(cfg.channels)):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False), nn.BatchNorm2d(chans[i + 1]),
                       nn.ReLU(inplace=True),
                       nn.Conv2d(chans[i + 1], chans[i + 1], 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        side = cfg.crop_size // 2 ** len(cfg.channels)
        n_col, n_shape = len(cfg.colours), len(cfg.shapes)
        self.image_head = nn.Sequential(nn.Flatten(), nn.Linear(cfg.channels[-1] * side * side, cfg.hidden),
                                        nn.ReLU(inplace=True), nn.Linear(cfg.hidden, n_col + n_shape + 1))
        self.text = TextQueries(cfg.text_dim, cfg.text_hidden, cfg.num_text_queries, cfg.text_max_len)
        self.text_head = nn.Sequential(nn.Linear(cfg.num_text_queries * cfg.text_hidden, cfg.hidden),
                                       nn.ReLU(inplace=True), nn.Linear(cfg.hidden, n_col + n_shape))

    def forward_image(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) normalised crops -> colour (B, C), shape (B, K) and object (B,) logits."""
        out = self.image_head(self.features(crops))  # (B, C + K + 1)
        n_col, n_shape = len(self.cfg.colours), len(self.cfg.shapes)
        return out[:, :n_col], out[:, n_col:n_col + n_shape], out[:, -1]

    def forward_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token features (B, L, D) + mask (B, L) -> colour (B, C) and shape (B, K) logits of the named object."""
        out = self.text_head(self.text(tokens, mask))  # (B, C + K)
        n_col = len(self.cfg.colours)
        return out[:, :n_col], out[:, n_col:]

    def match(self, crops: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) probability that crop b shows the object sentence b names (tokens broadcast from batch 1)."""
        colour, shape, obj = self.forward_image(crops)
        t_colour, t_shape = self.forward_text(tokens, mask)  # (B or 1, C), (B or 1, K)
        p_colour = (colour.softmax(-1) * t_colour.softmax(-1)).sum(-1)  # (B,)
        p_shape = (shape.softmax(-1) * t_shape.softmax(-1)).sum(-1)  # (B,)
        return torch.sigmoid(obj) * p_colour * p_shape


def crop_box(image_rgb: np.ndarray, box_xywh: np.ndarray, cfg: VerifierConfig) -> np.ndarray:
    """The ``crop_size`` square RGB crop around ``box_xywh`` (side ``context`` x its longer side); the
    part outside the image is filled with the image's mean colour."""
    x, y, w, h = (float(v) for v in box_xywh)
    side = max(cfg.context * max(w, h), 4.0)
    cx, cy = x + w / 2.0, y + h / 2.0
    scale = cfg.crop_size / side
    # affine map: crop pixel (u, v) <- image pixel (cx + (u + 0.5) / scale - side / 2, ...)
    m = np.array([[scale, 0.0, -(cx - side / 2.0) * scale - 0.5 + 0.5 * scale],
                  [0.0, scale, -(cy - side / 2.0) * scale - 0.5 + 0.5 * scale]], dtype=np.float64)
    fill = tuple(cv2.mean(image_rgb)[:3]) if image_rgb.size else (0.0, 0.0, 0.0)  # per-channel mean
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    # only the region the crop reads (plus the blur's reach) is touched; the affine map is shifted to it
    k = int(round(1.0 / scale)) | 1 if scale < 0.5 else 1
    x0, y0 = max(int(cx - side / 2) - k - 1, 0), max(int(cy - side / 2) - k - 1, 0)
    x1 = min(int(cx + side / 2) + k + 2, image_rgb.shape[1])
    y1 = min(int(cy + side / 2) + k + 2, image_rgb.shape[0])
    if x1 <= x0 or y1 <= y0:  # the box's square lies outside the image: all fill
        return np.full((cfg.crop_size, cfg.crop_size, 3), np.round(fill), dtype=image_rgb.dtype)
    region = image_rgb[y0:y1, x0:x1]
    if scale < 0.5:  # area-like smoothing before a strong shrink (warpAffine samples points)
        region = cv2.blur(region, (k, k))
    m[:, 2] += m[:, :2] @ np.array([x0, y0], dtype=np.float64)
    return cv2.warpAffine(np.ascontiguousarray(region), m, (cfg.crop_size, cfg.crop_size),
                          flags=interp | cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def crop_batch(image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], cfg: VerifierConfig) -> torch.Tensor:
    """(N, 3, S, S) normalised crops of ``boxes_xywh`` from one image."""
    if not boxes_xywh:
        return torch.zeros(0, 3, cfg.crop_size, cfg.crop_size)
    return torch.stack([image_to_tensor(crop_box(image_rgb, b, cfg)) for b in boxes_xywh])


def attribute_index(cfg: VerifierConfig, colour: str, shape: str) -> tuple[int, int]:
    return cfg.colours.index(colour), cfg.shapes.index(shape)


def match_loss(net: VerifierNet, crops: torch.Tensor, colour: torch.Tensor, shape: torch.Tensor,
               objectness: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Image side: cross-entropy of colour and shape (object crops only) + BCE of the object logit."""
    c_logit, s_logit, o_logit = net.forward_image(crops)
    obj = objectness > 0.5
    loss = F.binary_cross_entropy_with_logits(o_logit, objectness.float())
    stats = {"object_acc": float(((o_logit > 0) == obj).float().mean())}
    if bool(obj.any()):
        loss = loss + F.cross_entropy(c_logit[obj], colour[obj]) + F.cross_entropy(s_logit[obj], shape[obj])
        stats["colour_acc"] = float((c_logit[obj].argmax(1) == colour[obj]).float().mean())
        stats["shape_acc"] = float((s_logit[obj].argmax(1) == shape[obj]).float().mean())
    return loss, stats
