"""``allinone-build-engine``: build (or check) the cached engine / ONNX artifact for a checkpoint."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import add_engine_cache_argument, cli_main, model_tool_parser

if TYPE_CHECKING:
    from ..backends import BackendConfig
    from ..model import AllInOne

PROG = "allinone-build-engine"


def build_parser() -> argparse.ArgumentParser:
    p = model_tool_parser(
        PROG, "Build the artifact a backend needs (TensorRT engine or ONNX model) into the cache, keyed by "
              "weights, input sizes, precision, library versions and GPU; a stale or corrupt artifact is "
              "rebuilt (or refused with --on-mismatch error).")
    p.add_argument("--backend", choices=("tensorrt", "onnxruntime"), default="tensorrt")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp16")
    p.add_argument("--device", default="cuda", help="cpu, cuda or cuda:N (default cuda)")
    add_engine_cache_argument(p, "--cache-dir")
    p.add_argument("--output", type=Path, default=None, help="write the artifact here instead of the cache slot")
    p.add_argument("--opset", type=int, choices=(17, 18), default=17, help="ONNX opset (onnxruntime backend)")
    p.add_argument("--ort-provider", action="append", choices=("cpu", "cuda", "tensorrt"), default=None,
                   help="onnxruntime execution provider (repeatable; default cuda on GPU, cpu on CPU)")
    p.add_argument("--on-mismatch", choices=("rebuild", "error"), default="rebuild")
    p.add_argument("--force", action="store_true", help="delete an existing artifact first and build anew")
    return p


def _run(args: argparse.Namespace) -> int:
    from ..backends import BackendConfig, create_backend
    from ..backends.cache import read_sidecar, sidecar_path
    from ..checkpoint import load_model

    config = BackendConfig(
        name=args.backend, precision=args.precision, device=args.device,
        cache_dir=str(args.engine_cache) if args.engine_cache else "", artifact=str(args.output) if args.output else "",
        on_mismatch=args.on_mismatch, onnx_opset=args.opset, ort_providers=tuple(args.ort_provider or ()),
        trt_cuda_graphs=False,
    )
    if args.force and args.output is not None:
        args.output.unlink(missing_ok=True)
        sidecar_path(args.output).unlink(missing_ok=True)
    model = load_model(args.checkpoint, trust=args.trust_checkpoint)
    if args.force and args.output is None:
        _remove_cached(model, config)
    print(f"building {args.backend} {args.precision} artifact for {args.checkpoint} ...", file=sys.stderr)
    backend = create_backend(model, config)
    artifact = Path(backend.info["artifact"])
    record = read_sidecar(artifact)
    print(json.dumps({"artifact": str(artifact), "key": record["key"],
                      **{k: v for k, v in backend.info.items() if k != "artifact"}}, indent=2, default=str))
    return 0


def _remove_cached(model: AllInOne, config: BackendConfig) -> None:
    from ..backends.cache import sidecar_path, weights_sha256
    from ..backends.graph import InferenceGraph
    from ..backends.onnx_export import onnx_key, onnx_slot

    graph = InferenceGraph(model)
    digest = weights_sha256(graph)
    if config.name == "onnxruntime":
        path = onnx_slot(config.cache_path, onnx_key(graph, config.precision, config.onnx_opset, digest))
    else:
        from ..backends.trt import trt_key, trt_slot

        path = trt_slot(config.cache_path, trt_key(graph, config, digest))
    for p in (path, sidecar_path(path)):
        if p.exists():
            print(f"removing {p}", file=sys.stderr)
            p.unlink()


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
