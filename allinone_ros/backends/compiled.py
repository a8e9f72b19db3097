"""``torch.compile`` of the inference graph (Inductor), on CPU or CUDA."""
from __future__ import annotations

import contextlib
import logging
import time

import torch
import torch._inductor.config

from .base import Backend
from .config import BackendConfig
from .graph import InferenceGraph

log = logging.getLogger(__name__)


class CompileBackend(Backend):
    """Inductor-compiled graph. Compiles lazily on the first call (minutes on a small CPU).

    ``compile_mode='reduce-overhead'`` on CUDA replays the graph with CUDA graphs; the graph has
    static shapes and no data-dependent ops, so the whole forward is one captured graph.
    """

    name = "compile"

    def __init__(self, graph: InferenceGraph, config: BackendConfig) -> None:
        super().__init__(graph, config)
        module = graph.to_precision(config.precision).to(self.device).eval()
        mode = None if config.compile_mode == "default" else config.compile_mode
        if mode == "reduce-overhead" and not config.is_cuda:
            log.warning("compile_mode 'reduce-overhead' uses CUDA graphs, which do not exist on CPU; "
                        "it behaves like 'default' there")
        # On CPU, Inductor freezing folds the (inference-only) weights into constants and pre-packs them
        # for oneDNN: same fp32 results, measured 408 -> 286 ms per full-size forward on 2 CPU cores.
        # Inductor reads the flag when it compiles (the first call), so run() patches it around every call;
        # torch.compile(options=...) was measured not to apply it.
        self._freezing = mode is None and not config.is_cuda
        self.info["freezing"] = self._freezing
        self.module = torch.compile(module, mode=mode, fullgraph=True, dynamic=False)
        self._compiled_once = False
        self.info["compile_mode"] = config.compile_mode

    def release(self) -> None:
        self.module = None
        if self.device.type == "cuda":
            torch.compiler.reset()  # compiled graphs (and CUDA-graph memory pools) are held process-wide

    def run(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, ...]:
        t0 = time.perf_counter()
        # Patched only when wanted, so a global Inductor setting of the user's is left as it was.
        freezing = torch._inductor.config.patch(freezing=True) if self._freezing else contextlib.nullcontext()
        with torch.inference_mode(), freezing:
            out = self.module(template, search, lang)
        if not self._compiled_once:
            self._compiled_once = True
            self.info["compile_s"] = round(time.perf_counter() - t0, 2)
            log.info("torch.compile (%s) took %.1f s", self.config.compile_mode, self.info["compile_s"])
        if self.config.compile_mode == "reduce-overhead" and self.device.type == "cuda":
            out = tuple(t.clone() for t in out)  # CUDA-graph outputs are overwritten by the next replay
        return out
