"""Builders for test inputs: moving-target frames, sequences on disk, checkpoints from the manifest."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
MANIFEST = Path(__file__).resolve().parent / "data" / "official_state_dict_manifest.tsv"


def manifest_entries() -> list[tuple[str, tuple[int, ...], str]]:
    """(key, shape, dtype) rows of the released checkpoint's manifest."""
    rows = list(csv.reader(MANIFEST.open(), delimiter="\t"))[1:]
    out = []
    for key, shape, dtype in rows:
        dims = () if shape == "scalar" else tuple(int(s) for s in shape.split("x"))
        out.append((key, dims, dtype))
    return out


def manifest_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the manifest's keys/shapes and small random values."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}
    for key, shape, dtype in manifest_entries():
        if dtype == "int64":
            sd[key] = torch.zeros(shape, dtype=torch.int64)
        elif key.endswith("running_var"):
            sd[key] = torch.ones(shape)
        else:
            sd[key] = torch.randn(shape, generator=g) * 0.02
    return sd


def moving_target_frames(n: int, size: tuple[int, int] = (240, 320), box=(60.0, 50.0, 40.0, 30.0),
                         velocity=(4.0, 2.0), seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames of a red rectangle moving over a textured background, with its true boxes."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = rng.integers(40, 90, size=(h, w, 3), dtype=np.uint8)
    frames, boxes = [], []
    x, y, bw, bh = box
    for i in range(n):
        cx, cy = x + velocity[0] * i, y + velocity[1] * i
        img = base.copy()
        cv2.rectangle(img, (int(cx), int(cy)), (int(cx + bw), int(cy + bh)), (220, 30, 30), -1)
        frames.append(img)
        boxes.append((cx, cy, bw, bh))
    return frames, np.array(boxes, dtype=np.float64)


def write_sequence(root: Path, frames: list[np.ndarray], boxes: np.ndarray, sentence: str = "the red box",
                   frame_dir: str = "img", text_file: str = "nlp.txt", ext: str = ".jpg") -> Path:
    """Write a LaSOT/TNL2K-style sequence directory."""
    (root / frame_dir).mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(root / frame_dir / f"{i + 1:08d}{ext}"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    np.savetxt(root / "groundtruth.txt", boxes, fmt="%.2f", delimiter=",")
    (root / text_file).write_text(sentence + "\n")
    return root


def tiny_checkpoint(path: Path, seed: int = 0, **changes) -> Path:
    """Write one of our checkpoints for a tiny random-weight model."""
    from allinone_ros.checkpoint import save_checkpoint
    from allinone_ros.model import build_model, tiny_config

    torch.manual_seed(seed)
    return save_checkpoint(path, build_model(tiny_config(**changes)))
