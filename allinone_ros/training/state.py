"""Epoch checkpoints for exact resume.

Each completed epoch ``N`` is written to ``<out>/checkpoints/epoch_NNNN/``:

* ``model.safetensors``: the weights and model config (:func:`save_checkpoint`; loads alone
  with :func:`allinone_ros.checkpoint.load_model`), the inference (crop) settings of the run,
  metadata ``epoch``, ``global_step`` and the experiment config;
* ``train_state.pt``: optimizer, LR scheduler, gradient scaler, counters, the RNG states of
  python, numpy and torch (CPU and CUDA) and the experiment config, as plain tensors/containers
  so it loads with ``torch.load(weights_only=True)``.

The directory is written under a temporary name and renamed, so a crash never leaves a
half-written "latest" checkpoint.
"""
from __future__ import annotations

import logging
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import CheckpointError, save_checkpoint
from ..model import AllInOne
from ..model.inference_settings import PAPER_SETTINGS, InferenceSettings

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"
STATE_VERSION = 1
_EPOCH_DIR = re.compile(r"^epoch_(\d{4,})$")


def capture_rng() -> dict[str, Any]:
    """RNG states of python ``random``, numpy's global generator and torch (CPU + all CUDA devices)."""
    np_state = np.random.get_state(legacy=False)
    out: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"]).astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state({
        "bit_generator": n["bit_generator"],
        "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
        "has_gauss": n["has_gauss"],
        "gauss": n["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            log.warning("checkpoint has CUDA RNG states for %d devices, this machine has %d: not restored",
                        len(cuda_states), torch.cuda.device_count())


def _as_tuple(obj: Any) -> Any:
    return tuple(_as_tuple(v) for v in obj) if isinstance(obj, (list, tuple)) else obj


@dataclass
class ResumeState:
    """What :func:`load_training_state` returns; the caller loads each part into its object."""

    epoch: int  # completed epochs
    global_step: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    rng: dict[str, Any]
    experiment: dict[str, Any]
    model_path: Path


def epoch_dir(out_dir: Path, epoch: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"epoch_{epoch:04d}"


def save_training_state(
    out_dir: Path,
    epoch: int,
    global_step: int,
    model: AllInOne,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    experiment: dict[str, Any],
    keep: int = 0,
    inference: InferenceSettings = PAPER_SETTINGS,
) -> Path:
    """Write the checkpoint of ``epoch`` completed epochs; keep only the newest ``keep`` (0 = all).

    ``inference``: the crop settings the run trains with, stored in the model file."""
    final = epoch_dir(out_dir, epoch)
    tmp = final.with_name(final.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_checkpoint(tmp / MODEL_FILE, model, meta={"epoch": epoch, "global_step": global_step, "experiment": experiment},
                    inference=inference)
    torch.save({
        "version": STATE_VERSION,
        "epoch": epoch,
        "global_step": global_step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "rng": capture_rng(),
        "experiment": experiment,
    }, tmp / STATE_FILE)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if keep > 0:
        for old in list_epoch_dirs(out_dir)[:-keep]:
            shutil.rmtree(old)
    log.info("saved epoch %d checkpoint to %s", epoch, final)
    return final


def list_epoch_dirs(out_dir: Path) -> list[Path]:
    """Complete epoch checkpoint directories, oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for d in root.iterdir():
        m = _EPOCH_DIR.match(d.name)
        if m and d.is_dir() and (d / MODEL_FILE).is_file() and (d / STATE_FILE).is_file():
            found.append((int(m.group(1)), d))
    return [d for _, d in sorted(found)]


def latest_checkpoint(out_dir: Path) -> Path | None:
    dirs = list_epoch_dirs(out_dir)
    return dirs[-1] if dirs else None


def load_training_state(ckpt_dir: Path) -> ResumeState:
    path = Path(ckpt_dir) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"training state not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any read failure is reported the same way
        raise CheckpointError(f"{path}: cannot read training state ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict) or obj.get("version") != STATE_VERSION:
        raise CheckpointError(f"{path}: not a version-{STATE_VERSION} training state")
    return ResumeState(
        epoch=int(obj["epoch"]), global_step=int(obj["global_step"]), optimizer=obj["optimizer"],
        scheduler=obj["scheduler"], scaler=obj["scaler"], rng=obj["rng"], experiment=obj["experiment"],
        model_path=Path(ckpt_dir) / MODEL_FILE,
    )
