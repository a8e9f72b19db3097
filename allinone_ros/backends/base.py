"""The interface every backend implements (the tracker's ``ModelRunner`` plus identity)."""
from __future__ import annotations

import logging
from typing import Any

import torch

from ..model import HeadOutput
from .config import BackendConfig
from .graph import InferenceGraph

log = logging.getLogger(__name__)


class Backend:
    """Runs the inference graph: ``backend(template, search, lang) -> HeadOutput`` (float32 maps).

    Inputs are float32 tensors (they are moved to ``device`` if needed); outputs live on ``device``.
    """

    name: str = "base"

    def __init__(self, graph: InferenceGraph, config: BackendConfig) -> None:
        self.graph = graph
        self.config = config
        self.device = torch.device(config.device)
        self.precision = config.precision
        self.info: dict[str, Any] = {}  # facts worth reporting (artifact path, provider, verified precision...)

    def run(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def __call__(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> HeadOutput:
        inputs = [t.to(self.device, torch.float32) for t in (template, search, lang)]
        score, size, offset, kept = self.run(*inputs)
        return HeadOutput(score.float(), size.float(), offset.float(), kept.long())

    def describe(self) -> str:
        """What runs, for logs and diagnostics: e.g. ``'onnxruntime fp32 (cpu)'``."""
        return f"{self.name} {self.precision} ({self.device})"

    def release(self) -> None:
        """Drop what this backend holds beyond the model's own weights (engine, session, cast copies).

        The backend cannot run afterwards. Weights it shares with the model are left alone: moving
        the model (e.g. back to the CPU) moves them.
        """

    def synchronize(self) -> None:
        """Wait for queued device work (for timing)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={str(self.device)!r}, precision={self.precision!r})"
