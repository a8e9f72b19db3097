"""Named evaluation protocols: each reproduces one official toolkit's conventions.

========================  =====================================================
protocol                  official code it reproduces
========================  =====================================================
``pytracking``            visionml/pytracking ``analysis/extract_results.py`` +
                          ``plot_results.py`` (``exclude_invalid_frames=False``)
``pytracking-aio``        the All-in-One authors' fork of it (OSTrack lineage)
``got10k``                got10k toolkit 0.1.3: ``ExperimentLaSOT`` on every
                          dataset except GOT-10k, ``ExperimentGOT10k`` (val) there
``lasot-toolkit``         LaSOT MATLAB toolkit (``calc_seq_err_robust.m``,
                          ``eval_tracker.m``, ``plot_draw_save.m``)
``tnl2k-toolkit``         TNL2K MATLAB toolkit (the same code as LaSOT's)
``webuav-mmot``           MMOT toolkit's ``ExperimentWebUAV3M`` and
                          ``WebUAV-3M_Accuracy_Evaluation.py``
``strict``                this project's own conventions (:mod:`.metrics`)
========================  =====================================================

Conventions (frame numbers 1-based):

* ``pytracking``: a row with w == 0 or h == 0 (from frame 2) takes the previous
  row, filled from the *raw* frame-1 result (leading 0,0,0,0 rows stay empty);
  then frame 1 = ground truth. NaN or negative sizes: refused (as the toolkit).
  A frame is valid when x, y, w, h > 0 (``pytracking-aio``: w, h > 0) and, on
  LaSOT/LaSOT_ext, the target is visible (no full occlusion, not out of view).
  Invalid frames: IoU -1 and centre error inf (misses) but normalised error -1
  (a *hit*); on LaSOT (dataset name ``lasot`` only, not LaSOT_ext) invisible
  frames get normalised and centre error inf. Denominator: every frame.
  Per-sequence curves in float32; nP = value at 0.20; thresholds
  ``arange(0, 1.05, 0.05)``; IoU with the +1 pixel convention.
* ``got10k`` (LaSOT experiment): no zero-size filling; frame 1 = ground truth;
  frames whose ground truth has a NaN are dropped; absent frames scored by
  geometry; nP divides by max(1, w|h) and is the *mean over 51 thresholds*
  ``linspace(0, 0.5, 51)``. On GOT-10k data: frame 1 dropped, both boxes clipped
  to the image (``meta_info.ini`` resolution), frames with ``cover.label`` > 0,
  IoUs of all sequences *pooled*: AO = mean IoU, SR@0.5 / SR@0.75 = share > t.
* ``lasot-toolkit`` / ``tnl2k-toolkit``: rows with NaN, w <= 0 or h <= 0 (from
  frame 2, when the ground truth has no NaN) take the previous row (raw frame 1
  again); frame 1 = ground truth; absent frames are removed but the denominator
  stays the full length (+eps). Absent = a ground truth of 0,0,0,0 (what the
  TNL2K toolkit's ``annos/absent`` files mark, checked on all 699 test
  sequences; the LaSOT toolkit's mark every such row too) or, on LaSOT, full
  occlusion or out of view (its files also mark occluded frames that keep a
  box); a remaining ground truth without all of
  x, y, w, h > 0 gives IoU -1 (miss) and centre error -1 (a *hit*, also in nP);
  sequence rows whose curve sums to <= eps are left out of the average (per
  curve); thresholds ``0:0.05:1`` as Octave builds them; nP at 0.20. Per attribute:
  attributes with fewer than 2 sequences are skipped.
* ``webuav-mmot``: frame 1 = ground truth, no filling; IoU as got10k; nP
  divides by (w|h + 1e-16) (an empty ground truth with the same centre is a
  hit) and is the mean over 51 thresholds ``arange(51)/100``; cAUC from CIoU
  clipped to [0, 1]; mAcc on the raw rows: a frame with ground truth 0,0,0,0 is
  correct only for a result line ``0`` (0,0,0,0 scores 0). Per attribute: the
  members' curves summed and divided by *all* sequences (as the toolkit's
  zero-initialised array).
* ``strict``: see :mod:`.metrics` (conventions presets, ``--zero-size``,
  ``--absent``).

NaN rows: pytracking refuses them (as its toolkit: 'Error: Invalid results'),
got10k on GOT-10k refuses them (the toolkit's AO would be NaN), the MATLAB
toolkits fill them from the previous row, got10k and MMOT score them as misses
(mAcc: NaN, as there). Scalars not defined by a toolkit (cAUC and mAcc outside
webuav-mmot/strict, AO outside got10k on GOT-10k) are NaN and shown as ``-``. Result files shorter than
the ground truth are refused by every protocol (pytracking pads zeros, got10k
cuts the ground truth): a short file is an error here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

import numpy as np

from allinone_ros.data.sequence import Sequence
from allinone_ros.evaluation import toolkits as tk
from allinone_ros.evaluation.metrics import (
    Conventions,
    SequenceResult,
    Summary,
    align_prediction,
    default_conventions,
    evaluate_sequence,
    fps_from_times,
    lookup,
    summarize,
)


@dataclass(frozen=True)
class Protocol:
    """A named protocol (see module docstring)."""

    name: str
    description: str
    norm_precision: str  # "at_020" or "mean"


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("pytracking", "visionml/pytracking analysis (extract_results.py, plot_results.py)", "at_020"),
        Protocol("pytracking-aio", "All-in-One authors' fork of pytracking analysis (valid = w, h > 0)", "at_020"),
        Protocol("got10k", "got10k toolkit 0.1.3 (ExperimentLaSOT; ExperimentGOT10k AO/SR on GOT-10k)", "mean"),
        Protocol("lasot-toolkit", "LaSOT MATLAB evaluation toolkit", "at_020"),
        Protocol("tnl2k-toolkit", "TNL2K MATLAB evaluation toolkit", "at_020"),
        Protocol("webuav-mmot", "MMOT toolkit, WebUAV-3M overall/attribute/accuracy scripts", "mean"),
        Protocol("strict", "allinone_ros conventions (see --conventions, --zero-size, --absent)", "at_020"),
    )
}

DATASET_DEFAULT_PROTOCOL: dict[str, str] = {
    "lasot": "pytracking",
    "lasot_ext": "pytracking",
    "tnl2k": "pytracking",
    "otb99_lang": "pytracking",
    "webuav3m": "webuav-mmot",
    "got10k": "got10k",
    "rosbag2": "pytracking",  # recorded flights: the All-in-One paper's protocol
}

_NAN21, _NAN51 = np.full(21, np.nan), np.full(51, np.nan)


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; ValueError naming the choices otherwise."""
    return lookup(PROTOCOLS, name, "unknown protocol")


def default_protocol(kind: str) -> str:
    """Protocol the dataset's own paper tables use (see README)."""
    return lookup(DATASET_DEFAULT_PROTOCOL, kind, "no default protocol for dataset kind")


def absence_flags(seq: Sequence) -> np.ndarray | None:
    """The dataset's own per-frame absence flags (LaSOT full occlusion | out of view, GOT-10k absence)."""
    flags = [np.asarray(seq.attributes[k], dtype=bool)
             for k in ("full_occlusion", "out_of_view", "absence") if k in seq.attributes]
    flags = [f for f in flags if f.ndim == 1 and f.shape[0] == seq.boxes_xywh.shape[0]]
    if not flags:
        return None
    return np.logical_or.reduce(flags)


@dataclass(frozen=True)
class ProtocolInput:
    """One tracker's rows for one sequence, as read from its result file."""

    pred_xywh: np.ndarray
    zero_lines: np.ndarray | None = None  # rows written as a single "0" (MMOT mAcc "not exist")
    times_s: np.ndarray | None = None


def _result(name: str, n: int, success: np.ndarray, precision: np.ndarray, norm: np.ndarray,
            complete: np.ndarray = _NAN21, accuracy: float = float("nan"), fps: float | None = None,
            pooled: np.ndarray | None = None) -> SequenceResult:
    return SequenceResult(name, success, precision, norm, complete, accuracy, n, n, fps, pooled)


def _score_pytracking(seq: Sequence, pred: np.ndarray, kind: str, aio: bool, fps: float | None) -> SequenceResult:
    gt = seq.boxes_xywh
    visible = None
    if kind in ("lasot", "lasot_ext"):
        absent = absence_flags(seq)
        visible = np.ones(len(gt), dtype=bool) if absent is None else ~absent
    iou, ce, nce = tk.pytracking_frames(pred, gt, visible, lasot=kind == "lasot", require_xy=not aio)
    n = len(gt)
    return _result(seq.name, n, tk.float32_rate(iou, tk.OVERLAP_THRESHOLDS_TORCH, n, above=True),
                   tk.float32_rate(ce, tk.CENTRE_THRESHOLDS_PX, n, above=False),
                   tk.float32_rate(nce, tk.NORM_THRESHOLDS_DIV100, n, above=False), fps=fps)


def _score_matlab(seq: Sequence, pred: np.ndarray, fps: float | None) -> SequenceResult:
    # the toolkits read annos/absent/<seq>.txt: on TNL2K it marks exactly the all-zero ground-truth rows
    # (all 699 test sequences), on LaSOT every all-zero row plus occluded frames that keep a box
    absent = (seq.boxes_xywh == 0).all(axis=1)
    flags = absence_flags(seq)
    if flags is not None:
        absent |= flags
    iou, ce, nce = tk.matlab_frames(pred, seq.boxes_xywh, absent)
    denominator = len(seq.boxes_xywh) + tk.EPS
    return _result(seq.name, len(seq.boxes_xywh),
                   tk.counted_rate(iou, tk.OVERLAP_THRESHOLDS_OCTAVE, denominator, above=True),
                   tk.counted_rate(ce, tk.CENTRE_THRESHOLDS_PX, denominator, above=False),
                   tk.counted_rate(nce, tk.NORM_THRESHOLDS_DIV100, denominator, above=False), fps=fps)


def _score_got10k(seq: Sequence, pred: np.ndarray, kind: str, fps: float | None) -> SequenceResult:
    gt = seq.boxes_xywh
    if kind == "got10k":
        if seq.image_size_wh is None:
            raise ValueError("GOT-10k AO needs the image size (resolution in meta_info.ini)")
        cover = seq.cover
        if cover is None:  # no cover.label: visible = not absent (absence.label), else every frame
            absent = absence_flags(seq)
            cover = np.ones(len(gt), dtype=np.int64) if absent is None else (~absent).astype(np.int64)
        ious = tk.got10k_ao_ious(pred, gt, cover, seq.image_size_wh)
        success = tk.counted_rate(ious, tk.OVERLAP_THRESHOLDS_LINSPACE, max(len(ious), 1), above=True)
        return _result(seq.name, len(gt), success, _NAN51, _NAN51, fps=fps, pooled=ious)
    iou, ce, nce = tk.got10k_frames(pred, gt)
    n = max(len(iou), 1)
    return _result(seq.name, len(gt), tk.counted_rate(iou, tk.OVERLAP_THRESHOLDS_LINSPACE, n, above=True),
                   tk.counted_rate(ce, tk.CENTRE_THRESHOLDS_PX, n, above=False),
                   tk.counted_rate(nce, tk.NORM_THRESHOLDS_LINSPACE, n, above=False), fps=fps)


def _score_mmot(seq: Sequence, rows: ProtocolInput, pred: np.ndarray, fps: float | None) -> SequenceResult:
    gt = seq.boxes_xywh
    iou, ce, ciou, nce = tk.mmot_frames(pred, gt)
    n = len(gt)
    zero_lines = rows.zero_lines[:n] if rows.zero_lines is not None else np.zeros(n, dtype=bool)
    return _result(seq.name, n, tk.counted_rate(iou, tk.OVERLAP_THRESHOLDS_LINSPACE, n, above=True),
                   tk.counted_rate(ce, tk.CENTRE_THRESHOLDS_PX, n, above=False),
                   tk.counted_rate(nce, tk.NORM_THRESHOLDS_DIV100, n, above=False),
                   tk.counted_rate(ciou, tk.OVERLAP_THRESHOLDS_LINSPACE, n, above=True),
                   accuracy=tk.mmot_accuracy(pred, gt, zero_lines), fps=fps)


def score_sequence(protocol: str, kind: str, seq: Sequence, rows: ProtocolInput,
                   conventions: Conventions | None = None) -> SequenceResult:
    """Score one sequence under ``protocol``; errors name the sequence."""
    try:
        pred = align_prediction(seq, rows.pred_xywh)
        fps = fps_from_times(rows.times_s)
        if protocol in ("pytracking", "pytracking-aio"):
            return _score_pytracking(seq, pred, kind, protocol == "pytracking-aio", fps)
        if protocol in ("lasot-toolkit", "tnl2k-toolkit"):
            return _score_matlab(seq, pred, fps)
        if protocol == "got10k":
            return _score_got10k(seq, pred, kind, fps)
        if protocol == "webuav-mmot":
            return _score_mmot(seq, rows, pred, fps)
    except ValueError as exc:
        raise ValueError(f"sequence {seq.name!r} ({protocol}): {exc}") from None
    if protocol == "strict":
        conv = conventions or default_conventions(kind)
        return evaluate_sequence(seq.name, pred, seq.boxes_xywh, seq.visible, conv, rows.times_s)
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def evaluate_protocol(protocol: str, kind: str, sequences: Iterable[Sequence], rows: Mapping[str, ProtocolInput],
                      conventions: Conventions | None = None) -> dict[str, SequenceResult]:
    """Score every sequence; ``rows`` maps a sequence name to its result rows."""
    get_protocol(protocol)
    out: dict[str, SequenceResult] = {}
    for seq in sequences:
        if seq.name not in rows:
            raise ValueError(f"no prediction for sequence {seq.name!r}")
        out[seq.name] = score_sequence(protocol, kind, seq, rows[seq.name], conventions)
    return out


# ---------------------------------------------------------------- summary ----
def _matlab_mean(curves: np.ndarray) -> np.ndarray:
    """``plot_draw_save.m``: rows summing to <= eps are left out, then the mean."""
    kept = curves[curves.sum(axis=1) > tk.EPS]
    return kept.mean(axis=0) if len(kept) else np.full(curves.shape[1], np.nan)


def _mean_fps(items: list[SequenceResult]) -> float | None:
    values = [r.fps for r in items if r.fps is not None]
    return float(np.mean(values)) if values else None


def summarize_protocol(protocol: str, results: Iterable[SequenceResult], total: int | None = None) -> Summary:
    """Sequence-averaged curves and scalars as the protocol's toolkit computes them.

    ``total`` (webuav-mmot attribute subsets only): the number of sequences of
    the whole set, the toolkit's divisor.
    """
    items = list(results)
    if not items:
        raise ValueError("cannot summarise zero sequences")
    spec = get_protocol(protocol)
    if protocol == "strict":
        return _with_protocol(summarize(items), spec)

    def stack(attr: str) -> np.ndarray:
        return np.stack([getattr(r, attr) for r in items])

    if protocol in ("lasot-toolkit", "tnl2k-toolkit"):
        curves = {a: _matlab_mean(stack(a)) for a in ("success_curve", "precision_curve", "norm_precision_curve")}
        curves["complete_success_curve"] = _NAN21
    else:
        divisor = len(items) if total is None else total
        curves = {a: stack(a).sum(axis=0) / divisor for a in
                  ("success_curve", "precision_curve", "norm_precision_curve", "complete_success_curve")}
    macc = float(np.sum([r.accuracy for r in items]) / (total or len(items))) if protocol == "webuav-mmot" \
        else float("nan")
    ao = sr50 = sr75 = None
    if protocol == "got10k" and items[0].pooled_ious is not None:
        pooled = np.concatenate([r.pooled_ious for r in items if r.pooled_ious is not None])
        ao, sr50, sr75 = (float(np.mean(pooled)), float(np.mean(pooled > 0.5)), float(np.mean(pooled > 0.75))) \
            if pooled.size else (float("nan"),) * 3
        curves["success_curve"] = tk.counted_rate(pooled, tk.OVERLAP_THRESHOLDS_LINSPACE, max(pooled.size, 1), True)
    return Summary(num_sequences=len(items), macc=macc, fps=_mean_fps(items), protocol=spec.name,
                   norm_precision_scalar=spec.norm_precision, ao=ao, sr_050=sr50, sr_075=sr75, **curves)


def _with_protocol(summary: Summary, spec: Protocol) -> Summary:
    return replace(summary, protocol=spec.name, norm_precision_scalar=spec.norm_precision)


def summarize_protocol_by_attribute(protocol: str, results: Mapping[str, SequenceResult],
                                    groups: Mapping[str, list[str]]) -> dict[str, Summary]:
    """One summary per attribute, with each toolkit's subset rule (see module docstring)."""
    out: dict[str, Summary] = {}
    for attr, names in groups.items():
        members = [results[n] for n in names if n in results]
        if not members:
            continue
        if protocol in ("lasot-toolkit", "tnl2k-toolkit") and len(members) < 2:
            continue
        total = len(results) if protocol == "webuav-mmot" else None
        out[attr] = summarize_protocol(protocol, members, total=total)
    return out
