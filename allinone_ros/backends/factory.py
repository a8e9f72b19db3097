"""Create a backend from a :class:`BackendConfig`, including the ``auto`` choice."""
from __future__ import annotations

import importlib
import logging
import statistics
import time

import torch

from ..model import AllInOne
from .base import Backend
from .config import BackendConfig
from .errors import BackendUnavailableError
from .graph import InferenceGraph

log = logging.getLogger(__name__)


def _importable(module: str) -> bool:
    """Whether ``module`` imports here (it is imported only when its backend is asked for)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def check_device(config: BackendConfig) -> None:
    if config.is_cuda and not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"device {config.device!r} requested but torch sees no CUDA GPU here; use device 'cpu' "
            "with backend 'onnxruntime' or 'eager'"
        )
    if config.is_cuda:
        index = torch.device(config.device).index
        if index is not None and index >= torch.cuda.device_count():
            raise BackendUnavailableError(
                f"device {config.device!r} does not exist: torch sees {torch.cuda.device_count()} CUDA device(s)"
            )


def available_backends(device: str) -> list[str]:
    """Backends that can run on ``device`` in this environment (without building anything)."""
    cuda = device.startswith("cuda") and torch.cuda.is_available()
    names = ["eager", "compile"] if (cuda or device == "cpu") else []
    if _importable("onnxruntime"):
        names.append("onnxruntime")
    if cuda and _importable("torch_tensorrt"):
        names.append("tensorrt")
    return names


def _build_named(graph: InferenceGraph, config: BackendConfig, weights_hash: str | None) -> Backend:
    if config.name == "eager":
        from .eager import EagerBackend

        return EagerBackend(graph, config)
    if config.name == "compile":
        from .compiled import CompileBackend

        return CompileBackend(graph, config)
    if config.name == "onnxruntime":
        from .ort import OnnxRuntimeBackend

        return OnnxRuntimeBackend(graph, config, weights_hash=weights_hash)
    if config.name == "tensorrt":
        from .trt import TensorRTBackend

        return TensorRTBackend(graph, config, weights_hash=weights_hash)
    raise ValueError(f"unknown backend {config.name!r}")


def _median_forward_ms(backends: list[Backend], graph: InferenceGraph, runs: int) -> list[float]:
    """Median forward time of each backend, timed one backend after the other.

    Not interleaved call by call: ONNX Runtime's and PyTorch's spinning worker threads starve each
    other when they alternate within one process, which would time the contention, not the backend.
    """
    inputs = graph.example_inputs(device=backends[0].device)
    medians = []
    for b in backends:
        b(*inputs)  # warm-up (also lets the other runtime's threads go idle)
        b.synchronize()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            b(*inputs)
            b.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)
        medians.append(statistics.median(times))
    return medians


def _auto(graph: InferenceGraph, config: BackendConfig, weights_hash: str | None) -> Backend:
    from dataclasses import replace

    if config.is_cuda:
        if _importable("torch_tensorrt"):
            try:
                return _build_named(graph, replace(config, name="tensorrt"), weights_hash)
            except BackendUnavailableError as exc:
                log.warning("auto: tensorrt unusable (%s); trying compile", exc)
        log.info("auto: torch_tensorrt not importable; using torch.compile on %s", config.device)
        return _build_named(graph, replace(config, name="compile"), weights_hash)
    eager = _build_named(graph, replace(config, name="eager"), weights_hash)
    if not _importable("onnxruntime") or config.precision not in ("fp32", "fp16"):
        log.info("auto: onnxruntime %s; using eager on CPU",
                 "not installed" if not _importable("onnxruntime") else f"has no {config.precision}")
        return eager
    ort_backend = _build_named(graph, replace(config, name="onnxruntime"), weights_hash)
    if config.auto_probe_runs == 0:
        log.info("auto: onnxruntime on CPU (not timed: auto_probe_runs=0)")
        return ort_backend
    eager_ms, ort_ms = _median_forward_ms([eager, ort_backend], graph, config.auto_probe_runs)
    winner = ort_backend if ort_ms < eager_ms else eager
    log.info("auto: eager %.1f ms vs onnxruntime %.1f ms per forward (median of %d); using %s",
             eager_ms, ort_ms, config.auto_probe_runs, winner.name)
    winner.info["auto_probe_ms"] = {"eager": round(eager_ms, 2), "onnxruntime": round(ort_ms, 2)}
    return winner


def create_backend(model: AllInOne | InferenceGraph, config: BackendConfig | None = None,
                   weights_hash: str | None = None) -> Backend:
    """Build the backend ``config`` names (``auto``: the best one available here).

    Raises :class:`BackendUnavailableError` naming what is missing and what to use instead.
    """
    config = config or BackendConfig()
    check_device(config)
    graph = model if isinstance(model, InferenceGraph) else InferenceGraph(model)
    backend = _auto(graph, config, weights_hash) if config.name == "auto" else _build_named(graph, config, weights_hash)
    log.info("backend: %r %s", backend, backend.info)
    return backend
