"""Training the grounder's verifier (:class:`~allinone_ros.grounding.verifier.VerifierNet`).

One YAML per experiment with the sections ``model`` (:class:`VerifierConfig`; ``colours`` and
``shapes`` must be words of the synthetic generator), ``data`` (:class:`VerifierDataConfig`, plus
``validation`` sources), ``optim``, ``schedule`` and ``run``; unknown keys are errors.

Three losses per step:

* image: cross-entropy of the colour and the shape of object crops, binary cross-entropy of the
  object logit on all crops (:func:`~allinone_ros.grounding.verifier.match_loss`);
* text: cross-entropy of the colour and shape a sentence of the pool names;
* match: binary cross-entropy of :meth:`VerifierNet.match` for object crops paired with a sentence
  naming them (half), naming their colour on another shape (a quarter) or their shape in another
  colour (a quarter), and for non-object crops paired with any sentence.

The result is written into a copy of the detector's checkpoint (``--grounder``), so one file holds
both stages.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config_io import ConfigError, from_dict, read_yaml, to_dict
from ..grounding.builtin import load_grounder_parts, save_grounder
from ..grounding.net import TokenEncoder
from ..grounding.verifier import VerifierConfig, VerifierNet, match_loss
from .config import DataSource, RunConfig, _check_number, apply_overrides, check_sources
from .distributed import DistInfo, resolve_device
from .grounding import GroundingScheduleConfig
from .data import _worker_init
from .grounding_data import _EpochView
from .optim import build_scheduler
from .verifier_data import (
    CropDataset, VerifierDataConfig, collate_crops, generator_vocabulary, sentence_pool,
)

log = logging.getLogger(__name__)

SECTIONS = ("model", "data", "validation", "optim", "schedule", "run")
FINAL_MODEL = "grounder.safetensors"


@dataclass(frozen=True)
class VerifierOptimConfig:
    lr: float = 2.0e-3
    weight_decay: float = 1.0e-4
    grad_clip: float = 1.0
    frames_per_batch: int = 16
    text_batch: int = 64  # pool sentences per step for the text loss
    match_weight: float = 1.0

    def __post_init__(self) -> None:
        _check_number(self, "lr", low=0.0, low_open=True)
        _check_number(self, "weight_decay", low=0.0)
        _check_number(self, "grad_clip", low=0.0)
        _check_number(self, "frames_per_batch", low=1, integer=True)
        _check_number(self, "text_batch", low=1, integer=True)
        _check_number(self, "match_weight", low=0.0)


@dataclass(frozen=True)
class VerifierValidationConfig:
    sources: tuple[DataSource, ...] = ()  # synthetic, seeds not used for training; () = none
    frames: int = 400

    def __post_init__(self) -> None:
        check_sources(self.sources)
        _check_number(self, "frames", low=1, integer=True)


@dataclass(frozen=True)
class VerifierExperiment:
    model: VerifierConfig
    data: VerifierDataConfig = field(default_factory=VerifierDataConfig)
    validation: VerifierValidationConfig = field(default_factory=VerifierValidationConfig)
    optim: VerifierOptimConfig = field(default_factory=VerifierOptimConfig)
    schedule: GroundingScheduleConfig = field(default_factory=GroundingScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)


def load_verifier_experiment(path: str | Path, overrides: list[str] = ()) -> VerifierExperiment:
    """Read a verifier experiment YAML, apply ``--set`` overrides, validate strictly."""
    data: Any = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sections {list(SECTIONS)}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; sections are {list(SECTIONS)}")
    if "model" not in data:
        raise ConfigError(f"{path}: the model section is required (at least its colours and shapes)")
    exp = from_dict(VerifierExperiment, apply_overrides(data, list(overrides), SECTIONS), where=str(path))
    colours, shapes = generator_vocabulary()
    unknown_words = sorted(set(exp.model.colours) - set(colours) | set(exp.model.shapes) - set(shapes))
    if unknown_words:
        raise ConfigError(f"{path}: model colours/shapes {unknown_words} are not words of the synthetic generator "
                          f"(colours {list(colours)}, shapes {list(shapes)})")
    return exp


class VerifierTrainer:
    """Builds the verifier, its crop data and sentence pool from a :class:`VerifierExperiment`; runs the epochs."""

    def __init__(self, exp: VerifierExperiment, out_dir: str | Path, grounder: str | Path) -> None:
        self.exp, self.out = exp, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if exp.run.threads:
            torch.set_num_threads(exp.run.threads)
        self.device = resolve_device(exp.run.device, DistInfo())
        torch.manual_seed(exp.run.seed)
        self.grounder_path = Path(grounder)
        self.detector, _ = load_grounder_parts(self.grounder_path)
        cfg = exp.model
        if (cfg.text_dim, cfg.text_max_len) != (self.detector.cfg.text_dim, self.detector.cfg.text_max_len):
            raise ConfigError(f"model.text_dim/text_max_len ({cfg.text_dim}, {cfg.text_max_len}) must equal the "
                              f"grounder's ({self.detector.cfg.text_dim}, {self.detector.cfg.text_max_len})")
        self.net = VerifierNet(cfg).to(self.device)
        self.data = CropDataset.from_config(exp.data, cfg, exp.run.seed)
        self.val = (CropDataset.from_config(VerifierDataConfig(sources=exp.validation.sources), cfg, exp.run.seed + 1)
                    if exp.validation.sources else None)
        text = TokenEncoder(self.detector.cfg.text_model_dir, self.detector.cfg.text_max_len).to(self.device)
        sentences, labels = sentence_pool(cfg, exp.data.sentences_per_look, exp.run.seed)
        tokens, masks = [], []
        for i in range(0, len(sentences), 256):
            t, m = text(sentences[i:i + 256])
            tokens.append(torch.nn.functional.pad(t, (0, 0, 0, cfg.text_max_len - t.shape[1])))
            masks.append(torch.nn.functional.pad(m, (0, cfg.text_max_len - m.shape[1])))
        self.tokens = torch.cat(tokens)  # (N, L, D)
        self.masks = torch.cat(masks)  # (N, L)
        self.labels = torch.as_tensor(labels, device=self.device)  # (N, 2) colour, shape
        self.sentences = sentences
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=exp.optim.lr, weight_decay=exp.optim.weight_decay)
        self.sched = build_scheduler(self.opt, exp.schedule)
        self.rng = torch.Generator().manual_seed(exp.run.seed)
        self.epoch = 0

    def _pick_sentences(self, colour: torch.Tensor, shape: torch.Tensor,
                        obj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pool sentence per crop and whether it names the crop (see the module docstring)."""
        n_col, n_shape = len(self.exp.model.colours), len(self.exp.model.shapes)
        n = colour.shape[0]
        roll = torch.rand(n, generator=self.rng)
        want_c = torch.where(obj, colour, torch.randint(n_col, (n,), generator=self.rng))
        want_s = torch.where(obj, shape, torch.randint(n_shape, (n,), generator=self.rng))
        other_c = (want_c + torch.randint(1, n_col, (n,), generator=self.rng)) % n_col
        other_s = (want_s + torch.randint(1, n_shape, (n,), generator=self.rng)) % n_shape
        want_c = torch.where(obj & (roll >= 0.5) & (roll < 0.75), other_c, want_c)
        want_s = torch.where(obj & (roll >= 0.75), other_s, want_s)
        positive = obj & (roll < 0.5)
        per_look = self.exp.data.sentences_per_look
        pick = (want_c * n_shape + want_s) * per_look + torch.randint(per_look, (n,), generator=self.rng)
        return pick, positive

    def step_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        crops = batch["crops"].to(self.device)  # (N, 3, S, S)
        labels = batch["labels"].to(self.device)  # (N, 3) colour, shape, object
        obj = labels[:, 2] > 0
        colour, shape = labels[:, 0].clamp_min(0), labels[:, 1].clamp_min(0)
        loss, stats = match_loss(self.net, crops, colour, shape, labels[:, 2])
        idx = torch.randint(len(self.sentences), (self.exp.optim.text_batch,), generator=self.rng)
        t_colour, t_shape = self.net.forward_text(self.tokens[idx], self.masks[idx])
        text_loss = F.cross_entropy(t_colour, self.labels[idx, 0]) + F.cross_entropy(t_shape, self.labels[idx, 1])
        pick, positive = self._pick_sentences(colour.cpu(), shape.cpu(), obj.cpu())
        prob = self.net.match(crops, self.tokens[pick], self.masks[pick]).clamp(1e-5, 1 - 1e-5)  # (N,)
        match = F.binary_cross_entropy(prob, positive.float().to(self.device))
        stats.update(text=float(text_loss.detach()), match=float(match.detach()),
                     match_acc=float(((prob > 0.5) == positive.to(self.device)).float().mean()))
        return loss + text_loss + self.exp.optim.match_weight * match, stats

    def train(self) -> dict[str, float]:
        exp = self.exp
        steps = exp.data.frames_per_epoch // exp.optim.frames_per_batch
        summary: dict[str, float] = {}
        while self.epoch < exp.schedule.epochs:
            loader = DataLoader(_EpochView(self.data, self.epoch, steps * exp.optim.frames_per_batch),
                                batch_size=exp.optim.frames_per_batch, shuffle=False, drop_last=True,
                                num_workers=exp.data.num_workers, collate_fn=collate_crops,
                                worker_init_fn=_worker_init if exp.data.num_workers else None)
            self.net.train()
            t0, totals, n = time.perf_counter(), {}, 0
            bar = tqdm(loader, total=steps, desc=f"epoch {self.epoch + 1}/{exp.schedule.epochs}",
                       disable=not exp.run.progress)
            for batch in bar:
                loss, stats = self.step_loss(batch)
                if not math.isfinite(float(loss.detach())):
                    raise FloatingPointError(f"verifier loss is {float(loss)} at epoch {self.epoch + 1}, step {n}")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if exp.optim.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.net.parameters(), exp.optim.grad_clip)
                self.opt.step()
                for k, v in {"loss": float(loss.detach()), **stats}.items():
                    totals[k] = totals.get(k, 0.0) + v
                n += 1
                bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
            self.sched.step()
            self.epoch += 1
            summary = {k: v / max(n, 1) for k, v in totals.items()}
            summary.update(epoch=self.epoch, seconds=time.perf_counter() - t0)
            if self.val is not None:
                summary.update({f"val_{k}": v for k, v in self.validate().items()})
            log.info("epoch %d: %s", self.epoch, {k: round(v, 4) for k, v in summary.items()})
        self.save(summary)
        return summary

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Accuracies and match figures on the validation frames (fixed draws: epoch -1 of the validation set)."""
        assert self.val is not None
        self.net.eval()
        state = self.rng.get_state()
        self.rng.manual_seed(12345)
        totals: dict[str, float] = {}
        count = 0
        # through worker processes like training: the main process never runs OpenCV, so forking
        # the next epoch's workers cannot inherit a busy OpenCV thread pool (a deadlock)
        loader = DataLoader(_EpochView(self.val, 0, self.exp.validation.frames), batch_size=32, shuffle=False,
                            num_workers=self.exp.data.num_workers, collate_fn=collate_crops,
                            worker_init_fn=_worker_init if self.exp.data.num_workers else None)
        for batch in loader:
            _, stats = self.step_loss(batch)
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            count += 1
        self.rng.set_state(state)
        self.net.train()
        return {k: v / max(count, 1) for k, v in totals.items()}

    def save(self, summary: dict[str, float]) -> Path:
        """The detector of ``--grounder`` with this verifier, in ``<out>/grounder.safetensors``."""
        from safetensors import safe_open

        with safe_open(str(self.grounder_path), framework="pt") as f:
            meta = {k: v for k, v in (f.metadata() or {}).items()
                    if k not in ("format", "grounder_config", "verifier_config")}
        meta["verifier"] = json.dumps({"experiment": to_dict(self.exp), "summary": summary,
                                       "detector": self.grounder_path.name})
        return save_grounder(self.out / FINAL_MODEL, self.detector, meta, verifier=self.net.eval())
