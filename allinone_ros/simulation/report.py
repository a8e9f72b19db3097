"""Follow-demo scoring, annotated frames and the matplotlib plot (ROS-free, used by the demo)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..lifecycle.states import TargetState
from ..visualize import draw_box

STATE_NAMES = {int(s): s.name.lower() for s in TargetState}


@dataclass(frozen=True)
class FollowRow:
    """One published image of the follow demo: truth, what the tracker said, the command in force."""

    index: int
    t: float
    truth_offset_x: float
    truth_offset_y: float
    in_view: bool
    truth_box_xywh: tuple[float, ...]
    state: int  # TrackedTarget state, -1 when the tracker published nothing for this image
    box_xywh: tuple[float, ...] | None
    offset_x: float
    offset_y: float
    latency_ms: float
    command: tuple[float, ...]  # (vx, vy, vz, yaw_rate) last received before the image

    @property
    def abs_offset(self) -> float:
        return math.hypot(self.truth_offset_x, self.truth_offset_y)


def follow_summary(rows: list[FollowRow], commands_applied: int) -> dict[str, Any]:
    """In-view fraction, |offset| mean / p95 (ground truth, all frames), tracking share, latency."""
    if not rows:
        raise ValueError("no frames to summarise")
    abs_off = np.array([r.abs_offset for r in rows])
    latency = np.array([r.latency_ms for r in rows if math.isfinite(r.latency_ms)])
    return {
        "frames": len(rows),
        "in_view_fraction": float(np.mean([r.in_view for r in rows])),
        "mean_abs_offset": float(abs_off.mean()),
        "p95_abs_offset": float(np.percentile(abs_off, 95)),
        "tracking_fraction": float(np.mean([r.state == TargetState.TRACKING for r in rows])),
        "frames_without_result": int(sum(r.state < 0 for r in rows)),
        "tracker_latency_p50_ms": float(np.percentile(latency, 50)) if latency.size else float("nan"),
        "commands_applied": int(commands_applied),
        "rows": [asdict(r) for r in rows],
    }


def annotate_follow_frame(frame: np.ndarray, row: FollowRow) -> np.ndarray:
    """Truth box white, tracker box green (with state), the command in force at the top left."""
    import cv2

    out = draw_box(frame, np.asarray(row.truth_box_xywh), color=(255, 255, 255))
    if row.box_xywh is not None:
        out = draw_box(out, np.asarray(row.box_xywh), label=STATE_NAMES.get(row.state, "?"))
    vx, vy, vz, yaw = row.command
    text = f"#{row.index} {STATE_NAMES.get(row.state, 'none')}  vx {vx:+.1f} vy {vy:+.1f} vz {vz:+.1f} yaw {yaw:+.2f}"
    cv2.rectangle(out, (0, 0), (out.shape[1] - 1, 24), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
    return out


def write_follow_plot(path: Path, rows: list[FollowRow], commands: list[tuple[float, tuple[float, ...]]],
                      title: str = "") -> None:
    """PNG with offset_x / offset_y (truth and tracker), the commands, and the tracker state over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([r.t for r in rows])
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    ax = axes[0]
    ax.plot(t, [r.truth_offset_x for r in rows], label="offset_x (truth)", color="tab:blue")
    ax.plot(t, [r.truth_offset_y for r in rows], label="offset_y (truth)", color="tab:orange")
    tracked = [r.state == TargetState.TRACKING for r in rows]
    ax.plot(t[tracked], [r.offset_x for r, k in zip(rows, tracked) if k], ".", ms=2, color="tab:blue",
            label="offset_x (tracker)")
    ax.plot(t[tracked], [r.offset_y for r, k in zip(rows, tracked) if k], ".", ms=2, color="tab:orange",
            label="offset_y (tracker)")
    ax.axhspan(-1, 1, color="0.93", zorder=0)
    ax.set_ylabel("offset (image half-size)")
    ax.legend(loc="upper right", fontsize=7, ncol=2)
    ax = axes[1]
    if commands:
        ct = np.array([c[0] for c in commands])
        cv = np.array([c[1] for c in commands])
        for k, name in enumerate(("vx m/s", "vy m/s", "vz m/s", "yaw rate rad/s")):
            ax.plot(ct, cv[:, k], label=name, lw=1)
    ax.set_ylabel("command (body frame)")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    ax = axes[2]
    ax.step(t, [r.state for r in rows], where="post", color="k")
    ax.set_yticks([-1, *STATE_NAMES], ["none", *STATE_NAMES.values()])
    ax.set_ylabel("tracker state")
    ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
