"""Samples for training the grounder's verifier: object and background crops, and labelled sentences.

Crops come from synthetic scenes (``meta.json`` beside the frames: every object's colour, shape and
track). One sample is one frame: every object whose centre is in view is cut out around a jittered
box (what a detector peak or a tracker box gives), with its colour and shape; a target hidden
under a tree, boxes beside an object and boxes on the background are cut out as non-objects.
Objects touching others (a look-alike beside the target, the other object of a relation) are cut
out ``touching_crops`` times with their own colour and shape, so that a neighbour in the crop does
not hide the object in the middle, unless the objects drawn over them cover more than
``max_covered`` of their box (then the crop shows mostly the other object, and is left out). Each
sample is a pure function of ``(seed, epoch, index)``.

Sentences come from the generator's own describer
(:func:`~allinone_ros.data.synthetic.describe_object`): a pool per (colour, shape) with positions,
relations to other objects ("the red car left of the blue circle": about the red car) and plain
descriptions.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.augment import adjust_brightness
from ..data.frames import read_frame
from ..data.sequence import DatasetLayoutError, Sequence
from ..data.synthetic import COLOURS_RGB, SHAPES, ObjectTrack, describe_object, scene_objects
from ..grounding.verifier import VerifierConfig, crop_box
from ..ops.normalize import image_to_tensor
from .config import DataSource, _check_number, check_sources
from .data import read_scene_meta, read_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifierDataConfig:
    sources: tuple[DataSource, ...] = ()  # synthetic sources only (meta.json is needed)
    frames_per_epoch: int = 3000
    shift: float = 0.2  # object boxes: centre moved up to this x the box's longer side
    scale_jitter: float = 0.35  # ... and each side scaled by exp(U(-j, j))
    background_crops: int = 2  # non-object crops per frame on the background ...
    beside_crops: int = 1  # ... and beside an object (its size, 0.8-1.6 sizes away)
    min_visible: float = 0.6  # a target at least this visible is an object crop; at most 0.05: a non-object
    min_size: float = 6.0  # objects smaller than this (pixels) are left out
    touching_crops: int = 2  # crops of an object touching another one; 0 leaves touching objects out
    max_covered: float = 0.3  # ... when objects drawn over it cover at most this share of its box
    brightness_jitter: float = 0.2
    hflip_prob: float = 0.5
    sentences_per_look: int = 40  # sentence pool: this many per (colour, shape)
    num_workers: int = 1

    def __post_init__(self) -> None:
        check_sources(self.sources)
        for name in ("frames_per_epoch", "sentences_per_look"):
            _check_number(self, name, low=1, integer=True)
        for name in ("background_crops", "beside_crops", "num_workers", "touching_crops"):
            _check_number(self, name, low=0, integer=True)
        for name in ("shift", "scale_jitter", "min_size"):
            _check_number(self, name, low=0.0)
        for name in ("min_visible", "max_covered", "brightness_jitter", "hflip_prob"):
            _check_number(self, name, low=0.0, high=1.0)


def generator_vocabulary() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The synthetic generator's colour and shape words (what a verifier trained on it knows)."""
    return tuple(COLOURS_RGB), SHAPES


def sentence_pool(cfg: VerifierConfig, per_look: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``per_look`` sentences for every (colour, shape) of ``cfg``; (sentences, (N, 2) colour and shape indices)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 77]))
    width, height = 640, 360
    sentences, labels = [], []
    for ci, colour in enumerate(cfg.colours):
        for si, shape in enumerate(cfg.shapes):
            for _ in range(per_look):
                centre = rng.uniform([0.0, 0.0], [width, height])
                related = None
                if rng.random() < 0.6:
                    other = (cfg.shapes[int(rng.integers(len(cfg.shapes)))],
                             cfg.colours[int(rng.integers(len(cfg.colours)))],
                             rng.uniform([0.0, 0.0], [width, height]))
                    related = other
                sentences.append(describe_object(rng, shape, colour, centre, related, width, height))
                labels.append((ci, si))
    return sentences, np.asarray(labels, dtype=np.int64)


class CropDataset:
    """Crops of one synthetic frame per sample (see the module docstring)."""

    def __init__(self, sequences: list[Sequence], data: VerifierDataConfig, model: VerifierConfig, seed: int) -> None:
        if not sequences:
            raise ValueError("the verifier data needs at least one sequence (data.sources)")
        self.sequences, self.data, self.model, self.seed = sequences, data, model, seed
        self._scenes: dict[str, tuple[list[ObjectTrack], np.ndarray]] = {}

    @classmethod
    def from_config(cls, data: VerifierDataConfig, model: VerifierConfig, seed: int) -> "CropDataset":
        seqs: list[Sequence] = []
        for src in data.sources:
            if src.kind != "synthetic":
                raise ValueError(f"verifier data sources must be synthetic (meta.json), got {src.kind!r} at {src.root}")
            found = read_source(src)
            log.info("verifier data %s: %d sequences", src.root, len(found))
            seqs += found
        return cls(seqs, data, model, seed)

    def scene(self, seq: Sequence) -> tuple[list[ObjectTrack], np.ndarray]:
        """The scene's objects (target first) and the target's visible fraction per frame."""
        key = str(Path(seq.frame_paths[0]).parent.parent)
        if key not in self._scenes:
            objects, visible = read_scene_meta(seq, lambda meta: (
                scene_objects(meta), np.asarray(meta["target_visible_fraction"], dtype=np.float64)))
            unknown = sorted({o.colour for o in objects} - set(self.model.colours)
                             | {o.shape for o in objects} - set(self.model.shapes))
            if unknown:
                raise DatasetLayoutError(f"{Path(key) / 'meta.json'}: the scene has words the verifier does not "
                                         f"know: {unknown}")
            self._scenes[key] = (objects, visible)
        return self._scenes[key]

    def sample(self, epoch: int, index: int) -> dict[str, Any]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, index]))
        seq = self.sequences[int(rng.integers(len(self.sequences)))]
        k = int(rng.integers(len(seq)))
        objects, visible = self.scene(seq)
        image = read_frame(seq.frame_paths[k])
        height, width = image.shape[:2]
        d = self.data
        centres = [o.centre_xy(k) for o in objects]
        sizes = [float(max(o.track_xywh[k][2], o.track_xywh[k][3])) for o in objects]
        in_view = [0.0 <= c[0] < width and 0.0 <= c[1] < height for c in centres]

        def clear(centre: np.ndarray, side: float) -> bool:  # no object centred near a non-object crop
            return all(not v or np.linalg.norm(centre - c) > 0.6 * max(side, s) + 2.0
                       for c, s, v in zip(centres, sizes, in_view))

        boxes, labels = [], []  # labels: colour, shape, object (colour/shape -1 for non-objects)
        for i, obj in enumerate(objects):
            x, y, w, h = obj.track_xywh[k]
            if not in_view[i] or max(w, h) < d.min_size:
                continue
            if i == 0 and visible[k] <= 0.05:
                boxes.append(self._jitter(rng, obj.track_xywh[k]))
                labels.append((-1, -1, 0))
                continue
            if i == 0 and visible[k] < d.min_visible:
                continue
            touching = any(j != i and in_view[j] and np.linalg.norm(centres[j] - centres[i]) < 0.7 * (sizes[i] + sizes[j])
                           for j in range(len(objects)))
            if touching and (d.touching_crops == 0 or _covered(objects, i, k) > d.max_covered):
                continue
            label = (self.model.colours.index(obj.colour), self.model.shapes.index(obj.shape), 1)
            for _ in range(d.touching_crops if touching else 1):
                boxes.append(self._jitter(rng, obj.track_xywh[k]))
                labels.append(label)
            for _ in range(d.beside_crops):
                angle = rng.uniform(-np.pi, np.pi)
                centre = centres[i] + np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(0.8, 1.6) * sizes[i]
                if clear(centre, sizes[i]):
                    boxes.append(np.array([centre[0] - w / 2, centre[1] - h / 2, w, h]))
                    labels.append((-1, -1, 0))
        for _ in range(d.background_crops):
            for _attempt in range(10):
                side = rng.uniform(8.0, 50.0)
                aspect = np.exp(rng.uniform(-0.3, 0.3))
                centre = rng.uniform([0.0, 0.0], [width, height])
                if clear(centre, side):
                    bw, bh = side * aspect, side / aspect
                    boxes.append(np.array([centre[0] - bw / 2, centre[1] - bh / 2, bw, bh]))
                    labels.append((-1, -1, 0))
                    break
        if rng.random() < d.hflip_prob:
            image = np.ascontiguousarray(image[:, ::-1])
            boxes = [np.array([width - b[0] - b[2], b[1], b[2], b[3]]) for b in boxes]
        image = adjust_brightness(image, float(rng.uniform(1.0 - d.brightness_jitter, 1.0 + d.brightness_jitter)))
        crops = [image_to_tensor(crop_box(image, b, self.model)) for b in boxes]
        size = self.model.crop_size
        return {"crops": torch.stack(crops) if crops else torch.zeros(0, 3, size, size),
                "labels": torch.tensor(labels, dtype=torch.long).reshape(-1, 3)}

    def _jitter(self, rng: np.random.Generator, box_xywh: np.ndarray) -> np.ndarray:
        x, y, w, h = (float(v) for v in box_xywh)
        side = max(w, h)
        cx = x + w / 2 + rng.uniform(-1, 1) * self.data.shift * side
        cy = y + h / 2 + rng.uniform(-1, 1) * self.data.shift * side
        w *= float(np.exp(rng.uniform(-1, 1) * self.data.scale_jitter))
        h *= float(np.exp(rng.uniform(-1, 1) * self.data.scale_jitter))
        return np.array([cx - w / 2, cy - h / 2, w, h])


def _covered(objects: list[ObjectTrack], i: int, k: int) -> float:
    """The share of object ``i``'s box on frame ``k`` under the boxes of the objects drawn after it
    (the generator draws the distractors in order, then the target: ``objects`` is target first)."""
    rank = len(objects) if i == 0 else i  # draw order
    x, y, w, h = objects[i].track_xywh[k]
    covered = 0.0
    for j, other in enumerate(objects):
        if j == i or (len(objects) if j == 0 else j) < rank:
            continue
        ox, oy, ow, oh = other.track_xywh[k]
        covered += max(0.0, min(x + w, ox + ow) - max(x, ox)) * max(0.0, min(y + h, oy + oh) - max(y, oy))
    return min(covered / max(w * h, 1e-6), 1.0)


def collate_crops(items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    return {"crops": torch.cat([it["crops"] for it in items]), "labels": torch.cat([it["labels"] for it in items])}
