"""Export the inference graph to a static-shape ONNX file (opset 17 or 18)."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from ..config_io import to_dict
from .cache import CACHE_FORMAT, package_version, weights_sha256
from .graph import INPUT_NAMES, OUTPUT_NAMES, InferenceGraph

log = logging.getLogger(__name__)

ONNX_PRECISIONS = ("fp32", "fp16")


def export_onnx(graph: InferenceGraph, path: str | Path, opset: int = 17, precision: str = "fp32") -> Path:
    """Write ``graph`` as ONNX with inputs template/search/lang and outputs the three maps + kept_index.

    ``precision='fp16'`` stores FP16 weights and computes in FP16 (inputs and outputs stay float32,
    cast inside the graph) - what TensorRT 11, which has no FP16 builder flag, needs. The file is
    checked with ``onnx.checker`` before returning.
    """
    import onnx

    if opset not in (17, 18):
        raise ValueError(f"ONNX opset must be 17 or 18, got {opset}")
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"ONNX precision must be one of {ONNX_PRECISIONS}, got {precision!r}")
    path = Path(path)
    module = graph.to_precision(precision).to("cpu").eval()
    inputs = graph.example_inputs(device="cpu")
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about the (static) token counts it records as constants.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, inputs, str(path), dynamo=False, opset_version=opset, do_constant_folding=True,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
        )
    onnx.checker.check_model(str(path))
    log.info("wrote %s (%s, opset %d, %.1f MB)", path, precision, opset, path.stat().st_size / 1e6)
    return path


def onnx_key(graph: InferenceGraph, precision: str, opset: int, weights_hash: str | None = None) -> dict[str, Any]:
    """What an exported ONNX file depends on."""
    cfg = graph.cfg
    return {
        "kind": "onnx",
        "cache_format": CACHE_FORMAT,
        "weights_sha256": weights_hash or weights_sha256(graph),
        "model_config": to_dict(cfg),
        "inputs": {"template": [1, 3, cfg.template_size, cfg.template_size],
                   "search": [1, 3, cfg.search_size, cfg.search_size], "lang": [1, cfg.embed_dim]},
        "precision": precision,
        "opset": opset,
        "torch": torch.__version__,
        "onnx": package_version("onnx"),
    }


def onnx_slot(cache_dir: Path, key: dict[str, Any]) -> Path:
    """Cache file for an ONNX key: one per weights, precision and opset (versions live in the sidecar)."""
    return cache_dir / f"onnx-{key['weights_sha256'][:16]}-{key['precision']}-op{key['opset']}.onnx"
