"""``allinone-train-grounder``: train the built-in text grounder from a YAML experiment config."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from ..config_io import ConfigError
from ..grounding.base import GroundingModelError
from .output_mode import use_output_umask


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="allinone-train-grounder", description=__doc__)
    p.add_argument("--config", required=True, help="experiment YAML (e.g. config/train_grounder_uav.yaml)")
    p.add_argument("--out", required=True, help="run directory (checkpoints/, final.safetensors)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable), e.g. --set optim.lr=1.0e-3")
    p.add_argument("--resume", action="store_true", help="continue from the newest epoch checkpoint in --out")
    p.add_argument("--init-from", default=None, metavar="CKPT",
                   help="start from the weights of this grounder checkpoint (.safetensors; same network config), "
                   "e.g. to fine-tune the shipped one; --resume takes precedence once a checkpoint exists")
    args = p.parse_args(argv)
    use_output_umask()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..training.grounding import GroundingTrainer, load_grounding_experiment

    try:
        exp = load_grounding_experiment(args.config, args.set)
        summary = GroundingTrainer(exp, args.out, resume=args.resume, init_from=args.init_from).train()
    except (ConfigError, FileNotFoundError, ValueError, GroundingModelError) as exc:
        logging.getLogger("allinone-train-grounder").error("%s", exc)
        return 2
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
