"""Inference backends (eager, torch.compile, Torch-TensorRT, ONNX Runtime) behind one interface.

Nothing heavy is imported here: onnxruntime and torch_tensorrt load only when their backend is built.
"""
from .base import Backend
from .config import BACKENDS, PRECISIONS, BackendConfig, default_cache_dir
from .errors import ArtifactError, BackendUnavailableError
from .factory import available_backends, create_backend
from .graph import INPUT_NAMES, OUTPUT_NAMES, InferenceGraph

__all__ = [
    "ArtifactError", "BACKENDS", "Backend", "BackendConfig", "BackendUnavailableError", "INPUT_NAMES",
    "InferenceGraph", "OUTPUT_NAMES", "PRECISIONS", "available_backends", "create_backend", "default_cache_dir",
]
