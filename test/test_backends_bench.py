"""allinone-bench: JSON + markdown with speed ratio and box agreement against eager fp32."""
import json

import pytest

from allinone_ros.backends.bench import BenchConfig, synthetic_sequence
from allinone_ros.cli.bench import main


def test_synthetic_sequence_moves_a_target_inside_the_frame():
    frames, boxes = synthetic_sequence(6, (240, 320), seed=1)
    assert len(frames) == 6 and boxes.shape == (6, 4)
    assert boxes[-1, 0] > boxes[0, 0]  # moves right
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 320).all()


def test_bench_tiny_three_frames_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["--tiny", "--frames", "3", "--warmup", "1", "--rounds", "1", "--backends", "eager,onnxruntime",
               "--precisions", "fp32", "--frame-size", "320x240", "--engine-cache", str(tmp_path / "cache"),
               "--output", str(out), "--no-progress"])
    assert rc == 0
    report = json.loads(out.read_text())
    rows = {(r["backend"], r["precision"]): r for r in report["rows"]}
    assert set(rows) == {("eager", "fp32"), ("onnxruntime", "fp32")}
    base = rows[("eager", "fp32")]
    assert base["speedup_vs_eager_fp32"] == 1.0 and base["mean_iou_vs_eager_fp32"] == 1.0
    ort_row = rows[("onnxruntime", "fp32")]
    assert ort_row["mean_iou_vs_eager_fp32"] > 0.99  # same network, same frames
    expected_ratio = base["total_p50_ms"] / ort_row["total_p50_ms"]
    assert ort_row["speedup_vs_eager_fp32"] == pytest.approx(expected_ratio)
    for r in rows.values():
        assert set(r["stages"]) == {"decode", "crop", "model", "post"}
        assert all(s["p50_ms"] > 0 and s["p95_ms"] >= s["p50_ms"] for s in r["stages"].values())
        assert r["fps"] > 0 and r["peak_rss_mb"] > 0
    assert report["meta"]["config"]["frames"] == 3
    md = out.with_suffix(".md").read_text()
    assert "x eager fp32 (total)" in md and "mean IoU vs eager fp32" in md
    assert md.count("\n| eager | fp32 |") == 1 and md.count("\n| onnxruntime | fp32 |") == 1
    assert "| eager | fp32 |" in capsys.readouterr().out


def test_bench_config_rejects_bad_values():
    with pytest.raises(ValueError, match="'tvm'"):
        BenchConfig(backends=("tvm",))
    with pytest.raises(ValueError, match="frames must be >= 1, got 0"):
        BenchConfig(frames=0)
