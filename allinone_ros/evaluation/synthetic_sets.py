"""Seeded synthetic test sets for the evaluation scripts: generate on demand, track, score.

Used by ``scripts/eval_default_model.py`` and ``scripts/eval_grounding.py`` (no ROS imports).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..data.datasets import open_dataset
from ..data.frames import read_frame
from ..data.sequence import Sequence
from ..data.synthetic import SyntheticConfig, clip_box_to_frame, generate_dataset
from ..lifecycle.offline import PlainTracker, run_frames
from ..tracker import Tracker
from .metrics import SequenceResult, summarize

LOGGER = logging.getLogger(__name__)


def ensure_dataset(root: Path, seed: int, num_sequences: int, frames: int, with_distractor: bool) -> list[Sequence]:
    """The ``num_sequences`` sequences of seed ``seed`` under ``root``, generated first when missing.

    A ``root`` that holds sequences of another seed is refused (``ValueError``).
    """
    cfg = SyntheticConfig(num_sequences=num_sequences, num_frames=frames, seed=seed,
                          same_shape_distractor=with_distractor)
    class_dir = root / cfg.class_name
    expected = [class_dir / f"{cfg.class_name}-{k}" for k in range(1, num_sequences + 1)]
    if not all((d / "groundtruth.txt").is_file() for d in expected):
        LOGGER.info("generating %d sequences (seed %d) under %s", num_sequences, seed, root)
        generate_dataset(root, cfg, overwrite=True)
    meta_seed = json.loads((expected[0] / "meta.json").read_text())["seed"]
    if meta_seed != seed:
        raise ValueError(f"{root} holds sequences of seed {meta_seed}, expected {seed}; use another --data-root")
    wanted = {d.name for d in expected}
    return [s for s in open_dataset("lasot", root) if s.name in wanted]


def run_sequence(tracker: Tracker, seq: Sequence, text: str) -> np.ndarray:
    """One-pass tracking as released (:class:`PlainTracker`) from frame 1's ground-truth box with sentence
    ``text``, through the one offline loop: boxes ``(N, 4)``."""
    frames = (read_frame(p) for p in seq.frame_paths)
    return run_frames(PlainTracker(tracker), frames, text, seq.boxes_xywh[0]).boxes_xywh()


def score(results: list[SequenceResult]) -> dict[str, float]:
    """Summary numbers of scored sequences, as the scripts report them."""
    s = summarize(results)
    return {"auc": s.auc, "precision_20": s.precision_20, "norm_precision_020": s.norm_precision_at_020,
            "success_050": s.success_rate_050, "sequences": s.num_sequences}


def distractor_track(seq_dir: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """Sentence naming the first same-shape distractor, its clipped boxes and visibility."""
    meta = json.loads((seq_dir / "meta.json").read_text())
    d = next(x for x in meta["distractors"] if x["role"] == "same_shape")
    w, h = meta["frame_size_wh"]
    boxes = np.stack([clip_box_to_frame(np.asarray(b, dtype=np.float64), w, h) for b in d["track_xywh"]])
    visible = (boxes[:, 2] >= 1.0) & (boxes[:, 3] >= 1.0)
    return f"the {d['colour']} {d['shape']}", boxes, visible
