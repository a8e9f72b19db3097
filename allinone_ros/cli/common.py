"""Shared helpers for command-line tools: entry point, logging set-up, common arguments and clean error exits."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any
from pathlib import Path

import torch

from ..backends.config import BACKENDS, PRECISIONS, BackendConfig
from ..backends.errors import ArtifactError, BackendUnavailableError
from ..checkpoint import CheckpointError
from ..config_io import ConfigError
from ..data.frames import FrameReadError
from ..grounding.base import GroundingModelError
from ..model.language import TextEncoderError
from ..tracker.config import TrackerConfig
from ..model.inference_settings import PAPER_SETTINGS
from ..tracker.preprocess import InputError
from .output_mode import use_output_umask

# Errors that mean "the user's input is bad": reported in one line, exit code 2. A backend that cannot
# run here is one too: its message names what is missing and which backend to use instead; so is an
# engine/ONNX artifact that does not match the model (the message says why and what to do).
USER_ERRORS: tuple[type[BaseException], ...] = (
    CheckpointError, ConfigError, FrameReadError, InputError, TextEncoderError, GroundingModelError, FileNotFoundError,
    ValueError, BackendUnavailableError, ArtifactError,
)

TRUST_CHECKPOINT_HELP = "allow full unpickling of the checkpoint (runs code in the file; only for trusted files)"


def model_tool_parser(prog: str, description: str, checkpoint_argument: bool = True) -> argparse.ArgumentParser:
    """Parser of a tool that loads a model checkpoint: the positional ``checkpoint`` (unless
    ``checkpoint_argument`` is False: the tool adds its own), ``--trust-checkpoint`` and ``-v``."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    if checkpoint_argument:
        p.add_argument("checkpoint", type=Path, help="model checkpoint")
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_CHECKPOINT_HELP)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def parse_box(text: str) -> tuple[float, float, float, float]:
    """Parse ``x,y,w,h`` for argparse."""
    try:
        vals = tuple(float(v) for v in text.replace(" ", "").split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"box must be x,y,w,h numbers, got {text!r}") from exc
    if len(vals) != 4:
        raise argparse.ArgumentTypeError(f"box must have 4 values x,y,w,h, got {len(vals)} in {text!r}")
    return vals  # type: ignore[return-value]


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """``--backend``, ``--precision`` and ``--engine-cache`` (see :class:`~allinone_ros.backends.BackendConfig`)."""
    p.add_argument("--backend", choices=BACKENDS, default="eager",
                   help="inference backend: eager (default: plain PyTorch, the reference), compile (torch.compile), "
                        "tensorrt (Torch-TensorRT, CUDA), onnxruntime (ONNX export, cached), auto (the best one "
                        "available here)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="compute precision of the network (default fp32); boxes are float32 either way")
    add_engine_cache_argument(p)


def add_engine_cache_argument(p: argparse.ArgumentParser, *aliases: str) -> None:
    """``--engine-cache DIR`` (``args.engine_cache``); ``aliases`` are older names of the same option."""
    p.add_argument("--engine-cache", *aliases, dest="engine_cache", type=Path, default=None, metavar="DIR",
                   help="cache of built engines / ONNX files (default: $ALLINONE_CACHE_DIR, else "
                        "$XDG_CACHE_HOME or ~/.cache, then allinone_ros/engines)"
                        + "".join(f"; {a} is an older name" for a in aliases))


def backend_config(args: argparse.Namespace, threads: int | None = None) -> BackendConfig:
    """The :class:`BackendConfig` of :func:`add_backend_arguments` and ``--device``.

    ``threads`` (default ``--threads``) also bounds ONNX Runtime's intra-op threads (0 = its default).
    """
    threads = args.threads if threads is None else threads
    return BackendConfig(name=args.backend, precision=args.precision, device=args.device,
                         cache_dir=str(args.engine_cache) if args.engine_cache else "",
                         ort_intra_threads=max(threads, 0))


def add_tracker_arguments(p: argparse.ArgumentParser, threads_help: str) -> None:
    """What builds and runs the tracker: ``--device``, ``--threads``, backend, crop factors, lifecycle, trust."""
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=int, default=0, help=threads_help)
    add_backend_arguments(p)
    add_crop_arguments(p)
    add_lifecycle_argument(p)
    p.add_argument("--trust-checkpoint", action="store_true", help=TRUST_CHECKPOINT_HELP)


def add_crop_arguments(p: argparse.ArgumentParser) -> None:
    """``--template-factor`` / ``--search-factor``: override the crop factors the checkpoint stores."""
    for name, what in (("template", "template (first-frame) crop"), ("search", "search crop")):
        paper = getattr(PAPER_SETTINGS, f"{name}_factor")
        p.add_argument(f"--{name}-factor", type=float, default=None, metavar="F",
                       help=f"side of the {what} in target sizes (default: the value stored in the checkpoint; "
                            f"{paper:.1f}, the paper's, for checkpoints that store none)")


def tracker_config(args: argparse.Namespace) -> TrackerConfig:
    """The :class:`TrackerConfig` of ``--device`` and :func:`add_crop_arguments` (unset factors: the checkpoint's)."""
    return TrackerConfig(template_factor=args.template_factor, search_factor=args.search_factor, device=args.device)


def add_grounder_argument(p: argparse.ArgumentParser) -> None:
    """``--grounder`` (see :func:`allinone_ros.grounding.build_grounder`)."""
    p.add_argument("--grounder", default="",
                   help="'' = the shipped built-in grounder, 'none', a .safetensors grounder checkpoint or a "
                        "transformers Grounding DINO / OWLv2 model directory (sentence starts and re-finding a lost "
                        "target)")


def add_plain_argument(p: argparse.ArgumentParser, purpose: str, lost_output: str) -> None:
    """``--plain``: the released tracker as published instead of the node's target lifecycle."""
    p.add_argument("--plain", action="store_true",
                   help=f"the released tracker as published (a box on every frame, no loss detection), {purpose}; "
                        f"default: the node's target lifecycle (no box while LOST, {lost_output})")


def set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def cli_main(prog: str, build_parser: Callable[[], argparse.ArgumentParser],
             run: Callable[[argparse.Namespace], int], argv: list[str] | None = None) -> int:
    """The usual entry point: parse ``argv``, set up logging from ``--verbose``, then :func:`run_cli`."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return run_cli(prog, lambda: run(args))


def run_cli(prog: str, body: Callable[[], int]) -> int:
    """Run ``body``; turn user errors into a one-line message and exit code 2 (no traceback).

    Output files are written 0644 (:func:`~allinone_ros.cli.output_mode.use_output_umask`), also under a
    restrictive umask such as 077.
    """
    use_output_umask()
    try:
        return body()
    except USER_ERRORS as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def add_lifecycle_argument(p: argparse.ArgumentParser) -> None:
    """``--lifecycle KEY=VALUE`` (repeatable): override a :class:`~allinone_ros.lifecycle.LifecycleConfig` setting."""
    p.add_argument("--lifecycle", action="append", default=[], metavar="KEY=VALUE",
                   help="override a target-lifecycle setting (as the node's parameters of the same names, e.g. "
                        "ground_threshold=0.4); repeatable; defaults as in config/tracker.yaml")


def lifecycle_config(args: argparse.Namespace) -> Any:
    """The :class:`LifecycleConfig` of ``--lifecycle`` overrides (values read as YAML scalars); ValueError names the bad one."""
    import yaml

    from ..config_io import ConfigError, from_dict, to_dict
    from ..lifecycle import LifecycleConfig

    values = to_dict(LifecycleConfig())
    for item in args.lifecycle:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--lifecycle wants KEY=VALUE, got {item!r}")
        if key.strip() not in values:
            raise ValueError(f"--lifecycle: unknown setting {key.strip()!r}; known: {', '.join(sorted(values))}")
        values[key.strip()] = yaml.safe_load(text)
    try:
        return from_dict(LifecycleConfig, values, where="--lifecycle")
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc
