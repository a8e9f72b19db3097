"""``allinone-bench``: latency of every available backend/precision side by side, vs eager fp32."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_crop_arguments, add_engine_cache_argument, cli_main, model_tool_parser, set_threads

PROG = "allinone-bench"


def _csv(text: str) -> tuple[str, ...]:
    return tuple(v for v in (s.strip() for s in text.split(",")) if v)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"frame size must be WIDTHxHEIGHT, got {text!r}") from exc
    return h, w


def build_parser() -> argparse.ArgumentParser:
    p = model_tool_parser(
        PROG, "Track a generated moving-target sequence with each backend and precision and report per-stage "
              "latency, FPS, memory, speed-up and box agreement with eager fp32.", checkpoint_argument=False)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="model checkpoint (default: full-size model with seeded random weights)")
    p.add_argument("--tiny", action="store_true", help="tiny random model (quick runs)")
    p.add_argument("--frames", type=int, default=50, help="timed frames (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="warm-up frames per backend (default 5)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--backends", type=_csv, default=(), help="comma list (default: all available)")
    p.add_argument("--precisions", type=_csv, default=(), help="comma list of fp32,fp16,bf16")
    p.add_argument("--preprocess", type=_csv, default=(), help="comma list of cpu,device")
    p.add_argument("--frame-size", type=_size, default=(480, 640), help="WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--rounds", type=int, default=2,
                   help="times each row tracks the sequence, row order alternating by round (default 2)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--ort-threads", type=int, default=0, help="onnxruntime intra-op threads (0 = its default)")
    p.add_argument("--ort-spin", action="store_true",
                   help="let idle onnxruntime worker threads spin (default: they sleep, better on a shared CPU)")
    p.add_argument("--compile-mode", default="default",
                   choices=("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"))
    add_engine_cache_argument(p, "--cache-dir")
    add_crop_arguments(p)
    p.add_argument("--output", "-o", type=Path, default=Path("bench.json"),
                   help="JSON report (a .md table is written beside it)")
    p.add_argument("--no-progress", action="store_true")
    return p


def _run(args: argparse.Namespace) -> int:
    from ..backends.bench import BenchConfig, run_bench, to_markdown

    set_threads(args.threads)
    cfg = BenchConfig(
        frames=args.frames, warmup=args.warmup, tiny=args.tiny,
        checkpoint=str(args.checkpoint) if args.checkpoint else "", trust_checkpoint=args.trust_checkpoint,
        device=args.device, backends=args.backends, precisions=args.precisions, preprocess=args.preprocess,
        frame_size=args.frame_size, rounds=args.rounds,
        cache_dir=str(args.engine_cache) if args.engine_cache else "", ort_intra_threads=args.ort_threads,
        ort_allow_spinning=args.ort_spin,
        compile_mode=args.compile_mode, template_factor=args.template_factor, search_factor=args.search_factor,
    )
    report = run_bench(cfg, progress=not args.no_progress)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    md = to_markdown(report)
    md_path = args.output.with_suffix(".md")
    md_path.write_text(md)
    print(md)
    print(f"wrote {args.output} and {md_path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli_main(PROG, build_parser, _run, argv)


if __name__ == "__main__":
    sys.exit(main())
