"""Side-by-side latency benchmark of the backends on a generated moving-target sequence.

Every configuration tracks the same frames. Rows run one after another (never interleaved frame
by frame: the spinning thread pools of ONNX Runtime and PyTorch's OpenMP starve each other when
alternated within one process on a small CPU), over ``rounds`` rounds in alternating order so
that drifting load from other processes hits all rows alike. Each row
reports per-stage latency (decode, crop, model, post) p50/p95, FPS, peak memory, its speed ratio
to eager fp32 measured in the same run, and its box agreement (mean IoU) with eager fp32.
"""
from __future__ import annotations

import dataclasses
import logging
import platform
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from ..model import AllInOne, ModelConfig, build_model, tiny_config
from ..ops.iou import iou_xywh
from ..tracker import Tracker, TrackerConfig
from .config import BACKENDS, PRECISIONS, BackendConfig
from .errors import ArtifactError, BackendUnavailableError
from .factory import available_backends
from .backend_tracker import make_tracker
from .onnx_export import ONNX_PRECISIONS

log = logging.getLogger(__name__)

STAGES = ("decode", "crop", "model", "post")
BASELINE = ("eager", "fp32", "cpu")


@dataclass(frozen=True)
class BenchConfig:
    frames: int = 50  # timed frames (after the initialisation frame)
    warmup: int = 5
    tiny: bool = False
    checkpoint: str = ""  # "" = random weights (seeded) of the full-size (or tiny) config
    trust_checkpoint: bool = False
    device: str = "cpu"
    backends: tuple[str, ...] = ()  # () = every backend available on the device
    precisions: tuple[str, ...] = ()  # () = fp32 + bf16 on CPU; fp32, fp16, bf16 on CUDA
    preprocess: tuple[str, ...] = ()  # () = ("cpu",) on CPU, ("cpu", "device") on CUDA
    frame_size: tuple[int, int] = (480, 640)  # (H, W)
    rounds: int = 2  # repetitions of the whole sequence per row, order alternating between rounds
    seed: int = 0
    cache_dir: str = ""
    ort_intra_threads: int = 0
    ort_allow_spinning: bool = False
    compile_mode: str = "default"
    template_factor: float | None = None  # None = the checkpoint's stored value (the paper's without one)
    search_factor: float | None = None

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        bad = [b for b in self.backends if b not in BACKENDS or b == "auto"]
        if bad:
            raise ValueError(f"unknown backend(s) {bad}; choose from {tuple(b for b in BACKENDS if b != 'auto')}")
        bad = [p for p in self.precisions if p not in PRECISIONS]
        if bad:
            raise ValueError(f"unknown precision(s) {bad}; choose from {PRECISIONS}")
        bad = [p for p in self.preprocess if p not in ("cpu", "device")]
        if bad:
            raise ValueError(f"unknown preprocess value(s) {bad}; choose from ('cpu', 'device')")
        h, w = self.frame_size
        if h < 64 or w < 64:
            raise ValueError(f"frame_size must be at least 64x64, got {w}x{h}")


@dataclass
class _Row:
    backend: str
    precision: str
    preprocess: str
    tracker: Tracker | None = None
    info: dict[str, Any] = field(default_factory=dict)
    build_s: float = 0.0
    peak_rss_mb: float = 0.0
    peak_device_mb: float | None = None
    stages: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    boxes: list[np.ndarray] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.backend, self.precision, self.preprocess

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}" + (" +device-pre" if self.preprocess == "device" else "")


# -- inputs ---------------------------------------------------------------------------------
def synthetic_sequence(n: int, size: tuple[int, int], seed: int = 0) -> tuple[list[bytes], np.ndarray]:
    """``n`` JPEG-encoded RGB frames of a textured target drifting over clutter, and its true boxes."""
    rng = np.random.default_rng(seed)
    h, w = size
    noise = rng.integers(0, 255, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    base = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    target = cv2.resize(rng.integers(0, 255, size=(6, 6, 3), dtype=np.uint8), (64, 48), interpolation=cv2.INTER_NEAREST)
    bw, bh = w * 0.12, h * 0.12
    frames, boxes = [], []
    for i in range(n):
        t = i / max(n - 1, 1)
        cx = w * (0.3 + 0.4 * t) + 10 * np.sin(i / 5)
        cy = h * (0.4 + 0.2 * np.sin(2 * np.pi * t))
        scale = 1.0 + 0.2 * np.sin(i / 9)
        ww, hh = bw * scale, bh * scale
        x1, y1 = int(round(cx - ww / 2)), int(round(cy - hh / 2))
        img = base.copy()
        img[y1 : y1 + int(hh), x1 : x1 + int(ww)] = cv2.resize(target, (int(ww), int(hh)))
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG frame")
        frames.append(buf.tobytes())
        boxes.append((x1, y1, int(ww), int(hh)))
    return frames, np.asarray(boxes, dtype=np.float64)


def decode_jpeg(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def bench_model(cfg: BenchConfig) -> tuple[AllInOne, TrackerConfig]:
    """The network to time and the tracker settings to run it with (crop factors settled as in
    :func:`~allinone_ros.tracker.factory.load_tracker_model`)."""
    tracker_config = TrackerConfig(template_factor=cfg.template_factor, search_factor=cfg.search_factor,
                                   device=cfg.device)
    if cfg.checkpoint:
        from ..tracker.factory import load_tracker_model

        return load_tracker_model(cfg.checkpoint, tracker_config, trust=cfg.trust_checkpoint)
    torch.manual_seed(cfg.seed)
    return build_model(tiny_config() if cfg.tiny else ModelConfig()), tracker_config


# -- measurements ---------------------------------------------------------------------------
def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter for this process (Linux); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class _SyncedRunner:
    """Wait for the device after each forward so the model stage is timed as model time."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __call__(self, template: torch.Tensor, search: torch.Tensor, lang: torch.Tensor) -> Any:
        out = self.backend(template, search, lang)
        self.backend.synchronize()
        return out


# -- the run --------------------------------------------------------------------------------
def plan_rows(cfg: BenchConfig) -> tuple[list[_Row], list[dict[str, str]]]:
    """Rows to measure (eager fp32 + CPU pre-processing first, the baseline) and rows skipped, with why."""
    cuda = cfg.device.startswith("cuda")
    backends = list(cfg.backends) or [b for b in ("eager", "compile", "tensorrt", "onnxruntime")
                                      if b in available_backends(cfg.device)]
    precisions = list(cfg.precisions) or (["fp32", "fp16", "bf16"] if cuda else ["fp32", "bf16"])
    preprocess = list(cfg.preprocess) or (["cpu", "device"] if cuda else ["cpu"])
    rows = [_Row(*BASELINE)]
    skipped: list[dict[str, str]] = []
    for backend in backends:
        for precision in precisions:
            if backend == "onnxruntime" and precision not in ONNX_PRECISIONS:
                skipped.append({"row": f"{backend} {precision}",
                                "reason": f"onnxruntime runs the ONNX export, which has {ONNX_PRECISIONS} only"})
                continue
            if not cuda and precision == "fp16" and backend != "eager":
                skipped.append({"row": f"{backend} {precision}", "reason": "fp16 is a GPU precision"})
                continue
            for pre in preprocess:
                key = (backend, precision, pre)
                if key != BASELINE:
                    rows.append(_Row(*key))
    return rows, skipped


def _build_row(row: _Row, model: AllInOne, tracker_config: TrackerConfig, cfg: BenchConfig, frames: list[bytes],
               init_box: np.ndarray) -> None:
    bcfg = BackendConfig(name=row.backend, precision=row.precision, device=cfg.device, cache_dir=cfg.cache_dir,
                         ort_intra_threads=cfg.ort_intra_threads,
                         ort_allow_spinning=cfg.ort_allow_spinning, compile_mode=cfg.compile_mode,
                         preprocess=row.preprocess, auto_probe_runs=0)
    cuda = cfg.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(cfg.device)
    _reset_peak_rss()
    t0 = time.perf_counter()
    tracker = make_tracker(model, tracker_config, bcfg, sync_timings=cuda)
    if cuda:
        tracker.runner = _SyncedRunner(tracker.runner)
    tracker.initialize(decode_jpeg(frames[0]), init_box, "the patterned block")
    for data in frames[1 : 1 + cfg.warmup]:
        tracker.track(decode_jpeg(data))
    row.build_s = time.perf_counter() - t0
    row.peak_rss_mb = peak_rss_mb()
    if cuda:
        row.peak_device_mb = torch.cuda.max_memory_allocated(cfg.device) / 2**20
    backend = tracker.runner.backend if isinstance(tracker.runner, _SyncedRunner) else tracker.runner
    plain = (str, int, float, bool, list, dict)
    row.info = {k: v for k, v in getattr(backend, "info", {}).items() if isinstance(v, plain)}
    row.tracker = tracker


def _run_sequence(row: _Row, frames: list[bytes], init_box: np.ndarray, warmup: int, record_boxes: bool,
                  bar: Any) -> None:
    """Initialise on frame 0, track ``warmup`` frames untimed, re-initialise, then time frames 1..n."""
    tracker = row.tracker
    assert tracker is not None
    tracker.initialize(decode_jpeg(frames[0]), init_box, "the patterned block")
    for data in frames[1 : 1 + warmup]:
        tracker.track(decode_jpeg(data))
    tracker.initialize(decode_jpeg(frames[0]), init_box, "the patterned block")
    boxes = [np.asarray(init_box, dtype=np.float64)]
    for data in frames[1:]:
        t0 = time.perf_counter()
        frame = decode_jpeg(data)
        decode_ms = (time.perf_counter() - t0) * 1e3
        result = tracker.track(frame)
        row.stages["decode"].append(decode_ms)
        for k in ("crop", "model", "post"):
            row.stages[k].append(result.timings_ms[k])
        boxes.append(result.box_xywh)
        bar.update(1)
    if record_boxes:
        row.boxes = boxes


def run_bench(cfg: BenchConfig, progress: bool = True) -> dict[str, Any]:
    """Measure every planned row; return the JSON-ready report (see :func:`to_markdown`)."""
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError(f"device {cfg.device!r} requested but torch sees no CUDA GPU; use --device cpu")
    frames, gt = synthetic_sequence(cfg.frames + 1, cfg.frame_size, cfg.seed)
    model, tracker_config = bench_model(cfg)
    rows, skipped = plan_rows(cfg)
    built: list[_Row] = []
    for row in tqdm(rows, desc="build+warm-up", unit="backend", disable=not progress):
        try:
            _build_row(row, model, tracker_config, cfg, frames, gt[0])
        except (BackendUnavailableError, ArtifactError) as exc:
            if row.key == BASELINE:
                raise
            skipped.append({"row": row.label, "reason": str(exc)})
            log.warning("skipping %s: %s", row.label, exc)
            continue
        built.append(row)
    bar = tqdm(total=len(built) * cfg.frames * cfg.rounds, desc="timed frames", unit="frame", disable=not progress)
    for r in range(cfg.rounds):
        for row in (built if r % 2 == 0 else built[::-1]):
            _run_sequence(row, frames, gt[0], cfg.warmup, record_boxes=r == 0, bar=bar)
    bar.close()
    return _report(cfg, built, skipped, gt)


def _report(cfg: BenchConfig, rows: list[_Row], skipped: list[dict[str, str]], gt: np.ndarray) -> dict[str, Any]:
    base = next(r for r in rows if r.key == BASELINE)
    base_boxes = np.stack(base.boxes[1:])
    out_rows = []
    for r in rows:
        totals = [sum(v) for v in zip(*(r.stages[s] for s in STAGES))]
        stats = {s: {"p50_ms": _pct(r.stages[s], 50), "p95_ms": _pct(r.stages[s], 95)} for s in STAGES}
        boxes = np.stack(r.boxes[1:])
        out_rows.append({
            "backend": r.backend, "precision": r.precision, "preprocess": r.preprocess, "label": r.label,
            "stages": stats,
            "total_p50_ms": _pct(totals, 50), "total_p95_ms": _pct(totals, 95),
            "model_mean_ms": float(np.mean(r.stages["model"])),
            "fps": 1000.0 / float(np.mean(totals)),
            "mean_iou_vs_eager_fp32": float(np.mean(iou_xywh(boxes, base_boxes))),
            "mean_iou_vs_truth": float(np.mean(iou_xywh(boxes, gt[1:]))),
            "peak_rss_mb": round(r.peak_rss_mb, 1),
            "peak_device_mb": None if r.peak_device_mb is None else round(r.peak_device_mb, 1),
            "build_s": round(r.build_s, 2),
            "info": r.info,
        })
    base_total = out_rows[rows.index(base)]["total_p50_ms"]
    base_model = out_rows[rows.index(base)]["stages"]["model"]["p50_ms"]
    for row in out_rows:
        row["speedup_vs_eager_fp32"] = base_total / row["total_p50_ms"]
        row["model_speedup_vs_eager_fp32"] = base_model / row["stages"]["model"]["p50_ms"]
    return {"meta": _meta(cfg), "rows": out_rows, "skipped": skipped}


def _meta(cfg: BenchConfig) -> dict[str, Any]:
    from .cache import package_version

    meta: dict[str, Any] = {
        "config": dataclasses.asdict(cfg),
        "model": "tiny" if cfg.tiny and not cfg.checkpoint else (cfg.checkpoint or "full-size, random weights"),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": _cpu_name(), "cpu_count": __import__("os").cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "onnxruntime": package_version("onnxruntime"),
        "torch_tensorrt": package_version("torch_tensorrt"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if cfg.device.startswith("cuda") and torch.cuda.is_available():
        meta["gpu"] = torch.cuda.get_device_name(torch.device(cfg.device))
    try:
        meta["load_average"] = list(__import__("os").getloadavg())
    except OSError:
        pass
    return meta


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def to_markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table (latencies in ms, p50 unless marked)."""
    meta = report["meta"]
    lines = [
        f"Model: {meta['model']}; device {meta['config']['device']}"
        + (f" ({meta['gpu']})" if "gpu" in meta else f" ({meta['cpu']}, {meta['cpu_count']} cores)")
        + f"; {meta['config']['frames']} timed frames x {meta['config']['rounds']} rounds per row (rows one after "
        + f"another, order alternating by round, {meta['config']['warmup']} warm-up frames before each); "
        + f"torch {meta['torch']} ({meta['torch_threads']} threads), onnxruntime {meta['onnxruntime']}"
        + (f"; load average {meta['load_average'][0]:.1f} at the end." if "load_average" in meta else "."),
        "",
        "| backend | precision | pre-proc | decode | crop | model p50 / p95 | post | total p50 / p95 | FPS "
        "| x eager fp32 (total) | x eager fp32 (model) | mean IoU vs eager fp32 | peak RSS MB | peak dev MB "
        "| build s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        s = r["stages"]
        dev = "-" if r["peak_device_mb"] is None else f"{r['peak_device_mb']:.0f}"
        lines.append(
            f"| {r['backend']} | {r['precision']} | {r['preprocess']} | {s['decode']['p50_ms']:.2f} "
            f"| {s['crop']['p50_ms']:.2f} | {s['model']['p50_ms']:.1f} / {s['model']['p95_ms']:.1f} "
            f"| {s['post']['p50_ms']:.2f} | {r['total_p50_ms']:.1f} / {r['total_p95_ms']:.1f} | {r['fps']:.1f} "
            f"| {r['speedup_vs_eager_fp32']:.2f} | {r['model_speedup_vs_eager_fp32']:.2f} "
            f"| {r['mean_iou_vs_eager_fp32']:.4f} | {r['peak_rss_mb']:.0f} | {dev} | {r['build_s']:.1f} |"
        )
    for s in report["skipped"]:
        lines.append(f"\nSkipped {s['row']}: {s['reason']}")
    lines.append("\nPeak RSS is the process peak during that row's build and warm-up (rows built earlier stay "
                 "loaded); peak device memory counts the torch allocator only.")
    return "\n".join(lines) + "\n"
