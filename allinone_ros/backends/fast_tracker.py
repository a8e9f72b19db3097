"""A tracker whose pre/post-processing runs on the backend's device, and a one-call builder.

:class:`DeviceTracker` keeps the :class:`~allinone_ros.tracker.Tracker` interface and state, and
replaces only the per-frame image work: the frame is uploaded once, crops are cut and normalised
with torch ops on the device, and the box is decoded there; only [x, y, w, h, confidence] returns
to the host. The default :class:`Tracker` is unchanged.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import load_model
from ..model import AllInOne
from ..tracker import ModelRunner, Tracker, TrackerConfig, TrackResult
from ..tracker.geometry import crop_geometry
from ..tracker.preprocess import check_box, check_image
from ..tracker.state import TrackerState
from .config import BackendConfig
from .factory import create_backend
from .gpu_preprocess import DevicePreprocessor, decode_on_device

log = logging.getLogger(__name__)


class DeviceTracker(Tracker):
    """:class:`Tracker` with device-side crops and box decoding (``BackendConfig.preprocess='device'``).

    ``sync_timings`` waits for the device at stage boundaries so ``timings_ms`` attribute time
    to the right stage (for benchmarks; it costs a little latency).
    """

    def __init__(self, model: AllInOne, config: TrackerConfig | None = None, runner: ModelRunner | None = None,
                 sync_timings: bool = False) -> None:
        super().__init__(model, config, runner)
        self.pre = DevicePreprocessor(self.device)
        self.sync_timings = sync_timings

    def _sync(self) -> None:
        if self.sync_timings and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def initialize(self, image_rgb: np.ndarray, box_xywh: object, text: str = "") -> TrackResult:
        img_h, img_w = check_image(image_rgb)
        box = np.asarray(check_box(box_xywh, img_h, img_w), dtype=np.float64)
        geom = crop_geometry(tuple(box), self.config.template_factor, self.model.cfg.template_size)
        template = self.pre.crop(self.pre.upload(image_rgb), geom)  # (1, 3, Ht, Wt)
        self.state = TrackerState(
            box_xywh=box, template=template, lang=self.sentence_vector(text), text=text, image_size=(img_h, img_w)
        )
        return TrackResult(box_xywh=box.copy(), confidence=1.0, crop=None, frame_index=0)

    def track(self, image_rgb: np.ndarray) -> TrackResult:
        state = self.state
        if state is None:
            raise RuntimeError("track() before initialize()")
        img_h, img_w = check_image(image_rgb)
        t0 = time.perf_counter()
        geom = crop_geometry(tuple(state.box_xywh), self.config.search_factor, self.model.cfg.search_size)
        search = self.pre.crop(self.pre.upload(image_rgb), geom)  # (1, 3, Hs, Ws)
        self._sync()
        t1 = time.perf_counter()
        out = self.runner(state.template, search, state.lang)
        self._sync()
        t2 = time.perf_counter()
        window = self.window if self.config.hann_window else None
        values = decode_on_device(out, window, geom, (img_h, img_w), self.config.clip_margin).cpu().numpy()
        t3 = time.perf_counter()
        box = values[:4].astype(np.float64)
        state.box_xywh = box
        state.image_size = (img_h, img_w)
        state.frame_index += 1
        timings = {"crop": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "post": (t3 - t2) * 1e3}
        return TrackResult(box_xywh=box.copy(), confidence=float(values[4]), crop=geom,
                           frame_index=state.frame_index, timings_ms=timings)


def make_tracker(model: AllInOne, tracker_config: TrackerConfig | None = None,
                 backend_config: BackendConfig | None = None, sync_timings: bool = False) -> Tracker:
    """A tracker running ``model`` through the configured backend (device pre-processing if asked)."""
    backend_config = backend_config or BackendConfig()
    tracker_config = tracker_config or TrackerConfig(device=backend_config.device)
    if tracker_config.device != backend_config.device:
        raise ValueError(f"tracker device {tracker_config.device!r} differs from backend device "
                         f"{backend_config.device!r}; use the same device for both")
    backend = create_backend(model, backend_config)
    if backend_config.preprocess == "device":
        return DeviceTracker(model, tracker_config, runner=backend, sync_timings=sync_timings)
    return Tracker(model, tracker_config, runner=backend)


def build_backend_tracker(checkpoint: str | Path, tracker_config: TrackerConfig | None = None,
                          backend_config: BackendConfig | None = None, trust: bool = False) -> Tracker:
    """Load ``checkpoint`` and return :func:`make_tracker` of it."""
    backend_config = backend_config or BackendConfig()
    attn = (tracker_config or TrackerConfig()).attn_impl
    model = load_model(checkpoint, trust=trust, attn_impl=attn)
    return make_tracker(model, tracker_config, backend_config)
