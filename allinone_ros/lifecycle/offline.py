"""The one offline frame loop: frames in, one :class:`TargetResult` and its time per frame out.

``allinone-track``, ``allinone-eval`` and the synthetic-set evaluations run every sequence through
:func:`run_frames`, with either the :class:`TargetLifecycle` (the node's behaviour, the default)
or :class:`PlainTracker` (the released tracker as published: a box on every frame, no loss logic).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..tracker import InputError, Tracker
from ..tracker.preprocess import check_image
from .machine import TargetLifecycle
from .states import TargetResult, TargetState


class FrameRunner(Protocol):
    """What :func:`run_frames` drives: :class:`TargetLifecycle` or :class:`PlainTracker`."""

    @property
    def tracker(self) -> Tracker: ...

    def request(self, sentence: str = "", box_xywh: object | None = None,
                image_rgb: np.ndarray | None = None) -> TargetResult | None: ...

    def process(self, image_rgb: np.ndarray) -> TargetResult: ...

    def stop(self) -> None: ...


class PlainTracker:
    """The released tracker behind the lifecycle's interface: TRACKING with the tracker's box on every frame."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._sentence = ""
        self._frame = -1

    @property
    def state(self) -> TargetState:
        return TargetState.IDLE if self.tracker.state is None else TargetState.TRACKING

    def request(self, sentence: str = "", box_xywh: object | None = None,
                image_rgb: np.ndarray | None = None) -> TargetResult:
        if box_xywh is None or image_rgb is None:
            raise InputError("the plain tracker starts only from a box on a given image (no grounding)")
        res = self.tracker.initialize(image_rgb, box_xywh, sentence)
        self._sentence, self._frame = sentence, 0
        return self._result(res.box_xywh, res.confidence, image_rgb, started=True, source="init", timings={})

    def stop(self) -> None:
        self.tracker.reset()
        self._sentence, self._frame = "", -1

    def process(self, image_rgb: np.ndarray) -> TargetResult:
        res = self.tracker.track(image_rgb)
        self._frame += 1
        return self._result(res.box_xywh, res.confidence, image_rgb, started=False, source="tracker",
                            timings=res.timings_ms)

    def _result(self, box: np.ndarray, confidence: float, image_rgb: np.ndarray, started: bool, source: str,
                timings: dict[str, float]) -> TargetResult:
        return TargetResult(TargetState.TRACKING, box.copy(), float(confidence), self._sentence,
                            check_image(image_rgb), self._frame, box.copy(), started, source, None, dict(timings))


@dataclass(frozen=True)
class OfflineRun:
    results: list[TargetResult]
    frame_ms: list[float]  # wall-clock time of each frame (request or process), decoding excluded

    def boxes_xywh(self) -> np.ndarray:
        """(n, 4): the box of every frame, ``0,0,0,0`` where none was reported."""
        return np.stack([r.box_xywh if r.box_xywh is not None else np.zeros(4) for r in self.results])

    def confidences(self) -> np.ndarray:
        return np.array([r.confidence for r in self.results])  # (n,)

    def states(self) -> list[str]:
        return [r.state.name for r in self.results]


def run_frames(runner: FrameRunner | TargetLifecycle | PlainTracker, frames: Iterable[np.ndarray], sentence: str,
               init_box_xywh: object | None,
               on_frame: Callable[[int, np.ndarray, TargetResult], None] | None = None) -> OfflineRun:
    """Start afresh on the first frame (from ``init_box_xywh``, or from ``sentence`` alone when it is None)
    and process the rest; ``on_frame(index, frame, result)`` after each."""
    runner.stop()  # a runner reused across sequences must not carry the last one's target over
    results: list[TargetResult] = []
    times: list[float] = []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        if i == 0:
            if init_box_xywh is not None:
                result = runner.request(sentence, init_box_xywh, frame)
            else:
                runner.request(sentence)
                result = runner.process(frame)
        else:
            result = runner.process(frame)
        times.append((time.perf_counter() - t0) * 1e3)
        assert result is not None  # a request with a box and an image always reports that image
        results.append(result)
        if on_frame is not None:
            on_frame(i, frame, result)
    if not results:
        raise ValueError("no frames to track")
    return OfflineRun(results, times)
