"""Trackers whose network runs through a backend: the inference path every tool and the node use
(:func:`make_tracker`, called by :func:`allinone_ros.lifecycle.build_tracker`).

With ``BackendConfig.preprocess='device'`` the tracker is a :class:`DeviceTracker`: it keeps the
:class:`~allinone_ros.tracker.Tracker` interface and state, and replaces only the per-frame image
work: the frame is uploaded once, crops are cut and normalised with torch ops on the device, and
the box is decoded there; only [x, y, w, h, confidence] returns to the host. Otherwise it is a
plain :class:`Tracker` with the backend as its model runner.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from ..ops.devices import check_same_device
from ..model import AllInOne, HeadOutput
from ..ops.crop import CropGeometry, crop_geometry
from ..tracker import ModelRunner, Tracker, TrackerConfig
from .base import Backend
from .config import BackendConfig
from .factory import create_backend
from .device_crop import DeviceCropper
from .device_decode import decode_on_device

log = logging.getLogger(__name__)


class DeviceTracker(Tracker):
    """:class:`Tracker` with device-side crops and box decoding (``BackendConfig.preprocess='device'``).

    ``sync_timings`` waits for the device at stage boundaries so ``timings_ms`` attribute time
    to the right stage (for benchmarks; it costs a little latency).
    """

    def __init__(self, model: AllInOne, config: TrackerConfig | None = None, runner: ModelRunner | None = None,
                 sync_timings: bool = False) -> None:
        super().__init__(model, config, runner)
        self.cropper = DeviceCropper(self.device)
        self.sync_timings = sync_timings

    def _stage_done(self) -> None:
        if self.sync_timings and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _crop(
        self, image_rgb: np.ndarray, box_xywh: np.ndarray, factor: float, out_size: int
    ) -> tuple[torch.Tensor, CropGeometry]:
        geom = crop_geometry(tuple(box_xywh), factor, out_size)
        return self.cropper.crop(self.cropper.upload(image_rgb), geom), geom  # (1, 3, S, S)

    def _decode(self, out: HeadOutput, geom: CropGeometry, img_h: int, img_w: int) -> tuple[np.ndarray, float]:
        window = self.window if self.config.hann_window else None
        values = decode_on_device(out, window, geom, (img_h, img_w), self.config.clip_margin).cpu().numpy()
        return values[:4].astype(np.float64), float(values[4])  # only [x, y, w, h, conf] leaves the device


def make_tracker(model: AllInOne, tracker_config: TrackerConfig | None = None,
                 backend_config: BackendConfig | None = None, sync_timings: bool = False) -> Tracker:
    """A tracker running ``model`` through the configured backend (device pre-processing if asked)."""
    backend_config = backend_config or BackendConfig()
    tracker_config = tracker_config or TrackerConfig(device=backend_config.device)
    check_same_device(tracker=tracker_config.device, backend=backend_config.device)
    backend = create_backend(model, backend_config)
    if backend_config.preprocess == "device":
        return DeviceTracker(model, tracker_config, runner=backend, sync_timings=sync_timings)
    return Tracker(model, tracker_config, runner=backend)


def describe_tracker(tracker: Tracker) -> str:
    """What runs the tracker's network, e.g. ``'onnxruntime fp32 (cpu)'`` (a plain :class:`Tracker`: eager fp32)."""
    runner = tracker.runner
    return runner.describe() if isinstance(runner, Backend) else f"eager fp32 ({tracker.device})"
