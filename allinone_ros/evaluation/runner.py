"""Run a tracker over dataset sequences (one-pass evaluation), resumable and parallel.

Modes: ``box+nl`` (ground-truth box of frame 1 and the sentence), ``box`` (box only, empty
sentence) and ``nl`` (the sentence only: frame 1's box is ignored and the target is found by the
grounder; frame 1 is scored like every frame, with the grounded box or an empty one). Every
sequence runs through :func:`allinone_ros.lifecycle.offline.run_frames` with the node's target
lifecycle (default; frames reported without a box, GROUNDING or LOST, are written as ``0,0,0,0``
and each frame's state and confidence go to ``<seq>_state.txt`` / ``<seq>_confidence.txt`` for the
long-term metrics) or, with ``plain``, the released tracker as published.

The network runs through the job's backend (:class:`~allinone_ros.backends.BackendConfig`; default
plain eager PyTorch). With several workers the parent builds the tracker once before they start:
a bad checkpoint or an unavailable backend fails there with its own message (not as a broken
process pool), ``auto`` is resolved once so every worker runs the same backend, and the shared
artifact cache is filled by one process. (The cache writes each artifact and its key file
atomically, but workers building the same entry at once would still redo each other's work and
could leave a key file naming the other's bytes, which forces a rebuild; after the parent's build
they only read it.)
"""
from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..backends.base import Backend
from ..backends.config import BackendConfig
from ..backends.backend_tracker import describe_tracker
from ..data.sequence import Sequence
from ..ops.devices import check_same_device
from ..lifecycle import LifecycleConfig, TargetLifecycle, build_tracker
from ..lifecycle.offline import OfflineRun, PlainTracker, run_frames
from ..tracker import TrackerConfig
from .longterm import write_frame_report
from .results import has_result, write_result

log = logging.getLogger(__name__)

MODES = ("box+nl", "box", "nl")


@dataclass(frozen=True)
class EvalJob:
    """What to run: checkpoint (None = shipped default), tracker and backend settings, initialisation mode."""

    checkpoint: str | None = None
    tracker: TrackerConfig = TrackerConfig()
    backend: BackendConfig = BackendConfig(name="eager")  # its device must be the tracker's
    mode: str = "box+nl"
    threads: int = 0
    trust_checkpoint: bool = False
    grounder: str = ""  # sentence starts and re-finding a lost target: see allinone_ros.grounding.factory.HELP
    plain: bool = False  # the released tracker as published instead of the target lifecycle (box modes)
    lifecycle: LifecycleConfig = LifecycleConfig()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.mode == "nl" and self.grounder.strip().lower() == "none":
            raise ValueError("mode 'nl' (start from the sentence alone) needs a grounder; grounder 'none' was given")
        if self.plain and self.mode == "nl":
            raise ValueError("mode 'nl' needs the target lifecycle (grounding); plain starts from a box only")
        check_same_device(tracker=self.tracker.device, backend=self.backend.device)



Runner = TargetLifecycle | PlainTracker


def track_sequence(runner: Runner, seq: Sequence, mode: str) -> OfflineRun:
    """One pass over ``seq`` (see the module docstring for the modes)."""
    text = seq.sentence if mode in ("box+nl", "nl") else ""
    if mode == "nl" and not text.strip():
        raise ValueError(f"sequence {seq.name}: mode 'nl' needs a sentence, but the sequence has none")
    return run_frames(runner, seq.frames(), text, None if mode == "nl" else seq.init_box_xywh)


_WORKER_RUNNER: Runner | None = None


def _make_runner(job: EvalJob) -> Runner:
    if job.threads > 0:
        torch.set_num_threads(job.threads)
    tracker = build_tracker(job.checkpoint, job.tracker, job.backend, trust=job.trust_checkpoint)
    log.info("backend: %s", describe_tracker(tracker))
    if job.plain:
        return PlainTracker(tracker)
    from ..grounding import GrounderConfig, build_grounder

    grounder = build_grounder(job.grounder, GrounderConfig(device=job.tracker.device))
    return TargetLifecycle(tracker, grounder, job.lifecycle)


def _prepare_for_workers(job: EvalJob) -> EvalJob:
    """Build the tracker once here (see the module docstring); return the job with ``auto`` resolved."""
    built = _make_runner(job)
    backend = built.tracker.runner
    assert isinstance(backend, Backend)  # build_tracker runs the network through one
    backend.release()
    del built
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the workers need the GPU memory, not this process
    return replace(job, backend=replace(job.backend, name=backend.name))


def _init_worker(job: EvalJob) -> None:
    global _WORKER_RUNNER
    _WORKER_RUNNER = _make_runner(job)


def _run_one(seq: Sequence, mode: str, out_dir: Path) -> str:
    assert _WORKER_RUNNER is not None
    run = track_sequence(_WORKER_RUNNER, seq, mode)
    write_frame_report(out_dir, seq.name, run.states(), run.confidences())
    write_result(out_dir, seq.name, run.boxes_xywh(), np.asarray(run.frame_ms) / 1e3)
    return seq.name


def run_evaluation(
    sequences: Iterable[Sequence],
    job: EvalJob,
    out_dir: str | Path,
    workers: int = 1,
    on_done: Callable[[str], None] | None = None,
) -> list[str]:
    """Track every sequence without a result file in ``out_dir``; return the names run now."""
    out = Path(out_dir)
    seqs = list(sequences)
    todo = [s for s in seqs if not has_result(out, s.name)]
    if len(todo) < len(seqs):
        log.info("resuming: %d sequences already have results in %s", len(seqs) - len(todo), out)
    done: list[str] = []
    if not todo:
        return done
    if workers <= 1:
        _init_worker(job)
        for seq in todo:
            done.append(_run_one(seq, job.mode, out))
            if on_done:
                on_done(seq.name)
        return done
    job = _prepare_for_workers(job)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(job,)) as pool:
        futures = [pool.submit(_run_one, seq, job.mode, out) for seq in todo]
        for fut in as_completed(futures):
            name = fut.result()
            done.append(name)
            if on_done:
                on_done(name)
    return done
