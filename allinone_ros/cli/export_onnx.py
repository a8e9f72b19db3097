"""``allinone-export-onnx``: checkpoint -> static-shape ONNX of the inference graph."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import cli_main, model_tool_parser

if TYPE_CHECKING:
    from ..backends.graph import InferenceGraph

PROG = "allinone-export-onnx"


def build_parser() -> argparse.ArgumentParser:
    p = model_tool_parser(
        PROG, "Export the tracker network (template, search, sentence vector -> score/size/offset maps and "
              "kept-token indices) to a static-shape ONNX file checked with onnx.checker.")
    p.add_argument("--output", "-o", type=Path, required=True, help="ONNX file to write")
    p.add_argument("--opset", type=int, choices=(17, 18), default=17, help="ONNX opset (default 17)")
    p.add_argument("--fp16", action="store_true",
                   help="FP16 weights and compute, float32 inputs/outputs (for TensorRT 11, which has no FP16 flag)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip comparing onnxruntime (CPU) with PyTorch on random inputs")
    return p


def _run(args: argparse.Namespace) -> int:
    from ..backends.graph import InferenceGraph
    from ..backends.onnx_export import export_onnx
    from ..checkpoint import load_model

    model = load_model(args.checkpoint, trust=args.trust_checkpoint)
    graph = InferenceGraph(model)
    precision = "fp16" if args.fp16 else "fp32"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    print(f"exporting {args.checkpoint} ({precision}, opset {args.opset}) ...", file=sys.stderr)
    export_onnx(graph, args.output, opset=args.opset, precision=precision)
    size_mb = args.output.stat().st_size / 1e6
    print(f"wrote {args.output} ({size_mb:.1f} MB); onnx.checker passed", file=sys.stderr)
    if not args.no_verify:
        _verify(graph, args.output, precision)
    return 0


def _verify(graph: InferenceGraph, path: Path, precision: str) -> None:
    import numpy as np
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: skipped the numerical check", file=sys.stderr)
        return
    inputs = graph.example_inputs()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)})
    with torch.inference_mode():
        ref = graph(*inputs)
    diffs = [float(np.abs(g - r.numpy()).max()) for g, r in zip(got[:3], ref[:3])]
    same_kept = bool(np.array_equal(got[3], ref[3].numpy()))
    print(f"onnxruntime vs PyTorch ({precision}): max abs diff score/size/offset "
          f"{diffs[0]:.2e}/{diffs[1]:.2e}/{diffs[2]:.2e}; kept tokens {'identical' if same_kept else 'differ'}",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
