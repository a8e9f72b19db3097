"""Samples for training the built-in grounder: whole frames, a sentence and the box it refers to.

:class:`GroundingDataConfig` is the ``data`` section of a grounder experiment
(:mod:`allinone_ros.training.grounding`); :class:`FrameDataset` draws every sample as a pure
function of ``(seed, epoch, index)``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.augment import adjust_brightness, swap_left_right
from ..data.frames import read_frame
from ..data.sequence import DatasetLayoutError, Sequence
from ..data.synthetic import (
    COLOURS_RGB, SHAPES, ObjectTrack, clip_box_to_frame, describe_object, plain_description, scene_objects,
)
from ..grounding.builtin import letterbox
from ..grounding.net import TextGrounderConfig
from ..ops.normalize import image_to_tensor
from .config import DataSource, _check_number, check_sources
from .data import read_scene_meta, read_source

log = logging.getLogger(__name__)

ABSENT_STYLES = ("plain", "described")


@dataclass(frozen=True)
class GroundingDataConfig:
    sources: tuple[DataSource, ...] = ()
    samples_per_epoch: int = 4000
    first_frame_prob: float = 0.3  # the sentence describes the first frame: draw it this often
    # Synthetic sources (meta.json beside the frames) only; see FrameDataset.
    scene_sentences: bool = False  # describe the target in the drawn frame, not with the first-frame sentence
    other_object_prob: float = 0.0  # the referent is another object of the scene, with a generated sentence
    absent_object_prob: float = 0.0  # the sentence names a colour/shape that is not in the scene: a negative
    # how such a sentence reads: "plain" ("the red car") or "described" (also a position or a relation
    # to an object of the scene, as allinone-make-synthetic --absent-sentence writes them)
    absent_sentence_style: str = "plain"
    paired_referents: bool = False  # samples 2i and 2i+1 share a frame: the target, then another object
    max_objects: int = 8  # attribute loss: at most this many objects of a scene per sample
    brightness_jitter: float = 0.2
    hflip_prob: float = 0.5  # mirrors the frame and swaps "left"/"right" in the sentence
    min_box_size: float = 2.0  # smaller visible boxes count as absent (pixels of the frame)
    num_workers: int = 1

    def __post_init__(self) -> None:
        check_sources(self.sources)
        _check_number(self, "samples_per_epoch", low=1, integer=True)
        _check_number(self, "num_workers", low=0, integer=True)
        _check_number(self, "min_box_size", low=0.0)
        _check_number(self, "max_objects", low=1, integer=True)
        for name in ("first_frame_prob", "brightness_jitter", "hflip_prob", "other_object_prob",
                     "absent_object_prob"):
            _check_number(self, name, low=0.0, high=1.0)
        if self.absent_sentence_style not in ABSENT_STYLES:
            raise ValueError(f"absent_sentence_style must be one of {ABSENT_STYLES}, got {self.absent_sentence_style!r}")
        if self.other_object_prob + self.absent_object_prob > 1.0:
            raise ValueError(f"other_object_prob + absent_object_prob must be <= 1, got "
                             f"{self.other_object_prob} + {self.absent_object_prob}")


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
        self._names_absent: dict[str, bool] = {}  # the sequence's own sentence names nothing in it

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
        key = str(Path(seq.frame_paths[0]).parent.parent)
        if key not in self._objects:
            self._objects[key], self._names_absent[key] = read_scene_meta(
                seq, lambda meta: (scene_objects(meta), bool(meta.get("absent_sentence", False))))
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
        sample = {"image": image_to_tensor(patch), "box_xywh": torch.tensor(box_in, dtype=torch.float32),
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
            if self.data.absent_sentence_style == "plain":
                return np.zeros(4), False, plain_description(rng, shape, colour)
            others = objects[1:]
            other = others[int(rng.integers(len(others)))] if others else None
            related = (other.shape, other.colour, other.centre_xy(k)) if other is not None else None
            return np.zeros(4), False, describe_object(rng, shape, colour, target.centre_xy(k), related, width, height)

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
            if self._names_absent[str(Path(seq.frame_paths[0]).parent.parent)]:  # --absent-sentence data
                return np.zeros(4), False, seq.sentence
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


class _Sampled(Protocol):
    def sample(self, epoch: int, k: int) -> dict[str, Any]: ...


class _EpochView(Dataset):
    """One epoch's ``count`` draws of a dataset sampled by (epoch, index): the grounder's frames, the verifier's crops."""

    def __init__(self, dataset: _Sampled, epoch: int, count: int) -> None:
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

