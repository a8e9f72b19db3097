"""Experiment configuration: frozen dataclasses loaded from one YAML file per experiment.

A YAML file has the top-level sections ``model`` (:class:`~allinone_ros.model.ModelConfig`
fields), ``data``, ``optim``, ``schedule``, ``loss`` (:class:`~allinone_ros.training.losses.LossWeights`)
and ``run``; every section may be left out (defaults apply) and unknown keys are errors naming
the key. ``--set section.key=value`` overrides are applied to the YAML mapping before it is
validated, so they obey the same rules. Schedules are counted in epochs of
``data.samples_per_epoch`` samples (all ranks together).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config_io import ConfigError, from_dict, read_yaml, to_dict
from ..ops.devices import validate_device
from ..model import ModelConfig
from ..model.inference_settings import PAPER_SETTINGS, InferenceSettings
from .losses import LossWeights

SOURCE_KINDS = ("synthetic", "sequences", "auto", "lasot", "lasot_ext", "tnl2k", "otb99_lang", "webuav3m", "got10k")
AMP_MODES = ("off", "auto", "bf16", "fp16")
SECTIONS = ("model", "data", "optim", "schedule", "loss", "run")


def _check_number(obj: object, name: str, *, low: float | None = None, high: float | None = None,
                  low_open: bool = False, integer: bool = False) -> None:
    """Raise ValueError naming ``name`` unless it is a finite number in range (YAML '4e-4' strings fail here)."""
    value = getattr(obj, name)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a finite number'}, got {value!r}"
                         + (" (write floats like 4.0e-4 in YAML)" if isinstance(value, str) else ""))
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value!r}")


@dataclass(frozen=True)
class DataSource:
    """One training dataset.

    ``kind``: ``synthetic`` (a directory written by ``allinone-make-synthetic``, LaSOT layout),
    ``sequences`` (a directory whose sub-directories are sequence directories), ``auto`` (detect
    the layout) or a dataset kind of :func:`allinone_ros.data.datasets.open_dataset`.
    ``root`` is relative to the working directory unless absolute; ``split`` is passed to the
    dataset reader ("" = none); ``weight`` is the relative sampling probability.
    """

    kind: str
    root: str
    split: str = ""
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"data source kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if not isinstance(self.root, str) or not self.root:
            raise ValueError(f"data source root must be a non-empty path string, got {self.root!r}")
        _check_number(self, "weight", low=0.0, low_open=True)


def check_sources(sources: tuple[DataSource, ...]) -> None:
    """ValueError naming the first entry of ``data.sources`` that is not a :class:`DataSource`."""
    for i, src in enumerate(sources):
        if not isinstance(src, DataSource):
            raise ValueError(f"data.sources[{i}] must be a mapping with kind/root, got {src!r}")


@dataclass(frozen=True)
class DataConfig:
    """Pair sampling and augmentation.

    Crop sizes come from the model (``template_size``/``search_size``); the factors default to the
    paper's (:data:`~allinone_ros.model.inference_settings.PAPER_SETTINGS`) and are stored in every
    checkpoint of the run, so the tracker crops as the network was trained. Jitter and gap are
    those of the release (no template jitter, search centre jitter 3 and scale jitter 0.25), the
    photometric augmentation that of :mod:`allinone_ros.data.augment`.
    """

    sources: tuple[DataSource, ...] = ()
    samples_per_epoch: int = 60000
    max_gap: int = 200
    template_factor: float = PAPER_SETTINGS.template_factor
    search_factor: float = PAPER_SETTINGS.search_factor
    center_jitter: float = 3.0
    scale_jitter: float = 0.25
    brightness_jitter: float = 0.2
    grayscale_prob: float = 0.05
    hflip_prob: float = 0.0  # mirrors both crops and swaps "left"/"right" in the sentence
    negative_prob: float = 0.0  # search frame with the target absent (see allinone_ros.data.sampling)
    num_workers: int = 2

    def __post_init__(self) -> None:
        check_sources(self.sources)
        _check_number(self, "samples_per_epoch", low=1, integer=True)
        _check_number(self, "max_gap", low=0, integer=True)
        _check_number(self, "num_workers", low=0, integer=True)
        for name in ("template_factor", "search_factor"):
            _check_number(self, name, low=0.0, low_open=True)
        for name in ("center_jitter", "scale_jitter"):
            _check_number(self, name, low=0.0)
        for name in ("brightness_jitter", "grayscale_prob", "hflip_prob", "negative_prob"):
            _check_number(self, name, low=0.0, high=1.0)

    def inference_settings(self) -> InferenceSettings:
        """The crop factors this data trains with; stored in every checkpoint of the run."""
        return InferenceSettings(template_factor=self.template_factor, search_factor=self.search_factor)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with a lower learning rate for the backbone, gradient clipping by global norm."""

    lr: float = 4.0e-4
    backbone_lr_scale: float = 0.1
    weight_decay: float = 1.0e-4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 0.1
    batch_size: int = 32  # per process

    def __post_init__(self) -> None:
        _check_number(self, "lr", low=0.0, low_open=True)
        _check_number(self, "backbone_lr_scale", low=0.0)
        _check_number(self, "weight_decay", low=0.0)
        _check_number(self, "grad_clip", low=0.0)  # 0 = no clipping
        _check_number(self, "batch_size", low=1, integer=True)
        if len(self.betas) != 2 or not all(isinstance(b, (int, float)) and 0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Epoch counts: learning-rate drops and the candidate-elimination keep-rate warm-up.

    The keep rate is 1.0 before ``keep_rate_warmup[0]``, the model's ``ce_keep_ratio`` from
    ``keep_rate_warmup[1]`` on, half-cosine in between, evaluated at the fractional epoch of
    every step.
    """

    epochs: int = 300
    lr_drop_epochs: tuple[int, ...] = (240,)
    lr_drop_factor: float = 0.1
    keep_rate_warmup: tuple[float, float] = (20.0, 100.0)

    def __post_init__(self) -> None:
        _check_number(self, "epochs", low=1, integer=True)
        _check_number(self, "lr_drop_factor", low=0.0, low_open=True, high=1.0)
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in self.lr_drop_epochs):
            raise ValueError(f"lr_drop_epochs must be positive integers, got {self.lr_drop_epochs!r}")
        if list(self.lr_drop_epochs) != sorted(set(self.lr_drop_epochs)):
            raise ValueError(f"lr_drop_epochs must be strictly increasing, got {self.lr_drop_epochs!r}")
        start, end = self.keep_rate_warmup
        if not 0 <= start < end:
            raise ValueError(f"keep_rate_warmup must be [start, end] with 0 <= start < end, got {self.keep_rate_warmup!r}")


@dataclass(frozen=True)
class RunConfig:
    """Where and how to run: seed, device, mixed precision, logging, checkpoints."""

    seed: int = 0
    device: str = "auto"  # auto = cuda (this rank's GPU) when available, else cpu
    amp: str = "auto"  # auto = bf16 on CUDA if supported else fp16; off on CPU
    threads: int = 0  # torch CPU threads per process (0 = torch default)
    log_every: int = 20  # steps between TensorBoard scalars
    tensorboard: bool = True
    progress: bool = True
    keep_checkpoints: int = 2  # epoch checkpoints kept (oldest removed); 0 = keep all

    def __post_init__(self) -> None:
        _check_number(self, "seed", low=0, integer=True)
        _check_number(self, "threads", low=0, integer=True)
        _check_number(self, "log_every", low=1, integer=True)
        _check_number(self, "keep_checkpoints", low=0, integer=True)
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        validate_device(self.device, allow_auto=True)


@dataclass(frozen=True)
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    run: RunConfig = field(default_factory=RunConfig)


# --------------------------------------------------------------------------- loading


def parse_override(text: str, sections: tuple[str, ...] = SECTIONS) -> tuple[list[str], Any]:
    """``section.key=value`` -> (["section", "key"], value parsed as YAML); ``section`` one of ``sections``."""
    if "=" not in text:
        raise ConfigError(f"--set expects section.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"--set key must look like section.key (e.g. optim.lr), got {key.strip()!r}")
    if parts[0] not in sections:
        raise ConfigError(f"--set {key.strip()!r}: unknown section {parts[0]!r}; sections are {list(sections)}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key.strip()}: value {raw!r} is not valid YAML: {exc}") from exc
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str],
                    sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """Return a copy of the nested mapping with ``section.key=value`` overrides applied."""
    out = yaml.safe_load(yaml.safe_dump(data))  # deep copy of plain data
    for text in overrides:
        parts, value = parse_override(text, sections)
        node = out
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(parts)}: {p!r} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def experiment_from_dict(data: dict[str, Any], where: str = "experiment") -> ExperimentConfig:
    return from_dict(ExperimentConfig, data, where=where)


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read an experiment YAML, apply ``--set`` overrides, validate (unknown keys are errors)."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sections {list(SECTIONS)}, got {type(data).__name__}")
    return experiment_from_dict(apply_overrides(data, overrides or []), where=str(path))


def experiment_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return to_dict(cfg)


__all__ = [
    "AMP_MODES", "DataConfig", "DataSource", "ExperimentConfig", "OptimConfig", "RunConfig", "ScheduleConfig",
    "apply_overrides", "experiment_from_dict", "experiment_to_dict", "load_experiment", "parse_override",
]
