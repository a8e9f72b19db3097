"""Typed choice of inference backend, precision, device and artifact cache."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..ops.devices import validate_device

BACKENDS = ("auto", "eager", "compile", "tensorrt", "onnxruntime")
PRECISIONS = ("fp32", "fp16", "bf16")
ORT_PROVIDERS = ("cpu", "cuda", "tensorrt")
ORT_OPT_LEVELS = ("disable", "basic", "extended", "all")
ON_MISMATCH = ("rebuild", "error")
PREPROCESS = ("cpu", "device")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CACHE_ENV = "ALLINONE_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$ALLINONE_CACHE_DIR``, else ``$XDG_CACHE_HOME/allinone_ros/engines``, else ``~/.cache/...``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "allinone_ros" / "engines"


def _check_choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{field} must be one of {choices}, got {value!r}")


@dataclass(frozen=True)
class BackendConfig:
    """How to run the network.

    ``name='auto'`` picks TensorRT on CUDA when ``torch_tensorrt`` imports, else ``compile`` on CUDA;
    on CPU it picks ONNX Runtime when installed and (with ``auto_probe_runs > 0``) measured faster
    than eager, else eager. ``precision`` is the compute precision; outputs are always float32.
    """

    name: str = "auto"
    precision: str = "fp32"
    device: str = "cpu"
    cache_dir: str = ""  # "" = default_cache_dir()
    on_mismatch: str = "rebuild"  # what to do with a stale or corrupt artifact: rebuild it, or refuse
    artifact: str = ""  # explicit artifact file (ONNX / Torch-TensorRT program) instead of the cache slot
    # onnxruntime
    ort_providers: tuple[str, ...] = ()  # () = ("cuda",) on CUDA, ("cpu",) on CPU
    ort_intra_threads: int = 0  # 0 = ONNX Runtime's default (one per physical core)
    ort_opt_level: str = "all"
    # Idle ONNX Runtime workers sleep instead of spinning: on a CPU shared with other nodes (or with
    # PyTorch's own threads for pre-processing) spinning steals the cores others need. Measured here.
    ort_allow_spinning: bool = False
    onnx_opset: int = 17
    # torch.compile
    compile_mode: str = "default"  # on CUDA "reduce-overhead" uses CUDA graphs
    # TensorRT
    trt_cuda_graphs: bool = True
    trt_require_full_compilation: bool = False
    trt_workspace_gb: float = 2.0
    # auto selection on CPU: forwards timed per candidate (0 = prefer onnxruntime without timing)
    auto_probe_runs: int = 3
    # pre/post-processing on the backend's device (see backends.backend_tracker.DeviceTracker)
    preprocess: str = "cpu"

    def __post_init__(self) -> None:
        _check_choice("backend name", self.name, BACKENDS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("on_mismatch", self.on_mismatch, ON_MISMATCH)
        _check_choice("ort_opt_level", self.ort_opt_level, ORT_OPT_LEVELS)
        _check_choice("compile_mode", self.compile_mode, COMPILE_MODES)
        _check_choice("preprocess", self.preprocess, PREPROCESS)
        validate_device(self.device)
        if isinstance(self.ort_providers, str):
            raise ValueError(f"ort_providers must be a tuple of names, got the string {self.ort_providers!r}")
        for p in self.ort_providers:
            _check_choice("ort provider", p, ORT_PROVIDERS)
        if self.ort_intra_threads < 0:
            raise ValueError(f"ort_intra_threads must be >= 0, got {self.ort_intra_threads}")
        if self.onnx_opset not in (17, 18):
            raise ValueError(f"onnx_opset must be 17 or 18, got {self.onnx_opset}")
        if self.trt_workspace_gb <= 0:
            raise ValueError(f"trt_workspace_gb must be > 0, got {self.trt_workspace_gb}")
        if self.auto_probe_runs < 0:
            raise ValueError(f"auto_probe_runs must be >= 0, got {self.auto_probe_runs}")

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    @property
    def providers(self) -> tuple[str, ...]:
        if self.ort_providers:
            return self.ort_providers
        return ("cuda",) if self.is_cuda else ("cpu",)
