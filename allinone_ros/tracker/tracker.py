"""Single-object tracker around the All-in-One network (inference as released)."""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

import numpy as np
import torch

from ..model import AllInOne, HeadOutput
from ..model.language import SentenceTokenizer
from ..ops.boxes import clip_box
from ..ops.crop import CropGeometry, crop_square, map_box_back
from ..ops.normalize import image_to_tensor
from .config import TrackerConfig
from .postprocess import decode_box, hann2d
from .preprocess import InputError, check_box, check_image
from .state import TrackerState, TrackResult

log = logging.getLogger(__name__)


class ModelRunner(Protocol):
    """Runs the network on (template, search, sentence vector) for one frame."""

    def __call__(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> HeadOutput: ...


class EagerRunner:
    """Plain PyTorch inference."""

    def __init__(self, model: AllInOne) -> None:
        self.model = model

    def __call__(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> HeadOutput:
        with torch.inference_mode():
            return self.model(template, search, lang)


class Tracker:
    """``initialize(image_rgb, box_xywh, text)`` then ``track(image_rgb)`` per frame.

    With the default :class:`TrackerConfig` and an official checkpoint this reproduces the
    released tracker's boxes: same crops, Hann window, decoding, map-back and clipping.
    """

    def __init__(self, model: AllInOne, config: TrackerConfig | None = None, runner: ModelRunner | None = None) -> None:
        self.config = (config or TrackerConfig()).with_settings()  # unset crop factors: the paper's
        self.device = torch.device(self.config.device)
        self.model = model.to(self.device).eval()
        self.runner: ModelRunner = runner or EagerRunner(self.model)
        cfg = model.cfg
        self.tokenizer = SentenceTokenizer(cfg.text_model_dir, max_len=cfg.text_max_len)
        self.window = hann2d(cfg.search_grid).to(self.device)  # (G, G)
        self._text_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.state: TrackerState | None = None

    # -- language ---------------------------------------------------------------------------
    def sentence_vector(self, text: str) -> torch.Tensor:
        """Sentence vector (1, C), computed once per distinct sentence and cached."""
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        cached = self._text_cache.get(text)
        if cached is not None:
            self._text_cache.move_to_end(text)
            return cached
        ids, mask = self.tokenizer([text])
        with torch.inference_mode():
            vec = self.model.encode_text(ids.to(self.device), mask.to(self.device))  # (1, C)
        self._text_cache[text] = vec
        while len(self._text_cache) > self.config.text_cache_size:
            self._text_cache.popitem(last=False)
        return vec

    def set_text(self, text: str) -> None:
        """Change the sentence of the running track without re-initialising."""
        if self.state is None:
            raise RuntimeError("set_text() before initialize()")
        self.state.lang = self.sentence_vector(text)
        self.state.text = text

    # -- state ------------------------------------------------------------------------------
    def relocate(self, box_xywh: np.ndarray) -> None:
        """Move the search position (next frame's crop centre and size) to ``box_xywh``; template and sentence stay."""
        if self.state is None:
            raise RuntimeError("relocate() before initialize()")
        box = np.asarray(box_xywh, dtype=np.float64).reshape(4)  # (4,) x, y, w, h
        if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
            raise InputError(f"relocate needs a finite box with w, h > 0, got {box.tolist()}")
        self.state.box_xywh = box.copy()

    def reset(self) -> None:
        """Forget the target; the next call must be :meth:`initialize`."""
        self.state = None

    # -- tracking ---------------------------------------------------------------------------
    def initialize(self, image_rgb: np.ndarray, box_xywh: object, text: str = "") -> TrackResult:
        img_h, img_w = check_image(image_rgb)
        box = np.asarray(check_box(box_xywh, img_h, img_w), dtype=np.float64)
        cfg = self.model.cfg
        template, _ = self._crop(image_rgb, box, self.config.template_factor, cfg.template_size)  # (1,3,Ht,Wt)
        self.state = TrackerState(
            box_xywh=box, template=template, lang=self.sentence_vector(text), text=text, image_size=(img_h, img_w)
        )
        return TrackResult(box_xywh=box.copy(), confidence=1.0, crop=None, frame_index=0)

    def track(self, image_rgb: np.ndarray, search_factor: float | None = None) -> TrackResult:
        """Track one frame. ``search_factor`` overrides the config's for this frame only (re-search)."""
        state = self.state
        if state is None:
            raise RuntimeError("track() before initialize()")
        img_h, img_w = check_image(image_rgb)
        cfg = self.model.cfg
        t0 = time.perf_counter()
        factor = self.config.search_factor if search_factor is None else float(search_factor)
        if not factor > 0:
            raise InputError(f"search_factor must be > 0, got {search_factor!r}")
        search, geom = self._crop(image_rgb, state.box_xywh, factor, cfg.search_size)
        self._stage_done()
        t1 = time.perf_counter()
        out = self.runner(state.template, search, state.lang)
        self._stage_done()
        t2 = time.perf_counter()
        box, confidence = self._decode(out, geom, img_h, img_w)
        t3 = time.perf_counter()
        state.box_xywh = box
        state.image_size = (img_h, img_w)
        state.frame_index += 1
        timings = {"crop": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "post": (t3 - t2) * 1e3}
        return TrackResult(box_xywh=box.copy(), confidence=confidence, crop=geom,
                           frame_index=state.frame_index, timings_ms=timings)

    # -- per-frame stages (overridden by device-side trackers) ------------------------------------
    def _crop(
        self, image_rgb: np.ndarray, box_xywh: np.ndarray, factor: float, out_size: int
    ) -> tuple[torch.Tensor, CropGeometry]:
        """Square crop around the box, normalised network input (1, 3, S, S) on the device."""
        patch, geom = crop_square(image_rgb, tuple(box_xywh), factor, out_size)
        return image_to_tensor(patch, self.device)[None], geom  # (1, 3, S, S)

    def _decode(self, out: HeadOutput, geom: CropGeometry, img_h: int, img_w: int) -> tuple[np.ndarray, float]:
        """Hann-windowed peak -> clipped image ``box_xywh`` and the raw score peak as confidence."""
        score = out.score_map * self.window if self.config.hann_window else out.score_map  # (1,1,G,G)
        box_norm, _ = decode_box(score, out.size_map, out.offset_map)  # (1, 4) cxcywh in [0,1]
        box_crop = box_norm[0].double().cpu().numpy() * self.model.cfg.search_size  # (4,) crop pixels
        box = clip_box(map_box_back(box_crop, geom), img_h, img_w, self.config.clip_margin)
        return box, float(out.score_map.max())

    def _stage_done(self) -> None:
        """Hook between timed stages (device trackers may synchronise here)."""
