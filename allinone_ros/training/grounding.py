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

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config_io import ConfigError, from_dict, read_yaml, to_dict
from ..data.synthetic import SHAPES
from ..grounding.builtin import save_grounder
from ..grounding.net import GrounderOutput, TextGrounderConfig, TextGrounderNet, TokenEncoder
from .config import RunConfig, _check_number, apply_overrides
from .data import _worker_init
from .distributed import DistInfo, resolve_device
from .grounding_data import (  # noqa: F401  (FrameDataset, GroundingDataConfig: re-exported)
    COLOUR_NAMES, FrameDataset, GroundingDataConfig, _collate, _EpochView,
)
from .losses import box_cxcywh_to_xyxy, focal_loss, gaussian_radius, giou_loss
from .optim import build_scheduler, restore_scheduler

log = logging.getLogger(__name__)

SECTIONS = ("model", "data", "optim", "schedule", "run")
FINAL_MODEL = "final.safetensors"


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
    # Keep the stride-2 stem (the full-resolution convolutions, with its batch-norm statistics)
    # as initialised: fine-tuning then trains only the sentence-conditioned part, at about half
    # the cost per sample on CPU. Needs --init-from (a random stem would stay random).
    freeze_stem: bool = False

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

    def __init__(self, exp: GroundingExperiment, out_dir: str | Path, resume: bool = False,
                 init_from: str | Path | None = None) -> None:
        self.exp, self.out = exp, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "checkpoints").mkdir(exist_ok=True)
        if exp.run.threads:
            torch.set_num_threads(exp.run.threads)
        self.device = resolve_device(exp.run.device, DistInfo())
        torch.manual_seed(exp.run.seed)
        self.net = TextGrounderNet(exp.model).to(self.device)
        if init_from is not None:
            self._init_from(Path(init_from))
        elif exp.optim.freeze_stem and not resume:
            raise ConfigError("optim.freeze_stem keeps the stem as initialised: it needs --init-from")
        for p in self.net.stem.parameters() if exp.optim.freeze_stem else ():
            p.requires_grad_(False)
        self.text = TokenEncoder(exp.model.text_model_dir, exp.model.text_max_len).to(self.device)
        if self.text.dim != exp.model.text_dim:
            raise ConfigError(f"model.text_dim is {exp.model.text_dim} but the text encoder gives {self.text.dim}")
        use_attributes = exp.optim.attribute_loss > 0
        self.data = FrameDataset.from_config(exp.data, exp.model, exp.run.seed, with_objects=use_attributes)
        self.probe = AttributeProbe(exp.model.stem_channels[-1]).to(self.device) if use_attributes else None
        self.opt = torch.optim.AdamW([p for p in params_of(self.net, self.probe) if p.requires_grad], lr=exp.optim.lr,
                                     weight_decay=exp.optim.weight_decay)
        self.sched = build_scheduler(self.opt, exp.schedule)
        self.epoch = 0
        self._tokens: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if resume:
            self._resume()

    def _init_from(self, path: Path) -> None:
        """Start from the weights of a grounder checkpoint whose network config equals ``model``."""
        from ..grounding.builtin import load_grounder

        source = load_grounder(path, self.device)
        if source.cfg != self.exp.model:
            mine, theirs = to_dict(self.exp.model), to_dict(source.cfg)
            diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs.get(k)}
            raise ConfigError(f"--init-from {path}: its network differs from the config's model section "
                              f"(key: (config, checkpoint)): {diff}")
        self.net.load_state_dict(source.state_dict(), strict=True)
        log.info("initialised the grounder from %s", path)

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
            if exp.optim.freeze_stem:
                self.net.stem.eval()  # batch-norm statistics stay the initial ones
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
