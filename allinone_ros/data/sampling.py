"""Template/search pair sampling for training (OSTrack-style crops and jitter).

A pair is two frames of one sequence where the target is visible: the *template* crop
(the paper's factor 2.0, 128 px, no jitter) and the *search* crop (factor 4.0, 256 px) taken around a
jittered copy of the target box, so the target is not always centred nor of the same size::

    size'   = (w, h) * exp(randn(2) * scale_jitter)
    centre' = (cx, cy) + sqrt(w' * h') * center_jitter * (rand(2) - 0.5)

(``randn`` standard normal, ``rand`` uniform in [0, 1); the offset uses the jittered size, as in
pytracking/OSTrack.) With the defaults (centre jitter 3, factor 4) the offset is at most
``1.5 sqrt(w'h')`` while the crop reaches ``2 sqrt(w'h')`` from its centre, so the target centre
always lies inside the search crop.

Crops come from :func:`allinone_ros.ops.crop.crop_geometry` / ``extract_crop`` (the
inference crop). The target box in a crop is computed from that geometry, exactly: a point
``p`` of the image maps to ``(p - x1) * out_size / side`` (``x1`` the rounded crop corner).
Inference maps back assuming the crop is centred on the box centre; the two differ by the
corner rounding, at most half a source pixel.

Boxes are normalised by the crop size: ``box_cxcywh`` is not clamped (its centre lies in
[0, 1]); ``box_xyxy`` is clamped to [0, 1], the form the box losses use.

Frame choice (OSTrack's "causal" mode): the search frame comes after the template frame, at
most ``max_gap`` frames later; both must be visible. A sequence whose only visible frame is
alone gives a pair of that frame with itself (as for still-image datasets); a sequence with
no visible pair within ``max_gap`` is skipped and another one is drawn.

Negative pairs (``negative_prob`` > 0, off by default as in the release): the search frame is
one where the target is *absent* (fully occluded or out of view) and the search crop is taken,
jittered as usual, around the target's last visible box before it -- what the tracker looks at
while the target is hidden. Such a pair has ``search_present = False``; its search boxes
describe that last visible box. Training on them teaches a low score map where the target is
not to be seen, instead of the best-looking distractor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence as SequenceOf
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ops.crop import CropGeometry, crop_geometry, extract_crop
from ..model.inference_settings import PAPER_SETTINGS
from .frames import read_frame
from .sequence import Sequence

LOGGER = logging.getLogger(__name__)

FrameLoader = Callable[[Path], np.ndarray]


@dataclass(frozen=True)
class PairSamplingConfig:
    """Crop sizes, jitter and frame-gap rules (defaults: the release's training configuration;
    crop factors: :data:`~allinone_ros.model.inference_settings.PAPER_SETTINGS`)."""

    template_factor: float = PAPER_SETTINGS.template_factor
    template_size: int = 128
    search_factor: float = PAPER_SETTINGS.search_factor
    search_size: int = 256
    center_jitter: float = 3.0
    scale_jitter: float = 0.25
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    max_gap: int = 200
    causal: bool = True
    max_tries: int = 100
    negative_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("template_factor", "search_factor"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("template_size", "search_size", "max_gap", "max_tries"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("center_jitter", "scale_jitter", "template_center_jitter", "template_scale_jitter"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.negative_prob <= 1.0:
            raise ValueError(f"negative_prob must be in [0, 1], got {self.negative_prob}")


@dataclass(frozen=True, eq=False)
class TrainingPair:
    """One training sample: RGB uint8 crops and the target box normalised to each crop."""

    template: np.ndarray  # (template_size, template_size, 3) uint8 RGB
    search: np.ndarray  # (search_size, search_size, 3) uint8 RGB
    template_box_cxcywh: np.ndarray  # (4,) float32, normalised, unclamped
    template_box_xyxy: np.ndarray  # (4,) float32, normalised, clamped to [0, 1]
    search_box_cxcywh: np.ndarray
    search_box_xyxy: np.ndarray
    sentence: str
    sequence_name: str
    template_frame: int  # 0-based frame indices
    search_frame: int
    template_geometry: CropGeometry
    search_geometry: CropGeometry
    search_jittered_box_xywh: np.ndarray  # (4,) float64, the box the search crop was taken around
    search_present: bool = True  # False: negative pair, the target is absent from the search frame


def jitter_box(box_xywh: np.ndarray, center_jitter: float, scale_jitter: float, rng: np.random.Generator) -> np.ndarray:
    """Jittered ``box_xywh`` (see the module docstring). Always draws 2 normals then 2 uniforms."""
    box = np.asarray(box_xywh, dtype=np.float64)
    size = box[2:4] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = float(np.sqrt(size[0] * size[1])) * center_jitter
    centre = box[0:2] + 0.5 * box[2:4] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate((centre - 0.5 * size, size))


def box_in_crop_cxcywh(box_xywh: np.ndarray, geom: CropGeometry) -> np.ndarray:
    """``box_xywh`` (image pixels) as ``box_cxcywh`` normalised to the crop of ``geom``."""
    x, y, w, h = (float(v) for v in box_xywh)
    scale = geom.resize_factor / geom.out_size  # = 1 / side
    cx = (x + 0.5 * w - geom.x1) * scale
    cy = (y + 0.5 * h - geom.y1) * scale
    return np.array([cx, cy, w * scale, h * scale], dtype=np.float64)


def cxcywh_to_xyxy_clamped(box_cxcywh: np.ndarray) -> np.ndarray:
    """Normalised ``box_cxcywh`` -> ``box_xyxy`` clamped to [0, 1]."""
    cx, cy, w, h = (float(v) for v in box_cxcywh)
    xyxy = np.array([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h])
    return np.clip(xyxy, 0.0, 1.0)


def _visible_frames(seq: Sequence) -> np.ndarray:
    """Indices of frames with a valid, visible box (only frames that have ground truth)."""
    boxes = seq.boxes_xywh
    finite = np.all(np.isfinite(boxes), axis=1)
    ok = np.asarray(seq.visible, dtype=bool) & finite & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return np.flatnonzero(ok[: len(seq.frame_paths)])


def _absent_frames(seq: Sequence) -> np.ndarray:
    """Indices of frames with ground truth where the target is not visible (occluded, out of view)."""
    n = min(seq.boxes_xywh.shape[0], len(seq.frame_paths))
    return np.flatnonzero(~np.asarray(seq.visible[:n], dtype=bool))


def sample_negative_frames(
    visible: np.ndarray, absent: np.ndarray, max_gap: int, rng: np.random.Generator
) -> tuple[int, int, int] | None:
    """(template, search, reference) frames of a negative pair, or None if the sequence has none.

    ``search`` is an absent frame with a visible frame at most ``max_gap`` before it;
    ``reference`` is the last visible frame before ``search``, ``template`` a visible frame in
    ``[search - max_gap, reference]``.
    """
    if visible.size == 0 or absent.size == 0:
        return None
    last_before = np.searchsorted(visible, absent) - 1  # index into visible, -1: none before
    ok = last_before >= 0
    ok[ok] &= absent[ok] - visible[last_before[ok]] <= max_gap
    candidates = np.flatnonzero(ok)
    if candidates.size == 0:
        return None
    k = int(candidates[rng.integers(candidates.size)])
    search, reference = int(absent[k]), int(visible[last_before[k]])
    window = visible[(visible >= search - max_gap) & (visible <= reference)]
    template = int(window[rng.integers(window.size)])
    return template, search, reference


def sample_frame_pair(
    visible: np.ndarray, max_gap: int, causal: bool, rng: np.random.Generator
) -> tuple[int, int] | None:
    """(template, search) frame indices drawn from sorted ``visible`` indices, or None if impossible.

    Causal: the search frame is in ``(t, t + max_gap]``; otherwise within ``max_gap`` either way,
    excluding ``t`` itself. A single visible frame pairs with itself.
    """
    if visible.size == 0:
        return None
    if visible.size == 1:
        return int(visible[0]), int(visible[0])
    if causal:
        # a template frame needs a visible successor within max_gap
        has_next = np.diff(visible) <= max_gap
        candidates = visible[:-1][has_next]
    else:
        gaps = np.diff(visible) <= max_gap
        has_neighbour = np.zeros(visible.size, dtype=bool)
        has_neighbour[:-1] |= gaps
        has_neighbour[1:] |= gaps
        candidates = visible[has_neighbour]
    if candidates.size == 0:
        return None
    template = int(candidates[rng.integers(candidates.size)])
    if causal:
        window = visible[(visible > template) & (visible <= template + max_gap)]
    else:
        window = visible[(np.abs(visible - template) <= max_gap) & (visible != template)]
    search = int(window[rng.integers(window.size)])
    return template, search


class PairSampler:
    """Draws :class:`TrainingPair` samples from sequences; all randomness from the passed generator."""

    def __init__(
        self,
        sequences: SequenceOf[Sequence],
        config: PairSamplingConfig | None = None,
        frame_loader: FrameLoader = read_frame,
    ) -> None:
        if len(sequences) == 0:
            raise ValueError("PairSampler needs at least one sequence, got none")
        self.sequences = list(sequences)
        self.config = config if config is not None else PairSamplingConfig()
        self.frame_loader = frame_loader
        self._visible = [_visible_frames(s) for s in self.sequences]
        self._absent = [_absent_frames(s) for s in self.sequences]
        self._with_absence = [i for i, a in enumerate(self._absent) if a.size and self._visible[i].size]
        if not any(v.size for v in self._visible):
            names = [s.name for s in self.sequences[:5]]
            raise ValueError(f"no sequence has a visible target frame (first sequences: {names})")

    def sample(self, rng: np.random.Generator) -> TrainingPair:
        """One pair; raises ``RuntimeError`` after ``max_tries`` draws without a usable pair."""
        cfg = self.config
        if cfg.negative_prob > 0 and self._with_absence and rng.random() < cfg.negative_prob:
            pair = self._sample_negative(rng)
            if pair is not None:
                return pair
        for _ in range(cfg.max_tries):
            index = int(rng.integers(len(self.sequences)))
            frames = sample_frame_pair(self._visible[index], cfg.max_gap, cfg.causal, rng)
            if frames is None:
                continue
            pair = self._make_pair(self.sequences[index], frames[0], frames[1], rng)
            if pair is not None:
                return pair
        raise RuntimeError(f"no usable template/search pair after {cfg.max_tries} tries")

    def _sample_negative(self, rng: np.random.Generator) -> TrainingPair | None:
        cfg = self.config
        for _ in range(cfg.max_tries):
            index = self._with_absence[int(rng.integers(len(self._with_absence)))]
            frames = sample_negative_frames(self._visible[index], self._absent[index], cfg.max_gap, rng)
            if frames is None:
                continue
            pair = self._make_pair(self.sequences[index], frames[0], frames[1], rng, reference_frame=frames[2])
            if pair is not None:
                return pair
        LOGGER.debug("no negative pair after %d tries: drawing a positive one", cfg.max_tries)
        return None

    def make_pair(
        self, seq: Sequence, template_frame: int, search_frame: int, rng: np.random.Generator
    ) -> TrainingPair:
        """The pair for given frames of ``seq`` (jitter drawn from ``rng``)."""
        for name, t in (("template_frame", template_frame), ("search_frame", search_frame)):
            if not 0 <= t < seq.boxes_xywh.shape[0]:
                last = seq.boxes_xywh.shape[0] - 1
                raise ValueError(f"{name} {t} outside the ground truth of {seq.name!r} (0..{last})")
        pair = self._make_pair(seq, template_frame, search_frame, rng)
        if pair is None:
            raise ValueError(f"{seq.name!r}: frames {template_frame}/{search_frame} give an empty target crop")
        return pair

    def _make_pair(self, seq: Sequence, t_frame: int, s_frame: int, rng: np.random.Generator,
                   reference_frame: int | None = None) -> TrainingPair | None:
        """The pair; with ``reference_frame`` a negative one (search crop around that frame's box)."""
        cfg = self.config
        t_box = seq.boxes_xywh[t_frame]
        s_box = seq.boxes_xywh[s_frame if reference_frame is None else reference_frame]
        t_jit = jitter_box(t_box, cfg.template_center_jitter, cfg.template_scale_jitter, rng)
        s_jit = jitter_box(s_box, cfg.center_jitter, cfg.scale_jitter, rng)
        try:
            t_geom = crop_geometry(tuple(t_jit), cfg.template_factor, cfg.template_size)  # type: ignore[arg-type]
            s_geom = crop_geometry(tuple(s_jit), cfg.search_factor, cfg.search_size)  # type: ignore[arg-type]
        except ValueError:
            LOGGER.debug("%s: degenerate jittered box at frames %d/%d", seq.name, t_frame, s_frame)
            return None
        t_cxcywh = box_in_crop_cxcywh(t_box, t_geom)
        s_cxcywh = box_in_crop_cxcywh(s_box, s_geom)
        t_xyxy = cxcywh_to_xyxy_clamped(t_cxcywh)
        s_xyxy = cxcywh_to_xyxy_clamped(s_cxcywh)
        if s_xyxy[2] <= s_xyxy[0] or s_xyxy[3] <= s_xyxy[1] or t_xyxy[2] <= t_xyxy[0] or t_xyxy[3] <= t_xyxy[1]:
            return None
        template = extract_crop(self.frame_loader(seq.frame_paths[t_frame]), t_geom)
        search = extract_crop(self.frame_loader(seq.frame_paths[s_frame]), s_geom)
        return TrainingPair(
            template=template,
            search=search,
            template_box_cxcywh=t_cxcywh.astype(np.float32),
            template_box_xyxy=t_xyxy.astype(np.float32),
            search_box_cxcywh=s_cxcywh.astype(np.float32),
            search_box_xyxy=s_xyxy.astype(np.float32),
            sentence=seq.sentence,
            sequence_name=seq.name,
            template_frame=t_frame,
            search_frame=s_frame,
            template_geometry=t_geom,
            search_geometry=s_geom,
            search_jittered_box_xywh=s_jit,
            search_present=reference_frame is None,
        )
