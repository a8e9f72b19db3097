"""The training loop: one :class:`Trainer` per process (``torchrun`` starts one per GPU)."""
from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import load_model, save_checkpoint
from ..model import AllInOne, build_model
from ..model.language import SentenceTokenizer
from ..tracker.postprocess import decode_box
from .config import ExperimentConfig, experiment_to_dict
from .data import PairDataset, build_loader
from .distributed import DistInfo, all_reduce_mean, barrier, init_distributed, resolve_device
from .finetune import init_from_checkpoint, write_report
from .forward import TextFeatureCache, TrainingForward, text_is_frozen
from .losses import TrackingLoss, keep_rate_schedule
from .optim import build_optimizer, build_scheduler, freeze_unused, grad_norm_clip, restore_scheduler
from .state import latest_checkpoint, load_training_state, restore_rng, save_training_state
from .tb import ScalarLogger

log = logging.getLogger(__name__)

FINAL_MODEL = "final.safetensors"
HISTORY_STEPS = 10_000  # per-step stats kept in memory for the summary (the newest ones)


@dataclass
class TrainSummary:
    epochs: int  # completed epochs (in total, including resumed ones)
    global_step: int
    samples_per_s: float  # this session's average training throughput, all ranks together
    last_epoch_loss: dict[str, float]
    final_model: Path | None
    history: list[dict[str, float]] = field(default_factory=list)  # per-step stats (newest HISTORY_STEPS)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``run.amp`` on ``device`` (None = full precision)."""
    if device.type != "cuda" or mode == "off":
        if mode in ("bf16", "fp16") and device.type != "cuda":
            log.warning("run.amp=%s ignored on %s: mixed precision is used on CUDA only", mode, device)
        return None
    if mode == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[mode]


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, rank, 0x5EED]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Builds model, data, optimizer from an :class:`ExperimentConfig` and runs the epochs.

    ``init_from``: a checkpoint to fine-tune from (released format or ours; what does not fit
    is logged key by key and written to ``<out>/init_report.json``). ``resume``: continue from
    the newest epoch checkpoint in ``<out>/checkpoints`` exactly where it stopped.
    """

    def __init__(
        self,
        exp: ExperimentConfig,
        out_dir: str | Path,
        dist: DistInfo | None = None,
        init_from: str | Path | None = None,
        resume: bool = False,
        trust: bool = False,
    ) -> None:
        self.exp = exp
        self.out_dir = Path(out_dir)
        self.dist = dist or DistInfo()
        run = exp.run
        if run.threads > 0:
            torch.set_num_threads(run.threads)
        self.device = resolve_device(run.device, self.dist)
        init_distributed(self.dist, self.device)
        self.amp = amp_dtype(run.amp, self.device)
        if not exp.data.sources:
            raise ValueError("data.sources is empty: name at least one dataset to train on")
        if resume and init_from:
            raise ValueError("--resume and --init-from exclude each other: a resumed run already has its weights")

        seed_everything(run.seed)  # identical initial weights on every rank
        self.model: AllInOne = build_model(exp.model)
        freeze_unused(self.model)
        if init_from:
            report = init_from_checkpoint(self.model, init_from, trust=trust)
            if self.dist.is_main:
                loaded = len(self.model.state_dict()) - len(report.missing)
                write_report(report, self.out_dir / "init_report.json", init_from, loaded)
        self.model.to(self.device)
        self.forward_module: torch.nn.Module = TrainingForward(self.model)
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.forward_module = torch.nn.parallel.DistributedDataParallel(self.forward_module, device_ids=ids)
        self.optimizer = build_optimizer(self.model, exp.optim)
        self.scheduler = build_scheduler(self.optimizer, exp.schedule)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.criterion = TrackingLoss(exp.loss)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]

        self.tokenizer = SentenceTokenizer(exp.model.text_model_dir, max_len=exp.model.text_max_len)
        self.text_cache = TextFeatureCache(self.model) if text_is_frozen(self.model) else None
        self.dataset = PairDataset.from_config(exp.data, exp.model, seed=run.seed)
        global_batch = exp.optim.batch_size * self.dist.world_size
        self.steps_per_epoch = exp.data.samples_per_epoch // global_batch
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"data.samples_per_epoch {exp.data.samples_per_epoch} is smaller than one global batch "
                f"({exp.optim.batch_size} x {self.dist.world_size} processes)"
            )
        self.epoch = 0
        self.global_step = 0
        if resume:
            self._resume()
        self.experiment_dict = experiment_to_dict(exp)

    # -- resume ---------------------------------------------------------------------------------
    def _resume(self) -> None:
        ckpt = latest_checkpoint(self.out_dir)
        if ckpt is None:
            raise FileNotFoundError(f"--resume: no epoch checkpoint under {self.out_dir / 'checkpoints'}")
        st = load_training_state(ckpt)
        saved = load_model(st.model_path, device=self.device)
        self.model.load_state_dict(saved.state_dict(), strict=True)
        del saved
        self.optimizer.load_state_dict(st.optimizer)
        restore_scheduler(self.scheduler, st.scheduler, self.exp.schedule)
        if st.scaler is not None:
            self.scaler.load_state_dict(st.scaler)
        current = experiment_to_dict(self.exp)
        for section, values in current.items():
            if st.experiment.get(section) != values:
                log.warning("resume: config section %r differs from the checkpoint's; using the new one", section)
        self.epoch, self.global_step = st.epoch, st.global_step
        restore_rng(st.rng)  # rank 0's python/numpy/torch states (torch is re-seeded per epoch and rank too)
        log.info("resumed from %s: %d epochs, %d steps done", ckpt, self.epoch, self.global_step)

    # -- one step -------------------------------------------------------------------------------
    def keep_ratio(self, step_in_epoch: int) -> float:
        start, end = self.exp.schedule.keep_rate_warmup
        epoch = self.epoch + step_in_epoch / self.steps_per_epoch
        return keep_rate_schedule(epoch, start, end, base_keep=self.exp.model.ce_keep_ratio)

    def train_step(self, batch: dict[str, Any], keep_ratio: float) -> dict[str, float]:
        dev = self.device
        template = batch["template"].to(dev, non_blocking=True)
        search = batch["search"].to(dev, non_blocking=True)
        gt = batch["box_cxcywh"].to(dev, non_blocking=True)
        ids = batch["input_ids"].to(dev, non_blocking=True)
        mask = batch["attention_mask"].to(dev, non_blocking=True)
        text_kwargs: dict[str, torch.Tensor]
        if self.text_cache is not None:
            text_kwargs = {"text_feat": self.text_cache.features(batch["sentence"], ids, mask)}
        else:
            text_kwargs = {"input_ids": ids, "attention_mask": mask}
        with torch.autocast(device_type=dev.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            out = self.forward_module(template, search, keep_ratio, **text_kwargs)
        pred_box, _ = decode_box(out.score_map, out.size_map, out.offset_map)  # (B, 4) cxcywh
        present = batch["present"].to(dev, non_blocking=True) if "present" in batch else None
        loss, parts = self.criterion(pred_box, out.score_map, gt, out.vision_x, out.vision_z, out.language, present)
        if not torch.isfinite(loss) and not self.scaler.is_enabled():  # fp16: the scaler skips such steps
            raise FloatingPointError(f"non-finite loss {float(loss)} at step {self.global_step} ({parts})")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        gnorm = grad_norm_clip(self.trainable, self.exp.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        stats = {k: float(v) for k, v in parts.items()}
        stats["grad_norm"] = float(gnorm)
        stats["keep_ratio"] = keep_ratio
        stats["kept_tokens"] = float(out.kept_index.shape[1])
        return stats

    # -- epochs ---------------------------------------------------------------------------------
    def fit(self) -> TrainSummary:
        exp, info = self.exp, self.dist
        tb = ScalarLogger(self.out_dir / "tb", enabled=exp.run.tensorboard and info.is_main)
        history: deque[dict[str, float]] = deque(maxlen=HISTORY_STEPS)
        epoch_means: dict[str, float] = {}
        t_start, samples = time.perf_counter(), 0
        global_batch = exp.optim.batch_size * info.world_size
        try:
            while self.epoch < exp.schedule.epochs:
                # Model randomness (drop-path, dropout) from a stream fixed by (seed, epoch, rank):
                # every rank differs, and a resumed epoch replays exactly.
                torch.manual_seed(epoch_seed(exp.run.seed, self.epoch, info.rank))
                self.forward_module.train()
                if self.text_cache is not None:
                    self.model.text_module.eval()  # frozen: deterministic features, no dropout
                loader = build_loader(self.dataset, self.epoch, self.steps_per_epoch, exp.optim.batch_size,
                                      info, exp.data.num_workers, self.tokenizer, self.device)
                bar = tqdm(loader, total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}/{exp.schedule.epochs}",
                           disable=not (exp.run.progress and info.is_main), dynamic_ncols=True, leave=False)
                sums: dict[str, float] = {}
                t_epoch = time.perf_counter()
                for step_in_epoch, batch in enumerate(bar):
                    stats = self.train_step(batch, self.keep_ratio(step_in_epoch))
                    self.global_step += 1
                    samples += global_batch
                    history.append({"epoch": float(self.epoch), "step": float(self.global_step), **stats})
                    for k, v in stats.items():
                        sums[k] = sums.get(k, 0.0) + v
                    if self.global_step % exp.run.log_every == 0:
                        rate = (step_in_epoch + 1) * global_batch / (time.perf_counter() - t_epoch)
                        loss_avg = float(all_reduce_mean(torch.tensor(stats["total"], device=self.device), info))
                        tb.scalars(self.global_step, {f"loss/{k}": v for k, v in stats.items()
                                                      if k in ("total", "giou", "l1", "focal", "cma", "ima")})
                        tb.scalars(self.global_step, {
                            "train/iou": stats["iou"], "train/grad_norm": stats["grad_norm"],
                            "train/keep_ratio": stats["keep_ratio"], "train/samples_per_s": rate,
                            "train/loss_all_ranks": loss_avg,
                            **{f"lr/{g['name']}": g["lr"] for g in self.optimizer.param_groups},
                        })
                        bar.set_postfix(loss=f"{stats['total']:.3f}", iou=f"{stats['iou']:.3f}",
                                        keep=f"{stats['keep_ratio']:.2f}", sps=f"{rate:.1f}")
                bar.close()
                n = max(1, self.steps_per_epoch)
                epoch_means = {k: v / n for k, v in sums.items()}
                lr_used = self.optimizer.param_groups[-1]["lr"]
                self.epoch += 1
                self.scheduler.step()
                rate = self.steps_per_epoch * global_batch / (time.perf_counter() - t_epoch)
                m = {k: epoch_means.get(k, math.nan) for k in ("total", "giou", "l1", "focal", "cma", "ima", "iou")}
                log.info("epoch %d/%d: loss %.4f (giou %.4f l1 %.4f focal %.4f cma %.4f ima %.4f) iou %.3f "
                         "keep %.2f lr %.3g, %.1f samples/s", self.epoch, exp.schedule.epochs, m["total"], m["giou"],
                         m["l1"], m["focal"], m["cma"], m["ima"], m["iou"], epoch_means.get("keep_ratio", math.nan),
                         lr_used, rate)
                tb.scalars(self.epoch, {f"epoch/{k}": v for k, v in epoch_means.items()})
                if info.is_main:
                    save_training_state(self.out_dir, self.epoch, self.global_step, self.model, self.optimizer,
                                        self.scheduler, self.scaler, self.experiment_dict,
                                        keep=exp.run.keep_checkpoints, inference=exp.data.inference_settings())
                barrier(info)
        finally:
            tb.close()
        final = None
        if info.is_main:
            final = save_checkpoint(self.out_dir / FINAL_MODEL, self.model, meta={
                "epoch": self.epoch, "global_step": self.global_step, "experiment": self.experiment_dict},
                inference=exp.data.inference_settings())
        elapsed = time.perf_counter() - t_start
        return TrainSummary(self.epoch, self.global_step, samples / elapsed if elapsed > 0 else 0.0,
                            epoch_means, final, list(history))
