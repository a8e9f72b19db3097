"""``allinone-train``: train or fine-tune the tracker from an experiment YAML.

Single process: ``allinone-train --config config/train_uav_small.yaml``.
Several GPUs: ``torchrun --nproc_per_node=N -m allinone_ros.cli.train --config ...``
(the process group is set up from the environment when ``WORLD_SIZE > 1``).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..training.config import load_experiment
from ..training.distributed import dist_info_from_env, shutdown_distributed
from .common import run_cli

log = logging.getLogger("allinone-train")
PROG = "allinone-train"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Train the All-in-One tracker from an experiment YAML.")
    p.add_argument("--config", type=Path, required=True, help="experiment YAML (see config/train_*.yaml)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from the newest epoch checkpoint in --out")
    p.add_argument("--init-from", type=Path, default=None,
                   help="fine-tune from this checkpoint (released .pth.tar or ours); keys that do not fit are "
                        "logged and written to <out>/init_report.json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (YAML syntax), e.g. --set optim.lr=1.0e-3; repeatable")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow full unpickling of --init-from (runs code in the file; only for trusted files)")
    p.add_argument("-q", "--quiet", action="store_true", help="warnings only (default: info)")
    return p


def _setup_logging(out: Path, quiet: bool, rank: int) -> None:
    level = logging.WARNING if quiet or rank else logging.INFO
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(out / "train.log"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)


def _run(args: argparse.Namespace) -> int:
    from ..training.trainer import Trainer

    exp = load_experiment(args.config, args.overrides)
    out = args.out if args.out is not None else Path("runs") / args.config.stem
    info = dist_info_from_env()
    _setup_logging(out, args.quiet, info.rank)
    log.info("config %s%s -> %s", args.config, f" with {args.overrides}" if args.overrides else "", out)
    try:
        trainer = Trainer(exp, out, info, init_from=args.init_from, resume=args.resume, trust=args.trust_checkpoint)
        summary = trainer.fit()
    finally:
        shutdown_distributed()
    if info.is_main:
        log.info("done: %d epochs, %d steps, %.1f samples/s; final model %s", summary.epochs, summary.global_step,
                 summary.samples_per_s, summary.final_model)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_cli(PROG, lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
