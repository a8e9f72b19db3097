"""``allinone-train-verifier``: train the built-in grounder's verifier and write it beside a detector."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from ..config_io import ConfigError
from ..data.sequence import DatasetLayoutError
from ..grounding.base import GroundingModelError
from .output_mode import use_output_umask


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="allinone-train-verifier", description=__doc__)
    p.add_argument("--config", required=True, help="experiment YAML (e.g. config/train_verifier_uav.yaml)")
    p.add_argument("--grounder", required=True, metavar="CKPT",
                   help="the detector's grounder checkpoint (.safetensors); the result is a copy of it with the "
                   "verifier added, <out>/grounder.safetensors")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (repeatable), e.g. --set optim.lr=1.0e-3")
    args = p.parse_args(argv)
    use_output_umask()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ..training.verifier import VerifierTrainer, load_verifier_experiment

    try:
        exp = load_verifier_experiment(args.config, args.set)
        summary = VerifierTrainer(exp, args.out, args.grounder).train()
    except (ConfigError, FileNotFoundError, ValueError, GroundingModelError, DatasetLayoutError) as exc:
        logging.getLogger("allinone-train-verifier").error("%s", exc)
        return 2
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
