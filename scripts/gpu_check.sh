#!/usr/bin/env bash
# One-shot GPU check for a machine that cannot fetch anything (e.g. a lent CUDA box whose python3
# already holds torch, timm, onnx, onnxruntime, safetensors, opencv, pyyaml, tqdm).
# Runs the backend tests (the CUDA ones included) and allinone-bench on the GPU, and writes every
# log and the bench JSON/markdown under $OUT (default: out/gpu_check): 8 files at most.
#
#   bash scripts/gpu_check.sh                  # full check; its step limits add up to 570 s
#   GPU_CHECK_QUICK=1 bash scripts/gpu_check.sh   # tiny model, 20 frames: a 1-2 min smoke run
#   GPU_CHECK_DEVICE=cpu GPU_CHECK_QUICK=1 bash scripts/gpu_check.sh   # dry run without a GPU
#
# Uses the repository in place (PYTHONPATH), installs nothing. Every step runs under its own
# timeout and the script goes on after a failing step; the exit status is that of the worst step.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$ROOT/out/gpu_check}"
PY="${PYTHON:-python3}"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
QUICK="${GPU_CHECK_QUICK:-0}"
mkdir -p "$OUT"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
# Engines and compile caches stay out of $OUT (a device tool may bring back only a few files).
export ALLINONE_CACHE_DIR="${ALLINONE_CACHE_DIR:-${TMPDIR:-/tmp}/allinone_gpu_check_cache}"
worst=0
summary=""

step() {  # step NAME TIMEOUT_S CMD...
  local name="$1" limit="$2"; shift 2
  local t0=$SECONDS
  echo "[gpu_check] $name (limit ${limit}s)"
  timeout --signal=INT --kill-after=20 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local line="[gpu_check] $name: rc=$rc in $((SECONDS - t0)) s"
  summary+="$line"$'\n'
  echo "$line"
  tail -n 15 "$OUT/$name.log"
  [ "$rc" -gt "$worst" ] && worst=$rc
  return 0
}

step env 30 bash -c '
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 || echo "no nvidia-smi"
  '"$PY"' - <<EOF
import importlib, platform, torch
print("python", platform.python_version(), "| torch", torch.__version__, "| cuda", torch.version.cuda,
      "| available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0), torch.cuda.get_device_capability(0))
for name in ("timm", "onnx", "onnxruntime", "torch_tensorrt", "tensorrt", "safetensors", "cv2", "yaml", "tqdm"):
    try:
        mod = importlib.import_module(name)
        extra = mod.get_available_providers() if name == "onnxruntime" else ""
        print(name, getattr(mod, "__version__", "?"), extra)
    except Exception as exc:
        print(name, "MISSING:", type(exc).__name__, exc)
EOF'

# Backend tests: the CUDA-only ones run here instead of skipping. No ROS module is needed.
step tests 120 "$PY" -m pytest -q -p no:cacheprovider \
  test/test_backends_preprocess.py test/test_backends_select.py test/test_backends_graph.py \
  test/test_core_no_ros.py

if [ "$QUICK" = "1" ]; then
  step bench 240 "$PY" -m allinone_ros.cli.bench --device "$DEVICE" --tiny --frames 20 --warmup 5 \
    --rounds 1 --preprocess cpu,device --no-progress --output "$OUT/bench.json"
else
  # Full-size model, random weights. Default mode first (Inductor), then CUDA graphs, which the
  # issue's latency targets are most likely to need; each writes JSON + markdown.
  step bench 270 "$PY" -m allinone_ros.cli.bench --device "$DEVICE" --frames 200 --warmup 20 \
    --rounds 2 --precisions fp32,fp16,bf16 --preprocess cpu,device --no-progress \
    --output "$OUT/bench.json"
  step bench_cudagraphs 150 "$PY" -m allinone_ros.cli.bench --device "$DEVICE" --frames 200 \
    --warmup 20 --rounds 2 --backends eager,compile --precisions fp32,fp16 --preprocess device \
    --compile-mode reduce-overhead --no-progress --output "$OUT/bench_cudagraphs.json"
fi
printf "%s" "$summary"
exit "$worst"
