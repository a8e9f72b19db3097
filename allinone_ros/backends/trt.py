"""Torch-TensorRT (dynamo) backend, with per-version precision handling and engine verification.

Precision facts this module relies on (see docs/deployment.md):
- torch_tensorrt <= 2.9: ``enabled_precisions={torch.half}`` builds FP16 layers from an FP32 graph.
- 2.10 - 2.12: that raises unless ``use_explicit_typing=False``; 2.13+: it is ignored (FP32 engine).
  From 2.10 on we therefore cast the graph and inputs to FP16/BF16 and build with explicit typing.
Whatever the version, the built (or loaded) engine is checked against the float32 PyTorch graph
before use: an engine that computes in another precision than asked, or wrongly, is refused.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import re
from pathlib import Path
from typing import Any

import torch

from ..config_io import to_dict
from .base import Backend
from .cache import CACHE_FORMAT, device_identity, ensure_artifact, handle_bad_artifact, package_version, read_sidecar
from .config import BackendConfig
from .errors import ArtifactError, BackendUnavailableError
from .graph import DTYPES, InferenceGraph

log = logging.getLogger(__name__)

EXPLICIT_TYPING_FROM = (2, 10)
# Relative max error vs the fp32 graph: below FP32_MAX an engine computes in fp32 (TF32 disabled);
# a half-precision engine lands well above it (fp16/bf16 rounding), and anything above BROKEN is wrong.
FP32_MAX_REL_ERR = 1e-4
BROKEN_REL_ERR = 5e-2


def parse_version(text: str) -> tuple[int, int]:
    """'2.13.0+cu130' -> (2, 13)."""
    m = re.match(r"(\d+)\.(\d+)", text)
    if not m:
        raise ValueError(f"cannot parse a version from {text!r}")
    return int(m.group(1)), int(m.group(2))


def import_torch_tensorrt() -> Any:
    try:
        import torch_tensorrt
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend 'tensorrt' needs the torch_tensorrt package built for torch {torch.__version__}, which "
            f"cannot be imported here ({exc}); install torch-tensorrt (on Jetson: NVIDIA's wheel for JetPack), "
            "or use backend 'compile' (CUDA) or 'onnxruntime' (ONNX; TensorRT via trtexec, see docs/deployment.md)"
        ) from exc
    return torch_tensorrt


def precision_plan(trt_version: tuple[int, int], precision: str) -> tuple[str, dict[str, Any]]:
    """(precision to cast the graph to, compile settings) for this Torch-TensorRT version."""
    if precision == "fp32":
        return "fp32", {"enabled_precisions": {torch.float32}, "disable_tf32": True}
    if trt_version < EXPLICIT_TYPING_FROM:
        return "fp32", {"enabled_precisions": {DTYPES[precision]}}
    return precision, {"use_explicit_typing": True}


def _settings_fields(torch_tensorrt: Any) -> set[str] | None:
    try:
        from torch_tensorrt.dynamo._settings import CompilationSettings

        return {f.name for f in dataclasses.fields(CompilationSettings)}
    except (ImportError, TypeError):
        return None


def _kwarg_name(func: Any, new: str, old: str) -> str:
    """``arg_inputs`` (2.5+) or ``inputs`` (older) - whichever ``func`` takes."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return new
    return new if new in params or old not in params else old


def trt_key(graph: InferenceGraph, config: BackendConfig, weights_hash: str) -> dict[str, Any]:
    cfg = graph.cfg
    return {
        "kind": "torch_tensorrt",
        "cache_format": CACHE_FORMAT,
        "weights_sha256": weights_hash,
        "model_config": to_dict(cfg),
        "inputs": {"template": [1, 3, cfg.template_size, cfg.template_size],
                   "search": [1, 3, cfg.search_size, cfg.search_size], "lang": [1, cfg.embed_dim]},
        "precision": config.precision,
        "attn_impl": "plain",
        "require_full_compilation": config.trt_require_full_compilation,
        "torch": torch.__version__,
        "torch_tensorrt": package_version("torch_tensorrt"),
        "tensorrt": package_version("tensorrt"),
        **device_identity(config.device),
    }


def trt_slot(cache_dir: Path, key: dict[str, Any]) -> Path:
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", str(key.get("gpu", "gpu"))).strip("-")
    return cache_dir / f"trt-{key['weights_sha256'][:16]}-{key['precision']}-{gpu}.ep"


def engine_layer_precisions(module: torch.nn.Module) -> dict[str, int]:
    """Best effort: count engine layers per reported precision via the engine inspector (may be empty)."""
    counts: dict[str, int] = {}
    for sub in module.modules():
        getter = getattr(sub, "get_layer_info", None)
        if not callable(getter):
            continue
        try:
            info = json.loads(getter())
        except Exception:  # noqa: BLE001 - inspector output differs between versions
            continue
        for layer in info.get("Layers", []) if isinstance(info, dict) else []:
            if not isinstance(layer, dict):
                continue
            for out in layer.get("Outputs", []):
                fmt = str(out.get("Format/Datatype", "")) if isinstance(out, dict) else ""
                for tag in ("FP32", "Float", "FP16", "Half", "BF16", "Int32", "Int64"):
                    if tag.lower() in fmt.lower():
                        counts[tag] = counts.get(tag, 0) + 1
                        break
    return counts


def verify_engine(module: Any, graph: InferenceGraph, precision: str, device: torch.device) -> dict[str, Any]:
    """Compare the engine with the float32 graph on fixed inputs; raise if its precision is not the one asked.

    ``graph`` must be a float32 graph the caller owns: it is moved to ``device``.
    """
    inputs = graph.example_inputs(device=device, seed=1234)
    reference = graph.to(device)
    with torch.inference_mode():
        ref = reference(*inputs)
        got = module(*[t.to(torch.float32) for t in inputs])
    rel = max(float((g.float() - r.float()).abs().max() / r.float().abs().max().clamp_min(1e-12))
              for g, r in zip(got[:3], ref[:3]))
    facts: dict[str, Any] = {"max_rel_err_vs_fp32": rel, "output_dtypes": [str(g.dtype) for g in got],
                             "layer_precisions": engine_layer_precisions(module)}
    if rel > BROKEN_REL_ERR:
        raise ArtifactError(
            f"TensorRT engine output differs from PyTorch by {rel:.3g} (relative max) - the engine is wrong "
            "(e.g. an attention converter assumed causal attention); use backend 'compile' or 'onnxruntime'"
        )
    if precision == "fp32" and rel > FP32_MAX_REL_ERR:
        raise ArtifactError(f"TensorRT engine asked for fp32 differs from PyTorch by {rel:.3g}: it does not "
                            "compute in fp32 (TF32 or FP16 layers)")
    if precision != "fp32" and rel <= FP32_MAX_REL_ERR:
        raise ArtifactError(
            f"TensorRT engine asked for {precision} matches the fp32 graph to {rel:.3g}: it computes in fp32 "
            f"(this torch_tensorrt ignored the precision request); report the installed versions"
        )
    facts["verified_precision"] = precision
    return facts


class TensorRTBackend(Backend):
    """Torch-TensorRT engine, built once and cached as an ExportedProgram (``.ep``)."""

    name = "tensorrt"

    def __init__(self, graph: InferenceGraph, config: BackendConfig, weights_hash: str | None = None) -> None:
        super().__init__(graph, config)
        if not config.is_cuda:
            raise BackendUnavailableError(
                f"backend 'tensorrt' runs on CUDA devices, but device is {config.device!r}; "
                "use backend 'onnxruntime' or 'eager' on CPU"
            )
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                "backend 'tensorrt' needs a CUDA GPU, and torch sees none here; "
                "use backend 'onnxruntime' or 'eager' on CPU"
            )
        tt = import_torch_tensorrt()
        self._tt = tt
        self.trt_version = parse_version(tt.__version__)
        from .cache import weights_sha256

        key = trt_key(graph, config, weights_hash or weights_sha256(graph))
        path = Path(config.artifact) if config.artifact else trt_slot(config.cache_path, key)
        plain = graph.with_attn_impl("plain")  # no reliance on the SDPA converter's masking defaults

        def build(tmp: Path) -> dict[str, Any]:
            module, facts = self._build(plain)
            self._save(module, tmp, plain)
            return facts

        self.artifact = ensure_artifact(path, key, build, config.on_mismatch, what="TensorRT engine")
        try:
            module = self._load(self.artifact)
            facts = verify_engine(module, plain, config.precision, self.device)
        except (ArtifactError, RuntimeError, OSError) as exc:
            self.artifact = handle_bad_artifact(self.artifact, key, build, f"it does not load or verify ({exc})",
                                                config.on_mismatch, "TensorRT engine")
            module = self._load(self.artifact)
            facts = verify_engine(module, plain, config.precision, self.device)
        self.info.update({"artifact": str(self.artifact), "torch_tensorrt": tt.__version__, **facts,
                          "built_with": read_sidecar(self.artifact).get("verified_precision")})
        self.module = self._with_cuda_graphs(module) if config.trt_cuda_graphs else module

    # -- build / save / load ----------------------------------------------------------------
    def _build(self, plain: InferenceGraph) -> tuple[Any, dict[str, Any]]:
        tt, config = self._tt, self.config
        cast, settings = precision_plan(self.trt_version, config.precision)
        module = plain.to_precision(cast).to(self.device).eval()
        inputs = plain.example_inputs(device=self.device)
        settings.update({
            "require_full_compilation": config.trt_require_full_compilation,
            "workspace_size": int(config.trt_workspace_gb * (1 << 30)),
            "timing_cache_path": str(config.cache_path / "trt_timing.cache"),
            "min_block_size": 1,
        })
        fields = _settings_fields(tt)
        if fields is not None:
            dropped = sorted(set(settings) - fields)
            if dropped:
                log.info("torch_tensorrt %s does not take %s; building without them", tt.__version__, dropped)
            settings = {k: v for k, v in settings.items() if k in fields}
        log.info("building TensorRT engine (torch_tensorrt %s, %s via cast=%s, settings %s)",
                 tt.__version__, config.precision, cast, sorted(settings))
        with torch.inference_mode(False), torch.no_grad():
            program = torch.export.export(module, inputs)
            compile_fn = tt.dynamo.compile
            arg = _kwarg_name(compile_fn, "arg_inputs", "inputs")
            trt_module = compile_fn(program, **{arg: list(inputs)}, **settings)
        facts = verify_engine(trt_module, plain, config.precision, self.device)
        log.info("TensorRT engine verified: %s", facts)
        return trt_module, facts

    def _save(self, module: Any, path: Path, plain: InferenceGraph) -> None:
        tt = self._tt
        inputs = list(plain.example_inputs(device=self.device))
        arg = _kwarg_name(tt.save, "arg_inputs", "inputs")
        tt.save(module, str(path), output_format="exported_program", **{arg: inputs})

    def _load(self, path: Path) -> Any:
        loaded = self._tt.load(str(path))
        return loaded.module() if hasattr(loaded, "module") else loaded

    def _with_cuda_graphs(self, module: Any) -> Any:
        runtime = getattr(self._tt, "runtime", None)
        enable = getattr(runtime, "enable_cudagraphs", None)
        if enable is None:
            log.warning("torch_tensorrt %s has no runtime.enable_cudagraphs; running without CUDA graphs",
                        self._tt.__version__)
            return module
        try:
            self._cudagraph_ctx = enable(module)
            wrapped = self._cudagraph_ctx.__enter__()
        except Exception as exc:  # noqa: BLE001 - optional speed-up; keep the plain engine
            log.warning("could not enable CUDA graphs (%s); running without them", exc)
            return module
        self.info["cuda_graphs"] = True
        return wrapped

    def release(self) -> None:
        ctx = getattr(self, "_cudagraph_ctx", None)
        if ctx is not None:
            self._cudagraph_ctx = None
            try:
                ctx.__exit__(None, None, None)
            except Exception as exc:  # noqa: BLE001 - releasing must not fail on the way out
                log.warning("leaving the CUDA-graph mode of the TensorRT module failed: %s", exc)
        self.module = None

    def run(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.module(template, search, lang)
        return tuple(t.clone() for t in out)  # CUDA-graph output buffers are reused by the next replay
