"""Plain PyTorch execution of the inference graph, in fp32, fp16 or bf16."""
from __future__ import annotations

import logging

import torch

from .base import Backend
from .config import BackendConfig
from .graph import InferenceGraph

log = logging.getLogger(__name__)


class EagerBackend(Backend):
    """PyTorch eager; fp16/bf16 run on a cast copy of the weights (inputs cast inside the graph)."""

    name = "eager"

    def __init__(self, graph: InferenceGraph, config: BackendConfig) -> None:
        super().__init__(graph, config)
        if config.precision == "fp16" and not config.is_cuda:
            log.warning("eager fp16 on CPU is emulated by PyTorch and slow; bf16 or fp32 suit a CPU better")
        self.module = graph.to_precision(config.precision).to(self.device).eval()

    def release(self) -> None:
        self.module = None  # an fp16/bf16 copy of the weights lives only here

    def run(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            return self.module(template, search, lang)
