"""ONNX Runtime backend: CPU, CUDA or TensorRT execution provider over the exported ONNX file."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import Backend
from .cache import ensure_artifact, handle_bad_artifact
from .config import BackendConfig
from .errors import BackendUnavailableError
from .graph import INPUT_NAMES, OUTPUT_NAMES, InferenceGraph
from .onnx_export import ONNX_PRECISIONS, export_onnx, onnx_key, onnx_slot

log = logging.getLogger(__name__)

PROVIDER_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
                  "tensorrt": "TensorrtExecutionProvider"}


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'onnxruntime' needs the onnxruntime package, which cannot be imported here ({exc}); "
            "install onnxruntime (CPU) or onnxruntime-gpu, or use backend 'eager'"
        ) from exc
    return onnxruntime


def _ort_opt_level(ort: Any, name: str) -> Any:
    levels = ort.GraphOptimizationLevel
    return {"disable": levels.ORT_DISABLE_ALL, "basic": levels.ORT_ENABLE_BASIC,
            "extended": levels.ORT_ENABLE_EXTENDED, "all": levels.ORT_ENABLE_ALL}[name]


def resolve_providers(config: BackendConfig, available: list[str]) -> list[Any]:
    """ONNX Runtime provider list for the config, or a clear error naming what is missing."""
    wanted = config.providers
    gpu = [p for p in wanted if p != "cpu"]
    if gpu and not config.is_cuda:
        raise ValueError(f"ONNX Runtime providers {gpu} run on a GPU but device is {config.device!r}; "
                         "use device 'cuda' or providers ('cpu',)")
    if config.is_cuda and not gpu:
        raise ValueError(f"device {config.device!r} with ONNX Runtime providers {wanted} would run on the CPU; "
                         "use providers ('cuda',) or ('tensorrt',), or device 'cpu'")
    missing = [p for p in wanted if PROVIDER_NAMES[p] not in available]
    if missing:
        raise BackendUnavailableError(
            f"this onnxruntime has no {[PROVIDER_NAMES[p] for p in missing]} (available: {available}); "
            + ("install onnxruntime-gpu (built for this CUDA), or use backend 'tensorrt' or 'compile' on CUDA"
               if gpu else "use backend 'eager'")
        )
    index = torch.device(config.device).index or 0
    out: list[Any] = []
    for p in wanted:
        if p == "cpu":
            out.append(PROVIDER_NAMES[p])
        elif p == "cuda":
            out.append((PROVIDER_NAMES[p], {"device_id": index}))
        else:
            trt_cache = str(config.cache_path / "ort-tensorrt")
            out.append((PROVIDER_NAMES[p], {
                "device_id": index, "trt_fp16_enable": config.precision == "fp16",
                "trt_engine_cache_enable": True, "trt_engine_cache_path": trt_cache,
                "trt_timing_cache_enable": True, "trt_timing_cache_path": trt_cache,
            }))
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")  # for any node a GPU provider does not take
    return out


class OnnxRuntimeBackend(Backend):
    """Runs the cached (or given) ONNX export with ONNX Runtime."""

    name = "onnxruntime"

    def __init__(self, graph: InferenceGraph, config: BackendConfig, weights_hash: str | None = None) -> None:
        super().__init__(graph, config)
        ort = import_onnxruntime()
        if config.precision not in ONNX_PRECISIONS:
            raise BackendUnavailableError(
                f"backend 'onnxruntime' supports precisions {ONNX_PRECISIONS}, not {config.precision!r}; "
                "use backend 'eager' or 'compile' for bf16"
            )
        if config.precision == "fp16" and not config.is_cuda:
            log.warning("onnxruntime fp16 on CPU has few fast kernels; fp32 is usually faster there")
        self._ort = ort
        self.providers = resolve_providers(config, ort.get_available_providers())
        key = onnx_key(graph, config.precision, config.onnx_opset, weights_hash)
        path = Path(config.artifact) if config.artifact else onnx_slot(config.cache_path, key)

        def build(tmp: Path) -> dict[str, Any]:
            export_onnx(graph, tmp, opset=config.onnx_opset, precision=config.precision)
            return {"backend": "onnxruntime"}

        self.artifact = ensure_artifact(path, key, build, config.on_mismatch, what="ONNX model")
        try:
            self.session = self._session(self.artifact)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            self.artifact = handle_bad_artifact(self.artifact, key, build, f"onnxruntime cannot load it ({exc})",
                                                config.on_mismatch, "ONNX model")
            self.session = self._session(self.artifact)
        self.info.update({"artifact": str(self.artifact), "providers": self.session.get_providers(),
                          "intra_threads": config.ort_intra_threads, "opt_level": config.ort_opt_level,
                          "allow_spinning": config.ort_allow_spinning})
        self._outputs = [(o.name, tuple(o.shape)) for o in self.session.get_outputs()]
        self._binding = None

    def _session(self, path: Path) -> Any:
        ort = self._ort
        so = ort.SessionOptions()
        so.graph_optimization_level = _ort_opt_level(ort, self.config.ort_opt_level)
        if self.config.ort_intra_threads:
            so.intra_op_num_threads = self.config.ort_intra_threads
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if not self.config.ort_allow_spinning:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3  # errors only; the exporter's unused-initialiser notes are noise
        return ort.InferenceSession(str(path), so, providers=self.providers)

    def release(self) -> None:
        self.session = None  # its device memory arena goes with the session
        self._binding = None

    def run(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = (template, search, lang)
        if self.device.type == "cpu":
            feed = {n: t.detach().contiguous().numpy() for n, t in zip(INPUT_NAMES, inputs)}
            outs = self.session.run(list(OUTPUT_NAMES), feed)
            return tuple(torch.from_numpy(o) for o in outs)
        return self._run_cuda(inputs)

    def _run_cuda(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Device-resident inputs and outputs through IO binding (no host round trip)."""
        index = self.device.index or 0
        binding = self.session.io_binding()
        inputs = tuple(t.contiguous() for t in inputs)
        for name, t in zip(INPUT_NAMES, inputs):
            binding.bind_input(name, "cuda", index, np.float32, tuple(t.shape), t.data_ptr())
        outs = []
        for name, shape in self._outputs:
            dtype = torch.int64 if name == "kept_index" else torch.float32
            out = torch.empty(shape, dtype=dtype, device=self.device)
            binding.bind_output(name, "cuda", index, np.int64 if dtype == torch.int64 else np.float32,
                                tuple(shape), out.data_ptr())
            outs.append(out)
        torch.cuda.current_stream(self.device).synchronize()  # inputs written by torch's stream are ready
        self.session.run_with_iobinding(binding)
        return tuple(outs)
