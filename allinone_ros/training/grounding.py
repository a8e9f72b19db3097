"""Training the built-in grounder (:class:`~allinone_ros.grounding.net.TextGrounderNet`).

One YAML per experiment with the sections ``model`` (:class:`TextGrounderConfig`), ``data``,
``optim``, ``schedule`` and ``run`` (:class:`~allinone_ros.training.config.RunConfig`); unknown
keys are errors. Samples are whole frames with their sequence's sentence, letterboxed to the
network input; a frame whose target is out of view or fully occluded is a negative (empty heat
map, no box loss), so the score stays low when the named object is not in the picture.
Losses are the tracker's: focal loss on the Gaussian centre map, L1 and GIoU on the box decoded
at the true centre cell (weights 1, 5, 2). Every sample is a pure function of
``(seed, epoch, index)``, as for the tracker.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..config_io import ConfigError, from_dict, read_yaml, to_dict
from ..data.augment import adjust_brightness, swap_left_right
from ..data.frames import read_frame
from ..data.sequence import DatasetLayoutError, Sequence
from ..data.synthetic import (
    COLOURS_RGB, SHAPES, ObjectTrack, clip_box_to_frame, describe_object, plain_description, scene_objects,
)
from ..grounding.builtin import letterbox, normalize_frame, save_grounder
from ..grounding.net import GrounderOutput, TextGrounderConfig, TextGrounderNet, TokenEncoder
from .config import DataSource, RunConfig, _check_number, apply_overrides
from .data import read_source
from .distributed import DistInfo, resolve_device
from .losses import box_cxcywh_to_xyxy, focal_loss, gaussian_radius, giou_loss
from .optim import build_scheduler, restore_scheduler

log = logging.getLogger(__name__)

SECTIONS = ("model", "data", "optim", "schedule", "run")
FINAL_MODEL = "final.safetensors"


@dataclass(frozen=True)
class GroundingDataConfig:
    sources: tuple[DataSource, ...] = ()
    samples_per_epoch: int = 4000
    first_frame_prob: float = 0.3  # the sentence describes the first frame: draw it this often
    # Synthetic sources (meta.json beside the frames) only; see FrameDataset.
    scene_sentences: bool = False  # describe the target in the drawn frame, not with the first-frame sentence
    other_object_prob: float = 0.0  # the referent is another object of the scene, with a generated sentence
    absent_object_prob: float = 0.0  # the sentence names a colour/shape that is not in the scene: a negative
    paired_referents: bool = False  # samples 2i and 2i+1 share a frame: the target, then another object
    max_objects: int = 8  # attribute loss: at most this many objects of a scene per sample
    brightness_jitter: float = 0.2
    hflip_prob: float = 0.5  # mirrors the frame and swaps "left"/"right" in the sentence
    min_box_size: float = 2.0  # smaller visible boxes count as absent (pixels of the frame)
    num_workers: int = 1

    def __post_init__(self) -> None:
        for i, src in enumerate(self.sources):
            if not isinstance(src, DataSource):
                raise ValueError(f"data.sources[{i}] must be a mapping with kind/root, got {src!r}")
        _check_number(self, "samples_per_epoch", low=1, integer=True)
        _check_number(self, "num_workers", low=0, integer=True)
        _check_number(self, "min_box_size", low=0.0)
        _check_number(self, "max_objects", low=1, integer=True)
        for name in ("first_frame_prob", "brightness_jitter", "hflip_prob", "other_object_prob",
                     "absent_object_prob"):
            _check_number(self, name, low=0.0, high=1.0)
        if self.other_object_prob + self.absent_object_prob > 1.0:
            raise ValueError(f"other_object_prob + absent_object_prob must be <= 1, got "
                             f"{self.other_object_prob} + {self.absent_object_prob}")


@dataclass(frozen=True)
class GroundingOptimConfig:
    lr: float = 2.0e-3
    weight_decay: float = 1.0e-4
    grad_clip: float = 1.0
    batch_size: int = 32
    # Weight of the attribute loss (0 = off): a 1x1 probe on the sentence-independent features
    # (TextGrounderNet.forward_features) must tell the colour and the shape of every object of a
    # synthetic scene at its centre cell. It makes the features carry what sentences talk about;
    # the probe is training-only (not in the exported grounder).
    attribute_loss: float = 0.0

    def __post_init__(self) -> None:
        _check_number(self, "lr", low=0.0, low_open=True)
        _check_number(self, "weight_decay", low=0.0)
        _check_number(self, "grad_clip", low=0.0)
        _check_number(self, "batch_size", low=1, integer=True)
        _check_number(self, "attribute_loss", low=0.0)


@dataclass(frozen=True)
class GroundingScheduleConfig:
    epochs: int = 20
    lr_drop_epochs: tuple[int, ...] = (15,)
    lr_drop_factor: float = 0.1

    def __post_init__(self) -> None:
        _check_number(self, "epochs", low=1, integer=True)
        _check_number(self, "lr_drop_factor", low=0.0, low_open=True, high=1.0)
        if list(self.lr_drop_epochs) != sorted(set(self.lr_drop_epochs)) or any(e < 1 for e in self.lr_drop_epochs):
            raise ValueError(f"lr_drop_epochs must be strictly increasing positive integers, got {self.lr_drop_epochs!r}")


@dataclass(frozen=True)
class GroundingExperiment:
    model: TextGrounderConfig = field(default_factory=TextGrounderConfig)
    data: GroundingDataConfig = field(default_factory=GroundingDataConfig)
    optim: GroundingOptimConfig = field(default_factory=GroundingOptimConfig)
    schedule: GroundingScheduleConfig = field(default_factory=GroundingScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)


def load_grounding_experiment(path: str | Path | None, overrides: list[str] = ()) -> GroundingExperiment:
    """Read a grounder experiment YAML (None: defaults), apply ``--set`` overrides, validate strictly."""
    data: Any = read_yaml(path) if path is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sections {list(SECTIONS)}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; sections are {list(SECTIONS)}")
    return from_dict(GroundingExperiment, apply_overrides(data, list(overrides)),
                     where=str(path) if path else "grounding experiment")


# --------------------------------------------------------------------------- samples


class FrameDataset:
    """Whole frames with a sentence and the box it refers to, letterboxed.

    By default the sample is the sequence's target with the sequence's (first-frame) sentence.
    Synthetic sources keep every object of the scene in ``meta.json``
    (:func:`~allinone_ros.data.synthetic.scene_objects`); with them, three options teach the
    network to tell the named object from the others rather than to find "the odd one out":

    * ``scene_sentences``: on frames after the first, the target is described anew in that
      frame (its position then, a relation to another object in view then);
    * ``other_object_prob``: another object that lies wholly in the frame and does not touch
      the target is the referent, described by a generated sentence
      (:func:`~allinone_ros.data.synthetic.describe_object`);
    * ``absent_object_prob``: the sentence names the target's shape in a colour, or its colour on
      a shape, that no object of the scene has; the sample is a negative (empty heat map);
    * ``paired_referents``: samples ``2i`` and ``2i + 1`` show the same frame (same flip and
      brightness); ``2i`` refers to the target, ``2i + 1`` to another object of the scene (the
      target again when no other is wholly in view). A batch then holds the same picture with
      two sentences and two answers, the contrast that teaches which words pick which object.
      ``absent_object_prob`` then makes odd samples negatives; ``other_object_prob`` is not used.
    """

    def __init__(self, sources: list[tuple[list[Sequence], float]], data: GroundingDataConfig,
                 model: TextGrounderConfig, seed: int, scene_meta: list[bool] | None = None,
                 with_objects: bool = False) -> None:
        if not sources:
            raise ValueError("the grounding data needs at least one source (data.sources)")
        self.sources = sources
        self.data, self.model, self.seed = data, model, seed
        self.scene_meta = scene_meta or [False] * len(sources)
        self.with_objects = with_objects  # add every object's box, colour and shape (attribute loss)
        w = np.array([s[1] for s in sources], dtype=np.float64)
        self.probs = w / w.sum()
        self._objects: dict[str, list[ObjectTrack]] = {}

    @classmethod
    def from_config(cls, data: GroundingDataConfig, model: TextGrounderConfig, seed: int,
                    with_objects: bool = False) -> "FrameDataset":
        sources, scene_meta = [], []
        for src in data.sources:
            seqs = [s for s in read_source(src) if s.has_full_groundtruth]
            if not seqs:
                raise DatasetLayoutError(f"data source {src.kind!r} at {src.root}: no sequences with full ground truth")
            log.info("grounding data %s:%s: %d sequences, weight %g", src.kind, src.root, len(seqs), src.weight)
            sources.append((seqs, src.weight))
            scene_meta.append(src.kind == "synthetic")
        return cls(sources, data, model, seed, scene_meta, with_objects)

    def objects(self, seq: Sequence) -> list[ObjectTrack]:
        """The scene's objects (target first) from the ``meta.json`` of a synthetic sequence."""
        seq_dir = Path(seq.frame_paths[0]).parent.parent
        key = str(seq_dir)
        if key not in self._objects:
            path = seq_dir / "meta.json"
            try:
                meta = json.loads(path.read_text(encoding="utf-8"))
                self._objects[key] = scene_objects(meta)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise DatasetLayoutError(f"{path}: not a readable synthetic scene description ({exc}); "
                                         "synthetic sources need the meta.json that allinone-make-synthetic "
                                         "writes") from exc
        return self._objects[key]

    def sample(self, epoch: int, index: int) -> dict[str, Any]:
        paired = self.data.paired_referents
        # paired: both samples of a pair draw the frame and its augmentation from the pair's stream
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index // 2 if paired else index]))
        src = int(rng.choice(len(self.sources), p=self.probs))
        seqs = self.sources[src][0]
        seq = seqs[int(rng.integers(len(seqs)))]
        k = 0 if rng.random() < self.data.first_frame_prob else int(rng.integers(len(seq)))
        flip_roll, bright = rng.random(), rng.uniform(1.0 - self.data.brightness_jitter, 1.0 + self.data.brightness_jitter)
        image = read_frame(seq.frame_paths[k])
        box = np.asarray(seq.boxes_xywh[k], dtype=np.float64)
        present = bool(seq.visible[k]) and box[2] >= self.data.min_box_size and box[3] >= self.data.min_box_size
        sentence = seq.sentence
        if self.scene_meta[src]:
            ref_rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index, 1])) if paired else rng
            mode = ("target" if index % 2 == 0 else "other") if paired else "draw"
            box, present, sentence = self._referent(seq, k, ref_rng, image.shape[:2], box, present, mode)
        if flip_roll < self.data.hflip_prob:
            image = np.ascontiguousarray(image[:, ::-1])
            box = np.array([image.shape[1] - box[0] - box[2], box[1], box[2], box[3]])
            sentence = swap_left_right(sentence)
        patch, lb = letterbox(image, self.model.input_width, self.model.input_height)
        patch = adjust_brightness(patch, float(bright))
        box_in = box * lb.scale if present else np.zeros(4)
        sample = {"image": normalize_frame(patch), "box_xywh": torch.tensor(box_in, dtype=torch.float32),
                  "present": present, "sentence": sentence, "sequence": seq.name, "frame": k}
        if self.with_objects:
            objects = self._scene_attributes(seq, k, image.shape[:2]) if self.scene_meta[src] else np.zeros((0, 6))
            if flip_roll < self.data.hflip_prob and len(objects):
                objects[:, 0] = image.shape[1] - objects[:, 0] - objects[:, 2]
            objects[:, :4] *= lb.scale
            sample["objects"] = torch.tensor(objects, dtype=torch.float32)
        return sample

    def _scene_attributes(self, seq: Sequence, k: int, image_hw: tuple[int, int]) -> np.ndarray:
        """(N, 6) rows ``x, y, w, h, colour index, shape index`` (frame pixels) of the objects seen in frame ``k``.

        The target counts where the ground truth has it visible; another object where its centre is
        in the frame and it does not touch the target (the target is drawn over it).
        """
        height, width = image_hw
        objects = self.objects(seq)
        target_box = np.asarray(seq.boxes_xywh[k], dtype=np.float64)
        target_visible = bool(seq.visible[k])
        rows = []
        for i, obj in enumerate(objects):
            box = target_box if i == 0 else clip_box_to_frame(obj.track_xywh[k], width, height)
            if i == 0 and not target_visible:
                continue
            if box[2] < self.data.min_box_size or box[3] < self.data.min_box_size:
                continue
            cx, cy = obj.centre_xy(k)
            if i > 0 and not (0.0 <= cx < width and 0.0 <= cy < height):
                continue
            if i > 0 and target_visible and _overlap(box, target_box):
                continue
            rows.append([*box, COLOUR_NAMES.index(obj.colour), SHAPES.index(obj.shape)])
        return np.array(rows[: self.data.max_objects], dtype=np.float64).reshape(-1, 6)

    def _referent(self, seq: Sequence, k: int, rng: np.random.Generator, image_hw: tuple[int, int],
                  target_box: np.ndarray, target_present: bool, mode: str = "draw") -> tuple[np.ndarray, bool, str]:
        """(box_xywh, present, sentence) of the sample's referent in frame ``k`` (see the class docstring).

        ``mode``: ``"draw"`` picks the referent with the configured probabilities, ``"target"``
        always the target, ``"other"`` another object unless the absent-object draw makes it a
        negative (paired samples).
        """
        objects = self.objects(seq)
        height, width = image_hw
        if mode == "draw":
            roll = rng.random()
            negative = roll < self.data.absent_object_prob
            want_other = not negative and roll < self.data.absent_object_prob + self.data.other_object_prob
        elif mode == "other":
            negative = rng.random() < self.data.absent_object_prob
            want_other = not negative
        else:
            negative = want_other = False
        if negative:  # 8 colours x 6 shapes: never all taken by a scene
            looks = {(o.shape, o.colour) for o in objects}
            target = objects[0]
            options = [(target.shape, c) for c in COLOURS_RGB if (target.shape, c) not in looks]
            options += [(sh, target.colour) for sh in SHAPES if (sh, target.colour) not in looks]
            shape, colour = options[int(rng.integers(len(options)))]
            return np.zeros(4), False, plain_description(rng, shape, colour)

        def in_frame(o: ObjectTrack) -> bool:
            x, y, w, h = o.track_xywh[k]
            return x >= 0.0 and y >= 0.0 and x + w <= width and y + h <= height

        def touches_target(o: ObjectTrack) -> bool:
            x, y, w, h = o.track_xywh[k]
            tx, ty, tw, th = target_box
            return target_present and min(x + w, tx + tw) > max(x, tx) and min(y + h, ty + th) > max(y, ty)

        referent = 0
        if want_other:
            choices = [i for i in range(1, len(objects)) if in_frame(objects[i]) and not touches_target(objects[i])]
            if choices:
                referent = choices[int(rng.integers(len(choices)))]
        if referent == 0 and (k == 0 or not self.data.scene_sentences or not target_present):
            return target_box, target_present, seq.sentence
        obj = objects[referent]
        others = [o for i, o in enumerate(objects) if i != referent and (target_present if i == 0 else in_frame(o))]
        other = others[int(rng.integers(len(others)))] if others else None
        related = (other.shape, other.colour, other.centre_xy(k)) if other is not None else None
        sentence = describe_object(rng, obj.shape, obj.colour, obj.centre_xy(k), related, width, height)
        if referent == 0:
            return target_box, True, sentence
        return clip_box_to_frame(obj.track_xywh[k], width, height), True, sentence


COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS_RGB)


def _overlap(a_xywh: np.ndarray, b_xywh: np.ndarray) -> bool:
    return (min(a_xywh[0] + a_xywh[2], b_xywh[0] + b_xywh[2]) > max(a_xywh[0], b_xywh[0])
            and min(a_xywh[1] + a_xywh[3], b_xywh[1] + b_xywh[3]) > max(a_xywh[1], b_xywh[1]))


class _EpochView(Dataset):
    def __init__(self, dataset: FrameDataset, epoch: int, count: int) -> None:
        self.dataset, self.epoch, self.count = dataset, epoch, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, k: int) -> dict[str, Any]:
        return self.dataset.sample(self.epoch, k)


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    batch = {"image": torch.stack([it["image"] for it in items]),
             "box_xywh": torch.stack([it["box_xywh"] for it in items]),
             "present": torch.tensor([it["present"] for it in items]),
             "sentence": [it["sentence"] for it in items]}
    if "objects" in items[0]:  # (B, M, 6), padded with rows of -1
        m = max(1, max(len(it["objects"]) for it in items))
        objects = torch.full((len(items), m, 6), -1.0)
        for i, it in enumerate(items):
            objects[i, : len(it["objects"])] = it["objects"]
        batch["objects"] = objects
    return batch


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


# --------------------------------------------------------------------------- loss


def centre_heatmap(box_xywh: torch.Tensor, present: torch.Tensor, grid_hw: tuple[int, int], stride: int) -> torch.Tensor:
    """(B, 1, h, w) Gaussian centre maps (peak 1 at the centre's cell); all zeros where absent."""
    h, w = grid_hw
    cells = box_xywh / stride  # (B, 4) in cells
    cx = (cells[:, 0] + cells[:, 2] / 2).floor().clamp(0, w - 1)
    cy = (cells[:, 1] + cells[:, 3] / 2).floor().clamp(0, h - 1)
    radius = gaussian_radius(cells[:, 2], cells[:, 3]).clamp_min(0.0).floor()
    sigma = (2.0 * radius + 1.0) / 6.0
    dx = torch.arange(w, dtype=torch.float32, device=box_xywh.device)[None, :] - cx[:, None]  # (B, w)
    dy = torch.arange(h, dtype=torch.float32, device=box_xywh.device)[None, :] - cy[:, None]  # (B, h)
    heat = torch.exp(-(dy[:, :, None] ** 2 + dx[:, None, :] ** 2) / (2.0 * sigma[:, None, None] ** 2))
    window = (dy.abs() <= radius[:, None])[:, :, None] & (dx.abs() <= radius[:, None])[:, None, :]
    heat = torch.where(window, heat, torch.zeros_like(heat)) * present[:, None, None].float()
    return heat[:, None]  # (B, 1, h, w)


def boxes_at(out: GrounderOutput, cells_yx: torch.Tensor, stride: int) -> torch.Tensor:
    """(N, 4) ``box_xywh`` (network-input pixels) decoded at the given (N, 2) integer cells."""
    b = torch.arange(cells_yx.shape[0], device=cells_yx.device)
    iy, ix = cells_yx[:, 0], cells_yx[:, 1]
    h, w = out.score_map.shape[-2:]
    size = out.size_map[b, :, iy, ix]  # (N, 2)
    off = out.offset_map[b, :, iy, ix]  # (N, 2)
    cx, cy = (ix + off[:, 0]) * stride, (iy + off[:, 1]) * stride
    bw, bh = size[:, 0] * w * stride, size[:, 1] * h * stride
    return torch.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1)


def grounding_loss(out: GrounderOutput, box_xywh: torch.Tensor, present: torch.Tensor,
                   stride: int) -> tuple[torch.Tensor, dict[str, float]]:
    grid = tuple(out.score_map.shape[-2:])
    gt_heat = centre_heatmap(box_xywh, present, grid, stride)  # (B, 1, h, w)
    focal = focal_loss(out.score_map, gt_heat)
    stats = {"focal": float(focal.detach())}
    if not bool(present.any()):
        return focal, {**stats, "l1": 0.0, "giou": 0.0, "iou": float("nan")}
    gt = box_xywh[present]  # (P, 4)
    cx = ((gt[:, 0] + gt[:, 2] / 2) / stride).floor().clamp(0, grid[1] - 1).long()
    cy = ((gt[:, 1] + gt[:, 3] / 2) / stride).floor().clamp(0, grid[0] - 1).long()
    sub = GrounderOutput(*(t[present] for t in out))
    pred = boxes_at(sub, torch.stack([cy, cx], 1), stride)  # (P, 4)
    scale = torch.tensor([grid[1], grid[0], grid[1], grid[0]], dtype=pred.dtype, device=pred.device) * stride

    def xyxy(b: torch.Tensor) -> torch.Tensor:
        return box_cxcywh_to_xyxy(torch.cat([b[:, :2] + b[:, 2:] / 2, b[:, 2:]], 1) / scale)

    giou, iou = giou_loss(xyxy(pred), xyxy(gt))
    l1 = (pred / scale - gt / scale).abs().mean()
    total_iou = float(iou.detach().mean())
    total = focal + 5.0 * l1 + 2.0 * giou
    return total, {**stats, "l1": float(l1.detach()), "giou": float(giou.detach()), "iou": total_iou}


class AttributeProbe(torch.nn.Module):
    """Training-only 1x1 probe: features (B, C, h, w) -> colour and shape logits per cell."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, len(COLOUR_NAMES) + len(SHAPES), 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(features)  # (B, colours + shapes, h, w)


def attribute_loss(logits: torch.Tensor, objects: torch.Tensor, stride: int) -> tuple[torch.Tensor, float]:
    """Cross-entropy of colour + shape at every object's centre cell; (loss, accuracy of both).

    ``objects`` (B, M, 6): ``x, y, w, h, colour, shape`` in network-input pixels, rows of -1 are padding.
    """
    h, w = logits.shape[-2:]
    valid = objects[..., 4] >= 0  # (B, M)
    if not bool(valid.any()):
        return logits.sum() * 0.0, float("nan")
    b_idx = torch.arange(objects.shape[0], device=objects.device)[:, None].expand_as(valid)[valid]
    rows = objects[valid]  # (N, 6)
    ix = ((rows[:, 0] + rows[:, 2] / 2) / stride).floor().clamp(0, w - 1).long()
    iy = ((rows[:, 1] + rows[:, 3] / 2) / stride).floor().clamp(0, h - 1).long()
    cell = logits[b_idx, :, iy, ix]  # (N, colours + shapes)
    n_col = len(COLOUR_NAMES)
    colour, shape = rows[:, 4].long(), rows[:, 5].long()
    loss = F.cross_entropy(cell[:, :n_col], colour) + F.cross_entropy(cell[:, n_col:], shape)
    right = (cell[:, :n_col].argmax(1) == colour) & (cell[:, n_col:].argmax(1) == shape)
    return loss, float(right.float().mean())


# --------------------------------------------------------------------------- loop


def params_of(*modules: torch.nn.Module | None) -> list[torch.nn.Parameter]:
    return [p for m in modules if m is not None for p in m.parameters()]


class GroundingTrainer:
    """Builds the network and data from a :class:`GroundingExperiment` and runs the epochs."""

    def __init__(self, exp: GroundingExperiment, out_dir: str | Path, resume: bool = False) -> None:
        self.exp, self.out = exp, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "checkpoints").mkdir(exist_ok=True)
        if exp.run.threads:
            torch.set_num_threads(exp.run.threads)
        self.device = resolve_device(exp.run.device, DistInfo())
        torch.manual_seed(exp.run.seed)
        self.net = TextGrounderNet(exp.model).to(self.device)
        self.text = TokenEncoder(exp.model.text_model_dir, exp.model.text_max_len).to(self.device)
        if self.text.dim != exp.model.text_dim:
            raise ConfigError(f"model.text_dim is {exp.model.text_dim} but the text encoder gives {self.text.dim}")
        use_attributes = exp.optim.attribute_loss > 0
        self.data = FrameDataset.from_config(exp.data, exp.model, exp.run.seed, with_objects=use_attributes)
        self.probe = AttributeProbe(exp.model.stem_channels[-1]).to(self.device) if use_attributes else None
        self.opt = torch.optim.AdamW(params_of(self.net, self.probe), lr=exp.optim.lr, weight_decay=exp.optim.weight_decay)
        self.sched = build_scheduler(self.opt, exp.schedule)
        self.epoch = 0
        self._tokens: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if resume:
            self._resume()

    def _resume(self) -> None:
        ckpts = sorted((self.out / "checkpoints").glob("epoch_*.pt"))
        if not ckpts:
            log.info("no checkpoint in %s/checkpoints: starting from scratch", self.out)
            return
        state = torch.load(ckpts[-1], map_location=self.device, weights_only=True)
        self.net.load_state_dict(state["model"], strict=True)
        if self.probe is not None:
            self.probe.load_state_dict(state["probe"], strict=True)
        self.opt.load_state_dict(state["optimizer"])
        restore_scheduler(self.sched, state["scheduler"], self.exp.schedule)
        self.epoch = int(state["epoch"])
        log.info("resumed from %s (epoch %d done)", ckpts[-1], self.epoch)

    def _text(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        for s in set(sentences) - set(self._tokens):
            tok, mask = self.text([s])
            self._tokens[s] = (tok[0], mask[0])
        return (torch.stack([self._tokens[s][0] for s in sentences]),
                torch.stack([self._tokens[s][1] for s in sentences]))

    def train(self) -> dict[str, float]:
        exp = self.exp
        steps = exp.data.samples_per_epoch // exp.optim.batch_size
        summary: dict[str, float] = {}
        while self.epoch < exp.schedule.epochs:
            loader = DataLoader(_EpochView(self.data, self.epoch, steps * exp.optim.batch_size),
                                batch_size=exp.optim.batch_size, shuffle=False, drop_last=True,
                                num_workers=exp.data.num_workers, collate_fn=_collate,
                                worker_init_fn=_worker_init if exp.data.num_workers else None)
            self.net.train()
            t0, totals, n, ious, accs = time.perf_counter(), {"loss": 0.0}, 0, [], []
            bar = tqdm(loader, total=steps, desc=f"epoch {self.epoch + 1}/{exp.schedule.epochs}",
                       disable=not exp.run.progress)
            for batch in bar:
                tokens, mask = self._text(batch["sentence"])
                features = self.net.forward_features(batch["image"].to(self.device))  # (B, C, h, w)
                out = self.net.forward_head(features, tokens, mask)
                loss, stats = grounding_loss(out, batch["box_xywh"].to(self.device),
                                             batch["present"].to(self.device), self.net.cfg.stride)
                if self.probe is not None:
                    attr, acc = attribute_loss(self.probe(features), batch["objects"].to(self.device),
                                               self.net.cfg.stride)
                    loss = loss + exp.optim.attribute_loss * attr
                    stats["attribute"] = float(attr.detach())
                    if math.isfinite(acc):
                        accs.append(acc)
                if not math.isfinite(float(loss.detach())):
                    raise FloatingPointError(f"grounding loss is {float(loss)} at epoch {self.epoch + 1}, step {n}")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if exp.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(params_of(self.net, self.probe), exp.optim.grad_clip)
                self.opt.step()
                totals["loss"] += float(loss.detach())
                for k, v in stats.items():
                    if k != "iou":
                        totals[k] = totals.get(k, 0.0) + v
                if math.isfinite(stats["iou"]):
                    ious.append(stats["iou"])
                n += 1
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}", iou=f"{stats['iou']:.2f}")
            self.sched.step()
            self.epoch += 1
            dt = time.perf_counter() - t0
            summary = {k: v / max(n, 1) for k, v in totals.items()}
            summary.update(iou=float(np.mean(ious)) if ious else float("nan"),
                           samples_per_s=n * exp.optim.batch_size / dt, epoch=self.epoch)
            if accs:
                summary["attribute_accuracy"] = float(np.mean(accs))
            log.info("epoch %d: %s", self.epoch, {k: round(v, 4) for k, v in summary.items()})
            self._save_epoch()
        save_grounder(self.out / FINAL_MODEL, self.net, {"epochs": self.epoch, "experiment": to_dict(exp)})
        return summary

    def _save_epoch(self) -> None:
        path = self.out / "checkpoints" / f"epoch_{self.epoch:04d}.pt"
        torch.save({"model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                    **({"probe": self.probe.state_dict()} if self.probe is not None else {}),
                    "scheduler": self.sched.state_dict(), "epoch": self.epoch}, path)
        keep = self.exp.run.keep_checkpoints
        old = sorted((self.out / "checkpoints").glob("epoch_*.pt"))
        for p in old[:-keep] if keep else []:
            p.unlink()
