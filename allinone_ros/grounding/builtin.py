"""The built-in grounder: :class:`TextGrounderNet` checkpoints and the :class:`Grounder` around them.

A checkpoint is a ``.safetensors`` file with the network config in its metadata, so
``load_grounder(path)`` rebuilds the network with no other input; loading is strict (missing,
unexpected or mis-shaped keys raise :class:`GroundingModelError` naming the file and the keys).
The frozen text encoder is not stored: it is reloaded from its own directory (default: the
packaged MiniLM-L6).
"""
from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from ..config_io import ConfigError, from_dict, to_dict
from ..ops.normalize import MEAN, image_to_tensor
from ..tracker.preprocess import InputError, check_image
from .base import Candidate, GrounderConfig, GroundingModelError, sort_candidates
from .net import GrounderOutput, TextGrounderConfig, TextGrounderNet, TokenEncoder
from .verifier import VerifierConfig, VerifierNet, crop_batch

log = logging.getLogger(__name__)

FORMAT_NAME = "allinone_ros.text_grounder"
DEFAULT_GROUNDER_NAME = "text_grounder_uav_small.safetensors"
# Score the shipped grounder's best candidate needs before tracking starts from the sentence alone:
# chosen on validation seeds 6001-6005 by scripts/eval_grounder.py --choose-threshold (most starts
# on the target plus refusals of sentences naming an absent object); see models/README.md.
RECOMMENDED_GROUND_THRESHOLD = 0.5


@dataclass(frozen=True)
class Letterbox:
    """Frame -> network input: scale ``scale`` then pad right/bottom (``input = frame * scale``)."""

    scale: float
    resized_wh: tuple[int, int]
    input_wh: tuple[int, int]


def default_grounder_path() -> Path:
    """The shipped grounder in ``models/`` (source tree) or ``share/allinone_ros/models`` (ROS install)."""
    from ..tracker.factory import shipped_model_candidates

    candidates = shipped_model_candidates(DEFAULT_GROUNDER_NAME)
    for path in candidates:
        if path.is_file():
            return path
    raise GroundingModelError(f"the default grounder {DEFAULT_GROUNDER_NAME} is not installed (looked in "
                              f"{[str(p.parent) for p in candidates]}); pass a grounder checkpoint or model directory")


def letterbox(image_rgb: np.ndarray, input_w: int, input_h: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio into ``input_w x input_h``; pad with the mean colour."""
    img_h, img_w = image_rgb.shape[:2]
    scale = min(input_w / img_w, input_h / img_h)
    rw, rh = max(1, min(input_w, round(img_w * scale))), max(1, min(input_h, round(img_h * scale)))
    resized = cv2.resize(image_rgb, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.empty((input_h, input_w, 3), dtype=np.uint8)
    out[:] = np.round(np.asarray(MEAN) * 255.0).astype(np.uint8)
    out[:rh, :rw] = resized
    return out, Letterbox(scale, (rw, rh), (input_w, input_h))


def find_peaks(out: GrounderOutput, stride: int, k: int) -> list[tuple[float, np.ndarray]]:
    """Local maxima (3x3) of the score map, best first: (score, box_xywh in network-input pixels)."""
    score = out.score_map[0, 0]  # (h, w)
    h, w = score.shape
    pooled = F.max_pool2d(score[None, None], 3, stride=1, padding=1)[0, 0]
    peak = (score == pooled).flatten()
    values = torch.where(peak, score.flatten(), torch.zeros_like(score.flatten()))
    top = torch.topk(values, min(k, values.numel()))
    found = []
    for v, idx in zip(top.values.tolist(), top.indices.tolist()):
        if v <= 0.0:
            break
        iy, ix = divmod(idx, w)
        ox, oy = out.offset_map[0, :, iy, ix].tolist()
        sw, sh = out.size_map[0, :, iy, ix].tolist()
        cx, cy = (ix + ox) * stride, (iy + oy) * stride
        bw, bh = sw * w * stride, sh * h * stride
        found.append((float(v), np.array([cx - bw / 2, cy - bh / 2, bw, bh], dtype=np.float64)))
    return found


VERIFIER_PREFIX = "verifier."  # keys of the second stage (VerifierNet) inside a grounder file


def save_grounder(path: str | Path, net: TextGrounderNet, meta: dict[str, Any] | None = None,
                  verifier: VerifierNet | None = None) -> Path:
    """Write the detector (and the verifier, keys ``verifier.*``) with their configs in the metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"grounder checkpoints are .safetensors files, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    md = {"format": FORMAT_NAME, "grounder_config": json.dumps(to_dict(net.cfg))}
    if verifier is not None:
        state.update({VERIFIER_PREFIX + k: v.detach().cpu().contiguous() for k, v in verifier.state_dict().items()})
        md["verifier_config"] = json.dumps(to_dict(verifier.cfg))
    md.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (meta or {}).items()})
    save_file(state, str(path), metadata=md)
    return path


def _read_checkpoint(path: str | Path) -> tuple[Path, dict[str, str], dict[str, torch.Tensor]]:
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GroundingModelError(f"grounder checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GroundingModelError(f"{path}: not a readable safetensors file ({exc})") from exc
    if md.get("format") != FORMAT_NAME:
        raise GroundingModelError(f"{path}: format {md.get('format')!r} is not a grounder checkpoint "
                                  f"(expected {FORMAT_NAME!r})")
    return path, md, state


def _load_strict(path: Path, what: str, module: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        raise GroundingModelError(f"{path}: weights do not fit the {what} (missing {missing}, unexpected "
                                  f"{unexpected}, mis-shaped {shapes})")
    module.load_state_dict(state, strict=True)


def _config(path: Path, md: dict[str, str], key: str, cls: type) -> Any:
    try:
        return from_dict(cls, json.loads(md[key]), where=key)
    except (KeyError, json.JSONDecodeError, ConfigError) as exc:
        raise GroundingModelError(f"{path}: bad or missing {key} metadata ({exc})") from exc


def load_grounder_parts(path: str | Path,
                        device: str | torch.device = "cpu") -> tuple[TextGrounderNet, VerifierNet | None]:
    """The detector and (None in files without one) the verifier stored in ``path``; both loaded strictly."""
    path, md, state = _read_checkpoint(path)
    net = TextGrounderNet(_config(path, md, "grounder_config", TextGrounderConfig))
    _load_strict(path, "grounder", net, {k: v for k, v in state.items() if not k.startswith(VERIFIER_PREFIX)})
    verifier_state = {k[len(VERIFIER_PREFIX):]: v for k, v in state.items() if k.startswith(VERIFIER_PREFIX)}
    verifier = None
    if "verifier_config" in md or verifier_state:
        verifier = VerifierNet(_config(path, md, "verifier_config", VerifierConfig))
        _load_strict(path, "verifier", verifier, verifier_state)
        if verifier.cfg.text_dim != net.cfg.text_dim or verifier.cfg.text_max_len != net.cfg.text_max_len:
            raise GroundingModelError(f"{path}: the verifier reads text of width {verifier.cfg.text_dim} and length "
                                      f"{verifier.cfg.text_max_len}, the grounder gives {net.cfg.text_dim} and "
                                      f"{net.cfg.text_max_len}")
        verifier = verifier.to(device).eval()
    return net.to(device).eval(), verifier


def load_grounder(path: str | Path, device: str | torch.device = "cpu") -> TextGrounderNet:
    """Rebuild the detector network stored in ``path`` (strict)."""
    return load_grounder_parts(path, device)[0]


class BuiltinGrounder:
    """:class:`Grounder` running a :class:`TextGrounderNet` on the whole frame."""

    def __init__(self, net: TextGrounderNet, config: GrounderConfig | None = None,
                 text: TokenEncoder | None = None, verifier: VerifierNet | None = None) -> None:
        self.config = config or GrounderConfig()
        self.device = torch.device(self.config.device)
        self.net = net.to(self.device).eval()
        self.verifier = verifier.to(self.device).eval() if verifier is not None else None
        self.text = (text or TokenEncoder(net.cfg.text_model_dir, net.cfg.text_max_len)).to(self.device)
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, config: GrounderConfig | None = None) -> "BuiltinGrounder":
        cfg = config or GrounderConfig()
        net, verifier = load_grounder_parts(path or default_grounder_path(), cfg.device)
        return cls(net, cfg, verifier=verifier)

    def _tokens(self, sentence: str) -> tuple[torch.Tensor, torch.Tensor]:
        hit = self._cache.get(sentence)
        if hit is None:
            hit = self.text([sentence])
            self._cache[sentence] = hit
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return hit

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]:
        img_h, img_w = check_image(image_rgb)
        if not isinstance(sentence, str) or not sentence.strip():
            raise InputError(f"grounding needs a non-empty sentence, got {sentence!r}")
        cfg = self.net.cfg
        patch, lb = letterbox(image_rgb, cfg.input_width, cfg.input_height)
        tokens, mask = self._tokens(sentence)
        with torch.inference_mode():
            out = self.net(image_to_tensor(patch)[None].to(self.device), tokens, mask)
        peaks = find_peaks(out, cfg.stride, max(self.config.max_candidates,
                                                self.verifier.cfg.proposals if self.verifier else 0))
        floor = self.config.score_threshold if self.verifier is None else self.verifier.cfg.proposal_floor
        placed = []
        for score, box in peaks:
            if score <= floor:
                break
            x1, y1 = max(box[0] / lb.scale, 0.0), max(box[1] / lb.scale, 0.0)
            x2, y2 = min((box[0] + box[2]) / lb.scale, img_w), min((box[1] + box[3]) / lb.scale, img_h)
            if x2 - x1 < self.config.min_box_size or y2 - y1 < self.config.min_box_size:
                continue
            placed.append((score, np.array([x1, y1, x2 - x1, y2 - y1])))
        if self.verifier is not None and placed:
            placed = placed[: self.verifier.cfg.proposals]
            match = self.verify(image_rgb, [box for _, box in placed], sentence)
            placed = [(math.sqrt(score * m), box) for (score, box), m in zip(placed, match)]
        found = [Candidate(box, score, sentence) for score, box in placed if score > self.config.score_threshold]
        return sort_candidates(found)[: self.config.max_candidates]

    @property
    def can_verify(self) -> bool:
        """The checkpoint has the second stage (:meth:`verify` works)."""
        return self.verifier is not None

    def verify(self, image_rgb: np.ndarray, boxes_xywh: list[np.ndarray], sentence: str) -> list[float]:
        """The verifier's probability that each box shows the sentence's object (its colour and shape)."""
        if self.verifier is None:
            raise GroundingModelError("this grounder checkpoint has no verifier")
        if not boxes_xywh:
            return []
        tokens, mask = self._tokens(sentence)
        crops = crop_batch(image_rgb, boxes_xywh, self.verifier.cfg).to(self.device)  # (N, 3, S, S)
        with torch.inference_mode():
            return self.verifier.match(crops, tokens, mask).tolist()
