"""AdamW with a scaled backbone learning rate, and the step learning-rate schedule."""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

import torch
from torch import nn

from ..model import AllInOne
from .config import OptimConfig

log = logging.getLogger(__name__)

BACKBONE_GROUP = "backbone"
HEAD_GROUP = "head"


def param_groups(model: AllInOne, cfg: OptimConfig) -> list[dict]:
    """Two groups: ``backbone.*`` at ``lr * backbone_lr_scale``, everything else trainable at ``lr``.

    Frozen parameters (a frozen text encoder, the unused legacy ``cls_token``/``pos_embed``) are
    left out. A trained text encoder is in the ``head`` group (full learning rate).
    """
    backbone, rest = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (backbone if name.startswith("backbone.") else rest).append(p)
    groups = [
        {"params": backbone, "lr": cfg.lr * cfg.backbone_lr_scale, "name": BACKBONE_GROUP},
        {"params": rest, "lr": cfg.lr, "name": HEAD_GROUP},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(model: AllInOne, cfg: OptimConfig) -> torch.optim.AdamW:
    groups = param_groups(model, cfg)
    for g in groups:
        log.info("param group %s: %d tensors, %d values, lr %.3g", g["name"], len(g["params"]),
                 sum(p.numel() for p in g["params"]), g["lr"])
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)


class StepSchedule(Protocol):
    """What the schedulers need of a schedule config (:class:`~allinone_ros.training.config.ScheduleConfig`
    and the grounder's)."""

    @property
    def lr_drop_epochs(self) -> tuple[int, ...]: ...

    @property
    def lr_drop_factor(self) -> float: ...


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: StepSchedule) -> torch.optim.lr_scheduler.MultiStepLR:
    """Multiply every group's learning rate by ``lr_drop_factor`` at each of ``lr_drop_epochs`` (stepped per epoch)."""
    return torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(cfg.lr_drop_epochs), gamma=cfg.lr_drop_factor
    )


def restore_scheduler(scheduler: torch.optim.lr_scheduler.MultiStepLR, state: dict[str, Any],
                      cfg: StepSchedule) -> None:
    """Load a saved scheduler state for ``--resume``; the schedule given now wins over the saved
    milestones and factor (a run extended or shortened in its YAML)."""
    scheduler.load_state_dict(state)
    scheduler.milestones = Counter(cfg.lr_drop_epochs)
    scheduler.gamma = cfg.lr_drop_factor


def freeze_unused(model: AllInOne) -> list[str]:
    """Turn off gradients of parameters that no training forward uses; return their names.

    ``cls_token`` and ``pos_embed`` are kept only for checkpoint compatibility; the ``official``
    embedding layer and a frozen pretrained encoder run without gradient. Leaving them without
    ``requires_grad`` keeps them out of the optimizer and lets DistributedDataParallel run
    without ``find_unused_parameters``.
    """
    names = ["backbone.cls_token", "backbone.pos_embed"]
    frozen_text = model.cfg.language_encoder == "official" or model.cfg.freeze_text_encoder
    params = dict(model.named_parameters())
    for n in names:
        params[n].requires_grad_(False)
    if frozen_text:
        model.text_module.requires_grad_(False)
        names += [n for n in params if n.startswith(("language_embeddings.", "text_encoder."))]
    return names


def grad_norm_clip(parameters: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Clip by global L2 norm (``max_norm`` 0 = measure only); return the norm before clipping."""
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    grads = [p.grad.detach().norm() for p in parameters if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.zeros(())
