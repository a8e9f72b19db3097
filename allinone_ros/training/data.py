"""Training samples: template/search pairs from one or more datasets, batched with token ids.

Every sample is a pure function of ``(seed, epoch, index)``: its generator is
``numpy.random.default_rng(SeedSequence([seed, epoch, index]))``, which picks the dataset (by
weight), the sequence, the frames, the jitter and the augmentation. Worker processes,
resumes and ranks therefore never change what a sample is. Rank ``r`` of ``W`` processes
takes the indices ``r, r + W, r + 2W, ...`` of the epoch (what ``DistributedSampler`` does
without shuffling: the draws are already random).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.augment import AugmentConfig, augment_pair
from ..data.datasets import open_dataset
from ..data.detect import detect_dataset_kind
from ..data.sampling import PairSampler, PairSamplingConfig
from ..data.sequence import DatasetLayoutError, Sequence, read_sequence_dir
from ..model import ModelConfig
from ..model.language import SentenceTokenizer
from ..ops.normalize import image_to_tensor
from .config import DataConfig, DataSource
from .distributed import DistInfo

log = logging.getLogger(__name__)


def read_source(src: DataSource) -> list[Sequence]:
    """All sequences of one configured source."""
    root = Path(src.root)
    if not root.is_dir():
        raise FileNotFoundError(f"data source {src.kind!r}: root {root} is not a directory")
    split = src.split or None
    if src.kind == "synthetic":  # allinone-make-synthetic writes the LaSOT layout
        return open_dataset("lasot", root, split)
    if src.kind == "sequences":
        dirs = sorted(d for d in root.iterdir() if d.is_dir())
        if not dirs:
            raise DatasetLayoutError(f"{root}: no sequence directories inside")
        return [read_sequence_dir(d) for d in dirs]
    kind = detect_dataset_kind(root) if src.kind == "auto" else src.kind
    return open_dataset(kind, root, split)


_Parsed = TypeVar("_Parsed")


def read_scene_meta(seq: Sequence, parse: Callable[[dict[str, Any]], _Parsed]) -> _Parsed:
    """``parse`` of the ``meta.json`` that ``allinone-make-synthetic`` writes beside a synthetic sequence's
    ``img/``; a missing or malformed file, or one ``parse`` cannot read (a missing key, a wrong type),
    is a :class:`DatasetLayoutError` naming the file."""
    path = Path(seq.frame_paths[0]).parent.parent / "meta.json"
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetLayoutError(f"{path}: not a readable synthetic scene description ({exc}); synthetic sources "
                                 "need the meta.json that allinone-make-synthetic writes") from exc


@dataclass
class _SourceSampler:
    name: str
    sampler: PairSampler
    weight: float


class PairDataset:
    """Draws normalised training pairs; see the module docstring for the seeding rule."""

    def __init__(self, sources: list[_SourceSampler], augment: AugmentConfig, seed: int) -> None:
        if not sources:
            raise ValueError("PairDataset needs at least one data source")
        self.sources = sources
        self.augment = augment
        self.seed = seed
        w = np.array([s.weight for s in sources], dtype=np.float64)
        self.probs = w / w.sum()

    @classmethod
    def from_config(cls, data: DataConfig, model: ModelConfig, seed: int) -> "PairDataset":
        pair_cfg = PairSamplingConfig(
            template_factor=data.template_factor, template_size=model.template_size,
            search_factor=data.search_factor, search_size=model.search_size,
            center_jitter=data.center_jitter, scale_jitter=data.scale_jitter, max_gap=max(1, data.max_gap),
            negative_prob=data.negative_prob,
        )
        samplers = []
        for src in data.sources:
            seqs = read_source(src)
            if not seqs:
                raise DatasetLayoutError(f"data source {src.kind!r} at {src.root}: no sequences found")
            samplers.append(_SourceSampler(f"{src.kind}:{src.root}", PairSampler(seqs, pair_cfg), src.weight))
            log.info("data source %s:%s: %d sequences, weight %g", src.kind, src.root, len(seqs), src.weight)
        augment = AugmentConfig(brightness_jitter=data.brightness_jitter, grayscale_prob=data.grayscale_prob,
                                hflip_prob=data.hflip_prob)
        return cls(samplers, augment, seed)

    def sample(self, epoch: int, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index]))
        src = self.sources[int(rng.choice(len(self.sources), p=self.probs))]
        pair = augment_pair(src.sampler.sample(rng), rng, self.augment)
        return {
            "template": image_to_tensor(pair.template),
            "search": image_to_tensor(pair.search),
            "box_cxcywh": torch.from_numpy(np.asarray(pair.search_box_cxcywh, dtype=np.float32)),
            "present": pair.search_present,
            "sentence": pair.sentence,
        }


class EpochView(Dataset):
    """The samples one rank trains on in one epoch."""

    def __init__(self, dataset: PairDataset, epoch: int, count: int, info: DistInfo) -> None:
        self.dataset, self.epoch, self.count, self.info = dataset, epoch, count, info

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, k: int) -> dict[str, Any]:
        if not 0 <= k < self.count:
            raise IndexError(k)
        return self.dataset.sample(self.epoch, self.info.rank + k * self.info.world_size)


class Collate:
    """Stack tensors and tokenise the sentences (ids and mask, as the tracker does)."""

    def __init__(self, tokenizer: SentenceTokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        sentences = [it["sentence"] for it in items]
        ids, mask = self.tokenizer(sentences)
        return {
            "template": torch.stack([it["template"] for it in items]),
            "search": torch.stack([it["search"] for it in items]),
            "box_cxcywh": torch.stack([it["box_cxcywh"] for it in items]),
            "present": torch.tensor([bool(it.get("present", True)) for it in items]),
            "sentence": sentences,
            "input_ids": ids,
            "attention_mask": mask,
        }


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def build_loader(
    dataset: PairDataset, epoch: int, steps: int, batch_size: int, info: DistInfo, num_workers: int,
    tokenizer: SentenceTokenizer, device: torch.device,
) -> DataLoader:
    """Loader over exactly ``steps`` batches of this rank's samples of ``epoch`` (in index order)."""
    view = EpochView(dataset, epoch, steps * batch_size, info)
    return DataLoader(
        view, batch_size=batch_size, shuffle=False, drop_last=True, num_workers=num_workers,
        collate_fn=Collate(tokenizer), worker_init_fn=_worker_init if num_workers else None,
        pin_memory=device.type == "cuda", prefetch_factor=4 if num_workers else None,
    )
